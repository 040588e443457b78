//! [`streamed`]: a response body read and written piece by piece (a whole-book export, a long
//! birthday list), so memory does not grow with the book; [`json_array`], such a body that is
//! one JSON array (a long birthday list, a long list page); [`recorded`], a body whose copy is
//! handed on once it has all been sent (a long birthday list, kept).

use std::future::Future;

use actix_web::web::Bytes;
use futures_util::Stream;
use serde::Serialize;

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

/// One JSON array written piece by piece: `next` turns a state into the next run of elements
/// and the state after it, `None` once there are no more. Each run is written as it comes, so
/// what is held at once is a run and its text, never the whole array's text.
///
/// Failures behave as in [`streamed`]: the array is broken off, never closed early.
pub(crate) fn json_array<I, S, F, Fut>(start: S, next: F) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    I: IntoIterator<Item: Serialize>,
    F: Fn(S) -> Fut,
    Fut: Future<Output = Result<Option<(I, S)>, Error>>,
{
    /// Where the array stands: its source, and whether an element is out (the next one needs a
    /// comma). `None` once the closing bracket is out.
    struct Writing<S> {
        source: S,
        opened: bool,
        written: bool,
    }
    streamed(Some(Writing { source: start, opened: false, written: false }), move |writing| {
        // The next run is asked for here, where `next` is at hand; the future owns the rest.
        let asked = writing.map(|w| (next(w.source), w.opened, w.written));
        async move {
            let Some((run, opened, mut written)) = asked else { return Ok(None) };
            let mut out = Vec::new();
            if !opened {
                out.push(b'[');
            }
            let Some((elements, source)) = run.await? else {
                out.push(b']');
                return Ok(Some((Bytes::from(out), None)));
            };
            for element in elements {
                if written {
                    out.push(b',');
                }
                serde_json::to_writer(&mut out, &element).map_err(Error::unexpected)?;
                written = true;
            }
            Ok(Some((Bytes::from(out), Some(Writing { source, opened: true, written }))))
        }
    })
}

/// `body` as it is, and once all of it has been sent, a copy of it handed to `done`, unless it
/// was longer than `most` bytes (the copy is then let go as soon as it grows past them) or broke
/// off (an error: never a copy of half an answer).
pub(crate) fn recorded<B>(
    body: B,
    most: usize,
    done: impl FnOnce(Bytes),
) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    B: Stream<Item = Result<Bytes, actix_web::Error>>,
{
    use futures_util::StreamExt;
    let copy: Option<Vec<u8>> = Some(Vec::new());
    futures_util::stream::unfold((Box::pin(body), copy, Some(done)), move |(mut body, mut copy, mut done)| async move {
        match body.next().await {
            Some(Ok(piece)) => {
                copy = copy.filter(|c| c.len() + piece.len() <= most).map(|mut c| {
                    c.extend_from_slice(&piece);
                    c
                });
                Some((Ok(piece), (body, copy, done)))
            }
            Some(Err(broken)) => Some((Err(broken), (body, None, None))),
            None => {
                if let (Some(copy), Some(done)) = (copy, done.take()) {
                    done(Bytes::from(copy));
                }
                None
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

    /// What `recorded` hands on for a body of `pieces` (an `Err` piece breaks it off) at most
    /// `most` bytes long, with what the client receives.
    async fn record(pieces: &[Result<&'static str, ()>], most: usize) -> (Option<Bytes>, Vec<Bytes>) {
        let pieces: Vec<Result<Bytes, actix_web::Error>> = pieces
            .iter()
            .map(|p| {
                p.map(|s| Bytes::from_static(s.as_bytes()))
                    .map_err(|()| actix_web::error::ErrorInternalServerError("broken"))
            })
            .collect();
        let copy = std::sync::Arc::new(std::sync::Mutex::new(None));
        let handed = copy.clone();
        let body = recorded(futures_util::stream::iter(pieces), most, move |c| *handed.lock().unwrap() = Some(c));
        let sent: Vec<Bytes> = body.filter_map(|p| std::future::ready(p.ok())).collect().await;
        let copy = copy.lock().unwrap().take();
        (copy, sent)
    }

    #[tokio::test]
    async fn a_recorded_body_is_sent_as_it_is_and_its_copy_handed_on_once_complete() {
        let (copy, sent) = record(&[Ok("[1"), Ok(",2"), Ok("]")], 5).await;
        assert_eq!(sent, ["[1", ",2", "]"]);
        assert_eq!(copy.as_deref(), Some(&b"[1,2]"[..]));
    }

    #[tokio::test]
    async fn a_recorded_body_too_long_or_broken_off_is_sent_but_not_handed_on() {
        let (copy, sent) = record(&[Ok("[1"), Ok(",2"), Ok("]")], 4).await;
        assert_eq!((copy, sent.len()), (None, 3), "longer than allowed");
        let (copy, sent) = record(&[Ok("[1"), Err(()), Ok("]")], 100).await;
        assert_eq!((copy, sent.len()), (None, 2), "broken off");
    }

    /// The array whose runs are `runs`, failing when asked for run `fail_at`, as its pieces.
    async fn array(runs: &[&[u32]], fail_at: Option<usize>) -> Vec<Result<String, String>> {
        let runs: Vec<Vec<u32>> = runs.iter().map(|run| run.to_vec()).collect();
        let body = json_array(0, |n: usize| {
            let run = runs.get(n).cloned();
            async move {
                if fail_at == Some(n) {
                    return Err(Error::unexpected("the database went away"));
                }
                Ok(run.map(|run| (run, n + 1)))
            }
        });
        let pieces: Vec<_> = body.collect().await;
        pieces
            .into_iter()
            .map(|p| p.map(|b| String::from_utf8(b.to_vec()).unwrap()).map_err(|e| e.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn an_array_is_written_run_by_run_and_closed_at_the_end() {
        let pieces = array(&[&[1, 2], &[], &[3]], None).await;
        let pieces: Vec<String> = pieces.into_iter().map(Result::unwrap).collect();
        // An empty run writes nothing (actix's streamed bodies skip empty pieces).
        assert_eq!(pieces, ["[1,2", "", ",3", "]"], "a comma before every element but the first");
        let whole: Vec<u32> = serde_json::from_str(&pieces.concat()).unwrap();
        assert_eq!(whole, [1, 2, 3]);
    }

    #[tokio::test]
    async fn an_array_without_elements_is_empty_not_missing() {
        let pieces: Vec<String> = array(&[], None).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(pieces.concat(), "[]");
        let pieces: Vec<String> = array(&[&[]], None).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(pieces.concat(), "[]");
    }

    #[tokio::test]
    async fn a_failed_run_leaves_the_array_unclosed() {
        let pieces = array(&[&[1], &[2], &[3]], Some(1)).await;
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert_eq!(pieces[0], Ok("[1".to_owned()));
        assert!(pieces[1].is_err(), "no closing bracket: a client cannot take it for the whole list");
    }
}
