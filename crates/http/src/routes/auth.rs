//! `/api/auth`: registration, login, email confirmation, sessions and password reset.

use actix_web::http::header::ContentType;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use contacts_domain::auth::{ConfirmationOutcome, PasswordResetInput, RegistrationInput, requested_address};
use contacts_domain::mail::MailKind;
use contacts_domain::{Error, FieldError};

use crate::after_answer::after_answer;
use crate::dto::ErrorBody;
use crate::dto::{
    EmailRequest, Input, LoginRequest, MessageBody, RefreshRequest, RegisterRequest, ResetPasswordRequest, TokensBody,
    UserBody,
};
use crate::error::{ApiError, Part};
use crate::extract::{ValidJson, form_fields, from_json, from_urlencoded};
use crate::state::AppState;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/register").post(register))
        .service(web::resource("/signup").post(signup))
        .service(web::resource("/login").post(login))
        .service(web::resource("/confirmed_email/{token}").get(confirmed_email))
        .service(web::resource("/request_email").post(request_email))
        .service(web::resource("/refresh").post(refresh))
        .service(web::resource("/logout").post(logout))
        .service(web::resource("/request_password_reset").post(request_password_reset))
        .service(web::resource("/reset_password").post(reset_password));
}

/// Creates an account and mails a confirmation link.
#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created; a confirmation email is sent", body = UserBody),
        (status = 409, description = "Email or username taken", body = ErrorBody),
    ),
)]
pub(crate) async fn register(
    state: web::Data<AppState>,
    body: ValidJson<Input<RegistrationInput>>,
) -> Result<HttpResponse, ApiError> {
    let user = state.auth.register(body.into_inner().into_inner()).await?;
    Ok(HttpResponse::Created().json(UserBody::from(user)))
}

/// The same as `register`: the alias some clients of the replaced APIs use.
#[utoipa::path(
    post, path = "/api/auth/signup", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created; a confirmation email is sent", body = UserBody),
        (status = 409, description = "Email or username taken", body = ErrorBody),
    ),
)]
pub(crate) async fn signup(
    state: web::Data<AppState>,
    body: ValidJson<Input<RegistrationInput>>,
) -> Result<HttpResponse, ApiError> {
    register(state, body).await
}

/// Exchanges credentials for tokens. Takes the OAuth2 password form (what Swagger UI and
/// FastAPI clients send, urlencoded or, from a browser's `FormData`, multipart) or JSON. The
/// document lists the two the contract names; multipart is accepted all the same.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body(content((LoginRequest = "application/x-www-form-urlencoded"), (LoginRequest = "application/json"))),
    responses(
        (status = 200, description = "A token pair", body = TokensBody),
        (status = 401, description = "Wrong credentials, or email not confirmed", body = ErrorBody),
        (
            status = 429, description = "Too many failed login attempts; see Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64))
        ),
    ),
)]
pub(crate) async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // Media types are case-insensitive (RFC 9110 8.3.1).
    let request: LoginRequest = match req.content_type().to_ascii_lowercase().as_str() {
        form if form == ContentType::form_url_encoded().essence_str() => from_urlencoded(Part::Body, &body)?,
        json if json == ContentType::json().essence_str() => from_json(&body)?,
        // FastAPI's password form takes both encodings of a form; a browser's `FormData` sends this one.
        "multipart/form-data" => {
            let mut fields = form_fields(&req, body).await?;
            let mut take = |name: &str| fields.remove(name);
            LoginRequest { username: take("username"), email: take("email"), password: take("password") }
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "application/x-www-form-urlencoded, multipart/form-data or application/json",
            ));
        }
    };
    let login = request.username.or(request.email);
    let mut missing = Vec::new();
    if login.is_none() {
        missing.push(FieldError::missing("username"));
    }
    if request.password.is_none() {
        missing.push(FieldError::missing("password"));
    }
    let (Some(login), Some(password)) = (login, request.password) else {
        return Err(Error::Invalid(missing).into());
    };
    let Some(client) = crate::client_address(&req, &state.trusted_proxies) else {
        return Err(Error::unexpected("the connection has no peer address").into());
    };
    let tokens = state.login_throttle.guard(&login, client, state.auth.login(&login, &password)).await?;
    Ok(HttpResponse::Ok().json(TokensBody::from(tokens)))
}

