//! A deadline on request bodies: a body must arrive within a fixed time of its headers, or
//! the request is answered `408` and its connection closed, so slow senders cannot hold
//! connections (and workers' memory) open for ever.
//!
//! actix-web's `client_request_timeout` covers the headers only; the body is read by whatever
//! extractor a handler uses, at its own pace. This middleware wraps the payload in a stream
//! that fails once the deadline has passed and, whatever the handler made of that failure,
//! answers `408` itself.
//!
//! The unread payload is kept until the `408` has been sent: actix-http closes a connection
//! whose request body is unfinished, except a chunked one whose payload was dropped, which it
//! drains instead, waiting for the rest for minutes (a client that went silent kept its
//! connection for six).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::{Next, from_fn};
use actix_web::rt::time::{Instant, Sleep, sleep_until};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::Stream;

/// How long a body may take after its headers, as the contract says.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The middleware: every request with a body gets `timeout` (normally [`BODY_TIMEOUT`]) from
/// the moment it reaches the app (its headers read) to deliver it.
pub fn body_deadline<S, B>(
    timeout: Duration,
) -> impl Transform<S, ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error, InitError = ()>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    from_fn(move |request, next| within(timeout, request, next))
}

async fn within<B: MessageBody + 'static>(
    timeout: Duration,
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if !has_body(&request) {
        return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
    }
    let expired: Rc<RefCell<Option<Payload>>> = Rc::default();
    let payload = Deadline {
        inner: request.take_payload(),
        deadline: Instant::now() + timeout,
        sleep: None,
        timed_out: false,
        expired: expired.clone(),
    };
    request.set_payload(Payload::Stream { payload: Box::pin(payload) });
    let response = next.call(request).await;
    let Some(unread) = expired.take() else {
        return response.map(ServiceResponse::map_into_boxed_body);
    };
    match response {
        Ok(response) => Ok(ServiceResponse::new(response.into_parts().0, timeout_response(unread))),
        // The handler failed on the broken body; answer for it all the same.
        Err(_) => Err(RequestTimeout(RefCell::new(Some(unread))).into()),
    }
}

/// Whether the request announces a body (a length above zero, or chunks).
fn has_body(request: &ServiceRequest) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != "0")
}

/// `408 {"detail": ...}` with `Connection: close`: the rest of the body is not worth waiting
/// for. Its body holds `unread` until it has been written (see the module's docs).
fn timeout_response(unread: Payload) -> HttpResponse {
    let detail = serde_json::json!({"detail": "The request body did not arrive in time"});
    let mut response = HttpResponse::RequestTimeout()
        .content_type("application/json")
        .body(Holding { body: Some(Bytes::from(detail.to_string())), _unread: unread });
    response.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
    response
}

/// The error a handler's failure is replaced with once the body has timed out; its response
/// takes the unread payload along.
struct RequestTimeout(RefCell<Option<Payload>>);

impl std::fmt::Debug for RequestTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestTimeout")
    }
}

impl std::fmt::Display for RequestTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("The request body did not arrive in time")
    }
}

impl actix_web::ResponseError for RequestTimeout {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::REQUEST_TIMEOUT
    }

    fn error_response(&self) -> HttpResponse {
        timeout_response(self.0.borrow_mut().take().unwrap_or(Payload::None))
    }
}

/// A body of bytes that keeps the request's unread payload alive while it is sent.
struct Holding {
    body: Option<Bytes>,
    _unread: Payload,
}

impl MessageBody for Holding {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.body.as_ref().map_or(0, |b| b.len() as u64))
    }

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(self.get_mut().body.take().map(Ok))
    }
}

/// The request payload, failing with a timeout once `deadline` has passed while it still
/// waits for data; it then hands what is left of the payload to `expired`, for the `408` to
/// hold. The timer is only made when the body first makes us wait.
struct Deadline {
    inner: Payload,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    timed_out: bool,
    expired: Rc<RefCell<Option<Payload>>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.timed_out {
            return Poll::Ready(Some(Err(timed_out())));
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        let deadline = this.deadline;
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.timed_out = true;
                *this.expired.borrow_mut() = Some(std::mem::replace(&mut this.inner, Payload::None));
                Poll::Ready(Some(Err(timed_out())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "request body timed out"))
}
