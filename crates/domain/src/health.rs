//! [`HealthCheck`]: the port readiness probes ask, so inbound adapters need not know which
//! database or cache the composition root picked.

use async_trait::async_trait;

use crate::error::Error;

/// Whether the backing services answer right now.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait(?Send)]
pub trait HealthCheck: Send + Sync {
    /// `Ok` when the database answers a trivial query; [`Error::Unavailable`] otherwise.
    async fn database(&self) -> Result<(), Error>;

    /// Whether the cache answers. The cache is an accelerator: when it does not, the service
    /// still works (degraded), from the database.
    async fn cache(&self) -> bool;

    /// Whether the avatar store answers (a folder always does; a bucket may not). Only avatar
    /// uploads and downloads need it, so it is reported, never a reason to refuse traffic.
    async fn avatars(&self) -> bool;
}
