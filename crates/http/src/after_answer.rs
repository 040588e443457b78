//! Work a route does after it has answered. The mail requests (`request_email`,
//! `request_password_reset`) queue a mail for a known address and nothing for an unknown one;
//! answering first keeps that difference out of the answer's time, so timing cannot tell
//! which addresses have accounts. Before it answers, a route records the request in the
//! database (the same insert for every address), so the work is not lost if the instance dies
//! after answering: another takes the request up.

use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;
use tracing::Instrument;

use contacts_domain::EmailAddress;
use contacts_domain::mail::MailKind;

use crate::error::ApiError;
use crate::state::AppState;

/// Most of this work running at once in the process. A request that finds every slot taken
/// waits for one before answering: the work stays bounded under a flood, and the wait depends
/// on the load, not on the address.
const SLOTS: usize = 64;

static IN_FLIGHT: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(SLOTS)));

/// Records the request for a mail of `kind` to `address`, then handles it on this worker once
/// a slot is free, without waiting for it to finish; a failure is logged like a handler's
/// (cause chain, request id), since no client sees it. When the database is down the record
/// fails and the request answers `503` like every route that needs it, instead of a `200` for
/// a mail that cannot be queued.
pub(crate) async fn after_answer(state: &AppState, kind: MailKind, address: EmailAddress) -> Result<(), ApiError> {
    let request = state.auth.record_mail_request(kind, address).await?;
    let auth = state.auth.clone();
    let work = async move { auth.handle_mail_request(request).await };
    let Ok(slot) = Arc::clone(&IN_FLIGHT).acquire_owned().await else { unreachable!("the semaphore is never closed") };
    let span = tracing::Span::current();
    actix_web::rt::spawn(
        async move {
            if let Err(error) = work.await {
                ApiError::from(error).log_and_status();
            }
            drop(slot);
        }
        .instrument(span),
    );
    Ok(())
}
