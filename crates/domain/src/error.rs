//! The domain's one error type, shared by every service and port.
//!
//! Adapters translate their own failures into it (a unique-constraint violation becomes
//! [`Error::Conflict`], an unreachable database [`Error::Unavailable`]); the HTTP layer maps
//! it to status codes in exactly one place.

use std::fmt;

/// A boxed cause kept for the logs; never shown to clients.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which part of a request a rejected value came from, so clients can locate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPart {
    /// The request body.
    Body,
    /// The query string.
    Query,
    /// The path.
    Path,
}

/// One rejected input value: where it was, what is wrong, and a machine-readable kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The part of the request that carried the value.
    pub part: InputPart,
    /// The field's name as the client sent it.
    pub field: String,
    /// A human-readable explanation.
    pub message: String,
    /// A stable machine-readable kind, such as `missing` or `string_too_long`.
    pub kind: &'static str,
}

impl FieldError {
    /// A problem with a field of the request body, the common case.
    pub fn body(field: &str, kind: &'static str, message: impl Into<String>) -> Self {
        Self { part: InputPart::Body, field: field.to_owned(), message: message.into(), kind }
    }

    /// A problem with a query parameter.
    pub fn query(field: &str, kind: &'static str, message: impl Into<String>) -> Self {
        Self { part: InputPart::Query, field: field.to_owned(), message: message.into(), kind }
    }

    /// The error for a required body field that is absent (or `null`).
    pub fn missing(field: &str) -> Self {
        Self::body(field, "missing", "Field required")
    }
}

/// Everything a use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke one or more rules; every problem found is listed.
    #[error("invalid input: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// A uniqueness rule was broken (taken email, duplicate contact); the text is for clients.
    #[error("{0}")]
    Conflict(&'static str),
    /// The resource does not exist or belongs to someone else; the text is for clients.
    #[error("{0}")]
    NotFound(&'static str),
    /// A missing, malformed, expired or wrong-kind access token.
    #[error("Could not validate credentials")]
    Unauthenticated,
    /// Unknown account or wrong password: one answer for both, so accounts cannot be probed.
    #[error("Incorrect username or password")]
    InvalidCredentials,
    /// The password was right but the email address has not been confirmed yet.
    #[error("Email not confirmed")]
    EmailNotConfirmed,
    /// An email-confirmation token that is bad, expired or of another kind.
    #[error("Verification error")]
    VerificationFailed,
    /// A password-reset token that is bad, expired, already used or of another kind.
    #[error("Invalid or expired token")]
    InvalidResetToken,
    /// Too many requests in the current window; retry after this many seconds.
    #[error("Rate limit exceeded")]
    RateLimited {
        /// Seconds until the window resets.
        retry_after: u64,
    },
    /// Too many failed logins for this name from this address (or from this address); retry
    /// after this many seconds.
    #[error("Too many failed login attempts")]
    LoginThrottled {
        /// Seconds until the lockout ends.
        retry_after: u64,
    },
    /// An upload whose content is not of an accepted type (decided by content, not name).
    #[error("Unsupported file type: send a PNG, JPEG, WebP or GIF image")]
    UnsupportedMedia,
    /// An image whose declared size is over the limits (judged before decoding, so a
    /// decompression bomb never reaches memory).
    #[error("Image too large: at most 4096 pixels a side and 16,000,000 pixels in all")]
    ImageTooLarge,
    /// The caller is authenticated but lacks the role the action needs.
    #[error("Not enough permissions")]
    Forbidden,
    /// A backing service (the database) cannot be reached right now; retrying later may work.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or an unexpected failure of an adapter.
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl Error {
    /// Wraps any error as [`Error::Unexpected`].
    pub fn unexpected(cause: impl Into<BoxError>) -> Self {
        Self::Unexpected(cause.into())
    }

    /// A single-field validation error.
    pub fn invalid(field: FieldError) -> Self {
        Self::Invalid(vec![field])
    }
}

fn describe(errors: &[FieldError]) -> String {
    struct List<'a>(&'a [FieldError]);
    impl fmt::Display for List<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, e) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{}: {}", e.field, e.message)?;
            }
            Ok(())
        }
    }
    List(errors).to_string()
}

/// The value of a required field, or the "field required" problem.
pub(crate) fn required(field: &str, value: Option<String>) -> Result<String, FieldError> {
    value.ok_or_else(|| FieldError::missing(field))
}

/// Collects the outcome of parsing several fields, so one response can list every problem.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<FieldError>);

impl Problems {
    /// Keeps the value if it parsed, remembers the problem otherwise.
    pub(crate) fn take<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(problem) => {
                self.0.push(problem);
                None
            }
        }
    }

    /// How many problems so far.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Records a problem found outside a parser.
    pub(crate) fn push(&mut self, problem: FieldError) {
        self.0.push(problem);
    }

    /// `Ok(())` when nothing was wrong, [`Error::Invalid`] with every problem otherwise.
    pub(crate) fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::Invalid(self.0)) }
    }
}
