//! `/api/users`: the current user and their avatar.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use contacts_domain::{Error, FieldError};

use crate::dto::UserBody;
use crate::dto::{AvatarUpload, ErrorBody, ValidationErrorBody};
use crate::error::ApiError;
use crate::extract::{Admin, CappedForm, CurrentUser};
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
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut capped = CappedForm::new(&req, payload, state.max_avatar_bytes)?;
    // Every part is read to its end, whatever its name: the cap counts the whole request, so
    // a part that is then skipped cannot smuggle megabytes.
    let mut upload = None;
    while let Some(field) = capped.form.next().await {
        let mut field = field.map_err(|_| capped.error(ApiError::UnsupportedMediaType("multipart/form-data")))?;
        let wanted = upload.is_none() && field.name() == Some("file");
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| capped.error(ApiError::BadRequest(e.to_string())))?;
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
