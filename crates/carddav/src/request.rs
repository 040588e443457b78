//! Reading what a request says besides its path: its body (bounded), `Depth`, preconditions,
//! `Accept` and `Content-Type`.

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{self, Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::SystemTime;

use crate::backend::{BackendError, EtagMatch, VcardVersion, WritePrecondition};
use crate::error::DavError;

/// Largest XML body read (`413` above it).
pub const MAX_XML_BYTES: usize = 1024 * 1024;

/// Reads the whole body, refusing more than `limit` bytes (before reading when
/// `Content-Length` already says so). `None` when it is over the limit. A body in a content
/// coding is refused ([`DavError::EncodedBody`]) unread.
pub async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Option<Bytes>, DavError> {
    if encoded(req.headers()) {
        return Err(DavError::EncodedBody);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| DavError::BadRequest("the body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// Whether `Content-Encoding` names any coding but `identity` (in any of its lines or items).
fn encoded(headers: &HeaderMap) -> bool {
    let codings = headers.get_all(header::CONTENT_ENCODING).flat_map(|v| v.as_bytes().split(|b| *b == b','));
    codings.map(<[u8]>::trim_ascii).any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case(b"identity"))
}

/// Reads an XML body: `413` over [`MAX_XML_BYTES`].
pub async fn read_xml(req: &HttpRequest, payload: web::Payload) -> Result<Bytes, DavError> {
    read_body(req, payload, MAX_XML_BYTES).await?.ok_or(DavError::XmlTooLarge)
}

/// Reads a card body: `413` with `CARDDAV:max-resource-size` over the limit.
pub async fn read_card(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<Bytes, DavError> {
    read_body(req, payload, limit).await?.ok_or(DavError::Backend(BackendError::TooLarge))
}

/// A request's `Depth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The resource itself.
    Zero,
    /// The resource and its members.
    One,
    /// Everything below: refused.
    Infinity,
}

/// Reads `Depth`. Without one, `0`: RFC 4918 says infinity, which we refuse, and refusing a
/// header-less `PROPFIND` would break clients that only want the resource itself (Radicale
/// answers depth 0 too).
pub fn depth(headers: &HeaderMap) -> Result<Depth, DavError> {
    match headers.get("depth").map(|v| v.to_str().map(str::trim)) {
        None => Ok(Depth::Zero),
        Some(Ok("0")) => Ok(Depth::Zero),
        Some(Ok("1")) => Ok(Depth::One),
        Some(Ok(v)) if v.eq_ignore_ascii_case("infinity") => Ok(Depth::Infinity),
        Some(_) => Err(DavError::BadRequest("Depth must be 0, 1 or infinity")),
    }
}

/// Parses an `If-Match` / `If-None-Match` value. Weak tags (`W/"x"`) never match `If-Match`
/// (strong comparison) and compare weakly in `If-None-Match`; an unquoted tag is read as is.
fn etag_match(headers: &HeaderMap, name: header::HeaderName, weak_allowed: bool) -> Option<EtagMatch> {
    let values: Vec<&str> = headers.get_all(name).filter_map(|v| v.to_str().ok()).collect();
    if values.is_empty() {
        return None;
    }
    let mut tags = Vec::new();
    for item in values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty()) {
        if item == "*" {
            return Some(EtagMatch::Any);
        }
        let (weak, tag) = match item.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, item),
        };
        if weak && !weak_allowed {
            continue;
        }
        tags.push(tag.trim_matches('"').to_owned());
    }
    Some(EtagMatch::Tags(tags))
}

/// The write preconditions of a request.
pub fn precondition(headers: &HeaderMap) -> WritePrecondition {
    WritePrecondition {
        if_match: etag_match(headers, header::IF_MATCH, false),
        if_none_match: etag_match(headers, header::IF_NONE_MATCH, true),
        if_unmodified_since: http_date(headers, header::IF_UNMODIFIED_SINCE),
    }
}

/// A date header (`If-Modified-Since`, `If-Unmodified-Since`); one that is not a valid HTTP
/// date is ignored, as RFC 9110 13.1.3 asks. A wrong day of the week is forgiven (the date
/// says which day it is; hand-written dates often get it wrong).
pub fn http_date(headers: &HeaderMap, name: header::HeaderName) -> Option<SystemTime> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let parsed = value.parse::<header::HttpDate>().ok().or_else(|| {
        let (_, date) = value.split_once(", ")?;
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].iter().find_map(|day| format!("{day}, {date}").parse().ok())
    });
    parsed.map(SystemTime::from)
}

/// One media range of `Accept` that `q=0` does not refuse: its type, lower case, the `version`
/// parameter it names, and its weight (`q`, 1 when not given).
struct MediaRange {
    media: String,
    version: Option<String>,
    q: f32,
}

/// The ranges of `Accept` a client takes (`None` without a readable header).
fn accepted_ranges(headers: &HeaderMap) -> Option<Vec<MediaRange>> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    let ranges = accept.split(',').filter_map(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let (mut version, mut q) = (None, 1.0);
        for (key, value) in parts.filter_map(|p| p.split_once('=')) {
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "version" => version = Some(value.to_owned()),
                "q" => q = value.parse::<f32>().ok().filter(|q| q.is_finite()).unwrap_or(1.0),
                _ => {}
            }
        }
        (q > 0.0).then_some(MediaRange { media, version, q })
    });
    Some(ranges.collect())
}

