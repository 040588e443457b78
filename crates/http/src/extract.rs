//! Extractors: [`CurrentUser`] (and [`Admin`]) authenticate a request from its bearer token;
//! [`ValidJson`] and [`ValidQuery`] read a body or a query string and, when a value has the
//! wrong type, say which field it was (FastAPI's `loc`), which actix's own extractors cannot.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use contacts_domain::user::{Role, User, require_role};
use contacts_domain::{Error, PathSegment};

use crate::error::{ApiError, Part};
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

/// A JSON body of type `T`. The body limit (`413`), the content-type rule (`415`) and malformed
/// JSON (`422` at `["body"]`) are those of actix's `JsonConfig`; a value of the wrong type is a
/// `422` located at its field, its whole path (`["body","emails",0,"value"]`).
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> ValidJson<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ValidJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Read as a JSON value first: actix's JsonConfig (limit, content type, syntax errors)
        // applies unchanged; the typed pass then knows where each value sits.
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            // Every body is an object; serde would also read a struct from an array, by position.
            if !value.is_object() {
                return Err(ApiError::Unparsable {
                    part: Part::Body,
                    path: Vec::new(),
                    message: "Input should be a valid dictionary or object to extract fields from".into(),
                    kind: "model_attributes_type",
                }
                .into());
            }
            Ok(ValidJson(serde_path_to_error::deserialize(value).map_err(|e| located(Part::Body, e))?))
        })
    }
}

/// The `token` of a link's query string (its last one, as for every parameter; empty when
/// there is none). The pages that links in mails open answer whatever the query holds, so
/// reading it never fails: a stray parameter is not a `422` there.
#[derive(Debug)]
pub struct LinkToken(pub String);

impl FromRequest for LinkToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Read as every query is ([`from_urlencoded`]); a string field cannot fail to parse.
        let query: Result<TokenQuery, _> = from_urlencoded(Part::Query, req.query_string().as_bytes());
        std::future::ready(Ok(LinkToken(query.ok().and_then(|q| q.token).unwrap_or_default())))
    }
}

/// The query of a link in a mail.
#[derive(Debug, serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// A query string of type `T`: a value that does not parse (`?limit=abc`, `?limit=1.5`) is a
/// `422` at `["query", field]`.
#[derive(Debug)]
pub struct ValidQuery<T>(pub T);

impl<T> ValidQuery<T> {
    /// The parameters.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ValidQuery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for ValidQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(from_urlencoded(Part::Query, req.query_string().as_bytes()).map(ValidQuery))
    }
}

/// Parses `application/x-www-form-urlencoded` text (a query string, a form body) into `T`,
/// locating a value that does not parse in `part`.
pub(crate) fn from_urlencoded<T: DeserializeOwned>(part: Part, raw: &[u8]) -> Result<T, ApiError> {
    let deduplicated = last_of_each(raw);
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(deduplicated.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| located(part, e))
}

/// `raw` with each name once, at its last value: what FastAPI reads of a parameter given twice
/// (`?q=a&q=b` searches `b`), where a typed read would refuse a duplicate field.
/// One pass from the end with the names seen, so a query of many parameters costs its length,
/// not its length squared.
fn last_of_each(raw: &[u8]) -> String {
    let pairs: Vec<_> = form_urlencoded::parse(raw).collect();
    let mut seen = std::collections::HashSet::new();
    let mut last: Vec<_> = pairs.iter().rev().filter(|(name, _)| seen.insert(name.as_ref())).collect();
    last.reverse();
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (name, value) in last {
        kept.append_pair(name, value);
    }
    kept.finish()
}

/// Parses a JSON body into `T`: malformed JSON is a `422` at `["body"]`, a wrong type a `422`
/// at its field.
pub(crate) fn from_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        if e.inner().is_syntax() || e.inner().is_eof() {
            ApiError::Unparsable {
                part: Part::Body,
                path: Vec::new(),
                message: json_invalid(e.inner()),
                kind: "json_invalid",
            }
        } else {
            located(Part::Body, e)
        }
    })?;
    deserializer.end().map_err(|e| ApiError::Unparsable {
        part: Part::Body,
        path: Vec::new(),
        message: json_invalid(&e),
        kind: "json_invalid",
    })?;
    Ok(value)
}

