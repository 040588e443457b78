//! The OpenAPI document matches the routes the app serves, in both directions, and the docs
//! are served from the binary itself.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Routes the contract allows the document to leave out.
const UNDOCUMENTED: [&str; 4] = ["/reset-password", "/media/{name}", "/docs", "/openapi.json"];

/// Every path the route modules register, read from their source: `web::scope` prefixes in
/// `routes/mod.rs` joined with the `web::resource` paths of the module each scope configures.
fn served_paths() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../http/src/routes");
    let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
    let literals = |text: &str, after: &str| -> Vec<String> {
        text.split(after)
            .skip(1)
            .flat_map(|rest| {
                let args = &rest[..rest.find(')').unwrap()];
                args.split('"').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>()
            })
            .collect()
    };
    let mut paths = BTreeSet::new();
    let table = read("mod.rs");
    for module in ["auth", "users", "contacts", "health", "reset_page", "media", "reminders"] {
        let prefix = table
            .split(&format!(".configure({module}::routes)"))
            .next()
            .and_then(|before| before.rsplit_once(".service(web::scope(\""))
            .filter(|(_, scope)| !scope.contains(".configure("))
            .map(|(_, scope)| scope.split('"').next().unwrap().to_owned())
            .unwrap_or_default();
        let mut source = read(&format!("{module}.rs"));
        if module == "contacts" {
            // The vCard routes live in their own module, configured inside the contacts scope.
            source.push_str(&read("vcards.rs"));
        }
        for path in literals(&source, "web::resource(") {
            let full = format!("{prefix}{path}");
            paths.insert(if full.is_empty() || full.ends_with("/contacts") { format!("{full}/") } else { full });
        }
    }
    // The app passwords are mounted apart, under their own scope (`configure_app_passwords`).
    let source = read("app_passwords.rs");
    let scope = source.split("APP_PASSWORDS_PATH: &str = \"").nth(1).unwrap();
    let scope = &scope[..scope.find('"').unwrap()];
    for path in literals(&source, "web::resource(") {
        paths.insert(format!("{scope}{path}"));
    }
    paths
}

#[tokio::test]
async fn the_document_and_the_served_routes_match() {
    let app = spawn_app().await;
    let doc = expect(app.get("/openapi.json", None).await, StatusCode::OK).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();

    let served: BTreeSet<String> = served_paths().into_iter().filter(|p| !UNDOCUMENTED.contains(&p.as_str())).collect();
    assert!(served.len() >= 17, "the source scan found the routes: {served:?}");
    let missing: Vec<_> = served.difference(&documented).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(extra.is_empty(), "documented but not served: {extra:?}");

    // Every documented operation is answered by a handler (not the 404/405 of a missing route).
    for (path, operations) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{contact_id}", "1").replace("{id}", "1").replace("{token}", "abc");
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app.request(method.clone(), &concrete).json(&json!({})).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!(status == StatusCode::NOT_FOUND && body["detail"] == "Not Found"), "{method} {path}: no route");
            // What the document says can happen does happen: the status is documented.
            let documented = &operations[method.as_str().to_lowercase()]["responses"];
            assert!(documented.get(status.as_str()).is_some(), "{method} {path} answered {status}, not documented");
        }
    }
}