/// The vCard version an `Accept` header asks for (`text/vcard; version=3.0`), if any: that of
/// the `text/vcard` range of the highest `q` (RFC 9110 12.5.1), a range naming a version before
/// one that names none at the same `q` (the more specific range), the first one on a tie. A
/// range without a version asks for none; one naming a version this server does not write is
/// passed over.
pub fn accepted_version(headers: &HeaderMap) -> Option<VcardVersion> {
    let ranges = accepted_ranges(headers)?;
    let mut best: Option<(&MediaRange, Option<VcardVersion>)> = None;
    for range in ranges.iter().filter(|range| range.media == "text/vcard") {
        let version = range.version.as_deref().and_then(VcardVersion::parse);
        if range.version.is_some() && version.is_none() {
            // A version this server does not write (2.1): the range asks for nothing it can give.
            continue;
        }
        let better = best.is_none_or(|(top, top_version)| {
            range.q > top.q || (range.q == top.q && version.is_some() && top_version.is_none())
        });
        if better {
            best = Some((range, version));
        }
    }
    best.and_then(|(_, version)| version)
}

/// Whether `Accept` (when sent) takes a vCard: `text/vcard` (or its older names
/// `text/x-vcard`, `text/directory`), `text/*` or `*/*`, not refused with `q=0`.
pub fn accepts_vcard(headers: &HeaderMap) -> bool {
    accepted_ranges(headers).is_none_or(|ranges| {
        ranges.iter().any(|range| {
            matches!(range.media.as_str(), "*/*" | "text/*" | "text/vcard" | "text/x-vcard" | "text/directory" | "")
        })
    })
}

/// Whether a `PUT` body is declared as a vCard (no `Content-Type` is accepted: the body
/// itself decides). Any charset but UTF-8 is refused.
pub fn is_vcard_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return true };
    let Ok(value) = value.to_str() else { return false };
    let mut parts = value.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default().to_ascii_lowercase();
    if !matches!(media.as_str(), "text/vcard" | "text/x-vcard" | "text/directory") {
        return false;
    }
    parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    })
}

/// Whether a body is declared as XML (or not declared at all): another type is `415` (RFC
/// 4918 9.3, RFC 5689 3).
pub fn is_xml_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return true };
    let media = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    matches!(media.as_str(), "application/xml" | "text/xml" | "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(list: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in list {
            map.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn depth_defaults_to_zero_and_refuses_junk() {
        assert_eq!(depth(&headers(&[])).unwrap(), Depth::Zero);
        assert_eq!(depth(&headers(&[("depth", "1")])).unwrap(), Depth::One);
        assert_eq!(depth(&headers(&[("depth", "Infinity")])).unwrap(), Depth::Infinity);
        assert!(depth(&headers(&[("depth", "2")])).is_err());
    }

    #[test]
    fn preconditions_read_star_lists_and_weak_tags() {
        let p = precondition(&headers(&[("if-none-match", "*")]));
        assert_eq!(p.if_none_match, Some(EtagMatch::Any));
        assert_eq!(p.if_match, None);
        let p = precondition(&headers(&[("if-match", "\"a\", W/\"b\""), ("if-match", "c")]));
        assert_eq!(p.if_match, Some(EtagMatch::Tags(vec!["a".into(), "c".into()])));
        let p = precondition(&headers(&[("if-none-match", "W/\"b\"")]));
        assert_eq!(p.if_none_match, Some(EtagMatch::Tags(vec!["b".into()])));
    }

    #[test]
    fn accept_picks_a_vcard_version() {
        assert_eq!(accepted_version(&headers(&[("accept", "text/vcard; version=3.0")])), Some(VcardVersion::V3));
        assert_eq!(
            accepted_version(&headers(&[("accept", "text/vcard;version=3.0;q=0, text/vcard; version=\"4.0\"")])),
            Some(VcardVersion::V4)
        );
        assert_eq!(accepted_version(&headers(&[("accept", "text/vcard, */*")])), None);
        // The weights decide, not the order (RFC 9110 12.5.1).
        let weighted = "text/vcard; version=3.0;q=0.1, text/vcard; version=4.0;q=0.9";
        assert_eq!(accepted_version(&headers(&[("accept", weighted)])), Some(VcardVersion::V4));
        let weighted = "text/vcard;version=4.0;q=0.5, text/vcard;version=3.0";
        assert_eq!(accepted_version(&headers(&[("accept", weighted)])), Some(VcardVersion::V3));
        let as_stored_first = "text/vcard, text/vcard;version=3.0;q=0.5";
        assert_eq!(accepted_version(&headers(&[("accept", as_stored_first)])), None, "any version, preferred");
        let unwritable = "text/vcard;version=2.1, text/vcard;version=3.0;q=0.5";
        assert_eq!(accepted_version(&headers(&[("accept", unwritable)])), Some(VcardVersion::V3), "2.1 passed over");
        let specific = "text/vcard, text/vcard;version=3.0";
        assert_eq!(accepted_version(&headers(&[("accept", specific)])), Some(VcardVersion::V3), "the more specific");
        assert_eq!(accepted_version(&headers(&[])), None);
    }

    #[test]
    fn content_types_of_cards() {
        assert!(is_vcard_type(&headers(&[])));
        assert!(is_vcard_type(&headers(&[("content-type", "text/vcard; charset=UTF-8")])));
        assert!(is_vcard_type(&headers(&[("content-type", "text/x-vcard")])));
        assert!(!is_vcard_type(&headers(&[("content-type", "text/vcard; charset=iso-8859-1")])));
        assert!(!is_vcard_type(&headers(&[("content-type", "application/json")])));
    }
}
