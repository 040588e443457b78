//! `/api/contacts`: the authenticated user's contacts book.

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};

use contacts_domain::Error;
use contacts_domain::contact::{
    BirthdayList, Birthdays, Contact, ContactId, ContactInput, ContactPatchInput, ListQuery, Listed,
};

use crate::dto::ErrorBody;
use crate::dto::{BirthdayParams, ContactBody, ContactPatchRequest, ContactRequest, Input, ListParams};
use crate::error::ApiError;
use crate::extract::{CurrentUser, ValidJson, ValidQuery};
use crate::gzip::TakesGzip;
use crate::kept_answers::{KeptAnswer, json_answer, list_answer};
use crate::state::AppState;
use crate::streamed::{json_array, recorded};

/// Default window of GET `/birthdays`, in days.
const DEFAULT_BIRTHDAY_DAYS: i64 = 7;

/// The longest list page built whole, with its length; a longer one (up to the 1,000 a page may
/// hold) is written [`LIST_RUN`] contacts at a time, so 32 clients asking for pages of 1,000 at
/// once do not each hold the text of a whole page, and is read only in its turn
/// ([`crate::LongPages`]). The default page (100) stays whole and takes no turn.
const WHOLE_PAGE_AT_MOST: usize = 100;

/// Contacts written together in a long list page: about 20 KB of JSON.
const LIST_RUN: usize = 50;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    // The vCard routes first: `export.vcf` must not be taken for a `{contact_id}`.
    cfg.configure(super::vcards::routes)
        .service(web::resource(["", "/"]).post(create).get(list))
        .service(web::resource("/birthdays").get(birthdays))
        .service(web::resource("/{contact_id}").get(get).put(replace).patch(update).delete(delete));
}

type Handled = Result<HttpResponse, ApiError>;

#[utoipa::path(
    post, path = "/api/contacts/", tag = "contacts", request_body = ContactRequest,
    responses(
        (status = 201, body = ContactBody),
        (status = 409, description = "This user already has a contact with that email", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ValidJson<Input<ContactInput>>,
) -> Handled {
    let contact = state.contacts.create(user.0.id, body.into_inner().into_inner()).await?;
    Ok(HttpResponse::Created().json(ContactBody::from(contact)))
}

/// One page of matches, ordered by id; `X-Total-Count` says how many match in all.
#[utoipa::path(
    get, path = "/api/contacts/", tag = "contacts", params(ListParams),
    responses(
        (
            status = 200, description = "Matches ordered by id", body = Vec<ContactBody>,
            headers(("X-Total-Count" = i64, description = "Matches before paging"))
        ),
    ),
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: ValidQuery<ListParams>,
    takes: TakesGzip,
) -> Handled {
    // A page of the whole book asked again is sent from this instance's copy once the storage,
    // given the copy's stamp, says the book is unchanged (`kept_answers`).
    let query: ListQuery = params.into_inner().into();
    let key = (user.0.id, query.skip, query.limit);
    let kept = state.kept.pages.get(&key);
    // A long page takes a turn while it is read (`long_pages`), not while it is sent; a
    // malformed request is refused first, so waiting never turns its 422 into a 503. A page of
    // the whole book with a kept copy takes none, whatever its limit (a small book asked for
    // everything): the copy held at most 100 contacts, since longer pages are never kept, and
    // while the book is unchanged it is the answer, found by the book's stamp alone.
    let copy_at_hand = kept.is_some() && query.is_whole_book();
    let turn = match usize::try_from(query.limit) {
        Ok(limit) if limit > WHOLE_PAGE_AT_MOST && !copy_at_hand => {
            query.check().map_err(ApiError::in_query)?;
            Some(state.long_pages.turn().await?)
        }
        _ => None,
    };
    let listed = state.contacts.list_since(user.0.id, query, kept.as_ref().map(|page| page.stamp)).await;
    drop(turn);
    let (contacts, total, stamp) = match listed.map_err(ApiError::in_query)? {
        Listed::Read { contacts, total, stamp } => (contacts, total, stamp),
        // Only a page asked for with a kept copy's stamp can be unchanged.
        Listed::Unchanged => {
            let Some(page) = kept else { return Err(Error::unexpected(UnaskedUnchanged).into()) };
            return Ok(state.kept.pages.answer(key, page, takes, &state.card_work).await);
        }
    };
    if contacts.len() <= WHOLE_PAGE_AT_MOST {
        let bodies: Vec<ContactBody> = contacts.into_iter().map(ContactBody::from).collect();
        let body = json(&bodies)?;
        if let Some(stamp) = stamp {
            state.kept.pages.keep(key, KeptAnswer::new(stamp, Some(total), body.clone()));
        }
        return Ok(json_answer(Some(total), body));
    }
    // A long page is written a run at a time: each contact's text exists only while its run is
    // sent, and the contacts themselves are let go as they are written.
    let runs = json_array(contacts.into_iter(), |mut rest: std::vec::IntoIter<Contact>| {
        let run: Vec<Contact> = rest.by_ref().take(LIST_RUN).collect();
        std::future::ready(Ok((!run.is_empty()).then(|| (run.into_iter().map(ContactBody::from), rest))))
    });
    Ok(list_answer(Some(total)).streaming(runs))
}

