//! [`LongPages`]: how many long list pages an instance reads at once.
//!
//! A page of up to 1,000 contacts is read whole before it is written: its rows, then the
//! contacts made of them, about a megabyte for a page of 1,000. Left to the connection pool
//! alone, as many pages are read at once as it has connections (16), and 32 clients asking
//! for such pages together raised the server's peak memory by 11.5 MiB; two reads a core
//! raised it by 5.3 MiB for 4.5 % fewer pages a second (`docs/performance.rst`). The bound
//! holds while a page is read, not while it is sent: a client that reads its answer slowly
//! keeps no one else waiting.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use contacts_domain::Error;

/// Long pages read at once for each core: the reads are mostly CPU (PostgreSQL's and this
/// process's), so more of them at once hold more memory without answering more a second.
const READS_A_CORE: usize = 2;

/// The bound on long pages read at once, shared by every clone (every worker).
#[derive(Debug, Clone)]
pub struct LongPages {
    turns: Arc<Semaphore>,
    wait: Duration,
}

/// A long page's turn to be read: the next one waiting takes it once this is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    _permit: SemaphorePermit<'a>,
}

/// No turn came within the wait: the reads ahead are slow, or the database does not answer.
#[derive(Debug, thiserror::Error)]
#[error("no turn to read a long page came within {0:?}")]
struct NoTurn(Duration);

impl LongPages {
    /// At most `limit` long pages read at a time (at least one), each waiting at most `wait`
    /// for its turn.
    pub fn new(limit: usize, wait: Duration) -> Self {
        Self { turns: Arc::new(Semaphore::new(limit.max(1))), wait }
    }

    /// Two reads for each core, each waiting at most `wait` for its turn before the request is
    /// told to come back later (`503`). The composition root passes the time a request waits
    /// for a pooled database connection: a database that no longer answers holds every turn,
    /// and the pages behind them must fail as fast as a request that finds no connection.
    pub fn per_core(wait: Duration) -> Self {
        Self::new(READS_A_CORE * std::thread::available_parallelism().map_or(1, |n| n.get()), wait)
    }

    /// Waits for a turn to read a long page; the turn lasts until the [`Turn`] is dropped.
    /// [`Error::Unavailable`] once the wait is over.
    pub async fn turn(&self) -> Result<Turn<'_>, Error> {
        match tokio::time::timeout(self.wait, self.turns.acquire()).await {
            Ok(Ok(permit)) => Ok(Turn { _permit: permit }),
            Ok(Err(closed)) => Err(Error::unexpected(closed)),
            Err(_) => Err(Error::Unavailable(Box::new(NoTurn(self.wait)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// A wait no test reaches.
    const TURN_WAIT: Duration = Duration::from_secs(3);

    /// Whether `future` is done at its first poll.
    fn ready_at_once<F: Future>(future: F) -> Option<F::Output> {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        }
    }

    #[tokio::test]
    async fn a_read_waits_while_every_turn_is_taken_and_goes_once_one_ends() {
        let pages = LongPages::new(2, TURN_WAIT);
        let first = ready_at_once(pages.turn()).expect("a free turn is given at once").unwrap();
        let _second = ready_at_once(pages.turn()).expect("a free turn is given at once").unwrap();
        assert!(ready_at_once(pages.turn()).is_none(), "a third read waits while two are read");
        drop(first);
        assert!(ready_at_once(pages.turn()).is_some(), "it goes once a read ends");
    }

    #[tokio::test]
    async fn there_is_always_at_least_one_turn() {
        let pages = LongPages::new(0, TURN_WAIT);
        assert!(ready_at_once(pages.turn()).is_some());
    }

    #[tokio::test]
    async fn a_read_that_waits_past_the_bound_is_told_the_service_is_unavailable() {
        let pages = LongPages::new(1, Duration::from_millis(50));
        let _taken = pages.turn().await.unwrap();
        let started = std::time::Instant::now();
        let waited = pages.turn().await;
        assert!(matches!(waited, Err(Error::Unavailable(_))), "{waited:?}");
        assert!(started.elapsed() >= Duration::from_millis(50), "it waited the whole bound first");
    }
}
