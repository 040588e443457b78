//! `/api/auth`: registration, login and email confirmation.

use actix_web::http::header::ContentType;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use contacts_domain::auth::ConfirmationOutcome;
use contacts_domain::{Error, FieldError};

use crate::dto::{EmailRequest, LoginRequest, MessageBody, RegisterRequest, TokensBody, UserBody};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/register", "/signup"]).post(register))
        .service(web::resource("/login").post(login))
        .service(web::resource("/confirmed_email/{token}").get(confirmed_email))
        .service(web::resource("/request_email").post(request_email));
}

/// Creates an account and mails a confirmation link.
async fn register(state: web::Data<AppState>, body: web::Json<RegisterRequest>) -> Result<HttpResponse, ApiError> {
    let user = state.auth.register(body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(UserBody::from(user)))
}

/// Exchanges credentials for tokens. Takes the OAuth2 password form (what Swagger UI and
/// FastAPI clients send) or JSON.
async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let form = req.content_type() == ContentType::form_url_encoded().essence_str();
    let request: LoginRequest = if form {
        serde_urlencoded::from_bytes(&body).map_err(|e| ApiError::body(e.to_string()))?
    } else if req.content_type() == ContentType::json().essence_str() {
        serde_json::from_slice(&body).map_err(|e| ApiError::body(e.to_string()))?
    } else {
        return Err(ApiError::UnsupportedMediaType);
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
    let tokens = state.auth.login(&login, &password).await?;
    Ok(HttpResponse::Ok().json(TokensBody::from(tokens)))
}

/// Follows the link from a confirmation email.
async fn confirmed_email(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let message = match state.auth.confirm_email(&token).await? {
        ConfirmationOutcome::Confirmed => "Email confirmed",
        ConfirmationOutcome::AlreadyConfirmed => "Your email is already confirmed",
    };
    Ok(HttpResponse::Ok().json(MessageBody::new(message)))
}

/// Mails a new confirmation link, if the address has an unconfirmed account. The answer is
/// the same in every case, so it reveals nothing about accounts.
async fn request_email(state: web::Data<AppState>, body: web::Json<EmailRequest>) -> Result<HttpResponse, ApiError> {
    state.auth.request_confirmation_email(body.into_inner().email).await?;
    Ok(HttpResponse::Ok().json(MessageBody::new(
        "If this email belongs to an account that is not confirmed yet, a new confirmation link has been sent",
    )))
}
