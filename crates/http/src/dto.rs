//! Request and response bodies: the JSON shapes of the REST contract. A request body is read
//! straight into its domain input ([`Input`]) through a serde remote definition that also gives
//! the OpenAPI schema; responses are built from domain types. Requests keep every field
//! optional, so the domain can report all missing and invalid fields in one `422`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use contacts_domain::auth::{PasswordResetInput, RegistrationInput, TokenPair};
use contacts_domain::contact::{
    Contact, ContactFilter, ContactInput, ContactPatchInput, ListQuery, TypedValue, TypedValueInput,
};
use contacts_domain::user::User;

mod time_text;

/// A user as clients see it: no password hash, no token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserBody {
    id: i64,
    username: String,
    email: String,
    avatar: Option<String>,
    role: &'static str,
    confirmed: bool,
    #[serde(serialize_with = "time_text::timestamp")]
    created_at: DateTime<Utc>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.0,
            username: user.username,
            email: user.email.as_str().to_owned(),
            avatar: user.avatar,
            role: user.role.as_str(),
            confirmed: user.confirmed,
            created_at: user.created_at,
        }
    }
}

/// An email address or phone number with its type (`home`, `work`, `cell`…).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TypedValueBody {
    value: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl From<TypedValue> for TypedValueBody {
    fn from(v: TypedValue) -> Self {
        Self { value: v.value, kind: v.kind }
    }
}

/// A contact as clients see it. `email`, `phone` and `birthday` are `null` only for a contact
/// that came in as a vCard without them (a year-less birthday also shows `null`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContactBody {
    id: i64,
    /// The contact's vCard `UID`, stable for its life.
    uid: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    #[serde(serialize_with = "time_text::optional_date")]
    birthday: Option<NaiveDate>,
    additional_info: Option<String>,
    /// Every email, in card order; `email` is the first.
    emails: Vec<TypedValueBody>,
    /// Every phone, in card order; `phone` is the first.
    phones: Vec<TypedValueBody>,
    #[serde(serialize_with = "time_text::timestamp")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "time_text::timestamp")]
    updated_at: DateTime<Utc>,
}

impl From<Contact> for ContactBody {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id.0,
            uid: c.uid,
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.email,
            phone: c.phone,
            birthday: c.birthday,
            additional_info: c.additional_info,
            emails: c.emails.into_iter().map(Into::into).collect(),
            phones: c.phones.into_iter().map(Into::into).collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The answer to a login: an OAuth2-style bearer token pair.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokensBody {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
}

impl From<TokenPair> for TokensBody {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "bearer",
            expires_in: pair.expires_in,
        }
    }
}

/// A `{"message": ...}` answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageBody {
    message: &'static str,
}

impl MessageBody {
    pub(crate) fn new(message: &'static str) -> Self {
        Self { message }
    }
}

/// A request body read straight into the domain input `T`: the wire format is a serde remote
/// definition of `T` (the `*Request` types below, which also give the OpenAPI schema), so no
/// request shape is copied field by field into its domain input.
#[derive(Debug)]
pub(crate) struct Input<T>(pub(crate) T);

impl<T> Input<T> {
    /// The domain input.
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

/// `Deserialize` for `Input<domain type>` through its wire format (`Wire => Domain`).
macro_rules! read_through {
    ($($wire:ty => $domain:ty),* $(,)?) => {$(
        impl<'de> ::serde::Deserialize<'de> for $crate::dto::Input<$domain> {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <$wire>::deserialize(deserializer).map($crate::dto::Input)
            }
        }
    )*};
}
pub(crate) use read_through;

read_through!(
    RegisterRequest => RegistrationInput,
    ResetPasswordRequest => PasswordResetInput,
    ContactRequest => ContactInput,
    ContactPatchRequest => ContactPatchInput,
    TypedValueRequest => TypedValueInput,
);

/// POST `/api/auth/register`. A `role` field, if sent, is ignored like any unknown field.
#[derive(Deserialize, ToSchema)]
#[serde(remote = "RegistrationInput")]
pub(crate) struct RegisterRequest {
    #[schema(required = true, value_type = String, example = "ada")]
    username: Option<String>,
    #[schema(required = true, value_type = String, example = "ada@example.org")]
    email: Option<String>,
    #[schema(required = true, value_type = String, example = "correct horse battery")]
    password: Option<String>,
}

