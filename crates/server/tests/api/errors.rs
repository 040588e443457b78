//! The contract's error conventions: FastAPI's shape for every error status.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn unknown_routes_are_404_with_a_detail() {
    let app = spawn_app().await;
    for path in ["/", "/nope", "/api/nope", "/api/contacts/1/extra"] {
        assert_eq!(expect(app.get(path, None).await, StatusCode::NOT_FOUND).await, json!({"detail": "Not Found"}));
    }
}

#[tokio::test]
async fn a_trailing_slash_in_the_way_of_a_route_is_a_307_to_it_as_fastapi_answers() {
    let app = spawn_app().await;
    for (method, path, location) in [
        (Method::GET, "/api/users/me/", "/api/users/me"),
        (Method::POST, "/api/auth/register/", "/api/auth/register"),
        (Method::GET, "/api/contacts/1/", "/api/contacts/1"),
        (Method::GET, "/api/contacts/birthdays/?days=3", "/api/contacts/birthdays?days=3"),
        (Method::GET, "/healthz/", "/healthz"),
    ] {
        let response = app.request(method, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(response.headers()["location"], location, "{path}");
    }
    // Nothing to redirect to, or a path that would leave the host: still 404.
    for path in ["/nope/", "/api/auth/nope/", "//example.com/"] {
        assert_eq!(expect(app.get(path, None).await, StatusCode::NOT_FOUND).await, json!({"detail": "Not Found"}));
    }
}

#[tokio::test]
async fn wrong_methods_are_405_with_a_detail() {
    let app = spawn_app().await;
    for (method, path) in
        [(Method::GET, "/api/auth/login"), (Method::DELETE, "/api/auth/register"), (Method::POST, "/healthz")]
    {
        let response = app.request(method, path).send().await.unwrap();
        assert_eq!(expect(response, StatusCode::METHOD_NOT_ALLOWED).await, json!({"detail": "Method Not Allowed"}));
    }
}

#[tokio::test]
async fn head_is_answered_as_get_without_the_body() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    for path in ["/api/healthchecker", "/api/contacts/", "/api/users/me"] {
        let get = app.request(Method::GET, path).bearer_auth(&ada.token).send().await.unwrap();
        let head = app.request(Method::HEAD, path).bearer_auth(&ada.token).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        for header in ["content-length", "content-type", "x-total-count"] {
            assert_eq!(head.headers().get(header), get.headers().get(header), "{path}: {header}");
        }
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    // A route without GET refuses HEAD as it refuses GET.
    let head = app.request(Method::HEAD, "/api/auth/login").send().await.unwrap();
    assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn malformed_json_is_422() {
    let app = spawn_app().await;
    let array = r#"["arr19222", "arr19222@example.com", "Zx9!vault-Kestrel"]"#;
    for raw in ["{not json", "[]", "null", r#"{"username": 5, "email": "a@b.co", "password": "x"}"#, array] {
        let response = app
            .request(Method::POST, "/api/auth/register")
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let body = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["detail"][0]["loc"][0], "body", "{raw}");
    }
    // Read by position, an array was a registration: only an object is a body.
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let app = spawn_app().await;
    let body = r#"{"username": "ada", "email": "ada@example.org", "password": "password123"}"#;
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut request = app.request(Method::POST, "/api/auth/register").body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let detail = expect(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert!(detail["detail"].is_string());
    }
}

#[tokio::test]
async fn a_body_in_a_content_coding_is_415_never_misread() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let gzipped = |text: &str| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    let contact = json!({"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.mil",
        "phone": "+1 555 010 2030", "birthday": "1906-12-09"})
    .to_string();
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:coded\r\nFN:Coded Card\r\nEND:VCARD\r\n";
    let sent = async |method: Method, path: &str, content_type: &str, coding: &str, body: Vec<u8>| {
        let request = app.request(method, path).bearer_auth(&ada.token).header("content-type", content_type);
        request.header("content-encoding", coding).body(body).send().await.unwrap()
    };
    // Compressed, or only claiming a coding (a plain body must not be taken on trust either).
    let attempts = [
        (Method::POST, "/api/contacts/", "application/json", "gzip", gzipped(&contact)),
        (Method::POST, "/api/contacts/", "application/json", "br", contact.clone().into_bytes()),
        (Method::POST, "/api/contacts/import", "text/vcard", "gzip", gzipped(card)),
        (Method::POST, "/api/users/me/app-passwords", "application/json", "deflate", br#"{"name":"x"}"#.to_vec()),
        (
            Method::POST,
            "/api/auth/login",
            "application/x-www-form-urlencoded",
            "identity, gzip",
            b"username=ada".to_vec(),
        ),
    ];
    for (method, path, content_type, coding, body) in attempts {
        let response = sent(method, path, content_type, coding, body).await;
        assert_eq!(response.headers().get("accept-encoding").map(|v| v.to_str().unwrap()), Some("identity"), "{path}");
        let detail = expect(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert!(detail["detail"].as_str().unwrap().contains("Content-Encoding"), "{path}: {detail}");
    }
    let listed = body(app.get("/api/contacts/", Some(&ada.token)).await).await;
    assert_eq!(listed, json!([]), "nothing was stored");

    // `identity` is no coding at all.
    let plain = sent(Method::POST, "/api/contacts/", "application/json", "identity", contact.into_bytes()).await;
    expect(plain, StatusCode::CREATED).await;
}

#[tokio::test]
async fn a_json_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let huge = json!({"username": "ada", "email": "ada@example.org", "password": "x".repeat(70 * 1024)});
    let body = expect(app.post_json("/api/auth/register", &huge).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(body["detail"].is_string());
    let ada = app.user("ada").await;
    let mut big_contact = contact("A", "B", "a@b.co");
    big_contact["additional_info"] = json!("x".repeat(65 * 1024));
    let response = app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &big_contact).await;
    expect(response, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn nul_characters_are_refused_never_a_500() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let login = app.post_json("/api/auth/login", &json!({"username": "a\u{0}b", "password": "whatever12"})).await;
    expect(login, StatusCode::UNAUTHORIZED).await;
    expect(app.login_form("a\u{0}b", "whatever12").await, StatusCode::UNAUTHORIZED).await;
    for query in ["q=a%00b", "first_name=%00", "last_name=x%00", "email=%C2%A2%00"] {
        let response = app.get(&format!("/api/contacts/?{query}"), Some(&ada.token)).await;
        let body = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["detail"][0]["loc"][0], "query", "{query}");
    }
    for field in ["first_name", "last_name", "additional_info"] {
        let mut body = contact("A", "B", "a@b.co");
        body[field] = json!("x\u{0}y");
        let response = app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &body).await;
        expect_invalid(response, &["body", field]).await;
    }
    let mut notes = contact("A", "B", "notes@b.co");
    notes["additional_info"] = json!("line one\nline two\tindented");
    assert_eq!(app.create_contact(&ada, &notes).await["additional_info"], "line one\nline two\tindented");
}

