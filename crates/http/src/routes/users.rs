//! `/api/users`: the current user and their avatar.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use contacts_domain::{Error, FieldError};

use crate::dto::UserBody;
use crate::dto::{AvatarUpload, ErrorBody, ValidationErrorBody};
use crate::error::ApiError;
use crate::extract::{Admin, CurrentUser, declared_length};
use crate::state::AppState;

use super::reminders;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me").get(me))
        .service(web::resource("/me/settings").get(reminders::settings).patch(reminders::update_settings))
        .service(web::resource("/avatar").patch(avatar));
}

/// The authenticated user, rate limited per user.
#[utoipa::path(
    get, path = "/api/users/me", tag = "users",
    responses(
        (status = 200, body = UserBody),
        (
            status = 429, description = "Rate limit exceeded; see Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64))
        ),
    ),
)]
pub(crate) async fn me(state: web::Data<AppState>, CurrentUser(user): CurrentUser) -> Result<HttpResponse, ApiError> {
    let user = state.profiles.profile(user).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// Replaces an admin's avatar with the multipart field `file`. The size limit covers every
/// part of the request and is enforced while reading, so no more than the limit is ever
/// buffered.
#[utoipa::path(
    patch,
    path = "/api/users/avatar",
    tag = "users",
    request_body(content = AvatarUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The user with the new avatar URL", body = UserBody),
        (status = 403, description = "Only admins may change their avatar", body = ErrorBody),
        (
            status = 413, body = ErrorBody,
            description = "Request over MAX_AVATAR_BYTES (every part counted), or an image over 4096 px a side or \
                           16,000,000 pixels",
        ),
        (status = 415, description = "Not a PNG, JPEG, WebP or GIF image", body = ErrorBody),
        (status = 422, description = "No `file` field", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn avatar(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(user): Admin,
    mut form: Multipart,
) -> Result<HttpResponse, ApiError> {
    // A declared length counts the whole request (part headers and boundaries too).
    if declared_length(&req).is_some_and(|len| len > state.max_avatar_bytes) {
        return Err(ApiError::PayloadTooLarge);
    }
    let limit = usize::try_from(state.max_avatar_bytes).unwrap_or(usize::MAX);
    // Every part counts against the limit, whatever its name: a request cannot smuggle
    // megabytes in a part that is then skipped.
    let mut received = 0usize;
    let mut upload = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|_| ApiError::UnsupportedMediaType("multipart/form-data"))?;
        let wanted = upload.is_none() && field.name() == Some("file");
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(e.to_string()))?;
            received = received.saturating_add(chunk.len());
            if received > limit {
                return Err(ApiError::PayloadTooLarge);
            }
            if wanted {
                bytes.extend_from_slice(&chunk);
            }
        }
        if wanted {
            upload = Some(bytes);
        }
    }
    let upload = upload.ok_or_else(|| Error::invalid(FieldError::missing("file")))?;
    let user = state.profiles.change_avatar(&user, upload).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}