fn json_invalid(error: &serde_json::Error) -> String {
    format!("JSON decode error: {error}")
}

/// Turns a located deserialization error into a `422` at its path.
fn located<E: std::fmt::Display>(part: Part, error: serde_path_to_error::Error<E>) -> ApiError {
    let path = error
        .path()
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(PathSegment::Field(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => Some(PathSegment::Field(variant.clone())),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect();
    let (message, kind) = describe(&error.inner().to_string());
    ApiError::Unparsable { part, path, message, kind }
}

/// FastAPI's words for what serde reported: the expected type of a mismatched value, or a
/// string that is not a number. Anything else keeps serde's own message.
fn describe(serde_message: &str) -> (String, &'static str) {
    let known = |msg: &str, kind| (msg.to_owned(), kind);
    if let Some(expected) = serde_message.strip_prefix("invalid type: ").and_then(|m| m.split(", expected ").nth(1)) {
        return match expected {
            e if e.contains("string") || e.contains("char") => known("Input should be a valid string", "string_type"),
            e if e.starts_with('i') || e.starts_with('u') || e.contains("integer") => {
                known("Input should be a valid integer", "int_type")
            }
            e if e.starts_with('f') || e.contains("float") => known("Input should be a valid number", "float_type"),
            e if e.contains("bool") => known("Input should be a valid boolean", "bool_type"),
            e if e.contains("sequence") || e.contains("Vec") => known("Input should be a valid list", "list_type"),
            e if e.contains("struct") || e.contains("map") => {
                known("Input should be a valid dictionary or object", "dict_type")
            }
            _ => (serde_message.to_owned(), "type_error"),
        };
    }
    if serde_message.starts_with("invalid type: ") {
        return (serde_message.to_owned(), "type_error");
    }
    match serde_message {
        // `str::parse` of an integer (query strings, forms): Rust's `ParseIntError` texts.
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            known("Input should be a valid integer, unable to parse string as an integer", "int_parsing")
        }
        "number too large to fit in target type" | "number too small to fit in target type" => {
            known("Input should be a valid integer, out of range", "int_parsing")
        }
        "invalid float literal" | "cannot parse float from empty string" => {
            known("Input should be a valid number, unable to parse string as a number", "float_parsing")
        }
        "provided string was not `true` or `false`" => {
            known("Input should be a valid boolean, unable to interpret input", "bool_parsing")
        }
        _ => (serde_message.to_owned(), "value_error"),
    }
}

/// The body length the request declares (`Content-Length`), if any: a body declared over a
/// limit is refused before a byte of it is read.
pub(crate) fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

/// The text fields of a multipart form already read whole (and so held to the body limit), by
/// name: the last value of a name wins, as in an urlencoded form; file parts are skipped. A body
/// that is not a well-formed form is `400`.
pub(crate) async fn form_fields(req: &HttpRequest, body: web::Bytes) -> Result<HashMap<String, String>, ApiError> {
    let unreadable = |e: actix_multipart::MultipartError| ApiError::BadRequest(e.to_string());
    let mut form = Multipart::new(req.headers(), futures_util::stream::once(async { Ok::<_, PayloadError>(body) }));
    let mut fields = HashMap::new();
    while let Some(field) = form.next().await {
        let mut field = field.map_err(unreadable)?;
        let name = field.name().map(str::to_owned);
        let is_file = field.content_disposition().and_then(|d| d.get_filename()).is_some();
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            value.extend_from_slice(&chunk.map_err(unreadable)?);
        }
        if let (Some(name), false) = (name, is_file) {
            let text = String::from_utf8(value).map_err(|_| ApiError::body("Form fields must be UTF-8 text"))?;
            fields.insert(name, text);
        }
    }
    Ok(fields)
}

/// A multipart body held to a limit in all (part headers and boundaries included), however it
/// is sent: one declaring a length over the limit is refused before it is read, and one sent
/// without a length (chunked) is cut off as soon as it passes the limit, whatever its parts
/// hold. Counting part data alone would let a client stream parts of huge headers for ever.
pub(crate) struct CappedForm {
    /// The parts, as read from the capped body.
    pub(crate) form: Multipart,
    /// Set once the body passed the limit (the parser then sees a payload error).
    over: Rc<Cell<bool>>,
}

