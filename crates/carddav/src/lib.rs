//! The CardDAV inbound adapter (RFC 6352 on WebDAV RFC 4918, sync-collection RFC 6578,
//! discovery RFC 6764): WebDAV's XML read and written with quick-xml, the `/dav` URL space,
//! and one handler per method, all over one trait, [`DavBackend`], that the rest of the system
//! implements (it is to move into the domain as the address-book use cases).
//!
//! The server crate mounts it next to the REST routes with [`configure`]. Bad input never gets a
//! `500`: every failure is mapped to a DAV answer in one place ([`DavError`]).
//!
//! Feature `testing` exports `testing::MemoryBackend`, which drives this crate's black-box tests
//! and `examples/memory_server.rs`; `clients/run.sh` runs vdirsyncer's own CardDAV storage test
//! suite against that server.
#![deny(missing_docs)]
#![allow(async_fn_in_trait)]

mod auth;
pub mod backend;
mod client_props;
mod conditions;
mod error;
mod filter;
mod handlers;
mod lines;
mod listing;
mod multistatus;
mod parts;
pub mod paths;
mod props;
mod request;
mod routes;
mod sync;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod transfer;
pub mod xml;

pub use backend::{
    BackendError, BookInfo, BookLabel, Card, CardEntry, CardMeta, Change, ChangeSet, ClientOrigin, DavBackend, DavUser,
    EtagMatch, PutOutcome, SyncToken, TextWanted, VcardVersion, WritePrecondition,
};
pub use error::DavError;
pub use props::MAX_CARD_BYTES;
pub use routes::configure;

#[cfg(test)]
mod tests;
