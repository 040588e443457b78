//! Work a route does after it has answered. The mail requests (`request_email`,
//! `request_password_reset`) queue a mail for a known address and nothing for an unknown one;
//! answering first keeps that difference out of the answer's time, so timing cannot tell
//! which addresses have accounts.

use std::future::Future;
use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;
use tracing::Instrument;

use contacts_domain::Error;

use crate::error::ApiError;
use crate::state::AppState;

/// Most of this work running at once in the process. A request that finds every slot taken
/// waits for one before answering: the work stays bounded under a flood, and the wait depends
/// on the load, not on the address.
const SLOTS: usize = 64;

static IN_FLIGHT: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(SLOTS)));

/// Runs `work` on this worker once a slot is free, without waiting for it to finish; a
/// failure is logged like a handler's (cause chain, request id), since no client sees it.
///
/// The database is asked first (one trivial query, the same whatever the address): when it is
/// down the request answers `503` like every route that needs it, instead of a `200` for a
/// mail that cannot be queued.
pub(crate) async fn after_answer(
    state: &AppState,
    work: impl Future<Output = Result<(), Error>> + 'static,
) -> Result<(), ApiError> {
    state.health.database().await?;
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
