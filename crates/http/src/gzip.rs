//! gzip for answers sent over and over: which clients take it ([`TakesGzip`]) and the
//! compression itself ([`gzip`]).
//!
//! Only kept answers (`kept_answers`) are compressed: a copy is compressed once, the first time
//! a client that takes gzip asks for it again, and that form is what every such client gets
//! while the book is unchanged. A long birthday list then crosses the network, and the server's
//! socket buffers, at about a tenth of its size. An answer read anew is sent as written:
//! compressing each one would cost more CPU than sending it saves.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::io::Write;

use actix_web::dev::Payload;
use actix_web::http::header::{AcceptEncoding, Encoding, Header};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use flate2::Compression;
use flate2::write::GzEncoder;

/// The shortest answer worth compressing, in bytes: below it gzip's own header and the
/// request's other bytes outweigh what it saves (an empty list stays `[]`).
pub(crate) const GZIP_AT_LEAST: usize = 1024;

/// Whether the request's `Accept-Encoding` prefers gzip to no encoding at all (RFC 9110's
/// rules: `gzip;q=0` refuses it, `identity` ranked above it wins). No header, `*` and a header
/// that does not parse all get the answer unencoded, which every client can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TakesGzip(pub(crate) bool);

impl TakesGzip {
    fn of(req: &HttpRequest) -> Self {
        let chosen = AcceptEncoding::parse(req)
            .ok()
            .and_then(|accepted| accepted.negotiate([Encoding::gzip(), Encoding::identity()].iter()));
        Self(chosen == Some(Encoding::gzip()))
    }
}

impl FromRequest for TakesGzip {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of(req)))
    }
}

/// `body` compressed as a gzip member at zlib's default level: made once for an answer sent
/// many times, so the better ratio is worth the few milliseconds a long list takes. Blocking
/// work: run it off the executor.
pub(crate) fn gzip(body: &[u8]) -> std::io::Result<Bytes> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::default());
    encoder.write_all(body)?;
    encoder.finish().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use actix_web::test::TestRequest;
    use flate2::read::GzDecoder;

    use super::*;

    fn takes(accept_encoding: Option<&str>) -> bool {
        let mut req = TestRequest::default();
        if let Some(value) = accept_encoding {
            req = req.insert_header(("Accept-Encoding", value));
        }
        TakesGzip::of(&req.to_http_request()).0
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_prefer_it_to_nothing() {
        for value in ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8, *;q=0.1", "GZIP", "identity;q=0.5, gzip"] {
            assert!(takes(Some(value)), "{value:?}");
        }
        for value in [None, Some("gzip;q=0"), Some("identity"), Some("br"), Some("*"), Some("gzip;q=0.5, identity")] {
            assert!(!takes(value), "{value:?}");
        }
    }

    #[test]
    fn the_compressed_form_inflates_to_the_answer() {
        let answer = br#"[{"id":1,"first_name":"Ann"},{"id":2,"first_name":"Ann"}]"#.repeat(100);
        let compressed = gzip(&answer).unwrap();
        assert!(compressed.len() * 10 < answer.len(), "{} of {}", compressed.len(), answer.len());
        let mut inflated = Vec::new();
        GzDecoder::new(&compressed[..]).read_to_end(&mut inflated).unwrap();
        assert_eq!(inflated, answer);
    }
}