/// POST `/api/auth/login`, as an OAuth2 password form or JSON. `username` may hold the
/// username or the email; JSON clients may send `email` instead.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct LoginRequest {
    /// Username or email.
    #[schema(required = false, value_type = Option<String>, example = "ada")]
    pub(crate) username: Option<String>,
    /// Accepted in JSON instead of `username`.
    #[schema(required = false, value_type = Option<String>)]
    pub(crate) email: Option<String>,
    #[schema(required = true, value_type = String, example = "correct horse battery")]
    pub(crate) password: Option<String>,
}

/// A body holding only an email address.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct EmailRequest {
    #[schema(required = true, value_type = String, example = "ada@example.org")]
    pub(crate) email: Option<String>,
}

/// POST `/api/auth/refresh` and `/api/auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RefreshRequest {
    #[schema(required = true, value_type = String)]
    pub(crate) refresh_token: Option<String>,
}

/// POST `/api/auth/reset_password`, and the reset page's form.
#[derive(Deserialize, ToSchema)]
#[serde(remote = "PasswordResetInput")]
pub(crate) struct ResetPasswordRequest {
    #[schema(required = true, value_type = String)]
    token: Option<String>,
    #[schema(required = true, value_type = String, min_length = 8, example = "a new password")]
    new_password: Option<String>,
}

/// POST and PUT `/api/contacts`.
#[derive(Deserialize, ToSchema)]
#[serde(remote = "ContactInput")]
pub(crate) struct ContactRequest {
    #[schema(required = true, value_type = String, min_length = 1, max_length = 50, example = "Grace")]
    first_name: Option<String>,
    #[schema(required = true, value_type = String, min_length = 1, max_length = 50, example = "Hopper")]
    last_name: Option<String>,
    #[schema(required = true, value_type = String, example = "grace@navy.mil")]
    email: Option<String>,
    #[schema(
        required = true, value_type = String, min_length = 7, max_length = 20, pattern = r"^\+?[0-9 ()-]+$",
        example = "+1 555 010 2030"
    )]
    phone: Option<String>,
    #[schema(required = true, value_type = String, format = Date, example = "1906-12-09")]
    birthday: Option<String>,
    #[schema(required = false, value_type = Option<String>, example = "Invented the compiler")]
    additional_info: Option<String>,
    /// Every email with its type (at most 20); when `email` is sent too it must equal the first.
    #[schema(required = false, max_items = 20, value_type = Option<Vec<TypedValueRequest>>)]
    #[serde(default, deserialize_with = "typed_values")]
    emails: Option<Vec<TypedValueInput>>,
    /// Every phone with its type (at most 20); when `phone` is sent too it must equal the first.
    #[schema(required = false, max_items = 20, value_type = Option<Vec<TypedValueRequest>>)]
    #[serde(default, deserialize_with = "typed_values")]
    phones: Option<Vec<TypedValueInput>>,
}

/// An entry of `emails` or `phones` in a request.
#[derive(Deserialize, ToSchema)]
#[serde(remote = "TypedValueInput")]
pub(crate) struct TypedValueRequest {
    #[schema(required = true, value_type = String)]
    value: Option<String>,
    /// Free text such as `home`, `work`, `cell`; at most 20 characters.
    #[serde(rename = "type")]
    #[schema(required = false, value_type = Option<String>, max_length = 20)]
    kind: Option<String>,
}

/// A list of typed values (or `null`), each read through [`TypedValueRequest`].
fn typed_values<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<TypedValueInput>>, D::Error> {
    let list = Option::<Vec<Input<TypedValueInput>>>::deserialize(deserializer)?;
    Ok(list.map(|values| values.into_iter().map(Input::into_inner).collect()))
}

