//! [`CurrentUser`]: the extractor that authenticates a request from its bearer token.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use contacts_domain::Error;
use contacts_domain::user::User;

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
