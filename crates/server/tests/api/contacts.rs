//! `/api/contacts`: CRUD, search, paging and birthdays, each user in their own book.

use chrono::{Days, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// The `detail` of a `409` for a second contact with the same email.
const CONTACT_TAKEN: &str = "A contact with this email already exists";

#[tokio::test]
async fn a_created_contact_reads_back_exactly_as_returned() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let mut input = contact("  Grace ", " Hopper  ", "Grace@Navy.MIL");
    input["unknown_field"] = json!("ignored");
    let created = app.create_contact(&ada, &input).await;
    assert_eq!(created["first_name"], "Grace", "names are trimmed");
    assert_eq!(created["last_name"], "Hopper");
    assert_eq!(created["email"], "Grace@Navy.MIL", "emails are not reformatted");
    assert_eq!(created["phone"], "+1 (555) 010-2030");
    assert_eq!(created["birthday"], "1990-05-17");
    assert_eq!(created["additional_info"], "met at a conference");
    assert_eq!(created["created_at"], created["updated_at"]);
    assert!(created.get("unknown_field").is_none() && created.get("user_id").is_none());

    let id = created["id"].as_i64().unwrap();
    let read = expect(app.get(&format!("/api/contacts/{id}"), Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(read, created);
}

#[tokio::test]
async fn post_without_the_trailing_slash_works_too() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let response = app.send_json(Method::POST, "/api/contacts", Some(&ada.token), &contact("A", "B", "a@b.co")).await;
    expect(response, StatusCode::CREATED).await;
}

#[tokio::test]
async fn every_contact_rule_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let tomorrow = (Utc::now().date_naive() + Days::new(1)).to_string();
    let cases: Vec<(&str, Value)> = vec![
        ("first_name", json!("   ")),
        ("first_name", json!("x".repeat(51))),
        ("last_name", json!("")),
        ("email", json!("no-at-sign")),
        ("email", json!(format!("{}@example.com", "a".repeat(250)))),
        ("phone", json!("12345")),
        ("phone", json!("123-45a-7890")),
        ("phone", json!("1-2-3-4-5-6")),
        ("phone", json!("+1 555 0100 2000 30000")),
        ("birthday", json!("2023-02-29")),
        ("birthday", json!("17/05/1990")),
        ("birthday", json!(tomorrow)),
        ("birthday", json!("1899-12-31")),
        ("additional_info", json!("x".repeat(1001))),
        ("first_name", json!(null)),
    ];
    for (field, value) in cases {
        let mut body = contact("A", "B", "a@b.co");
        body[field] = value.clone();
        let response = app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field} = {value}");
        expect_invalid(response, &["body", field]).await;
    }
    let mut missing = contact("A", "B", "a@b.co");
    missing.as_object_mut().unwrap().remove("phone");
    expect_invalid(app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &missing).await, &["body", "phone"])
        .await;
    // Boundaries that are allowed.
    let mut edge = contact(&"x".repeat(50), "B", "edge@b.co");
    edge["birthday"] = json!("1900-01-01");
    edge["phone"] = json!("+1234567");
    edge["additional_info"] = json!("y".repeat(1000));
    app.create_contact(&ada, &edge).await;
    let mut leap = contact("Leap", "Day", "leap@b.co");
    leap["birthday"] = json!("2024-02-29");
    leap.as_object_mut().unwrap().remove("additional_info");
    let created = app.create_contact(&ada, &leap).await;
    assert_eq!(created["additional_info"], Value::Null);
}

#[tokio::test]
async fn a_contact_email_is_unique_per_user_regardless_of_case() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    app.create_contact(&ada, &contact("A", "B", "same@example.org")).await;
    let duplicate =
        app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &contact("C", "D", "SAME@example.org")).await;
    let body = expect(duplicate, StatusCode::CONFLICT).await;
    assert_eq!(body, json!({"detail": CONTACT_TAKEN}));
    // Another user may have a contact with that email.
    app.create_contact(&bob, &contact("A", "B", "same@example.org")).await;
}

