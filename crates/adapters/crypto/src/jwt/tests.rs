use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeZone;
use chrono::Utc;

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn claims(kind: TokenKind) -> Claims {
    Claims {
        subject: UserId(42),
        kind,
        issued_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        expires_at: Utc.timestamp_opt(1_700_000_900, 0).unwrap(),
        version: 3,
        session: matches!(kind, TokenKind::Access | TokenKind::Refresh).then(|| "5e55".to_owned()),
    }
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

#[test]
fn round_trips_every_kind_and_is_url_safe() {
    let codec = JwtCodec::new(SECRET);
    for kind in KINDS {
        let token = codec.encode(&claims(kind)).unwrap();
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "{token}");
        assert_eq!(codec.decode(&token, kind), Some(claims(kind)));
    }
}

#[test]
fn tokens_of_the_same_second_differ() {
    let codec = JwtCodec::new(SECRET);
    let claims = claims(TokenKind::Access);
    assert_ne!(codec.encode(&claims).unwrap(), codec.encode(&claims).unwrap());
}

#[test]
fn a_kind_is_never_accepted_as_another() {
    let codec = JwtCodec::new(SECRET);
    for issued in KINDS {
        let token = codec.encode(&claims(issued)).unwrap();
        for expected in KINDS.into_iter().filter(|k| *k != issued) {
            assert_eq!(codec.decode(&token, expected), None, "{issued:?} accepted as {expected:?}");
        }
    }
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let other = JwtCodec::new(b"another secret that is long enough!!");
    let token = other.encode(&claims(TokenKind::Access)).unwrap();
    assert_eq!(JwtCodec::new(SECRET).decode(&token, TokenKind::Access), None);
}

#[test]
fn a_tampered_payload_is_refused() {
    let codec = JwtCodec::new(SECRET);
    let token = codec.encode(&claims(TokenKind::Access)).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64(
        &serde_json::json!({"sub": "1", "kind": "access", "iat": 1_700_000_000, "exp": 4_000_000_000_i64, "jti": "x", "ver": 0}),
    );
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(codec.decode(&tampered, TokenKind::Access), None);
}

#[test]
fn alg_none_and_other_algorithms_are_refused() {
    let codec = JwtCodec::new(SECRET);
    let payload = b64(
        &serde_json::json!({"sub": "42", "kind": "access", "iat": 1_700_000_000, "exp": 4_000_000_000_i64, "jti": "x", "ver": 0}),
    );
    for alg in ["none", "HS512", "RS256"] {
        let header = b64(&serde_json::json!({"alg": alg, "typ": "JWT"}));
        assert_eq!(codec.decode(&format!("{header}.{payload}."), TokenKind::Access), None, "{alg}");
        assert_eq!(codec.decode(&format!("{header}.{payload}.c2ln"), TokenKind::Access), None, "{alg}");
    }
}

#[test]
fn garbage_is_refused() {
    let codec = JwtCodec::new(SECRET);
    for junk in ["", "abc", "a.b.c", "....", "Bearer x"] {
        assert_eq!(codec.decode(junk, TokenKind::Access), None);
    }
}
