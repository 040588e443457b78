//! `/api/contacts` as vCards: export of the whole book (streamed), one contact's card, and
//! import of a vCard file.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use contacts_domain::PathSegment;
use contacts_domain::contact::vcard::{self, Version};
use contacts_domain::contact::{ContactId, ImportReport, StoredCard, read_import};

#[allow(unused_imports)] // referenced by the OpenAPI annotations only
use crate::dto::{ErrorBody, ValidationErrorBody};
use crate::error::{ApiError, Part};
use crate::extract::{CappedForm, CurrentUser, ValidQuery};
use crate::state::AppState;
use crate::streamed::streamed;

/// Contacts read per page of an export: what one export holds in memory at a time.
const EXPORT_PAGE: i64 = 500;

const VCARD_TYPE: &str = "text/vcard; charset=utf-8";

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/export.vcf").get(export))
        .service(web::resource("/import").post(import))
        .service(web::resource("/{contact_id}/vcard").get(card));
}

type Handled = Result<HttpResponse, ApiError>;

/// `?version=`: which vCard version to answer in.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct VersionParams {
    /// `4.0` (default) or `3.0`.
    version: Option<String>,
}

impl VersionParams {
    fn version(&self) -> Result<Version, ApiError> {
        match self.version.as_deref() {
            None => Ok(Version::V4),
            Some(raw) => Version::parse(raw).ok_or_else(|| ApiError::Unparsable {
                part: Part::Query,
                path: vec![PathSegment::Field("version".into())],
                message: "Input should be '3.0' or '4.0'".into(),
                kind: "enum",
            }),
        }
    }
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportBody {
    /// Contacts created.
    created: usize,
    /// Contacts replaced because their `UID` was already in one of the user's address books
    /// (where it is; new cards go to the default book).
    updated: usize,
    /// Cards not imported.
    failed: Vec<ImportFailureBody>,
}

/// One card an import could not store.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportFailureBody {
    /// 0-based position of the card in the file.
    index: usize,
    /// The card's `UID`, when it could be read.
    uid: Option<String>,
    /// Why it was not imported.
    detail: String,
}

impl From<ImportReport> for ImportBody {
    fn from(r: ImportReport) -> Self {
        Self {
            created: r.created,
            updated: r.updated,
            failed: r
                .failed
                .into_iter()
                .map(|f| ImportFailureBody { index: f.index, uid: f.uid, detail: f.detail })
                .collect(),
        }
    }
}

/// Every contact of the user as one vCard file, streamed page by page (memory does not grow
/// with the book).
#[utoipa::path(get, path = "/api/contacts/export.vcf", tag = "contacts", params(VersionParams), security(("bearer" = []), ("oauth2" = [])), responses((status = 200, description = "Every contact as vCards", content_type = "text/vcard", body = String), (status = 401, description = "Missing, invalid or expired access token", body = ErrorBody), (status = 422, description = "Invalid input", body = ValidationErrorBody)))]
pub(crate) async fn export(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: ValidQuery<VersionParams>,
) -> Handled {
    let version = params.version()?;
    let owner = user.0.id;
    // The first page is read before answering, so a database failure is still a proper status.
    let first = state.contacts.export_page(owner, None, EXPORT_PAGE).await?;
    // The state is the page read but not written yet.
    let pages = streamed(Some(first), move |page: Option<Vec<StoredCard>>| {
        let state = state.clone();
        async move {
            let Some(page) = page.filter(|p| !p.is_empty()) else { return Ok(None) };
            let (full, last) = (page.len() as i64 >= EXPORT_PAGE, page.last().map(|c| c.contact.id));
            // 500 cards, each parsed when converted or changed through REST: off the executor.
            let chunk = state
                .card_work
                .run(move || {
                    let mut chunk = String::with_capacity(page.iter().map(|c| c.card.len() + 64).sum());
                    for card in &page {
                        chunk.push_str(&vcard::file_entry(&card.render(version)));
                    }
                    chunk
                })
                .await
                .map_err(contacts_domain::Error::unexpected)?;
            let next = match last {
                Some(last) if full => Some(state.contacts.export_page(owner, Some(last), EXPORT_PAGE).await?),
                _ => None,
            };
            Ok(Some((Bytes::from(chunk), next)))
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(VCARD_TYPE)
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"contacts.vcf\""))
        .streaming(pages))
}