#[tokio::test]
async fn the_document_describes_security_and_errors() {
    let app = spawn_app().await;
    let doc = expect(app.get("/openapi.json", None).await, StatusCode::OK).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["oauth2"]["flows"]["password"]["tokenUrl"], "/api/auth/login");
    let me = &doc["paths"]["/api/users/me"]["get"];
    assert!(me["security"].is_array());
    assert!(me["responses"]["429"].is_object());
    assert!(doc["components"]["schemas"]["ValidationErrorBody"].is_object());
    // Every /api operation can answer 503 when PostgreSQL is down (the health probes list theirs).
    for (path, item) in doc["paths"].as_object().unwrap().iter().filter(|(path, _)| path.starts_with("/api/")) {
        for (method, operation) in item.as_object().unwrap() {
            assert!(operation["responses"]["503"].is_object(), "{method} {path} lists no 503");
        }
    }
    assert!(doc["paths"]["/healthz"]["get"]["responses"]["503"].is_null(), "the process being alive needs no database");
    assert!(
        doc["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
            .is_object()
    );
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let redirect = app.get("/docs", None).await;
    assert!(redirect.status().is_redirection());
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    assert!(!html.contains("https://"), "no asset comes from elsewhere");
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-initializer.js"] {
        let response = app.get(asset, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let init = app.get("/docs/swagger-initializer.js", None).await.text().await.unwrap();
    assert!(init.contains("/openapi.json"));
}

/// `pattern` of the document's schema at `pointer`, as a regex.
fn pattern(doc: &Value, pointer: &str) -> regex_lite::Regex {
    let text = doc.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no pattern at {pointer}"));
    regex_lite::Regex::new(text).unwrap()
}

#[tokio::test]
async fn the_input_rules_the_document_states_are_the_ones_the_server_keeps() {
    // Today must stay today while the document is read and the server asked: not across midnight.
    let to_midnight = 86_400 - chrono::Timelike::num_seconds_from_midnight(&chrono::Utc::now());
    if to_midnight < 30 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(to_midnight) + 1)).await;
    }
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let doc = expect(app.get("/openapi.json", None).await, StatusCode::OK).await;
    let schemas = "/components/schemas";
    let create = async |body: &Value| app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), body).await;

    // A birthday up to today (UTC) and none after it, in the document and in the server.
    let birthday = pattern(&doc, &format!("{schemas}/ContactRequest/properties/birthday/pattern"));
    let today = chrono::Utc::now().date_naive();
    for (n, (day, kept)) in [(today, true), (today.succ_opt().unwrap(), false)].into_iter().enumerate() {
        let text = day.format("%Y-%m-%d").to_string();
        assert_eq!(birthday.is_match(&text), kept, "{text}");
        let mut input = contact("Grace", "Hopper", &format!("grace{n}@navy.mil"));
        input["birthday"] = json!(text);
        let status = create(&input).await.status();
        assert_eq!(status == StatusCode::CREATED, kept, "{text}: {status}");
    }

    // `emails` holds at least one entry, each an address of its own schema.
    let emails = &doc["components"]["schemas"]["ContactRequest"]["properties"]["emails"];
    assert_eq!(
        (emails["minItems"].clone(), emails["items"]["$ref"].clone()),
        (json!(1), json!("#/components/schemas/EmailEntryRequest"))
    );
    let mut input = contact("Grace", "Hopper", "grace@navy.mil");
    input["emails"] = json!([]);
    expect_invalid(create(&input).await, &["body", "emails"]).await;

    // A username of the document's characters is taken, one of others refused, in both.
    let username = pattern(&doc, &format!("{schemas}/RegisterRequest/properties/username/pattern"));
    for (n, (name, kept)) in [("ada.lovelace-1_", true), ("adà_lovelace", false)].into_iter().enumerate() {
        assert_eq!(username.is_match(name), kept, "{name}");
        let account =
            json!({"username": name, "email": format!("lovelace{n}@example.org"), "password": "analytical engine"});
        let registered = app.send_json(Method::POST, "/api/auth/register", None, &account).await;
        if kept {
            expect(registered, StatusCode::CREATED).await;
        } else {
            expect_invalid(registered, &["body", "username"]).await;
        }
    }

    // The time zones offered are the ones taken, links such as `US/Eastern` included.
    let zones = doc["components"]["schemas"]["ReminderSettingsPatch"]["properties"]["timezone"]["enum"].clone();
    let zones: Vec<String> = serde_json::from_value(zones).unwrap();
    assert!(zones.len() > 400, "{}", zones.len());
    for zone in ["Europe/Paris", "US/Eastern", zones.last().unwrap().as_str()] {
        assert!(zones.iter().any(|z| z == zone), "{zone}");
        let change = json!({"timezone": zone});
        let settings = app.send_json(Method::PATCH, "/api/users/me/settings", Some(&ada.token), &change).await;
        assert_eq!(expect(settings, StatusCode::OK).await["timezone"], zone);
    }
}