#[tokio::test]
async fn a_value_of_the_wrong_type_is_located_at_its_field() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let mut body = contact("A", "B", "a@b.co");
    body["first_name"] = json!(123);
    let response = app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &body).await;
    let problem = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(
        problem,
        json!({"detail": [{"loc": ["body", "first_name"], "msg": "Input should be a valid string", "type": "string_type"}]})
    );
    let register = json!({"username": ["ada"], "email": "x@example.org", "password": PASSWORD});
    expect_invalid(app.post_json("/api/auth/register", &register).await, &["body", "username"]).await;
    let login = json!({"username": "ada", "password": 12345678});
    expect_invalid(app.post_json("/api/auth/login", &login).await, &["body", "password"]).await;
}

#[tokio::test]
async fn a_nested_value_of_the_wrong_type_has_its_whole_path() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let mut body = contact("A", "B", "a@b.co");
    body["emails"] = json!([{"value": "a@b.co"}, {"value": 7, "type": "work"}]);
    let response = app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &body).await;
    let problem = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["detail"][0]["loc"], json!(["body", "emails", 1, "value"]), "{problem}");
    assert_eq!(problem["detail"][0]["type"], "string_type", "{problem}");
    let created = app.create_contact(&ada, &contact("C", "D", "c@d.co")).await;
    let path = format!("/api/contacts/{}", created["id"]);
    let response = app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"phones": [{"type": 5}]})).await;
    let problem = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["detail"][0]["loc"], json!(["body", "phones", 0, "type"]), "{problem}");
}

#[tokio::test]
async fn a_query_value_that_is_not_an_integer_is_located_at_its_name() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    for query in ["limit=abc", "limit=1.5", "skip=-x&limit=5", "limit="] {
        let response = app.get(&format!("/api/contacts/?{query}"), Some(&ada.token)).await;
        let body = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        let field = if query.starts_with("skip") { "skip" } else { "limit" };
        assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{query}: {body}");
        assert_eq!(body["detail"][0]["type"], "int_parsing", "{query}: {body}");
    }
    let response = app.get("/api/contacts/birthdays?days=soon", Some(&ada.token)).await;
    let body = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["detail"][0]["loc"], json!(["query", "days"]), "{body}");
    expect(app.get("/api/contacts/?limit=5", Some(&ada.token)).await, StatusCode::OK).await;
    // A parameter given twice is read at its last value, as FastAPI reads it.
    let twice = app.get("/api/contacts/?limit=abc&limit=2", Some(&ada.token)).await;
    assert_eq!(twice.status(), StatusCode::OK);
    let twice = app.get("/api/contacts/?limit=2&limit=abc", Some(&ada.token)).await;
    assert_eq!(twice.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
