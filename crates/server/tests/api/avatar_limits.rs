//! Avatar uploads an attacker would send: decompression bombs, oversized extra parts, and
//! racing uploads that could leave files behind.

use image::ImageFormat;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};

use crate::helpers::*;
use crate::users::{admin, image_file, upload};

#[tokio::test]
async fn an_image_declaring_too_many_pixels_is_413_before_it_is_decoded() {
    let app = spawn_app().await;
    let ada = admin(&app).await;
    for (width, height) in [(10_000, 10_000), (4_097, 64), (4_096, 4_096)] {
        let bomb = contacts_test_support::png_declaring(width, height);
        let response = upload(&app, &ada.token, bomb, "bomb.png", "image/png").await;
        let body = expect(response, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert!(body["detail"].as_str().unwrap().contains("4096"), "{body}");
    }
    let me = expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    assert!(me["avatar"].as_str().unwrap().starts_with("https://www.gravatar.com/"), "unchanged");
}

#[tokio::test]
async fn every_multipart_part_counts_against_the_size_limit() {
    let app = spawn_app_with(&[("MAX_AVATAR_BYTES", "20000")]).await;
    let ada = admin(&app).await;
    let png = image_file(40, 40, ImageFormat::Png);
    assert!(png.len() < 10_000);
    let send = |junk: usize| {
        let form = Form::new()
            .part("junk", Part::bytes(vec![b'j'; junk]))
            .part("file", Part::bytes(png.clone()).file_name("me.png").mime_str("image/png").unwrap());
        app.request(Method::PATCH, "/api/users/avatar").bearer_auth(&ada.token).multipart(form).send()
    };
    expect(send(20_000).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    expect(send(20_000 - png.len() + 1).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    // Under the limit in all, the junk is ignored.
    expect(send(100).await.unwrap(), StatusCode::OK).await;
    // Parts under the limit in data, over it with their headers: the whole request counts.
    let form = Form::new()
        .part("junk", Part::bytes(vec![b'j'; 100]).file_name("n".repeat(20_000 - png.len())))
        .part("file", Part::bytes(png.clone()).file_name("me.png").mime_str("image/png").unwrap());
    let headers = app.request(Method::PATCH, "/api/users/avatar").bearer_auth(&ada.token).multipart(form).send();
    expect(headers.await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    // A part after the file counts too.
    let form = Form::new()
        .part("file", Part::bytes(png.clone()).file_name("me.png").mime_str("image/png").unwrap())
        .part("junk", Part::bytes(vec![b'j'; 20_000]));
    let after = app.request(Method::PATCH, "/api/users/avatar").bearer_auth(&ada.token).multipart(form).send();
    expect(after.await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn a_chunked_upload_is_held_to_the_size_limit_too() {
    let app = spawn_app_with(&[("MAX_AVATAR_BYTES", "20000")]).await;
    let ada = admin(&app).await;
    let png = image_file(40, 40, ImageFormat::Png);
    // Parts streamed without a length: the form goes out chunked, with no Content-Length.
    let form = |junk: usize| {
        Form::new()
            .part("junk", Part::stream(chunked_body(b"", b'j', b"", junk)))
            .part("file", Part::stream(chunked_body(&png, 0, b"", png.len())).file_name("me.png"))
    };
    let head = request_head(|post| post.multipart(form(100))).await;
    assert!(head.contains("transfer-encoding: chunked") && !head.contains("content-length"), "{head}");
    let send = |junk: usize| {
        app.request(Method::PATCH, "/api/users/avatar").bearer_auth(&ada.token).multipart(form(junk)).send()
    };
    expect(send(100).await.unwrap(), StatusCode::OK).await;
    expect(send(20_000).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    // Parts under the limit in data, over it with their headers: the whole body counts, sent
    // without a length too.
    let long_name = Form::new()
        .part("junk", Part::stream(chunked_body(b"", b'j', b"", 100)).file_name("n".repeat(20_000)))
        .part("file", Part::stream(chunked_body(&png, 0, b"", png.len())).file_name("me.png"));
    let sent = app.request(Method::PATCH, "/api/users/avatar").bearer_auth(&ada.token).multipart(long_name).send();
    expect(sent.await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    // Far over the limit: refused while reading, long before the 64 MiB are sent.
    let started = std::time::Instant::now();
    expect(send(64 * 1024 * 1024).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

/// The avatar files on disk.
fn stored_files(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&app.avatar_dir)
        .map(|dir| dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn racing_uploads_leave_exactly_the_current_avatar_on_disk() {
    let app = spawn_app().await;
    let ada = admin(&app).await;
    for round in 0..5 {
        let (a, b) = tokio::join!(
            upload(&app, &ada.token, image_file(300, 300, ImageFormat::Png), "a.png", "image/png"),
            upload(&app, &ada.token, image_file(320, 300, ImageFormat::Png), "b.png", "image/png"),
        );
        expect(a, StatusCode::OK).await;
        expect(b, StatusCode::OK).await;
        let me = expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
        let current = me["avatar"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        assert_eq!(stored_files(&app), [current], "round {round}: no orphaned file");
    }
}
