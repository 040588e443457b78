//! `/api/users`: the current user.

use actix_web::{HttpResponse, web};

use crate::dto::UserBody;
use crate::extract::CurrentUser;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me").get(me));
}

/// The authenticated user.
async fn me(CurrentUser(user): CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(UserBody::from(user))
}
