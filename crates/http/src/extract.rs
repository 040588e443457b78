//! [`CurrentUser`]: the extractor that authenticates a request from its bearer token.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use contacts_domain::Error;
use contacts_domain::user::{Role, User, require_role};

use crate::error::ApiError;
use crate::state::AppState;

/// The user an `Authorization: Bearer <access token>` header speaks for. Any handler that
/// takes one is authenticated; a missing or bad token never reaches the handler (`401`).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(Error::Unauthenticated)?;
            let state = state.ok_or_else(|| Error::unexpected("AppState is not registered"))?;
            Ok(CurrentUser(state.auth.authenticate(&token).await?))
        })
    }
}

/// An authenticated administrator: the reusable role guard. A handler that takes one is only
/// reached by admins; other users get `403`, requests without a valid token `401`.
#[derive(Debug, Clone)]
pub struct Admin(pub User);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let CurrentUser(user) = user.await?;
            require_role(&user, Role::Admin)?;
            Ok(Admin(user))
        })
    }
}
