//! `AVATAR_STORE=s3` against a real S3-compatible server (moto) started by the test: instances
//! share the bucket, replaced avatars are deleted, an unreachable bucket costs uploads only.

use image::ImageFormat;
use reqwest::StatusCode;

use contacts_test_support::{S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3Server};

use crate::cli::run;
use crate::helpers::*;
use crate::users::{admin, image_file, upload};

async fn spawn_on_bucket(s3: &S3Server) -> (TestApp, String) {
    let bucket = s3.create_bucket().await;
    let endpoint = s3.endpoint();
    let app = spawn_app_with(&[
        ("AVATAR_STORE", "s3"),
        ("S3_BUCKET", &bucket),
        ("S3_ENDPOINT", &endpoint),
        ("S3_ACCESS_KEY_ID", S3_ACCESS_KEY_ID),
        ("S3_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY),
    ])
    .await;
    (app, bucket)
}

fn media_path(url: &str) -> String {
    url.strip_prefix(BASE_URL).expect("an absolute URL under APP_BASE_URL").to_owned()
}

#[tokio::test]
async fn two_instances_serve_avatars_from_one_bucket_and_replaced_ones_are_deleted() {
    let s3 = tokio::task::spawn_blocking(S3Server::start).await.unwrap();
    let (app, bucket) = spawn_on_bucket(&s3).await;
    let other = app.second_instance().await;
    let ada = admin(&app).await;

    let first = expect(
        upload(&app, &ada.token, image_file(600, 400, ImageFormat::Png), "a.png", "image/png").await,
        StatusCode::OK,
    )
    .await["avatar"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = media_path(&first);
    let name = path.strip_prefix("/media/").unwrap().to_owned();
    assert_eq!(s3.object_names(&bucket).await, vec![name.clone()], "stored in the bucket");
    let here = app.get(&path, None).await;
    assert_eq!(here.status(), StatusCode::OK);
    let cache = here.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age=31536000") && cache.contains("immutable"), "{cache}");
    let here = here.bytes().await.unwrap();
    let there = app.client.get(format!("{other}{path}")).send().await.unwrap();
    assert_eq!(there.status(), StatusCode::OK);
    assert_eq!(there.headers()["content-type"], "image/png");
    assert_eq!(there.bytes().await.unwrap(), here, "the other instance serves the same bytes");
    let decoded = image::load_from_memory(&here).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (400, 400));

    // Replaced through the other instance: the old object goes, both serve the new one.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(image_file(64, 64, ImageFormat::Jpeg))
            .file_name("b.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let replaced = app
        .client
        .patch(format!("{other}/api/users/avatar"))
        .bearer_auth(&ada.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let second = expect(replaced, StatusCode::OK).await["avatar"].as_str().unwrap().to_owned();
    let second_name = media_path(&second).strip_prefix("/media/").unwrap().to_owned();
    assert_eq!(s3.object_names(&bucket).await, vec![second_name], "the replaced avatar was deleted");
    assert_eq!(app.get(&path, None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&media_path(&second), None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/media/..%2F..%2Fetc%2Fpasswd", None).await.status(), StatusCode::NOT_FOUND);
    let ready = expect(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(ready["avatars"], "ok");
}

#[tokio::test]
async fn an_unreachable_bucket_fails_uploads_with_503_and_nothing_else() {
    let mut s3 = tokio::task::spawn_blocking(S3Server::start).await.unwrap();
    let (app, _bucket) = spawn_on_bucket(&s3).await;
    let ada = admin(&app).await;
    s3.kill();

    let started = std::time::Instant::now();
    let refused = upload(&app, &ada.token, image_file(32, 32, ImageFormat::Png), "a.png", "image/png").await;
    let body = expect(refused, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(body["detail"].is_string(), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
    let ready = expect(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!((ready["database"].as_str(), ready["avatars"].as_str()), (Some("ok"), Some("unavailable")));
    expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    let contact = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.org")).await;
    assert!(contact["id"].is_i64());
}

#[test]
fn s3_without_bucket_or_credentials_stops_the_server_naming_the_variable() {
    let url = "postgres://postgres@127.0.0.1:5432/postgres";
    let base = [("DATABASE_URL", url), ("JWT_SECRET", JWT_SECRET), ("AVATAR_STORE", "s3")];
    let full = [("S3_BUCKET", "b"), ("S3_ACCESS_KEY_ID", "k"), ("S3_SECRET_ACCESS_KEY", "s")];
    for missing in ["S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] {
        let vars: Vec<(&str, &str)> = base.iter().chain(full.iter().filter(|(k, _)| *k != missing)).copied().collect();
        let output = run(&["serve"], &vars);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr.lines().find(|l| l.starts_with("error:")).expect("an error line");
        assert!(line.contains(missing), "{line:?} should name {missing}");
    }
}
