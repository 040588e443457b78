//! The domain's one error type, shared by every service and port.
//!
//! Adapters translate their own failures into it (a unique-constraint violation becomes
//! [`Error::Conflict`], an unreachable database [`Error::Unavailable`]); the HTTP layer maps
//! it to status codes in exactly one place.

use std::fmt;

use chrono::NaiveDate;

/// A boxed cause kept for the logs; never shown to clients.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One step of the path to a rejected value: a field name, or an index into a list, so that
/// `emails[0].value` is expressible. Which part of a request (body, query, path) holds the
/// input is for the inbound adapter to say, not the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A named field.
    Field(String),
    /// A position in a list, from 0.
    Index(usize),
}

/// What a length is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Unicode scalar values: what people count.
    Characters,
    /// UTF-8 bytes: what bcrypt counts, so used for passwords.
    Bytes,
}

/// Why an email address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailProblem {
    /// Longer than this many characters.
    TooLong {
        /// The limit.
        max: usize,
    },
    /// No `@` at all.
    NoAt,
    /// Anything else about its shape.
    Malformed,
}

/// Why a phone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneProblem {
    /// Fewer than `min` or more than `max` characters.
    Length {
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: usize,
    },
    /// A character other than digits, spaces, `-`, `(`, `)` and a leading `+`.
    Characters,
    /// Fewer than `min` digits.
    TooFewDigits {
        /// Fewest digits.
        min: usize,
    },
}

/// The rule a rejected value broke: data, not text. Inbound adapters turn it into their
/// protocol's words (the http crate into FastAPI's `msg` and `type`), in one place each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A required field is absent.
    Missing,
    /// A field that may be omitted but not set to `null` was `null`.
    NotNull,
    /// An update that changes nothing: at least one field must be sent.
    AtLeastOneField,
    /// Shorter than `min`.
    TooShort {
        /// The least accepted.
        min: usize,
        /// What is counted.
        unit: Unit,
    },
    /// Longer than `max`.
    TooLong {
        /// The most accepted.
        max: usize,
        /// What is counted.
        unit: Unit,
    },
    /// Not between `min` and `max` characters (inclusive).
    Length {
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: usize,
    },
    /// A name that is not in the IANA time zone database.
    UnknownTimeZone,
    /// A number outside `min..=max` (no upper bound when `max` is `None`).
    Range {
        /// The least accepted.
        min: i64,
        /// The most accepted, if any.
        max: Option<i64>,
    },
    /// Characters outside an allowed set, described for people (e.g. "letters, digits").
    Pattern {
        /// What is allowed, as a phrase.
        allowed: &'static str,
    },
    /// Control characters; line breaks and tabs are allowed in multi-line texts (notes) but
    /// not in single-line ones (names).
    ControlCharacters {
        /// Whether `\n`, `\r` and `\t` are fine.
        line_breaks_allowed: bool,
    },
    /// A NUL character, which nothing can store or compare.
    NulCharacters,
    /// Not an email address.
    InvalidEmail(EmailProblem),
    /// Not a phone number.
    InvalidPhone(PhoneProblem),
    /// Not a calendar date written `YYYY-MM-DD`.
    InvalidDate,
    /// A date after today.
    FutureDate,
    /// A date before the earliest accepted.
    DateBefore(NaiveDate),
    /// A password that is easy to guess.
    WeakPassword(PasswordProblem),
    /// A list with more than `max` entries.
    TooManyItems {
        /// The most accepted.
        max: usize,
    },
    /// A list with fewer than `min` entries.
    TooFewItems {
        /// The fewest accepted.
        min: usize,
    },
    /// A single field (`email`) sent together with its list (`emails`) but different from the
    /// list's first entry, which it stands for.
    DiffersFromFirstEntry {
        /// The list's name.
        list: &'static str,
    },
}

/// Why a password is refused although its length is fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    /// It holds a control character (Unicode category Cc, NUL included).
    ControlCharacter,
    /// It is one character repeated.
    Repeated,
    /// It is on the shipped list of commonly used passwords.
    Common,
    /// It equals the username, the email address or its local part.
    Personal,
}

/// An error and every cause below it on one line, `outer: inner: innermost`: what a log line
/// (or an operator reading the outbox) needs to tie a failure to its root, where a driver's own
/// message may say no more than `db error`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
impl Rule {
    /// The variant's name without its bounds, for tests that check which rule was broken.
    pub(crate) fn name(&self) -> &'static str {
        let debug = format!("{self:?}");
        let name = debug.split([' ', '(', '{']).next().unwrap_or_default().to_owned();
        Box::leak(name.into_boxed_str())
    }
}

impl fmt::Display for Rule {
    /// A short developer-facing description, for logs; clients see the inbound adapter's texts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One rejected input value: where it is in the input and which rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The path to the value; empty for the input as a whole.
    pub path: Vec<PathSegment>,
    /// The rule broken.
    pub rule: Rule,
}

impl FieldError {
    /// A problem with the top-level field `field` (the common case); an empty name means the
    /// input as a whole.
    ///
    /// ```
    /// use contacts_domain::error::{FieldError, Rule};
    /// let problem = FieldError::new("email", Rule::Missing);
    /// assert_eq!(problem.field(), "email");
    /// ```
    pub fn new(field: &str, rule: Rule) -> Self {
        let path = if field.is_empty() { Vec::new() } else { vec![PathSegment::Field(field.to_owned())] };
        Self { path, rule }
    }

    /// A problem with the input as a whole, not one field.
    pub fn whole(rule: Rule) -> Self {
        Self { path: Vec::new(), rule }
    }

    /// A problem at a nested path, such as `emails[0].value`.
    pub fn at(path: Vec<PathSegment>, rule: Rule) -> Self {
        Self { path, rule }
    }

    /// The error for a required field that is absent (or `null`).
    pub fn missing(field: &str) -> Self {
        Self::new(field, Rule::Missing)
    }

    /// The same problem seen from a containing value: `within(PathSegment::Index(0))` turns
    /// `value` into `[0].value`.
    pub fn within(mut self, parent: PathSegment) -> Self {
        self.path.insert(0, parent);
        self
    }

    /// The path written as people read it: `email`, `emails[0].value`; empty for the whole input.
    pub fn field(&self) -> String {
        let mut out = String::new();
        for segment in &self.path {
            match segment {
                PathSegment::Field(name) if out.is_empty() => out.push_str(name),
                PathSegment::Field(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                PathSegment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field(), self.rule)
    }
}

/// Which uniqueness rule a change broke. Stores map their constraints to it; inbound adapters
/// word it for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Another account has this username (compared case-insensitively).
    UsernameTaken,
    /// Another account has this email address (compared case-insensitively).
    EmailTaken,
    /// The owner already has a contact with this email address.
    ContactEmailTaken,
    /// Another card of the address book has this card's `UID`.
    CardUidTaken,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UsernameTaken => "username taken",
            Self::EmailTaken => "account email taken",
            Self::ContactEmailTaken => "contact email taken",
            Self::CardUidTaken => "card UID taken",
        })
    }
}

/// Everything a use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke one or more rules; every problem found is listed.
    #[error("invalid input: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// A uniqueness rule was broken: which one says [`Conflict`].
    #[error("conflict: {0}")]
    Conflict(Conflict),
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
    /// A reminder unsubscribe token that is bad, expired or of another kind.
    #[error("Invalid or expired token")]
    InvalidUnsubscribeToken,
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
                write!(f, "{e}")?;
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
