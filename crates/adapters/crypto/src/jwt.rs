//! [`JwtCodec`]: the token port on HMAC-SHA256 JWTs.

use chrono::DateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use contacts_domain::Error;
use contacts_domain::auth::{Claims, TokenCodec, TokenKind};
use contacts_domain::user::UserId;

const KINDS: [TokenKind; 5] = [
    TokenKind::Access,
    TokenKind::Refresh,
    TokenKind::EmailConfirmation,
    TokenKind::PasswordReset,
    TokenKind::ReminderUnsubscribe,
];

/// What travels inside a token.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    /// The user id, as a string as JWT expects.
    sub: String,
    /// The token kind's name.
    kind: String,
    iat: i64,
    exp: i64,
    /// A random id, so that two tokens issued in the same second still differ.
    jti: String,
    /// The user's token version at issue time.
    ver: i64,
    /// The session (login) an access or refresh token belongs to; absent on other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// Signs tokens with HS256. Each kind has its own key derived from the secret, so a token of
/// one kind cannot verify as another even before its `kind` claim is read. Only HS256 is
/// accepted: `alg: none` and every other algorithm are refused.
pub struct JwtCodec {
    keys: Vec<(TokenKind, Keys)>,
    validation: Validation,
}

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtCodec(..)")
    }
}

impl JwtCodec {
    /// A codec keyed by `secret` (the configuration insists on at least 32 bytes).
    pub fn new(secret: &[u8]) -> Self {
        let keys = KINDS
            .into_iter()
            .map(|kind| {
                let mut hasher = Sha256::new();
                hasher.update(b"contacts-api token key\0");
                hasher.update(kind.as_str().as_bytes());
                hasher.update([0]);
                hasher.update(secret);
                let key = hasher.finalize();
                (kind, Keys { encoding: EncodingKey::from_secret(&key), decoding: DecodingKey::from_secret(&key) })
            })
            .collect();
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is the domain's rule, judged against its clock; the signature is ours.
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.required_spec_claims = ["sub", "exp"].into_iter().map(String::from).collect();
        Self { keys, validation }
    }

    fn keys(&self, kind: TokenKind) -> &Keys {
        &self.keys.iter().find(|(k, _)| *k == kind).expect("a key for every kind").1
    }
}

impl TokenCodec for JwtCodec {
    fn encode(&self, claims: &Claims) -> Result<String, Error> {
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(Error::unexpected)?;
        let payload = Payload {
            sub: claims.subject.0.to_string(),
            kind: claims.kind.as_str().to_owned(),
            iat: claims.issued_at.timestamp(),
            exp: claims.expires_at.timestamp(),
            jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
            ver: claims.version,
            sid: claims.session.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &payload, &self.keys(claims.kind).encoding)
            .map_err(Error::unexpected)
    }

    fn decode(&self, token: &str, expected: TokenKind) -> Option<Claims> {
        let data = jsonwebtoken::decode::<Payload>(token, &self.keys(expected).decoding, &self.validation).ok()?;
        let payload = data.claims;
        if TokenKind::from_name(&payload.kind)? != expected {
            return None;
        }
        Some(Claims {
            subject: UserId(payload.sub.parse().ok()?),
            kind: expected,
            issued_at: DateTime::from_timestamp(payload.iat, 0)?,
            expires_at: DateTime::from_timestamp(payload.exp, 0)?,
            version: payload.ver,
            session: payload.sid,
        })
    }
}

#[cfg(test)]
mod tests;
