//! Security adapters: bcrypt password hashing (always on a blocking thread) and HMAC-signed
//! JWTs with a separate key per token kind.
#![deny(missing_docs)]

mod jwt;
mod password;

pub use jwt::JwtCodec;
pub use password::BcryptHasher;
