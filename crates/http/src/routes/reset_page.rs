//! `/reset-password`: the small HTML page a reset email links to. It works without
//! JavaScript and loads nothing from elsewhere; its form posts back to this route, which
//! applies the same rules as `/api/auth/reset_password`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use contacts_domain::Error;
use contacts_domain::mail::escape_html;

use super::html_page::page;
use contacts_domain::auth::PasswordResetInput;

use crate::dto::Input;
use crate::extract::LinkToken;
use crate::state::AppState;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/reset-password").get(form).post(submit));
}

fn form_html(token: &str, problem: Option<&str>) -> String {
    let problem =
        problem.map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(p))).unwrap_or_default();
    format!(
        "{problem}<form method=\"post\" action=\"reset-password\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"new_password\">New password (8 to 72 bytes)</label>\
         <input id=\"new_password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" \
         minlength=\"{min}\" required>\
         <button type=\"submit\">Set new password</button></form>",
        token = escape_html(token),
        min = MIN_PASSWORD_UTF16_UNITS,
    )
}

/// The form's `minlength`: browsers count UTF-16 code units, the server bytes of UTF-8, and a
/// code unit is at most 3 bytes, so 8 bytes are at least 3 units (`中文字`, 9 bytes, is a valid
/// password of 3). `8` would stop a browser sending `äöüß` (8 bytes, 4 units), which the server
/// takes; the server says what else is wrong.
const MIN_PASSWORD_UTF16_UNITS: usize = 3;

/// The form. Always `200`, whatever the token: it is only checked when the form is sent.
async fn form(LinkToken(token): LinkToken) -> HttpResponse {
    page(StatusCode::OK, "Choose a new password", &form_html(&token, None))
}

/// Applies the reset and says whether it worked.
async fn submit(state: web::Data<AppState>, body: web::Form<Input<PasswordResetInput>>) -> HttpResponse {
    let request = body.into_inner().into_inner();
    let token = request.token.clone().unwrap_or_default();
    match state.auth.reset_password(request).await {
        Ok(_) => {
            page(StatusCode::OK, "Password changed", "<p>Your password has been reset. You can log in with it now.</p>")
        }
        Err(Error::Invalid(problems)) => {
            let message = problems.iter().map(|p| crate::problems::describe(&p.rule).0).collect::<Vec<_>>().join(". ");
            page(StatusCode::UNPROCESSABLE_ENTITY, "Choose a new password", &form_html(&token, Some(&message)))
        }
        Err(Error::InvalidResetToken) => page(
            StatusCode::BAD_REQUEST,
            "Link expired",
            "<p class=\"error\">This reset link is invalid, expired or already used. Ask for a new one.</p>",
        ),
        Err(error) => {
            let status = crate::error::ApiError::from(error).log_and_status();
            page(
                status,
                "Something went wrong",
                "<p class=\"error\">The password could not be reset. Try again later.</p>",
            )
        }
    }
}