#[tokio::test]
async fn another_users_contact_does_not_exist_for_you() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let eve = app.user("eve").await;
    let id = app.create_contact(&ada, &contact("A", "B", "a@b.co")).await["id"].as_i64().unwrap();
    let path = format!("/api/contacts/{id}");
    let not_found = json!({"detail": "Contact not found"});

    assert_eq!(expect(app.get(&path, Some(&eve.token)).await, StatusCode::NOT_FOUND).await, not_found);
    let put = app.send_json(Method::PUT, &path, Some(&eve.token), &contact("E", "V", "e@v.co")).await;
    assert_eq!(expect(put, StatusCode::NOT_FOUND).await, not_found);
    let patch = app.send_json(Method::PATCH, &path, Some(&eve.token), &json!({"first_name": "Evil"})).await;
    assert_eq!(expect(patch, StatusCode::NOT_FOUND).await, not_found);
    let delete = app.request(Method::DELETE, &path).bearer_auth(&eve.token).send().await.unwrap();
    assert_eq!(expect(delete, StatusCode::NOT_FOUND).await, not_found);
    let listed = expect(app.get("/api/contacts/", Some(&eve.token)).await, StatusCode::OK).await;
    assert_eq!(listed, json!([]));

    // Untouched for its owner.
    let read = expect(app.get(&path, Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(read["first_name"], "A");
    assert_eq!(expect(app.get("/api/contacts/999999", Some(&ada.token)).await, StatusCode::NOT_FOUND).await, not_found);
}

#[tokio::test]
async fn ids_must_be_integers_on_every_id_route() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = app.request(method.clone(), "/api/contacts/abc").bearer_auth(&ada.token).json(&json!({})).send();
        expect_invalid(response.await.unwrap(), &["path", "contact_id"]).await;
    }
}

#[tokio::test]
async fn listing_pages_by_id_and_counts_every_match() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_contact(&ada, &contact(&format!("N{i}"), "L", &format!("c{i}@x.io"))).await["id"].clone());
    }
    let all = app.get("/api/contacts/", Some(&ada.token)).await;
    assert_eq!(all.headers()["x-total-count"], "5");
    let all = body(all).await;
    assert_eq!(all.as_array().unwrap().iter().map(|c| c["id"].clone()).collect::<Vec<_>>(), ids);

    let page = app.get("/api/contacts/?skip=1&limit=2", Some(&ada.token)).await;
    assert_eq!(page.headers()["x-total-count"], "5");
    assert_eq!(body(page).await.as_array().unwrap().iter().map(|c| c["id"].clone()).collect::<Vec<_>>(), ids[1..3]);

    let past_the_end = app.get("/api/contacts/?skip=10", Some(&ada.token)).await;
    assert_eq!(past_the_end.headers()["x-total-count"], "5");
    assert_eq!(body(past_the_end).await, json!([]));

    for query in ["skip=-1", "limit=0", "limit=1001", "limit=abc"] {
        let response = app.get(&format!("/api/contacts/?{query}"), Some(&ada.token)).await;
        let field = query.split('=').next().unwrap();
        let body = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["detail"][0]["loc"][0], "query", "{query}: {body}");
        if !query.ends_with("abc") {
            assert_eq!(body["detail"][0]["loc"][1], field);
        }
    }
    expect(app.get("/api/contacts/?limit=1000&skip=0", Some(&ada.token)).await, StatusCode::OK).await;
}

/// The list page at `path` on the instance at `base`: its total and body.
async fn page_on(app: &TestApp, base: &str, path: &str, user: &TestUser) -> (String, Value) {
    let response = app.client.get(format!("{base}{path}")).bearer_auth(&user.token).send().await.unwrap();
    let total = response.headers()["x-total-count"].to_str().unwrap().to_owned();
    (total, expect(response, StatusCode::OK).await)
}

