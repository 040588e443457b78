//! `/api/contacts`: the authenticated user's contacts book.

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};

use contacts_domain::contact::{BirthdayList, Contact, ContactId, ContactInput, ContactPatchInput};
use contacts_domain::user::UserId;

use crate::dto::ErrorBody;
use crate::dto::{BirthdayParams, ContactBody, ContactPatchRequest, ContactRequest, Input, ListParams};
use crate::error::ApiError;
use crate::extract::{CurrentUser, ValidJson, ValidQuery};
use crate::state::AppState;
use crate::streamed::streamed;

/// Default window of GET `/birthdays`, in days.
const DEFAULT_BIRTHDAY_DAYS: i64 = 7;

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
pub(crate) async fn list(state: web::Data<AppState>, user: CurrentUser, params: ValidQuery<ListParams>) -> Handled {
    let (contacts, total) =
        state.contacts.list(user.0.id, params.into_inner().into()).await.map_err(ApiError::in_query)?;
    let body: Vec<ContactBody> = contacts.into_iter().map(ContactBody::from).collect();
    Ok(HttpResponse::Ok().insert_header(("X-Total-Count", total.to_string())).json(body))
}

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
) -> Handled {
    let days = params.days.unwrap_or(DEFAULT_BIRTHDAY_DAYS);
    let owner = user.0.id;
    // The first chunk is read before answering, so a database failure is still a proper status.
    let (first, rest) = state.contacts.upcoming_birthdays(owner, days).await.map_err(ApiError::in_query)?;
    match rest {
        None => Ok(HttpResponse::Ok().json(first.into_iter().map(ContactBody::from).collect::<Vec<_>>())),
        Some(rest) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .streaming(long_birthday_list(state, owner, first, rest))),
    }
}

/// A birthday list too long to hold at once, as one JSON array written chunk by chunk.
fn long_birthday_list(
    state: web::Data<AppState>,
    owner: UserId,
    first: Vec<Contact>,
    rest: BirthdayList,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    /// Where the array stands: the chunk read but not yet written, the rest of the list, and
    /// whether a contact has been written (the next one needs a comma).
    struct Writing {
        pending: Option<Vec<Contact>>,
        rest: BirthdayList,
        written: bool,
    }
    let start = Some(Writing { pending: Some(first), rest, written: false });
    streamed(start, move |writing: Option<Writing>| {
        let state = state.clone();
        async move {
            // `None`: the closing bracket is out.
            let Some(mut writing) = writing else { return Ok(None) };
            let opening = writing.pending.is_some();
            let chunk = match writing.pending.take() {
                Some(chunk) => Some(chunk),
                None => state.contacts.more_birthdays(owner, &mut writing.rest).await?,
            };
            let mut out = Vec::new();
            if opening {
                out.push(b'[');
            }
            let Some(chunk) = chunk else {
                out.push(b']');
                return Ok(Some((Bytes::from(out), None)));
            };
            for contact in chunk {
                if writing.written {
                    out.push(b',');
                }
                // A contact body always serializes (plain strings, numbers and dates).
                serde_json::to_writer(&mut out, &ContactBody::from(contact)).expect("a contact as JSON");
                writing.written = true;
            }
            Ok(Some((Bytes::from(out), Some(writing))))
        }
    })
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
