//! The OpenAPI document, generated from the handlers' annotations (never written by hand),
//! and the Swagger UI that serves it with assets embedded in the binary.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Ref, RefOr, Response, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};

use crate::dto::{
    AvatarUpload, ContactBody, ContactPatchRequest, ContactRequest, EmailRequest, ErrorBody, LocStep, LoginRequest,
    MessageBody, ReadinessBody, RefreshRequest, RegisterRequest, ResetPasswordRequest, TokensBody, UserBody,
    ValidationErrorBody, ValidationProblem,
};
use crate::routes::app_passwords::{AppPasswordBody, AppPasswordRequest, CreatedAppPasswordBody};
use crate::routes::reminders::{ReminderSettingsBody, ReminderSettingsPatch};
use crate::routes::vcards::{ImportBody, ImportFailureBody};
use crate::routes::{app_passwords, auth, contacts, health, reminders, users, vcards};

mod input_rules;

use input_rules::InputRules;

/// The API's OpenAPI 3 description: every route of the REST contract.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Contacts API",
        description = "A personal contacts book: register, confirm your email, log in, and manage your own contacts. \
                       Errors have FastAPI's shape: `{\"detail\": ...}`.",
    ),
    paths(
        auth::register, auth::signup, auth::login, auth::confirmed_email, auth::request_email, auth::refresh,
        auth::logout,
        auth::request_password_reset, auth::reset_password,
        users::me, users::avatar, app_passwords::create, app_passwords::list, app_passwords::revoke,
        reminders::settings, reminders::update_settings,
        reminders::unsubscribe_page, reminders::unsubscribe,
        contacts::create, contacts::list, contacts::birthdays, contacts::get, contacts::replace, contacts::update,
        contacts::delete, vcards::export, vcards::card, vcards::import,
        health::healthchecker, health::healthz, health::readyz,
    ),
    components(schemas(
        UserBody, ContactBody, TokensBody, MessageBody, RegisterRequest, LoginRequest, EmailRequest, RefreshRequest,
        ResetPasswordRequest, ContactRequest, ContactPatchRequest, ErrorBody, ValidationErrorBody, ValidationProblem, LocStep,
        ReadinessBody, AvatarUpload, ImportBody, ImportFailureBody, ReminderSettingsBody, ReminderSettingsPatch,
        AppPasswordRequest, AppPasswordBody, CreatedAppPasswordBody,
    )),
    modifiers(&Security, &Authenticated, &InputErrors, &BodyErrors, &Unavailable, &InputRules),
    tags(
        (name = "auth", description = "Registration, login, sessions and password reset"),
        (name = "users", description = "The current user"),
        (name = "contacts", description = "The current user's contacts book"),
        (name = "reminders", description = "The one-click unsubscribe link of birthday reminder mails"),
        (name = "service", description = "Health probes"),
    )
)]
pub struct ApiDoc;

/// Adds the two ways to send an access token: a bearer header, and the OAuth2 password flow
/// that lets Swagger UI's "Authorize" button log in through `/api/auth/login`.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new("/api/auth/login", Scopes::new()))])),
        );
    }
}

/// The document as pretty JSON, for the docs build.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serialises")
}

/// An error answer with the [`ErrorBody`] schema.
fn error_response(description: &str) -> RefOr<Response> {
    json_response(description, "ErrorBody")
}

/// An answer whose JSON body has the named schema.
fn json_response(description: &str, schema: &str) -> RefOr<Response> {
    let body = ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build();
    ResponseBuilder::new().description(description).content("application/json", body).build().into()
}

/// Every operation that reads input a client can get wrong (a body, query parameters, an
/// integer path parameter) can answer `422`: documented once here; routes with a more
/// specific description keep theirs.
struct InputErrors;

impl Modify for InputErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let checked = |p: &RefOr<Parameter>| {
            let RefOr::T(p) = p else { return false };
            let integer = match &p.schema {
                Some(RefOr::T(Schema::Object(o))) => o.schema_type == SchemaType::Type(Type::Integer),
                _ => false,
            };
            p.parameter_in == ParameterIn::Query || integer
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let takes_input =
                    operation.request_body.is_some() || operation.parameters.iter().flatten().any(checked);
                if takes_input {
                    let responses = &mut operation.responses.responses;
                    responses
                        .entry("422".into())
                        .or_insert_with(|| json_response("Invalid input", "ValidationErrorBody"));
                }
            }
        }
    }
}

/// Path prefixes whose every operation needs an access token.
const SECURED: [&str; 2] = ["/api/users/", "/api/contacts/"];

/// Every operation under [`SECURED`] takes a bearer token (or Swagger UI's OAuth2 login) and
/// can answer `401`: documented once here instead of per route.
struct Authenticated;

impl Modify for Authenticated {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let requirements =
            || ["bearer", "oauth2"].map(|scheme| SecurityRequirement::new(scheme, Vec::<String>::new())).to_vec();
        for (path, item) in &mut openapi.paths.paths {
            if !SECURED.iter().any(|prefix| path.starts_with(prefix)) {
                continue;
            }
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                operation.security.get_or_insert_with(requirements);
                let responses = &mut operation.responses.responses;
                responses
                    .entry("401".into())
                    .or_insert_with(|| error_response("Missing, invalid or expired access token"));
            }
        }
    }
}

/// Every operation that reads a JSON body can also answer `413` (over 64 KiB) and `415` (not
/// declared as JSON): the contract's conventions, documented once here instead of per route.
struct BodyErrors;

impl Modify for BodyErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.post, &mut item.put, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let takes_json = operation.request_body.as_ref().is_some_and(|body| match body {
                    RefOr::T(body) => body.content.keys().any(|c| c.starts_with("application/json")),
                    RefOr::Ref(_) => false,
                });
                if takes_json {
                    let responses = &mut operation.responses.responses;
                    responses.entry("413".into()).or_insert_with(|| error_response("Body over 64 KiB"));
                    responses
                        .entry("415".into())
                        .or_insert_with(|| error_response("Body not declared as application/json"));
                }
            }
        }
    }
}

/// Every `/api` operation reads PostgreSQL (a user, a contact, a token's account, or the one
/// query the mail routes ask before answering), so each can answer `503` when it cannot be
/// reached: the contract's convention, documented once here; the health check keeps its own.
struct Unavailable;

impl Modify for Unavailable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            if !path.starts_with("/api/") {
                continue;
            }
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses.entry("503".into()).or_insert_with(|| error_response("The database cannot be reached"));
            }
        }
    }
}