#[tokio::test]
async fn a_page_asked_again_shows_a_change_made_through_another_instance_at_once() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let grace = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@x.io")).await;
    app.create_contact(&ada, &contact("Alan", "Turing", "alan@x.io")).await;
    let second = app.second_instance().await;
    let here = app.address.clone();
    let path = "/api/contacts/?limit=20";

    let first = page_on(&app, &here, path, &ada).await;
    assert_eq!(page_on(&app, &here, path, &ada).await, first, "asked again, unchanged");
    assert_eq!(first.0, "2");

    // A field no search reads, changed through the other instance.
    let patch = json!({"phone": "+1 555 0199"});
    let patched = app.client.patch(format!("{second}/api/contacts/{}", grace["id"])).bearer_auth(&ada.token);
    expect(patched.json(&patch).send().await.unwrap(), StatusCode::OK).await;
    let (total, after_patch) = page_on(&app, &here, path, &ada).await;
    assert_eq!((total.as_str(), after_patch[0]["phone"].as_str()), ("2", Some("+1 555 0199")));
    assert_ne!(after_patch[0]["updated_at"], first.1[0]["updated_at"]);

    // A delete and an insert through the other instance.
    let deleted = app.client.delete(format!("{second}/api/contacts/{}", grace["id"])).bearer_auth(&ada.token);
    assert_eq!(deleted.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let (total, after_delete) = page_on(&app, &here, path, &ada).await;
    assert_eq!((total.as_str(), after_delete[0]["first_name"].as_str()), ("1", Some("Alan")));
    let created = app.client.post(format!("{second}/api/contacts/")).bearer_auth(&ada.token);
    let created = created.json(&contact("Edsger", "Dijkstra", "ew@x.io")).send().await.unwrap();
    expect(created, StatusCode::CREATED).await;
    let (total, after_create) = page_on(&app, &here, path, &ada).await;
    assert_eq!((total.as_str(), after_create.as_array().unwrap().len()), ("2", 2));
}

async fn search(app: &TestApp, user: &TestUser, query: &str) -> Vec<String> {
    let response = app.get(&format!("/api/contacts/?{query}"), Some(&user.token)).await;
    let total: usize = response.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
    let names: Vec<String> =
        body(response).await.as_array().unwrap().iter().map(|c| c["email"].as_str().unwrap().to_owned()).collect();
    assert_eq!(total, names.len(), "{query}");
    names
}

#[tokio::test]
async fn search_filters_are_case_insensitive_substrings_combined_with_and() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    app.create_contact(&ada, &contact("Grace", "Hopper", "grace@navy.mil")).await;
    app.create_contact(&ada, &contact("Alan", "Turing", "alan@bletchley.uk")).await;
    app.create_contact(&ada, &contact("Grace", "Kelly", "kelly@monaco.mc")).await;
    app.create_contact(&ada, &contact("100%", "Under_score", "pct@odd.io")).await;

    assert_eq!(search(&app, &ada, "first_name=GRAC").await, ["grace@navy.mil", "kelly@monaco.mc"]);
    assert_eq!(search(&app, &ada, "first_name=grace&last_name=kel").await, ["kelly@monaco.mc"]);
    assert_eq!(search(&app, &ada, "email=BLETCH").await, ["alan@bletchley.uk"]);
    assert_eq!(search(&app, &ada, "q=kelly").await, ["kelly@monaco.mc"]);
    assert_eq!(search(&app, &ada, "q=ER").await, ["grace@navy.mil", "pct@odd.io"]);
    assert_eq!(search(&app, &ada, "q=grace&email=navy").await, ["grace@navy.mil"]);
    assert_eq!(search(&app, &ada, "first_name=%25").await, ["pct@odd.io"], "% is a plain character");
    assert_eq!(search(&app, &ada, "last_name=_").await, ["pct@odd.io"], "_ is a plain character");
    assert!(search(&app, &ada, "q=nobody").await.is_empty());
    assert_eq!(search(&app, &ada, "first_name=").await.len(), 4, "an empty filter filters nothing");
}

#[tokio::test]
async fn put_replaces_every_field_and_clears_an_omitted_additional_info() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let created = app.create_contact(&ada, &contact("A", "B", "a@b.co")).await;
    app.create_contact(&ada, &contact("X", "Y", "taken@b.co")).await;
    let path = format!("/api/contacts/{}", created["id"]);

    let mut replacement = contact("New", "Name", "new@b.co");
    replacement.as_object_mut().unwrap().remove("additional_info");
    replacement["birthday"] = json!("1985-12-31");
    let replaced =
        expect(app.send_json(Method::PUT, &path, Some(&ada.token), &replacement).await, StatusCode::OK).await;
    assert_eq!(replaced["first_name"], "New");
    assert_eq!(replaced["email"], "new@b.co");
    assert_eq!(replaced["birthday"], "1985-12-31");
    assert_eq!(replaced["additional_info"], Value::Null);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert!(replaced["updated_at"].as_str().unwrap() > created["updated_at"].as_str().unwrap());
    assert_eq!(expect(app.get(&path, Some(&ada.token)).await, StatusCode::OK).await, replaced);

    let mut partial = contact("New", "Name", "new@b.co");
    partial.as_object_mut().unwrap().remove("phone");
    expect_invalid(app.send_json(Method::PUT, &path, Some(&ada.token), &partial).await, &["body", "phone"]).await;
    let clash = app.send_json(Method::PUT, &path, Some(&ada.token), &contact("N", "N", "TAKEN@b.co")).await;
    assert_eq!(expect(clash, StatusCode::CONFLICT).await, json!({"detail": CONTACT_TAKEN}));
}

