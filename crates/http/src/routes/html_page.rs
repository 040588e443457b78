//! The small self-contained HTML pages mails link to (password reset, reminder unsubscribe):
//! no JavaScript, nothing loaded from elsewhere, never cached, forms that post back here only.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};

/// Nothing may load from elsewhere, and a form may only post back to this origin.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// A page titled `title` (a constant: it is not escaped) around `body` (HTML the caller built
/// and escaped).
pub(super) fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         label,input,button{{display:block;width:100%;box-sizing:border-box;font-size:1rem}}\
         input{{margin:.4rem 0 1rem;padding:.5rem}}button{{padding:.6rem;cursor:pointer}}\
         .error{{color:#b00020}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    );
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}