impl CappedForm {
    /// The form of `payload`; `413` at once when the request declares more than `limit`.
    pub(crate) fn new(req: &HttpRequest, payload: web::Payload, limit: u64) -> Result<Self, ApiError> {
        if declared_length(req).is_some_and(|len| len > limit) {
            return Err(ApiError::PayloadTooLarge);
        }
        let over = Rc::new(Cell::new(false));
        let cut = over.clone();
        let mut received = 0u64;
        let body = payload.map(move |chunk| {
            let chunk = chunk?;
            received = received.saturating_add(chunk.len() as u64);
            if received > limit {
                cut.set(true);
                return Err(PayloadError::Overflow);
            }
            Ok(chunk)
        });
        Ok(Self { form: Multipart::new(req.headers(), body), over })
    }

    /// The answer to an error met reading the form: `413` when the limit cut the body, else
    /// `other`.
    pub(crate) fn error(&self, other: ApiError) -> ApiError {
        if self.over.get() { ApiError::PayloadTooLarge } else { other }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Entry {
        value: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        first_name: Option<String>,
        emails: Option<Vec<Entry>>,
        limit: Option<i64>,
    }

    #[test]
    fn each_name_keeps_its_last_value_in_the_order_of_last_appearance() {
        assert_eq!(last_of_each(b"a=1&b=2&a=3&c=%20x"), "b=2&a=3&c=+x");
        assert_eq!(last_of_each(b""), "");
        // 100,000 parameters: comparing each with every later one would be 5·10⁹ comparisons.
        let many: String = (0..100_000).map(|i| format!("p{i}=v&")).collect();
        assert_eq!(last_of_each(many.as_bytes()).matches('&').count(), 99_999);
    }

    fn problem(error: ApiError) -> (Part, Vec<PathSegment>, String, &'static str) {
        match error {
            ApiError::Unparsable { part, path, message, kind } => (part, path, message, kind),
            other => panic!("not unparsable: {other:?}"),
        }
    }

    fn field(name: &str) -> PathSegment {
        PathSegment::Field(name.to_owned())
    }

    #[test]
    fn a_wrong_json_type_is_located_at_its_field() {
        let (part, path, message, kind) = problem(from_json::<Body>(br#"{"first_name": 123}"#).unwrap_err());
        assert_eq!((part, path, kind), (Part::Body, vec![field("first_name")], "string_type"));
        assert_eq!(message, "Input should be a valid string");
    }

    #[test]
    fn a_nested_wrong_type_has_its_whole_path() {
        let raw = br#"{"emails": [{"value": "a@b.co"}, {"value": ["x"]}]}"#;
        let (_, path, _, kind) = problem(from_json::<Body>(raw).unwrap_err());
        assert_eq!(path, vec![field("emails"), PathSegment::Index(1), field("value")]);
        assert_eq!(kind, "string_type");
    }

    #[test]
    fn malformed_json_is_located_at_the_body() {
        for raw in [&b"{not json"[..], b"{\"first_name\": \"a\"} trailing", b""] {
            let (_, path, _, kind) = problem(from_json::<Body>(raw).unwrap_err());
            assert_eq!((path, kind), (vec![], "json_invalid"));
        }
    }

    #[test]
    fn a_non_integer_query_value_is_located_at_its_name() {
        for raw in ["limit=abc", "limit=1.5", "first_name=a&limit="] {
            let (part, path, message, kind) =
                problem(from_urlencoded::<Body>(Part::Query, raw.as_bytes()).unwrap_err());
            assert_eq!((part, path, kind), (Part::Query, vec![field("limit")], "int_parsing"), "{raw}");
            assert!(message.starts_with("Input should be a valid integer"), "{message}");
        }
        let body: Body = from_urlencoded(Part::Query, b"limit=5&first_name=a%20b").unwrap();
        assert_eq!((body.limit, body.first_name.as_deref()), (Some(5), Some("a b")));
    }
}