#[tokio::test]
async fn patch_changes_only_the_fields_sent() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let created = app.create_contact(&ada, &contact("A", "B", "a@b.co")).await;
    app.create_contact(&ada, &contact("X", "Y", "taken@b.co")).await;
    let path = format!("/api/contacts/{}", created["id"]);

    let patched = expect(
        app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"phone": "555 0100 200"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["phone"], "555 0100 200");
    for field in ["first_name", "last_name", "email", "birthday", "additional_info", "created_at"] {
        assert_eq!(patched[field], created[field], "{field} unchanged");
    }
    let cleared = expect(
        app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"additional_info": null})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["additional_info"], Value::Null);
    assert_eq!(cleared["phone"], "555 0100 200");
    assert_eq!(expect(app.get(&path, Some(&ada.token)).await, StatusCode::OK).await, cleared);

    expect_invalid(app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({})).await, &["body"]).await;
    for field in ["email", "emails", "phones"] {
        expect_invalid(
            app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({ field: null })).await,
            &["body", field],
        )
        .await;
    }
    expect_invalid(
        app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"phone": "1"})).await,
        &["body", "phone"],
    )
    .await;
    let clash = app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"email": "Taken@B.co"})).await;
    assert_eq!(expect(clash, StatusCode::CONFLICT).await, json!({"detail": CONTACT_TAKEN}));
}