/// Follows the link from a confirmation email.
#[utoipa::path(
    get,
    path = "/api/auth/confirmed_email/{token}",
    tag = "auth",
    params(("token" = String, Path, description = "The token from the confirmation email")),
    responses(
        (status = 200, description = "Confirmed, or already confirmed", body = MessageBody),
        (status = 400, description = "Bad, expired or wrong-kind token", body = ErrorBody),
    ),
)]
pub(crate) async fn confirmed_email(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let message = match state.auth.confirm_email(&token).await? {
        ConfirmationOutcome::Confirmed => "Email confirmed",
        ConfirmationOutcome::AlreadyConfirmed => "Your email is already confirmed",
    };
    Ok(HttpResponse::Ok().json(MessageBody::new(message)))
}

/// Mails a new confirmation link, if the address has an unconfirmed account. The answer is
/// the same in every case, so it reveals nothing about accounts.
#[utoipa::path(
    post, path = "/api/auth/request_email", tag = "auth", request_body = EmailRequest,
    responses(
        (status = 200, description = "The same answer whatever the account's state", body = MessageBody),
    ),
)]
pub(crate) async fn request_email(
    state: web::Data<AppState>,
    body: ValidJson<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = requested_address(body.into_inner().email)?;
    after_answer(&state, MailKind::Confirmation, email).await?;
    Ok(HttpResponse::Ok().json(MessageBody::new(
        "If this email belongs to an account that is not confirmed yet, a new confirmation link has been sent",
    )))
}

fn refresh_token(body: RefreshRequest) -> Result<String, ApiError> {
    body.refresh_token.ok_or_else(|| Error::invalid(FieldError::missing("refresh_token")).into())
}

/// Rotates a refresh token: a new pair, the old token revoked.
#[utoipa::path(
    post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair; the presented token is revoked", body = TokensBody),
        (status = 401, description = "Invalid, expired, revoked or wrong-kind token", body = ErrorBody),
    ),
)]
pub(crate) async fn refresh(
    state: web::Data<AppState>,
    body: ValidJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state.auth.refresh(&refresh_token(body.into_inner())?).await?;
    Ok(HttpResponse::Ok().json(TokensBody::from(tokens)))
}

/// Ends the session of a refresh token.
#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "The refresh token is revoked"),
        (status = 401, description = "Invalid, expired, revoked or wrong-kind token", body = ErrorBody),
    ),
)]
pub(crate) async fn logout(
    state: web::Data<AppState>,
    body: ValidJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    state.auth.logout(&refresh_token(body.into_inner())?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mails a reset link if the address has an account; the answer is the same either way.
#[utoipa::path(
    post, path = "/api/auth/request_password_reset", tag = "auth", request_body = EmailRequest,
    responses(
        (status = 200, description = "The same answer whether or not the account exists", body = MessageBody),
    ),
)]
pub(crate) async fn request_password_reset(
    state: web::Data<AppState>,
    body: ValidJson<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = requested_address(body.into_inner().email)?;
    after_answer(&state, MailKind::PasswordReset, email).await?;
    Ok(HttpResponse::Ok()
        .json(MessageBody::new("If an account uses this email, a link to reset its password has been sent")))
}

/// Sets a new password with a reset token; every session of the user ends.
#[utoipa::path(
    post, path = "/api/auth/reset_password", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "Password changed; every session ended", body = MessageBody),
        (status = 400, description = "Invalid, expired, used or wrong-kind token", body = ErrorBody),
    ),
)]
pub(crate) async fn reset_password(
    state: web::Data<AppState>,
    body: ValidJson<Input<PasswordResetInput>>,
) -> Result<HttpResponse, ApiError> {
    state.auth.reset_password(body.into_inner().into_inner()).await?;
    Ok(HttpResponse::Ok().json(MessageBody::new("Password has been reset")))
}
