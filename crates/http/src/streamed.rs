//! [`streamed`]: a response body read and written piece by piece (a whole-book export, a long
//! birthday list), so memory does not grow with the book.

use std::future::Future;

use actix_web::web::Bytes;
use futures_util::Stream;

use contacts_domain::Error;

use crate::error::ApiError;

/// The body `step` writes from `start`: each call turns a state into the next piece and the
/// state after it, `None` once the body is complete.
///
/// The status line is sent before the first piece, so the handler reads its first page before
/// answering (a failure there is still a proper status). A failure later is logged through
/// [`ApiError`], as any other would be, and breaks the body off: the client sees a failed
/// transfer, never a short export or list it could take for a whole one.
pub(crate) fn streamed<S, F, Fut>(start: S, step: F) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    F: Fn(S) -> Fut,
    Fut: Future<Output = Result<Option<(Bytes, S)>, Error>>,
{
    futures_util::stream::unfold((Some(start), step), |(state, step)| async move {
        let state = state?;
        match step(state).await {
            Ok(Some((piece, next))) => Some((Ok(piece), (Some(next), step))),
            Ok(None) => None,
            Err(e) => {
                ApiError::from(e).log_and_status();
                let broken = actix_web::error::ErrorInternalServerError("the body could not be completed");
                Some((Err(broken), (None, step)))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    /// Pieces "0", "1", … up to `fail_at`, which fails, or `end`, which ends the body.
    async fn collect(end: u8, fail_at: Option<u8>) -> Vec<Result<Bytes, String>> {
        let body = streamed(0u8, |n| async move {
            if fail_at == Some(n) {
                return Err(Error::unexpected("the database went away"));
            }
            Ok((n < end).then(|| (Bytes::from(n.to_string()), n + 1)))
        });
        body.map(|piece| piece.map_err(|e| e.to_string())).collect().await
    }

    #[tokio::test]
    async fn every_piece_comes_in_order_until_the_end() {
        let pieces = collect(3, None).await;
        assert_eq!(pieces, vec![Ok(Bytes::from("0")), Ok(Bytes::from("1")), Ok(Bytes::from("2"))]);
    }

    #[tokio::test]
    async fn a_failure_breaks_the_body_off_after_what_was_written() {
        let pieces = collect(5, Some(2)).await;
        assert_eq!(pieces.len(), 3, "two pieces, the failure, then nothing: {pieces:?}");
        assert_eq!(pieces[..2], [Ok(Bytes::from("0")), Ok(Bytes::from("1"))]);
        assert!(pieces[2].is_err(), "the body ends in an error, not as if complete");
    }
}
