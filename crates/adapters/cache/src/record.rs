//! The stored form of a cached user: versioned JSON without any secret.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use contacts_domain::EmailAddress;
use contacts_domain::user::{Role, User, UserId};

/// Bumped when the record's shape changes; a reader ignores records of another version (a
/// miss), so a deployment that changes the format never misreads what an older one wrote.
pub(crate) const FORMAT: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    v: u32,
    id: i64,
    username: String,
    email: String,
    avatar: Option<String>,
    role: String,
    confirmed: bool,
    created_at: DateTime<Utc>,
    token_version: i64,
    ended_sessions: Vec<String>,
}

impl UserRecord {
    pub(crate) fn encode(user: &User) -> String {
        let record = Self {
            v: FORMAT,
            id: user.id.0,
            username: user.username.clone(),
            email: user.email.as_str().to_owned(),
            avatar: user.avatar.clone(),
            role: user.role.as_str().to_owned(),
            confirmed: user.confirmed,
            created_at: user.created_at,
            token_version: user.token_version,
            ended_sessions: user.ended_sessions.clone(),
        };
        serde_json::to_string(&record).expect("a user serialises")
    }

    /// The user, or `None` for a record of another format or that does not parse.
    pub(crate) fn decode(raw: &str) -> Option<User> {
        let record: Self = serde_json::from_str(raw).ok().filter(|r: &Self| r.v == FORMAT)?;
        Some(User {
            id: UserId(record.id),
            username: record.username,
            email: EmailAddress::from_trusted(record.email),
            avatar: record.avatar,
            role: record.role.parse::<Role>().ok()?,
            confirmed: record.confirmed,
            created_at: record.created_at,
            token_version: record.token_version,
            ended_sessions: record.ended_sessions,
        })
    }
}