#[tokio::test]
async fn delete_removes_the_contact() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let id = app.create_contact(&ada, &contact("A", "B", "a@b.co")).await["id"].clone();
    let path = format!("/api/contacts/{id}");
    let deleted = app.request(Method::DELETE, &path).bearer_auth(&ada.token).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.text().await.unwrap().is_empty());
    expect(app.get(&path, Some(&ada.token)).await, StatusCode::NOT_FOUND).await;
    let again = app.request(Method::DELETE, &path).bearer_auth(&ada.token).send().await.unwrap();
    expect(again, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn birthdays_lists_the_coming_window_soonest_first() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let today = Utc::now().date_naive();
    // Born in a leap year so that every month and day exists; 2000 is one.
    let born = |offset: i64| {
        let day = if offset >= 0 { today + Days::new(offset as u64) } else { today - Days::new((-offset) as u64) };
        let date = chrono::NaiveDate::from_ymd_opt(2000, chrono::Datelike::month(&day), chrono::Datelike::day(&day));
        date.expect("exists in 2000").to_string()
    };
    for (name, offset) in [("in7", 7), ("today", 0), ("in8", 8), ("yesterday", -1), ("in3", 3)] {
        let mut body = contact(name, "B", &format!("{name}@b.co"));
        body["birthday"] = json!(born(offset));
        app.create_contact(&ada, &body).await;
    }
    let names = |v: Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|c| c["first_name"].as_str().unwrap().to_owned()).collect()
    };
    let week = expect(app.get("/api/contacts/birthdays", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(names(week), ["today", "in3", "in7"]);
    let today_only = expect(app.get("/api/contacts/birthdays?days=0", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(names(today_only), ["today"]);
    let year = expect(app.get("/api/contacts/birthdays?days=365", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(names(year), ["today", "in3", "in7", "in8", "yesterday"]);
    for days in ["-1", "366", "soon"] {
        let body = expect(
            app.get(&format!("/api/contacts/birthdays?days={days}"), Some(&ada.token)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(body["detail"][0]["loc"][0], "query");
    }
    let eve = app.user("eve").await;
    assert_eq!(
        expect(app.get("/api/contacts/birthdays?days=365", Some(&eve.token)).await, StatusCode::OK).await,
        json!([])
    );
}

/// A list or birthday list asked again while the book is unchanged is sent gzip-compressed to a
/// client that takes gzip, and as first sent to one that does not; a change is sent anew, and
/// the next copy compressed is the changed one.
#[tokio::test]
async fn a_list_asked_again_is_sent_gzip_compressed_to_clients_that_take_it() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let today = Utc::now().date_naive();
    for i in 0..6 {
        let mut body = contact(&format!("Guest{i}"), "B", &format!("g{i}@b.co"));
        body["birthday"] = json!(format!("2000-{}", today.format("%m-%d")));
        app.create_contact(&ada, &body).await;
    }
    // Status, Content-Encoding, Vary and the body as JSON text (inflated when compressed).
    let ask = async |path: &str, accept_encoding: Option<&str>| {
        let mut request = app.client.get(format!("{}{path}", app.address)).bearer_auth(&ada.token);
        if let Some(value) = accept_encoding {
            request = request.header("Accept-Encoding", value);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let (status, encoding, vary) = (response.status(), header("content-encoding"), header("vary"));
        let bytes = response.bytes().await.unwrap();
        let text = match encoding.as_deref() {
            Some("gzip") => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).unwrap();
                assert!(bytes.len() * 2 < text.len(), "compressed: {} bytes for {}", bytes.len(), text.len());
                text
            }
            _ => String::from_utf8(bytes.to_vec()).unwrap(),
        };
        assert_eq!(status, StatusCode::OK, "{text}");
        let varies_by = vary.unwrap_or_default();
        assert!(varies_by.split(',').any(|name| name.trim() == "Accept-Encoding"), "{path}: Vary {varies_by:?}");
        (encoding, text)
    };

    for path in ["/api/contacts/", "/api/contacts/birthdays"] {
        let (encoding, first) = ask(path, Some("gzip, deflate, br")).await;
        assert_eq!(encoding, None, "{path}: read anew, sent as written");
        assert!(first.len() >= 1024 && first.contains("Guest5"), "{first}");
        assert_eq!(ask(path, Some("gzip, deflate, br")).await, (Some("gzip".to_owned()), first.clone()), "{path}");
        assert_eq!(ask(path, Some("gzip")).await, (Some("gzip".to_owned()), first.clone()), "{path}: the same copy");
        // HEAD has the head GET has: the compressed copy's encoding and length, and no body.
        let head = app.request(Method::HEAD, path).bearer_auth(&ada.token).header("Accept-Encoding", "gzip");
        let head = head.send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert_eq!(head.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"), "{path}");
        let length: usize = head.headers()["content-length"].to_str().unwrap().parse().unwrap();
        assert!(length > 0 && length * 2 < first.len(), "{path}: HEAD's Content-Length {length}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: HEAD has no body");
        for refuses in [None, Some("identity"), Some("gzip;q=0"), Some("*")] {
            assert_eq!(ask(path, refuses).await, (None, first.clone()), "{path}: {refuses:?}");
        }
    }
    let (_, page) = ask("/api/contacts/", None).await;
    let guest = serde_json::from_str::<Value>(&page).unwrap()[0]["id"].clone();
    let path = format!("/api/contacts/{guest}");
    let patched = app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"phone": "+1 555 0199"})).await;
    expect(patched, StatusCode::OK).await;
    for path in ["/api/contacts/", "/api/contacts/birthdays"] {
        let (encoding, changed) = ask(path, Some("gzip")).await;
        assert_eq!(encoding, None, "{path}: the change, read anew");
        assert!(changed.contains("+1 555 0199"), "{path}: {changed}");
        assert_eq!(
            ask(path, Some("gzip")).await,
            (Some("gzip".to_owned()), changed),
            "{path}: the new copy compressed"
        );
    }

    // An answer too short to gain is never compressed.
    let eve = app.user("eve").await;
    for _ in 0..2 {
        let response = app.client.get(format!("{}/api/contacts/birthdays", app.address)).bearer_auth(&eve.token);
        let response = response.header("Accept-Encoding", "gzip").send().await.unwrap();
        assert!(response.headers().get("content-encoding").is_none());
        assert_eq!(expect(response, StatusCode::OK).await, json!([]));
    }
}
