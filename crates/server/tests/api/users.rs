//! `/api/users`: the current user from the cache, the rate limit, roles and avatars.

use std::io::Cursor;
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, AsyncCommands};
use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::cli::run_beside;
use crate::helpers::*;

const REDIS: &str = "redis://127.0.0.1:6379";

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS).unwrap().get_multiplexed_async_connection().await.expect("Redis at 127.0.0.1:6379")
}

/// Waits, if needed, so that the next few requests fall in one rate-limit minute.
async fn start_of_a_fresh_window() {
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 50 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
}

#[tokio::test]
async fn me_is_rate_limited_per_user_with_retry_after() {
    let app = spawn_app_with(&[("RATE_LIMIT_ME_PER_MINUTE", "3"), ("REDIS_URL", REDIS)]).await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    start_of_a_fresh_window().await;
    for _ in 0..3 {
        expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    }
    let limited = app.get("/api/users/me", Some(&ada.token)).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body = expect(limited, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(body, serde_json::json!({"detail": "Rate limit exceeded"}));
    // Another user has a budget of their own.
    expect(app.get("/api/users/me", Some(&bob.token)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn the_in_process_limiter_applies_the_same_limit() {
    let app = spawn_app_with(&[("RATE_LIMIT_ME_PER_MINUTE", "2")]).await;
    let ada = app.user("ada").await;
    start_of_a_fresh_window().await;
    expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn two_instances_sharing_redis_share_one_count() {
    let app = spawn_app_with(&[("RATE_LIMIT_ME_PER_MINUTE", "4"), ("REDIS_URL", REDIS)]).await;
    let other = app.second_instance().await;
    let ada = app.user("ada").await;
    start_of_a_fresh_window().await;
    let on = |base: &str| app.client.get(format!("{base}/api/users/me")).bearer_auth(&ada.token).send();
    for base in [&app.address, &other, &app.address, &other] {
        assert_eq!(on(base).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(on(&other).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(on(&app.address).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

/// `/me` as soon as `seen` holds of it (within two seconds).
async fn eventually(app: &TestApp, token: &str, seen: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let mut me = serde_json::Value::Null;
    for _ in 0..40 {
        me = expect(app.get("/api/users/me", Some(token)).await, StatusCode::OK).await;
        if seen(&me) {
            return me;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never seen: {me}")
}

#[tokio::test]
async fn the_current_user_is_read_from_redis_without_its_password_hash() {
    let app = spawn_app_with(&[
        ("REDIS_URL", REDIS),
        ("USER_CACHE_TTL_SECONDS", "120"),
        ("RATE_LIMIT_ME_PER_MINUTE", "1000"),
    ])
    .await;
    let ada = app.user("ada").await;
    expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;

    let key = format!("contacts:v2:user:{}", ada.id);
    let mut redis = redis().await;
    let cached: String = redis.get(&key).await.expect("the user is cached");
    assert!(!cached.contains("$2b$") && !cached.contains("password"), "{cached}");
    let ttl: i64 = redis.ttl(&key).await.unwrap();
    assert!((1..=120).contains(&ttl), "{ttl}");

    // Requests read the cache, not the database: a copy altered in Redis is what is served...
    let altered = cached.replacen("\"ada\"", "\"from-redis\"", 1);
    assert_ne!(altered, cached, "{cached}");
    let _: () = redis.set_ex(&key, &altered, 120).await.unwrap();
    let me = expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(me["username"], "from-redis");
    // ...until the user changes, wherever the change is made: PostgreSQL announces it and the
    // server drops the copy. An operator's SQL, then `set-role` run without Redis (as
    // `just set-role` runs with `.env.example`), are seen within moments.
    app.db.execute(&format!("UPDATE users SET username = 'renamed' WHERE id = {}", ada.id)).await;
    let me = eventually(&app, &ada.token, |me| me["username"] == "renamed").await;
    assert_eq!(me["role"], "user");
    let granted =
        run_beside(&["set-role", "ada@example.org", "admin"], &[("DATABASE_URL", app.db.url()), ("REDIS_URL", "")])
            .await;
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    // The command returns once the servers have had time to handle the notice: no waiting here.
    let me = expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!((&me["role"], &me["username"]), (&serde_json::json!("admin"), &serde_json::json!("renamed")));
    let _: () = redis.del(&key).await.unwrap();
}

/// A change announced while the server's listener was cut off (a failover, a connection
/// killer) is lost to it; once it listens again, it drops the copies it served, so the change
/// is seen within moments rather than when the copy runs out.
#[tokio::test]
async fn a_change_missed_while_the_listener_was_cut_off_is_seen_once_it_listens_again() {
    let app = spawn_app_with(&[
        ("REDIS_URL", REDIS),
        ("USER_CACHE_TTL_SECONDS", "300"),
        ("RATE_LIMIT_ME_PER_MINUTE", "1000"),
    ])
    .await;
    let ada = app.user("ada").await;
    assert_eq!(expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await["role"], "user");
    let listener = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'";
    assert_eq!(app.db.count(&format!("SELECT count(*) FROM ({listener}) l")).await, 1);
    app.db.execute(&format!("SELECT pg_terminate_backend(pid) FROM ({listener}) l")).await;
    while app.db.count(&format!("SELECT count(*) FROM ({listener}) l")).await > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Committed while nothing listens (the listener waits a second before it connects again).
    app.db.execute(&format!("UPDATE users SET role = 'admin' WHERE id = {}", ada.id)).await;
    let me = eventually(&app, &ada.token, |me| me["role"] == "admin").await;
    assert_eq!(me["username"], "ada");
    let _: () = redis().await.del(format!("contacts:v2:user:{}", ada.id)).await.unwrap();
}

#[tokio::test]
async fn a_password_reset_is_seen_through_the_cache_at_once() {
    let app = spawn_app_with(&[("REDIS_URL", REDIS)]).await;
    let ada = app.user("ada").await;
    expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await; // now cached
    app.post_json("/api/auth/request_password_reset", &serde_json::json!({"email": "ada@example.org"})).await;
    let prefix = format!("{BASE_URL}/reset-password?token=");
    let mail = app.mail.wait_for_line("ada@example.org", &prefix).await;
    let token = mail.line_starting_with(&prefix).unwrap();
    let token = token.split("token=").nth(1).unwrap();
    let body = serde_json::json!({"token": token, "new_password": "another password"});
    expect(app.post_json("/api/auth/reset_password", &body).await, StatusCode::OK).await;
    expect_unauthenticated(app.get("/api/users/me", Some(&ada.token)).await).await;
}

#[tokio::test]
async fn with_redis_unreachable_everything_still_works_and_readiness_says_degraded() {
    let app = spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let ada = app.user("ada").await;
    let started = Instant::now();
    expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    app.create_contact(&ada, &contact("A", "B", "a@b.co")).await;
    expect(app.get("/api/contacts/", Some(&ada.token)).await, StatusCode::OK).await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let ready = expect(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(ready["cache"], "degraded");
    assert_eq!(ready["database"], "ok");
}

pub(crate) fn image_file(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let pixels = ImageBuffer::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(pixels).write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

pub(crate) async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>, name: &str, mime: &str) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()).mime_str(mime).unwrap());
    app.request(Method::PATCH, "/api/users/avatar").bearer_auth(token).multipart(form).send().await.unwrap()
}

pub(crate) async fn admin(app: &TestApp) -> TestUser {
    let ada = app.user("ada").await;
    let granted = run_beside(&["set-role", "ada@example.org", "admin"], &[("DATABASE_URL", app.db.url())]).await;
    assert!(granted.status.success());
    ada
}

/// Fetches an avatar URL from the test server and decodes it.
pub(crate) async fn fetch_avatar(app: &TestApp, url: &str) -> reqwest::Response {
    let path = url.strip_prefix(BASE_URL).expect("an absolute URL under APP_BASE_URL");
    assert!(path.starts_with("/media/"), "{path}");
    app.get(path, None).await
}

#[tokio::test]
async fn an_admin_changes_their_avatar_with_png_jpeg_or_webp() {
    let app = spawn_app().await;
    let ada = admin(&app).await;
    let mut previous: Option<String> = None;
    for (format, name, mime) in [
        (ImageFormat::Png, "me.png", "image/png"),
        (ImageFormat::Jpeg, "me.jpg", "image/jpeg"),
        (ImageFormat::WebP, "me.webp", "image/webp"),
    ] {
        let user =
            expect(upload(&app, &ada.token, image_file(700, 520, format), name, mime).await, StatusCode::OK).await;
        let url = user["avatar"].as_str().unwrap().to_owned();
        let served = fetch_avatar(&app, &url).await;
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.headers()["content-type"], "image/png");
        let stored = image::load_from_memory(&served.bytes().await.unwrap()).unwrap();
        assert_eq!((stored.width(), stored.height()), (512, 512), "{format:?}");
        let me = expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
        assert_eq!(me["avatar"], Value::from(url.clone()), "seen on the very next request");
        if let Some(previous) = previous {
            assert_eq!(fetch_avatar(&app, &previous).await.status(), StatusCode::NOT_FOUND, "old file removed");
        }
        previous = Some(url);
    }
}

#[tokio::test]
async fn avatar_uploads_are_checked_by_content_size_and_role() {
    let app = spawn_app_with(&[("MAX_AVATAR_BYTES", "20000")]).await;
    let ada = admin(&app).await;
    let bob = app.user("bob").await;

    let png = image_file(40, 40, ImageFormat::Png);
    let forbidden =
        expect(upload(&app, &bob.token, png.clone(), "me.png", "image/png").await, StatusCode::FORBIDDEN).await;
    assert!(forbidden["detail"].is_string());
    expect_unauthenticated(upload(&app, "not-a-token", png, "me.png", "image/png").await).await;

    let text = b"I am a text file with an image's name".to_vec();
    let unsupported = upload(&app, &ada.token, text, "photo.png", "image/png").await;
    expect(unsupported, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let big = vec![0x89u8; 20001];
    expect(upload(&app, &ada.token, big, "big.png", "image/png").await, StatusCode::PAYLOAD_TOO_LARGE).await;

    let me = expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    assert!(me["avatar"].as_str().unwrap().starts_with("https://www.gravatar.com/"), "unchanged after refusals");
    for content_type in [None, Some("text/plain"), Some("image/png")] {
        let mut request = app.request(Method::PATCH, "/api/users/avatar").bearer_auth(&ada.token).body("x");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let not_multipart = request.send().await.unwrap();
        expect(not_multipart, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let app = spawn_app_with(&[("CORS_ORIGINS", "https://app.example,https://admin.example")]).await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/api/contacts/")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "PATCH")
            .header("Access-Control-Request-Headers", "authorization,content-type")
            .send()
    };
    let allowed = preflight("https://admin.example").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://admin.example");
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    // Refused in the contract's error shape, like every other error.
    assert_eq!(evil.status(), 400);
    assert_eq!(evil.headers()["content-type"], "application/json");
    let refused: serde_json::Value = evil.json().await.unwrap();
    assert_eq!(refused["detail"], "Origin is not allowed to make this request");

    let ada = app.user("ada").await;
    let listed =
        app.request(Method::GET, "/api/contacts/").bearer_auth(&ada.token).header("Origin", "https://app.example");
    let listed = listed.send().await.unwrap();
    assert_eq!(listed.headers()["access-control-allow-origin"], "https://app.example");
    let exposed = listed.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("x-total-count"));
}