/// One contact as a vCard, with a strong `ETag` of exactly the bytes sent; `304` when
/// `If-None-Match` names it.
#[utoipa::path(get, path = "/api/contacts/{contact_id}/vcard", tag = "contacts", params(("contact_id" = i64, Path), VersionParams), security(("bearer" = []), ("oauth2" = [])), responses((status = 200, description = "The contact's vCard", content_type = "text/vcard", body = String, headers(("ETag" = String, description = "Strong validator of the card's bytes"))), (status = 304, description = "Not modified: If-None-Match names the card's ETag", headers(("ETag" = String))), (status = 401, description = "Missing, invalid or expired access token", body = ErrorBody), (status = 404, description = "No such contact (or another user's)", body = ErrorBody), (status = 422, description = "Invalid input", body = ValidationErrorBody)))]
pub(crate) async fn card(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    id: web::Path<i64>,
    params: ValidQuery<VersionParams>,
) -> Handled {
    let version = params.version()?;
    let stored = state.contacts.card(user.0.id, ContactId(*id)).await?;
    // Rendering parses the card (up to 1 MiB) when it converts it or REST changed it, and the
    // tag hashes it: work for the blocking pool, as every other card is rendered.
    let (text, tag) = state
        .card_work
        .run(move || {
            let text = stored.render(version);
            let tag = vcard::etag(&text);
            (text, tag)
        })
        .await
        .map_err(contacts_domain::Error::unexpected)?;
    let etag = header::EntityTag::new_strong(tag);
    // A client that holds this card already (RFC 9110, 13.1.2: weak comparison) gets `304`.
    let held = match <header::IfNoneMatch as header::Header>::parse(&req) {
        Ok(header::IfNoneMatch::Any) => true,
        Ok(header::IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&etag)),
        Err(_) => false,
    };
    if held {
        return Ok(HttpResponse::NotModified().insert_header(header::ETag(etag)).finish());
    }
    Ok(HttpResponse::Ok().content_type(VCARD_TYPE).insert_header(header::ETag(etag)).body(text))
}

/// Imports a vCard file (`text/vcard`, `text/x-vcard`, or the multipart field `file`): each
/// card is created, or replaces the contact with its `UID`; unreadable cards are reported.
#[utoipa::path(post, path = "/api/contacts/import", tag = "contacts", request_body(content = String, content_type = "text/vcard", description = "One or many vCards (2.1, 3.0, 4.0)"), security(("bearer" = []), ("oauth2" = [])), responses((status = 200, body = ImportBody), (status = 401, description = "Missing, invalid or expired access token", body = ErrorBody), (status = 413, description = "Body larger than MAX_IMPORT_BYTES", body = ErrorBody), (status = 415, description = "Not text/vcard, text/x-vcard or multipart/form-data", body = ErrorBody), (status = 422, description = "No BEGIN:VCARD in the body", body = ValidationErrorBody)))]
pub(crate) async fn import(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    payload: web::Payload,
) -> Handled {
    let limit = usize::try_from(state.max_import_bytes).unwrap_or(usize::MAX);
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let body = match mime.as_str() {
        "text/vcard" | "text/x-vcard" | "text/directory" => {
            if crate::extract::declared_length(&req).is_some_and(|len| len > state.max_import_bytes) {
                return Err(ApiError::PayloadTooLarge);
            }
            read_limited(payload, limit).await?
        }
        "multipart/form-data" => {
            // The multipart framing adds a little; the file itself is held to the limit.
            let mut capped = CappedForm::new(&req, payload, state.max_import_bytes.saturating_add(64 * 1024))?;
            read_file_field(&mut capped.form, limit).await.map_err(|e| capped.error(e))?
        }
        _ => return Err(ApiError::UnsupportedMediaType("text/vcard, text/x-vcard or multipart/form-data")),
    };
    let read = state
        .card_work
        .run(move || read_import(&vcard::file_text(body)))
        .await
        .map_err(contacts_domain::Error::unexpected)?;
    let Some(read) = read else {
        return Err(ApiError::body("Not a vCard: the body has no BEGIN:VCARD"));
    };
    let report = state.contacts.import(user.0.id, read).await?;
    Ok(HttpResponse::Ok().json(ImportBody::from(report)))
}

/// The body, refused with `413` as soon as it passes `limit` (nothing more is buffered).
async fn read_limited<S, E>(mut stream: S, limit: usize) -> Result<Vec<u8>, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The multipart field `file`, held to `limit`; other fields are skipped.
async fn read_file_field(form: &mut Multipart, limit: usize) -> Result<Vec<u8>, ApiError> {
    while let Some(field) = form.next().await {
        let field = field.map_err(|e| ApiError::BadRequest(e.to_string()))?;
        if field.name() == Some("file") {
            return read_limited(field, limit).await;
        }
        let mut skipped = 0usize;
        let mut field = field;
        while let Some(chunk) = field.next().await {
            skipped += chunk.map_err(|e| ApiError::BadRequest(e.to_string()))?.len();
            if skipped > limit {
                return Err(ApiError::PayloadTooLarge);
            }
        }
    }
    Err(ApiError::Unparsable {
        part: Part::Body,
        path: vec![PathSegment::Field("file".into())],
        message: "Field required".into(),
        kind: "missing",
    })
}