/// PATCH `/api/contacts/{id}`: tells an absent field from an explicit `null`.
#[derive(Deserialize, ToSchema)]
#[serde(remote = "ContactPatchInput")]
pub(crate) struct ContactPatchRequest {
    #[schema(required = false, value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    first_name: Option<Option<String>>,
    #[schema(required = false, value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    last_name: Option<Option<String>>,
    #[schema(required = false, value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[schema(required = false, value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    phone: Option<Option<String>>,
    #[schema(required = false, value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    birthday: Option<Option<String>>,
    #[schema(required = false, value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    additional_info: Option<Option<String>>,
    /// Replaces every email (at most 20); `email` then is the first. Not `null`: a list is
    /// replaced, never cleared.
    #[schema(required = false, max_items = 20, value_type = Vec<TypedValueRequest>)]
    #[serde(default, deserialize_with = "typed_values_sent")]
    emails: Option<Vec<TypedValueInput>>,
    /// Replaces every phone (at most 20); `phone` then is the first. Not `null`.
    #[schema(required = false, max_items = 20, value_type = Vec<TypedValueRequest>)]
    #[serde(default, deserialize_with = "typed_values_sent")]
    phones: Option<Vec<TypedValueInput>>,
}

/// A PATCH's list, which must be one when sent: `null` is refused at its field (`422`), as
/// every other field but `additional_info` is, rather than read as "not sent" (which made
/// `{"emails": null}` an empty PATCH, refused at the whole body).
fn typed_values_sent<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<TypedValueInput>>, D::Error> {
    let list = Vec::<Input<TypedValueInput>>::deserialize(deserializer)?;
    Ok(Some(list.into_iter().map(Input::into_inner).collect()))
}

/// Marks a field that was present in the JSON (possibly as `null`) as `Some(..)`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// GET `/api/contacts` query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Matches to skip.
    #[param(minimum = 0, default = 0)]
    skip: Option<i64>,
    /// Matches to return.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    q: Option<String>,
}

impl From<ListParams> for ListQuery {
    fn from(p: ListParams) -> Self {
        let defaults = ListQuery::default();
        Self {
            skip: p.skip.unwrap_or(defaults.skip),
            limit: p.limit.unwrap_or(defaults.limit),
            filter: ContactFilter { first_name: p.first_name, last_name: p.last_name, email: p.email, q: p.q },
        }
    }
}

/// GET `/api/contacts/birthdays` query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BirthdayParams {
    /// Days after today to look ahead (today included).
    #[param(minimum = 0, maximum = 365, default = 7)]
    pub(crate) days: Option<i64>,
}

/// Every error answer: FastAPI's shape.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"detail": "A human-readable message"}))]
pub(crate) struct ErrorBody {
    detail: String,
}

/// One step of a `loc`: the part of the request or a field's name, or a position in a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum LocStep {
    /// `body`, `query` or `path`, or a field's name.
    Name(String),
    /// A position in a list, from 0 (as in `["body", "emails", 0, "value"]`).
    Index(u64),
}

/// One rejected input value.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ValidationProblem {
    /// Where: `body`, `query` or `path`, then the path to the field (names and list positions).
    loc: Vec<LocStep>,
    msg: String,
    #[serde(rename = "type")]
    kind: String,
}

/// A `422` answer: every problem found.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "detail": [{"loc": ["body", "email"], "msg": "value is not a valid email address", "type": "value_error"}]
}))]
pub(crate) struct ValidationErrorBody {
    detail: Vec<ValidationProblem>,
}

/// `/readyz`: the state of each dependency.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadinessBody {
    /// Why the service is not ready; only on `503`, FastAPI's error shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = Option<String>)]
    detail: Option<&'static str>,
    /// `ok` or `unavailable`.
    database: &'static str,
    /// `ok` or `degraded` (the service still works, from the database).
    cache: &'static str,
    /// `ok` or `unavailable` (avatar uploads fail with `503`; everything else works).
    avatars: &'static str,
}

impl ReadinessBody {
    /// The answer for a database, a cache and an avatar store that answered (or not).
    pub(crate) fn new(database_up: bool, cache_up: bool, avatars_up: bool) -> Self {
        let cache = if cache_up { "ok" } else { "degraded" };
        let avatars = if avatars_up { "ok" } else { "unavailable" };
        match database_up {
            true => Self { detail: None, database: "ok", cache, avatars },
            false => Self { detail: Some("Database unavailable"), database: "unavailable", cache, avatars },
        }
    }
}

/// The avatar upload form.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct AvatarUpload {
    /// A PNG, JPEG, WebP or GIF image.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}
