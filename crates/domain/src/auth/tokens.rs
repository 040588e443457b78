//! What the service's tokens say, independent of how they are signed.

use chrono::{DateTime, Utc};

use crate::user::UserId;

/// The purpose a token was issued for. Kinds never mix: a token is accepted only where its
/// own kind is expected, so a confirmation link can never be used as a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Authenticates API requests; short-lived.
    Access,
    /// Obtains a new token pair; long-lived.
    Refresh,
    /// Proves control of an email address.
    EmailConfirmation,
    /// Allows one password reset.
    PasswordReset,
    /// Turns a user's birthday reminders off (the one-click link in every digest).
    ReminderUnsubscribe,
}

impl TokenKind {
    /// The kind's stable name, as carried inside tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::EmailConfirmation => "email_confirmation",
            TokenKind::PasswordReset => "password_reset",
            TokenKind::ReminderUnsubscribe => "reminder_unsubscribe",
        }
    }

    /// The kind with this name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Access, Self::Refresh, Self::EmailConfirmation, Self::PasswordReset, Self::ReminderUnsubscribe]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// The verified content of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user the token speaks for.
    pub subject: UserId,
    /// What the token is for.
    pub kind: TokenKind,
    /// When it was issued (whole seconds).
    pub issued_at: DateTime<Utc>,
    /// The first instant at which it is no longer accepted (whole seconds).
    pub expires_at: DateTime<Utc>,
    /// The user's token version when it was issued; a password reset bumps the version and so
    /// invalidates every token issued before it.
    pub version: i64,
    /// The session an access or refresh token belongs to: made at login, carried over by every
    /// refresh, so logout can end that session's access tokens at once. `None` on other kinds.
    pub session: Option<String>,
}

/// A new session id: 128 random bits, hex. Unguessable, so one session's id says nothing of
/// another's.
pub fn new_session_id() -> Result<String, crate::error::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(crate::error::Error::unexpected)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Claims {
    /// Whether the token is past its expiry at `now`. Exactly at `expires_at` it is expired:
    /// there is no grace period.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// A one-way fingerprint (SHA-256, hex) of a token: what the server stores to remember refresh
/// and reset tokens, so a leaked table reveals no usable token.
pub fn fingerprint(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a successful login returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// Bearer token for API requests.
    pub access_token: String,
    /// Token that obtains a new pair.
    pub refresh_token: String,
    /// The access token's lifetime in seconds.
    pub expires_in: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fingerprints_are_stable_hex_and_differ_per_token() {
        assert_eq!(fingerprint("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(fingerprint("abc"), fingerprint("abd"));
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [
            TokenKind::Access,
            TokenKind::Refresh,
            TokenKind::EmailConfirmation,
            TokenKind::PasswordReset,
            TokenKind::ReminderUnsubscribe,
        ] {
            assert_eq!(TokenKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(TokenKind::from_name("admin"), None);
    }

    #[test]
    fn a_token_expires_exactly_at_its_expiry() {
        let at = |s| Utc.timestamp_opt(s, 0).unwrap();
        let claims = Claims {
            subject: UserId(1),
            kind: TokenKind::Access,
            issued_at: at(100),
            expires_at: at(102),
            version: 0,
            session: None,
        };
        assert!(!claims.is_expired(at(101)));
        assert!(!claims.is_expired(at(101) + chrono::Duration::milliseconds(999)));
        assert!(claims.is_expired(at(102)));
        assert!(claims.is_expired(at(103)));
    }
}
