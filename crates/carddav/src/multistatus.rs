//! A long `207 Multi-Status` answer on its way out ([`send`]): whole, with its length, when it
//! turns out short; streamed when it is long, gzip-compressed for a client that takes gzip.
//!
//! A first sync of a big book is megabytes of XML, and the HTTP stacks clients sync with ask for
//! gzip by default (OkHttp in DAVx5, URLSession on iOS, aiohttp in vdirsyncer, fetch in web
//! apps); multistatus XML, tags repeated for every card, shrinks several times over. Each chunk
//! is compressed through [`DavBackend::offload`], never on the executor. Only these listings and
//! reports are compressed: a card's `GET` goes as stored, since its strong `ETag` names its bytes.

use std::io::Write;

use actix_web::http::header::{self, AcceptEncoding, ContentEncoding, Encoding, Header};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::{Stream, StreamExt, TryStreamExt, stream};

use crate::backend::{BackendError, DavBackend};
use crate::error::DavError;
use crate::handlers::multi_status;
use crate::listing::failed;

/// The bytes read before an answer's headers are chosen. An answer that ends within them goes
/// whole and uncompressed: gzip would save a packet or two there, for a compressor's state
/// (some hundred KiB) set up for each answer.
pub const GZIP_AT_LEAST: usize = 8 * 1024;

/// A piece of an answer's body, or the failure that cuts it.
type Chunk = Result<Bytes, actix_web::Error>;

/// The answer with `body`: read ahead up to [`GZIP_AT_LEAST`] bytes; whole if it ends there,
/// else streamed (or whole if the stream says nothing follows), gzip-compressed if the request
/// prefers gzip to no coding (RFC 9110 12.5.3): a streamed answer always, a whole one when a
/// place on the backend's pool is free (else it goes as it is, like REST's kept answers).
///
/// A failure within the bytes read ahead is answered as the error it is (through [`DavError`]'s
/// one mapping, which logs it), since no status line has gone out yet.
pub(crate) async fn send<B: DavBackend>(
    req: &HttpRequest,
    backend: &web::Data<B>,
    body: impl Stream<Item = Chunk> + 'static,
) -> HttpResponse {
    let mut body = Box::pin(body);
    let mut ahead = Vec::new();
    let mut read = 0;
    while read < GZIP_AT_LEAST {
        match body.next().await {
            Some(Ok(chunk)) => {
                read += chunk.len();
                ahead.push(chunk);
            }
            Some(Err(failure)) => return failure.error_response(),
            None => return multi_status().body(joined(ahead)),
        }
    }
    let mut answer = multi_status();
    answer.insert_header((header::VARY, "Accept-Encoding"));
    let gzip = takes_gzip(req);
    if body.size_hint().1 == Some(0) {
        // Known to end here (a sync's single page, made before the answer): whole, with its
        // length; compressed only if a place on the pool is free now, since it can go as it is
        // and must not wait behind an import.
        let whole = joined(ahead);
        if !gzip {
            return answer.body(whole);
        }
        let body = whole.clone();
        let compressed = backend.offload_if_free(move || gzip_member(&body)).await;
        return match compressed.and_then(|out| out.transpose().map_err(unexpected)) {
            Ok(Some(compressed)) => answer.insert_header(ContentEncoding::Gzip).body(compressed),
            Ok(None) => answer.body(whole),
            Err(e) => DavError::from(e).error_response(),
        };
    }
    let body = stream::iter(ahead.into_iter().map(Ok)).chain(body);
    if gzip {
        answer.insert_header(ContentEncoding::Gzip).streaming(gzipped(backend.clone(), body).inspect_err(cut))
    } else {
        answer.streaming(body.inspect_err(cut))
    }
}

/// The chunks read ahead as one body: the chunk itself when there is one (a sync's page, which
/// may be megabytes of cards, is not copied on the executor), else their concatenation (under
/// [`GZIP_AT_LEAST`] and a chunk).
fn joined(mut ahead: Vec<Bytes>) -> Bytes {
    match ahead.len() {
        1 => ahead.pop().unwrap_or_default(),
        _ => Bytes::from(ahead.concat()),
    }
}

/// `body` as one gzip member at zlib's fastest level. Blocking work: run it off the executor.
fn gzip_member(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(body)?;
    encoder.finish()
}

/// Logs a failure met after the status line went out, with its causes: the connection is cut
/// (the client sees a body that never ends properly, not a short answer that looks whole).
fn cut(failure: &actix_web::Error) {
    tracing::error!(error = %failure, cause = ?failure, "a streamed DAV answer was cut");
}

/// Whether the request prefers gzip to no coding at all: `gzip;q=0` refuses it, `identity`
/// ranked above it wins, and no header, `*` or one that does not parse get the answer as it is.
fn takes_gzip(req: &HttpRequest) -> bool {
    let chosen = AcceptEncoding::parse(req)
        .ok()
        .and_then(|accepted| accepted.negotiate([Encoding::gzip(), Encoding::identity()].iter()));
    chosen == Some(Encoding::gzip())
}

/// `body` as one gzip member, each chunk compressed on the backend's bounded blocking pool at
/// zlib's fastest level (an answer made once, for one client: speed over the last few percent).
fn gzipped<B: DavBackend>(
    backend: web::Data<B>,
    body: impl Stream<Item = Chunk> + 'static,
) -> impl Stream<Item = Chunk> {
    let encoder = GzEncoder::new(Vec::new(), Compression::fast());
    stream::unfold((backend, Box::pin(body), Some(encoder)), |(backend, mut body, encoder)| async move {
        let mut encoder = encoder?;
        loop {
            let chunk = match body.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(failure)) => return Some((Err(failure), (backend, body, None))),
                None => {
                    let end = backend.offload(move || encoder.finish()).await.and_then(|end| end.map_err(unexpected));
                    return Some((end.map(Bytes::from).map_err(|e| failed(e.into())), (backend, body, None)));
                }
            };
            let written = backend
                .offload(move || {
                    encoder.write_all(&chunk)?;
                    let out = std::mem::take(encoder.get_mut());
                    Ok((encoder, out))
                })
                .await
                .and_then(|written| written.map_err(unexpected));
            match written {
                // Deflate holds back what it has not written out yet; the next chunk brings more.
                Ok((back, out)) if out.is_empty() => encoder = back,
                Ok((back, out)) => return Some((Ok(Bytes::from(out)), (backend, body, Some(back)))),
                Err(e) => return Some((Err(failed(e.into())), (backend, body, None))),
            }
        }
    })
}

/// A compressor's failure (which writing to memory never gives), as the backend's.
fn unexpected(e: std::io::Error) -> BackendError {
    BackendError::Unexpected(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chunk_read_ahead_is_sent_as_it_is_and_several_are_joined() {
        let page = Bytes::from(vec![b'x'; 100_000]);
        let whole = joined(vec![page.clone()]);
        assert_eq!(whole.as_ptr(), page.as_ptr(), "the same bytes, not a copy");
        let parts = joined(vec![Bytes::from_static(b"<a>"), Bytes::from_static(b"b"), Bytes::from_static(b"</a>")]);
        assert_eq!(parts, Bytes::from_static(b"<a>b</a>"));
        assert!(joined(Vec::new()).is_empty());
    }
}