/// `value` as JSON.
fn json(value: &impl serde::Serialize) -> Result<Bytes, ApiError> {
    Ok(Bytes::from(serde_json::to_vec(value).map_err(Error::unexpected)?))
}

/// The storage said "unchanged" to a request that sent no stamp: a broken promise of the port.
#[derive(Debug, thiserror::Error)]
#[error("an answer asked for without a kept copy came back unchanged")]
struct UnaskedUnchanged;

#[utoipa::path(
    get, path = "/api/contacts/birthdays", tag = "contacts", params(BirthdayParams),
    responses(
        (
            status = 200, description = "Contacts whose next birthday is within the window, soonest first",
            body = Vec<ContactBody>
        ),
    ),
)]
pub(crate) async fn birthdays(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: ValidQuery<BirthdayParams>,
    takes: TakesGzip,
) -> Handled {
    let days = params.days.unwrap_or(DEFAULT_BIRTHDAY_DAYS);
    let owner = user.0.id;
    // A list asked again the same day is sent from this instance's copy once the storage, given
    // the copy's stamp, says the book is unchanged (`kept_answers`). The first chunk is read
    // before answering, so a database failure is still a proper status.
    let key = (owner, days);
    let kept = state.kept.birthdays.get(&key);
    let listed = state.contacts.upcoming_birthdays(owner, days, kept.as_ref().map(|list| list.stamp)).await;
    let (first, rest, stamp) = match listed.map_err(ApiError::in_query)? {
        Birthdays::Read { first, rest, stamp } => (first, rest, stamp),
        Birthdays::Unchanged => {
            let Some(list) = kept else { return Err(Error::unexpected(UnaskedUnchanged).into()) };
            return Ok(state.kept.birthdays.answer(key, list, takes, &state.card_work).await);
        }
    };
    let Some(rest) = rest else {
        let body = json(&first.into_iter().map(ContactBody::from).collect::<Vec<_>>())?;
        if let Some(stamp) = stamp {
            state.kept.birthdays.keep(key, KeptAnswer::new(stamp, None, body.clone()));
        }
        return Ok(json_answer(None, body));
    };
    // A list too long to hold at once: the chunk read, then the rest, each written as it is read.
    let (kept_answers, most) = (state.kept.clone(), state.kept.birthdays.largest());
    let chunks = json_array((Some(first), rest), move |(read, mut rest): (Option<Vec<Contact>>, BirthdayList)| {
        let state = state.clone();
        async move {
            let chunk = match read {
                Some(chunk) => Some(chunk),
                None => state.contacts.more_birthdays(owner, &mut rest).await?,
            };
            Ok(chunk.map(|chunk| (chunk.into_iter().map(ContactBody::from), (None, rest))))
        }
    });
    // Its text is copied as it is sent, and kept once all of it is, if it is not too long.
    let Some(stamp) = stamp.filter(|_| most > 0) else {
        return Ok(list_answer(None).streaming(chunks));
    };
    let chunks = recorded(chunks, most, move |body| {
        kept_answers.birthdays.keep(key, KeptAnswer::new(stamp, None, body));
    });
    Ok(list_answer(None).streaming(chunks))
}

#[utoipa::path(
    get, path = "/api/contacts/{contact_id}", tag = "contacts", params(("contact_id" = i64, Path)),
    responses(
        (status = 200, body = ContactBody),
        (status = 404, description = "No such contact (or another user's)", body = ErrorBody),
    ),
)]
pub(crate) async fn get(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Handled {
    let contact = state.contacts.get(user.0.id, ContactId(*id)).await?;
    Ok(HttpResponse::Ok().json(ContactBody::from(contact)))
}

#[utoipa::path(
    put,
    path = "/api/contacts/{contact_id}",
    tag = "contacts",
    params(("contact_id" = i64, Path)),
    request_body = ContactRequest,
    responses(
        (status = 200, body = ContactBody),
        (status = 404, description = "No such contact (or another user's)", body = ErrorBody),
        (status = 409, description = "This user already has a contact with that email", body = ErrorBody),
    ),
)]
pub(crate) async fn replace(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ValidJson<Input<ContactInput>>,
) -> Handled {
    let contact = state.contacts.replace(user.0.id, ContactId(*id), body.into_inner().into_inner()).await?;
    Ok(HttpResponse::Ok().json(ContactBody::from(contact)))
}

#[utoipa::path(
    patch,
    path = "/api/contacts/{contact_id}",
    tag = "contacts",
    params(("contact_id" = i64, Path)),
    request_body = ContactPatchRequest,
    responses(
        (status = 200, body = ContactBody),
        (status = 404, description = "No such contact (or another user's)", body = ErrorBody),
        (status = 409, description = "This user already has a contact with that email", body = ErrorBody),
    ),
)]
pub(crate) async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ValidJson<Input<ContactPatchInput>>,
) -> Handled {
    let contact = state.contacts.update(user.0.id, ContactId(*id), body.into_inner().into_inner()).await?;
    Ok(HttpResponse::Ok().json(ContactBody::from(contact)))
}

#[utoipa::path(
    delete, path = "/api/contacts/{contact_id}", tag = "contacts", params(("contact_id" = i64, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such contact (or another user's)", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(state: web::Data<AppState>, user: CurrentUser, id: web::Path<i64>) -> Handled {
    state.contacts.delete(user.0.id, ContactId(*id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
