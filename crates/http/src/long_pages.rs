//! [`LongPages`]: how many long list pages an instance reads at once.
//!
//! A page of up to 1,000 contacts is read whole before it is written: its rows, then the
//! contacts made of them, about a megabyte for a page of 1,000. Left to the connection pool
//! alone, as many pages are read at once as it has connections (16), and 32 clients asking
//! for such pages together raised the server's peak memory by 11.5 MiB; two reads a core
//! raised it by 5.5 MiB for 6 % fewer pages a second (`docs/performance.rst`). The bound holds
//! while a page is read, not while it is sent: a client that reads its answer slowly keeps no
//! one else waiting.

use std::sync::Arc;

use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

/// Long pages read at once for each core: the reads are mostly CPU (PostgreSQL's and this
/// process's), so more of them at once hold more memory without answering more a second.
const READS_A_CORE: usize = 2;

/// The bound on long pages read at once, shared by every clone (every worker).
#[derive(Debug, Clone)]
pub struct LongPages(Arc<Semaphore>);

/// A long page's turn to be read: the next one waiting takes it once this is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    _permit: SemaphorePermit<'a>,
}

impl LongPages {
    /// At most `limit` long pages read at a time (at least one).
    pub fn new(limit: usize) -> Self {
        Self(Arc::new(Semaphore::new(limit.max(1))))
    }

    /// Two reads for each core.
    pub fn per_core() -> Self {
        Self::new(READS_A_CORE * std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Waits for a turn to read a long page; the turn lasts until the [`Turn`] is dropped.
    pub async fn turn(&self) -> Result<Turn<'_>, AcquireError> {
        self.0.acquire().await.map(|permit| Turn { _permit: permit })
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// Whether `future` is done at its first poll.
    fn ready_at_once<F: Future>(future: F) -> Option<F::Output> {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        }
    }

    #[test]
    fn a_read_waits_while_every_turn_is_taken_and_goes_once_one_ends() {
        let pages = LongPages::new(2);
        let first = ready_at_once(pages.turn()).expect("a free turn is given at once").unwrap();
        let _second = ready_at_once(pages.turn()).expect("a free turn is given at once").unwrap();
        assert!(ready_at_once(pages.turn()).is_none(), "a third read waits while two are read");
        drop(first);
        assert!(ready_at_once(pages.turn()).is_some(), "it goes once a read ends");
    }

    #[test]
    fn there_is_always_at_least_one_turn() {
        let pages = LongPages::new(0);
        assert!(ready_at_once(pages.turn()).is_some());
    }
}
