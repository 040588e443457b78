//! Pooled connections that give up on a server that does not answer.
//!
//! A PostgreSQL that hangs (stopped, stuck on its disk) or a route that went silent keeps the
//! TCP connection open: the kernel acknowledges what is sent, nothing comes back, and a query
//! on a pooled connection would wait for as long as TCP keeps the connection, which is hours.
//! The contract says such routes answer `503` within seconds and never hang. So each pooled
//! connection runs over a [`Watched`] socket: once something has been sent, the first byte of
//! the answer must come within [`ANSWER_WITHIN`], or the socket fails; the driver then ends the
//! connection, the query waiting on it fails as "connection closed" (`Error::Unavailable`), and
//! the pool never hands that connection out again.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use diesel::ConnectionResult;
use diesel::connection::InstrumentationEvent;
use diesel::result::ConnectionError;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

/// How long a statement may go without the first byte of its answer. Far longer than any
/// statement this service sends takes to start answering (the slowest, a year's birthdays of a
/// 50,000-contact book, in a third of a second; migrations run on a connection of their own),
/// short enough that a request on a dead connection fails in seconds (API.md: "`503` ... within
/// a few seconds").
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Opens a connection to `url` over a [`Watched`] TCP socket. A URL this does not handle (a Unix
/// socket, several hosts) is opened as diesel-async opens it, unwatched.
pub(crate) fn establish(url: &str, answer_within: Duration) -> BoxFuture<'_, ConnectionResult<AsyncPgConnection>> {
    Box::pin(async move {
        let config: tokio_postgres::Config = url.parse().map_err(|e| bad_connection(&e))?;
        let (Some(Host::Tcp(host)), [port]) = (single(config.get_hosts()), config.get_ports()) else {
            return AsyncPgConnection::establish(url).await;
        };
        let socket = TcpStream::connect((host.as_str(), *port)).await.map_err(|e| bad_connection(&e))?;
        socket.set_nodelay(true).map_err(|e| bad_connection(&e))?;
        let (client, connection) =
            config.connect_raw(Watched::new(socket, answer_within), NoTls).await.map_err(|e| bad_connection(&e))?;
        // The driver: it ends, and with it the client, when the socket fails or closes.
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "a pooled PostgreSQL connection ended");
            }
        });
        let mut conn = AsyncPgConnection::try_from(client).await?;
        // What diesel-async's own `establish` reports, so instrumentation (the statement
        // counts of the round-trip tests, a tracer) sees these connections as any other.
        let instrumentation = conn.instrumentation();
        instrumentation.on_connection_event(InstrumentationEvent::start_establish_connection(url));
        instrumentation.on_connection_event(InstrumentationEvent::finish_establish_connection(url, None));
        Ok(conn)
    })
}

fn single(hosts: &[Host]) -> Option<&Host> {
    match hosts {
        [host] => Some(host),
        _ => None,
    }
}

/// A failed connection, with every cause in its message: PostgreSQL's own refusal (`FATAL:
/// sorry, too many clients already`) is the source of a driver error that only says
/// `db error`, and an operator needs the reason.
fn bad_connection(error: &(dyn std::error::Error + 'static)) -> ConnectionError {
    ConnectionError::BadConnection(contacts_domain::error::chain(error))
}

#[cfg(test)]
#[test]
fn a_failed_connection_names_every_cause() {
    #[derive(Debug, thiserror::Error)]
    #[error("db error")]
    struct Driver(#[source] std::io::Error);
    let refused = Driver(std::io::Error::other("FATAL: sorry, too many clients already"));
    let ConnectionError::BadConnection(text) = bad_connection(&refused) else { panic!("a bad connection") };
    assert_eq!(text, "db error: FATAL: sorry, too many clients already");
}

/// A socket whose reads fail when an answer is overdue: [`ANSWER_WITHIN`] after the first
/// write since the last byte read, if nothing has been read since.
pub(crate) struct Watched<S> {
    inner: S,
    answer_within: Duration,
    /// When the oldest write still waiting for an answer was made.
    waiting_since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, answer_within: Duration) -> Self {
        Self { inner, answer_within, waiting_since: None, timer: Box::pin(tokio::time::sleep(answer_within)) }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.waiting_since = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let Some(since) = self.waiting_since else { return Poll::Pending };
                let deadline = since + self.answer_within;
                if self.timer.deadline() != deadline {
                    self.timer.as_mut().reset(deadline);
                }
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("PostgreSQL did not answer within {} s", self.answer_within.as_secs()),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            failed => failed,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) && self.waiting_since.is_none() {
            let now = Instant::now();
            self.waiting_since = Some(now);
            // Armed here, with this task's waker: the driver may have polled its read before
            // writing, and nothing else would wake it if no answer ever comes.
            let deadline = now + self.answer_within;
            self.timer.as_mut().reset(deadline);
            let _ = self.timer.as_mut().poll(cx);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
