//! CardDAV against the real app: app passwords, sign-in, and REST and CardDAV seeing the same
//! cards and change log.

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::*;

const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dav-uid-1\r\nFN:Grace Hopper\r\nN:Hopper;Grace;;;\r\n\
EMAIL;type=INTERNET:grace@example.com\r\nEND:VCARD\r\n";

fn dav(app: &TestApp, method: &str, path: &str, login: &str, password: &str) -> reqwest::RequestBuilder {
    app.request(Method::from_bytes(method.as_bytes()).unwrap(), path).basic_auth(login, Some(password))
}

async fn text(response: Response) -> String {
    response.text().await.unwrap()
}

#[tokio::test]
async fn app_passwords_are_shown_once_listed_without_secret_and_revocable() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let made =
        app.send_json(Method::POST, "/api/users/me/app-passwords", Some(&ada.token), &json!({"name": "phone"})).await;
    assert_eq!(made.headers()["cache-control"], "no-store", "the answer holds a credential");
    let made = expect(made, StatusCode::CREATED).await;
    assert!(made["password"].as_str().unwrap().len() >= 22);
    let typed = app.send_json(Method::POST, "/api/users/me/app-passwords", Some(&ada.token), &json!({"name": 5})).await;
    let typed = expect(typed, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(typed["detail"][0]["loc"], json!(["body", "name"]), "{typed}");
    // A NUL cannot be stored: a 422 like any other control character, never the database's 500.
    let nul =
        app.send_json(Method::POST, "/api/users/me/app-passwords", Some(&ada.token), &json!({"name": "a\0b"})).await;
    let nul = expect(nul, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(nul["detail"][0]["loc"], json!(["body", "name"]), "{nul}");
    let list = expect(app.get("/api/users/me/app-passwords", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "phone");
    assert!(list[0].get("password").is_none() && list[0]["last_used_at"].is_null());

    let secret = made["password"].as_str().unwrap();
    let ok = dav(&app, "PROPFIND", "/dav/", "ada", secret).header("depth", "0").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::MULTI_STATUS);
    let list = expect(app.get("/api/users/me/app-passwords", Some(&ada.token)).await, StatusCode::OK).await;
    assert!(list[0]["last_used_at"].is_string(), "use is recorded");
    let nul_login = dav(&app, "PROPFIND", "/dav/", "a\0da", secret).header("depth", "0").send().await.unwrap();
    assert_eq!(nul_login.status(), StatusCode::UNAUTHORIZED, "a NUL in the login is a wrong login");
    let nul_path = dav(&app, "PROPFIND", "/dav/addressbooks/ada/con%00tacts/", "ada", secret);
    assert_eq!(nul_path.header("depth", "0").send().await.unwrap().status(), StatusCode::NOT_FOUND);

    let bob = app.user("bob").await;
    let path = format!("/api/users/me/app-passwords/{}", made["id"]);
    let theirs = app.request(Method::DELETE, &path).bearer_auth(&bob.token).send().await.unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let revoked = app.request(Method::DELETE, &path).bearer_auth(&ada.token).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = dav(&app, "PROPFIND", "/dav/", "ada", secret).header("depth", "0").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_account_password_is_refused_with_a_basic_challenge() {
    let app = spawn_app().await;
    let _ada = app.user("ada").await;
    let refused = dav(&app, "PROPFIND", "/dav/", "ada", PASSWORD).header("depth", "0").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["www-authenticate"], "Basic realm=\"contacts\"");
}

#[tokio::test]
async fn rest_and_carddav_share_cards_etags_and_the_change_log() {
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/contacts/";

    let first = dav(&app, "REPORT", book, "ada", &secret).body(SYNC.replace("TOKEN", "")).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::MULTI_STATUS);
    let token0 = token_of(&text(first).await);

    // REST create → PROPFIND depth 1 and sync-collection.
    let made = app.create_contact(&ada, &contact("Ada", "Lovelace", "ada@example.com")).await;
    let href = format!("{book}{}.vcf", made["uid"].as_str().unwrap());
    let listing = dav(&app, "PROPFIND", book, "ada", &secret).header("depth", "1").send().await.unwrap();
    assert!(text(listing).await.contains(&href));
    let sync = dav(&app, "REPORT", book, "ada", &secret).body(SYNC.replace("TOKEN", &token0)).send().await.unwrap();
    let sync = text(sync).await;
    assert!(sync.contains(&href), "{sync}");
    let token1 = token_of(&sync);
    assert_ne!(token0, token1);

    // A REST edit changes the ETag and the sync token.
    let etag = |r: &Response| r.headers()["etag"].to_str().unwrap().to_owned();
    let before = dav(&app, "GET", &href, "ada", &secret).send().await.unwrap();
    assert_eq!(before.status(), StatusCode::OK);
    let etag0 = etag(&before);
    let id = made["id"].as_i64().unwrap();
    let patched = app
        .send_json(Method::PATCH, &format!("/api/contacts/{id}"), Some(&ada.token), &json!({"first_name": "Augusta"}))
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let after = dav(&app, "GET", &href, "ada", &secret).send().await.unwrap();
    assert_ne!(etag0, etag(&after));
    assert!(text(after).await.contains("Augusta"));
    let sync = dav(&app, "REPORT", book, "ada", &secret).body(SYNC.replace("TOKEN", &token1)).send().await.unwrap();
    let sync = text(sync).await;
    assert!(sync.contains(&href));
    let token2 = token_of(&sync);

    // A CardDAV PUT shows in REST, stored byte for byte.
    let put = dav(&app, "PUT", &format!("{book}grace.vcf"), "ada", &secret)
        .header("content-type", "text/vcard")
        .header("if-none-match", "*")
        .body(CARD)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    assert!(put.headers().contains_key("etag"));
    let again = dav(&app, "PUT", &format!("{book}grace.vcf"), "ada", &secret)
        .header("content-type", "text/vcard")
        .header("if-none-match", "*")
        .body(CARD)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::PRECONDITION_FAILED);
    let clash = dav(&app, "PUT", &format!("{book}other.vcf"), "ada", &secret)
        .header("content-type", "text/vcard")
        .body(CARD)
        .send()
        .await
        .unwrap();
    assert_eq!(clash.status(), StatusCode::CONFLICT, "same UID in the book");
    let clash = text(clash).await;
    let named = format!("<D:href>{book}grace.vcf</D:href>");
    assert!(clash.contains("no-uid-conflict") && clash.contains(&named), "names the card with the UID: {clash}");
    let list = expect(app.get("/api/contacts/?limit=100", Some(&ada.token)).await, StatusCode::OK).await;
    assert!(list.as_array().unwrap().iter().any(|c| c["email"] == "grace@example.com"));
    let got = dav(&app, "GET", &format!("{book}grace.vcf"), "ada", &secret).send().await.unwrap();
    assert_eq!(text(got).await, CARD);

    // A REST delete is a 404 member of the next sync.
    let deleted = app.request(Method::DELETE, &format!("/api/contacts/{id}")).bearer_auth(&ada.token).send().await;
    assert_eq!(deleted.unwrap().status(), StatusCode::NO_CONTENT);
    let sync = dav(&app, "REPORT", book, "ada", &secret).body(SYNC.replace("TOKEN", &token2)).send().await.unwrap();
    let sync = text(sync).await;
    let gone = &sync[sync.find(&href).expect("deleted card listed")..];
    assert!(gone[..gone.find("</D:response>").unwrap_or(gone.len())].contains("404"), "{sync}");

    let future = dav(&app, "REPORT", book, "ada", &secret).body(SYNC.replace("TOKEN", "999999")).send().await.unwrap();
    assert_eq!(future.status(), StatusCode::FORBIDDEN);
}

/// Asks for a card's length and last change along with its ETag.
const CARD_PROPS: &str = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/>
<d:getcontentlength/><d:getlastmodified/></d:prop></d:propfind>"#;

#[tokio::test]
async fn a_cards_listed_length_and_last_change_are_those_of_its_get_and_its_writes_judge() {
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/contacts/";
    let token = token_of(
        &text(dav(&app, "REPORT", book, "ada", &secret).body(SYNC.replace("TOKEN", "")).send().await.unwrap()).await,
    );
    let made = app.create_contact(&ada, &contact("Ada", "Lovelace", "ada@example.com")).await;
    // A REST edit leaves the card to be rewritten when read: its length is the rewritten text's.
    let id = made["id"].as_i64().unwrap();
    let patched = app
        .send_json(Method::PATCH, &format!("/api/contacts/{id}"), Some(&ada.token), &json!({"first_name": "Augusta"}))
        .await;
    let patched = expect(patched, StatusCode::OK).await;
    let href = format!("{book}{}.vcf", made["uid"].as_str().unwrap());

    let got = dav(&app, "GET", &href, "ada", &secret).send().await.unwrap();
    let etag = got.headers()["etag"].to_str().unwrap().to_owned();
    let last_modified = got.headers()["last-modified"].to_str().unwrap().to_owned();
    let body = text(got).await;
    assert!(body.contains("Augusta"), "{body}");
    let updated = chrono::DateTime::parse_from_rfc3339(patched["updated_at"].as_str().unwrap()).unwrap();

    let one = dav(&app, "PROPFIND", &href, "ada", &secret).header("depth", "0").body(CARD_PROPS).send().await.unwrap();
    assert_eq!(one.status(), StatusCode::MULTI_STATUS);
    let listing =
        dav(&app, "PROPFIND", book, "ada", &secret).header("depth", "1").body(CARD_PROPS).send().await.unwrap();
    let synced = dav(&app, "REPORT", book, "ada", &secret)
        .body(
            SYNC.replace("TOKEN", &token)
                .replace("<d:getetag/>", "<d:getetag/><d:getcontentlength/><d:getlastmodified/>"),
        )
        .send()
        .await
        .unwrap();
    for answer in [text(one).await, text(listing).await, text(synced).await] {
        let card = &answer[answer.find(&href).unwrap_or_else(|| panic!("the card is listed: {answer}"))..];
        assert_eq!(element_text(card, "getetag"), Some(etag.as_str()), "{answer}");
        assert_eq!(element_text(card, "getcontentlength"), Some(body.len().to_string().as_str()), "{answer}");
        let raw = element_text(card, "getlastmodified").expect("a last change");
        assert!(raw.ends_with(" GMT"), "an RFC 1123 date: {raw}");
        let modified = chrono::DateTime::parse_from_rfc2822(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(modified.timestamp(), updated.timestamp(), "the REST edit's time, to the second");
        assert_eq!(raw, last_modified, "GET's Last-Modified");
    }
    // A write on a card changed since the date it names is refused (RFC 9110 13.1.4), in the
    // write's transaction.
    let stale = dav(&app, "PUT", &href, "ada", &secret)
        .header("content-type", "text/vcard")
        .header("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT")
        .body(body.replace("Augusta", "Ada"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let current = dav(&app, "DELETE", &href, "ada", &secret).header("if-unmodified-since", last_modified);
    assert_eq!(current.send().await.unwrap().status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn another_users_paths_are_404_and_books_can_be_made_and_removed() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let _bob = app.user("bob").await;
    let secret = app_password(&app, &ada).await;
    let theirs = dav(&app, "PROPFIND", "/dav/addressbooks/bob/contacts/", "ada", &secret)
        .header("depth", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);

    let mkcol = r#"<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">
<d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype>
<d:displayname>Work</d:displayname><c:addressbook-description>Colleagues</c:addressbook-description>
</d:prop></d:set></d:mkcol>"#;
    let made = dav(&app, "MKCOL", "/dav/addressbooks/ada/work/", "ada", &secret).body(mkcol).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let home = dav(&app, "PROPFIND", "/dav/addressbooks/ada/", "ada", &secret).header("depth", "1").send().await;
    assert!(text(home.unwrap()).await.contains("Work"));
    let described = r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop>
<c:addressbook-description/></d:prop></d:propfind>"#;
    let book = dav(&app, "PROPFIND", "/dav/addressbooks/ada/work/", "ada", &secret).body(described).send().await;
    assert!(text(book.unwrap()).await.contains(">Colleagues</"), "the description is kept");
    let too_long = format!(
        r#"<d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>
<c:addressbook-description>{}</c:addressbook-description></d:prop></d:set></d:propertyupdate>"#,
        "x".repeat(1001)
    );
    let refused = dav(&app, "PROPPATCH", "/dav/addressbooks/ada/work/", "ada", &secret).body(too_long).send().await;
    let refused = refused.unwrap();
    let (status, body) = (refused.status(), text(refused).await);
    assert_eq!(status, StatusCode::MULTI_STATUS, "{body}");
    assert!(body.contains("507"), "a description has at most 1,000 characters: {body}");
    // Refused whole: a property kept by the same request is not stored either.
    let with_kept = format!(
        r#"<d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>
<x:tag xmlns:x="urn:x">kept?</x:tag><c:addressbook-description>{}</c:addressbook-description></d:prop></d:set></d:propertyupdate>"#,
        "x".repeat(1001)
    );
    let refused = dav(&app, "PROPPATCH", "/dav/addressbooks/ada/work/", "ada", &secret).body(with_kept).send().await;
    let refused = refused.unwrap();
    let (status, body) = (refused.status(), text(refused).await);
    assert_eq!(status, StatusCode::MULTI_STATUS, "{body}");
    assert!(body.contains("424") && body.contains("507"), "{body}");
    let ask = r#"<d:propfind xmlns:d="DAV:"><d:prop><x:tag xmlns:x="urn:x"/></d:prop></d:propfind>"#;
    let read = dav(&app, "PROPFIND", "/dav/addressbooks/ada/work/", "ada", &secret).body(ask).send().await;
    assert!(!text(read.unwrap()).await.contains("kept?"), "nothing of the refused request is stored");
    let removed = dav(&app, "DELETE", "/dav/addressbooks/ada/work/", "ada", &secret).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let default = dav(&app, "DELETE", "/dav/addressbooks/ada/contacts/", "ada", &secret).send().await.unwrap();
    assert_eq!(default.status(), StatusCode::FORBIDDEN);
}

/// macOS Contacts keeps which card is "me" as a property of the home (a dead property, RFC 4918
/// 4.1): kept in PostgreSQL, given back by name and by `allprop`, to the user only; books and
/// cards keep them too.
#[tokio::test]
async fn the_home_and_books_keep_the_properties_clients_set() {
    let (app, _ada, secret) = app_with_dav_user("ada").await;
    let home = "/dav/addressbooks/ada/";
    let me_card = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:set><D:prop>
<CS:me-card><D:href>/dav/addressbooks/ada/contacts/me.vcf</D:href></CS:me-card></D:prop></D:set></D:propertyupdate>"#;
    let set = dav(&app, "PROPPATCH", home, "ada", &secret).body(me_card).send().await.unwrap();
    assert_eq!(set.status(), StatusCode::MULTI_STATUS);
    assert!(text(set).await.contains("HTTP/1.1 200 OK"));
    let ask = r#"<D:propfind xmlns:D="DAV:"><D:prop><CS:me-card xmlns:CS="http://calendarserver.org/ns/"/></D:prop></D:propfind>"#;
    let read = text(dav(&app, "PROPFIND", home, "ada", &secret).body(ask).send().await.unwrap()).await;
    let kept = r#"<me-card xmlns="http://calendarserver.org/ns/"><href xmlns="DAV:">/dav/addressbooks/ada/contacts/me.vcf</href></me-card>"#;
    assert!(read.contains(kept), "{read}");
    assert!(read.contains("HTTP/1.1 200 OK") && !read.contains("404"), "{read}");

    let color = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>
<I:addressbook-color xmlns:I="http://apple.com/ns/ical/">#FF2968FF</I:addressbook-color></D:prop></D:set></D:propertyupdate>"#;
    let book = "/dav/addressbooks/ada/contacts/";
    assert_eq!(
        dav(&app, "PROPPATCH", book, "ada", &secret).body(color).send().await.unwrap().status(),
        StatusCode::MULTI_STATUS
    );
    let all = text(
        dav(&app, "PROPFIND", book, "ada", &secret)
            .body(r#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        all.contains(r#"<addressbook-color xmlns="http://apple.com/ns/ical/">#FF2968FF</addressbook-color>"#),
        "{all}"
    );

    // A card keeps them too: listed with it, moved with it, copied with it, deleted with it.
    let card = "/dav/addressbooks/ada/contacts/a.vcf";
    assert_eq!(
        dav(&app, "PUT", card, "ada", &secret)
            .header("content-type", "text/vcard")
            .body(CARD)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    let tag = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:tag xmlns:x="urn:x">red</x:tag></D:prop></D:set></D:propertyupdate>"#;
    let set = text(dav(&app, "PROPPATCH", card, "ada", &secret).body(tag).send().await.unwrap()).await;
    assert!(set.contains("HTTP/1.1 200 OK") && !set.contains("403"), "{set}");
    let ask = r#"<D:propfind xmlns:D="DAV:"><D:prop><x:tag xmlns:x="urn:x"/></D:prop></D:propfind>"#;
    let kept = r#"<tag xmlns="urn:x">red</tag>"#;
    let listing = dav(&app, "PROPFIND", book, "ada", &secret).header("depth", "1").body(ask).send().await.unwrap();
    assert!(text(listing).await.contains(kept));
    let made = dav(&app, "MKCOL", "/dav/addressbooks/ada/work/", "ada", &secret).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let moved = "/dav/addressbooks/ada/contacts/b.vcf";
    let answer = dav(&app, "MOVE", card, "ada", &secret).header("destination", moved).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let copy = "/dav/addressbooks/ada/work/c.vcf";
    let answer = dav(&app, "COPY", moved, "ada", &secret).header("destination", copy).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    for path in [moved, copy] {
        let read = text(dav(&app, "PROPFIND", path, "ada", &secret).body(ask).send().await.unwrap()).await;
        assert!(read.contains(kept), "{path}: {read}");
    }
    assert_eq!(dav(&app, "DELETE", moved, "ada", &secret).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    dav(&app, "PUT", moved, "ada", &secret).header("content-type", "text/vcard").body(CARD).send().await.unwrap();
    let read = text(dav(&app, "PROPFIND", moved, "ada", &secret).body(ask).send().await.unwrap()).await;
    assert!(!read.contains(kept) && read.contains("404"), "{read}");

    let bob = app.user("bob").await;
    let bob_secret = app_password(&app, &bob).await;
    let theirs =
        text(dav(&app, "PROPFIND", "/dav/addressbooks/bob/", "bob", &bob_secret).body(ask).send().await.unwrap()).await;
    assert!(theirs.contains("404") && !theirs.contains("me.vcf"), "{theirs}");
}

/// The answer to a sync from `token`: its status and body.
async fn sync_from(app: &TestApp, book: &str, secret: &str, token: &str) -> (StatusCode, String) {
    let answer = dav(app, "REPORT", book, "ada", secret).body(SYNC.replace("TOKEN", token)).send().await.unwrap();
    (answer.status(), text(answer).await)
}

#[tokio::test]
async fn a_token_older_than_the_purged_tombstones_answers_valid_sync_token() {
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/contacts/";
    let kept = app.create_contact(&ada, &contact("Ada", "Lovelace", "ada@example.com")).await;
    let gone = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.com")).await;
    let (_, initial) = sync_from(&app, book, &secret, "").await;
    let old = token_of(&initial);
    let deleted = app.request(Method::DELETE, &format!("/api/contacts/{}", gone["id"])).bearer_auth(&ada.token).send();
    assert_eq!(deleted.await.unwrap().status(), StatusCode::NO_CONTENT);
    let (status, since_old) = sync_from(&app, book, &secret, &old).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "the tombstone is still there: {since_old}");
    let recent = token_of(&since_old);

    // The tombstone outlives the retention period (30 days); the maintenance, which every
    // instance runs at start and hourly after, purges it.
    app.db.execute("UPDATE card_changes SET changed_at = now() - interval '31 days'").await;
    let _second = app.second_instance().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let refused = loop {
        let (status, body) = sync_from(&app, book, &secret, &old).await;
        if status != StatusCode::MULTI_STATUS || std::time::Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(refused.0, StatusCode::FORBIDDEN, "{}", refused.1);
    assert!(refused.1.contains("valid-sync-token"), "{}", refused.1);

    // A token that saw the deletion still works; a fresh full sync lists the card that is left.
    let (status, body) = sync_from(&app, book, &secret, &recent).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{body}");
    let (status, full) = sync_from(&app, book, &secret, "").await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(full.contains(&format!("{book}{}.vcf", kept["uid"].as_str().unwrap())), "{full}");
    assert!(!full.contains(gone["uid"].as_str().unwrap()), "{full}");
}

#[tokio::test]
async fn a_token_of_a_deleted_book_is_refused_by_the_book_made_again_under_its_name() {
    let (app, _, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/work/";
    let put = |name: &str, uid: &str| {
        dav(&app, "PUT", &format!("{book}{name}"), "ada", &secret)
            .header("content-type", "text/vcard")
            .body(CARD.replace("dav-uid-1", uid))
            .send()
    };
    let ctag = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/">
<d:prop><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#;

    assert_eq!(dav(&app, "MKCOL", book, "ada", &secret).send().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(put("a.vcf", "a").await.unwrap().status(), StatusCode::CREATED);
    let (_, first) = sync_from(&app, book, &secret, "").await;
    let old = token_of(&first);
    let old_props =
        text(dav(&app, "PROPFIND", book, "ada", &secret).header("depth", "0").body(ctag).send().await.unwrap()).await;

    // The new book reaches the same number of changes the old token recorded, with other cards.
    assert_eq!(dav(&app, "DELETE", book, "ada", &secret).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(dav(&app, "MKCOL", book, "ada", &secret).send().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(put("b.vcf", "b").await.unwrap().status(), StatusCode::CREATED);
    let new_props =
        text(dav(&app, "PROPFIND", book, "ada", &secret).header("depth", "0").body(ctag).send().await.unwrap()).await;
    assert_ne!(old_props, new_props, "getctag and sync-token differ from the old book's");

    let (status, body) = sync_from(&app, book, &secret, &old).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("valid-sync-token"), "{body}");
    let (status, full) = sync_from(&app, book, &secret, "").await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(full.contains(&format!("{book}b.vcf")) && !full.contains(&format!("{book}a.vcf")), "{full}");
    let (status, _) = sync_from(&app, book, &secret, &token_of(&full)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
}

#[tokio::test]
async fn a_card_is_served_in_the_version_asked_for_and_a_big_one_as_stored() {
    let (app, _, secret) = app_with_dav_user("ada").await;
    let put = |href: &'static str, body: String| {
        dav(&app, "PUT", href, "ada", &secret).header("content-type", "text/vcard").body(body).send()
    };
    let get = |href: &'static str, accept: &'static str| {
        dav(&app, "GET", href, "ada", &secret).header("accept", accept).send()
    };
    let etag = |r: &Response| r.headers()["etag"].to_str().unwrap().to_owned();

    let href = "/dav/addressbooks/ada/contacts/grace.vcf";
    let stored = put(href, CARD.to_owned()).await.unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
    let stored_tag = etag(&stored);
    let as_stored = get(href, "text/vcard").await.unwrap();
    assert_eq!(etag(&as_stored), stored_tag);
    assert_eq!(text(as_stored).await, CARD);
    // DAVx5 asks for one card this way and keeps the tag of the answer for its next edit.
    let v4 = get(href, "text/vcard;version=4.0, text/vcard;charset=utf-8;q=0.8, text/vcard;q=0.5").await.unwrap();
    assert_eq!(v4.status(), StatusCode::OK);
    assert_eq!(etag(&v4), stored_tag, "the card's one tag, whatever version was asked for");
    let vary = v4.headers()["vary"].to_str().unwrap();
    assert!(vary.split(',').any(|v| v.trim() == "Accept"), "{vary}");
    let v4_tag = etag(&v4);
    let v4 = text(v4).await;
    assert!(v4.contains("VERSION:4.0") && v4.contains("FN:Grace Hopper"), "{v4}");
    let head =
        dav(&app, "HEAD", href, "ada", &secret).header("accept", "text/vcard; version=4.0").send().await.unwrap();
    assert_eq!(head.headers()["content-length"].to_str().unwrap(), v4.len().to_string(), "HEAD says GET's length");
    let edited = dav(&app, "PUT", href, "ada", &secret)
        .header("content-type", "text/vcard")
        .header("if-match", v4_tag)
        .body(CARD.replace("Grace Hopper", "Grace B. Hopper"))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), StatusCode::NO_CONTENT, "an edit with the tag of a 4.0 GET is the card's");

    // A card of 300 KB (hashed off the executor) comes back byte for byte with its tag.
    let big_href = "/dav/addressbooks/ada/contacts/big.vcf";
    let note: String = (0..4000).map(|i| format!("line {i} of a long note\\n")).collect();
    let big = CARD.replace("dav-uid-1", "dav-uid-big").replace("END:VCARD", &format!("NOTE:{note}\r\nEND:VCARD"));
    assert!(big.len() > 100_000);
    let stored = put(big_href, big.clone()).await.unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
    let big_tag = etag(&stored);
    let fetched = get(big_href, "text/vcard").await.unwrap();
    assert_eq!(etag(&fetched), big_tag);
    assert_eq!(text(fetched).await, big);
}

/// A control character cannot be written in XML: a card holding one would make every
/// multistatus it is part of unreadable, so no door lets it in, and a display name cannot name
/// one through a character reference either.
#[tokio::test]
async fn no_door_lets_in_a_character_xml_cannot_carry() {
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let card = |uid: &str, note: &str| {
        format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Ada Lovelace\r\n{note}\r\nEND:VCARD\r\n")
    };
    let file = [
        card("raw", "NOTE:a\u{b}b"),
        card("decoded", "NOTE;ENCODING=QUOTED-PRINTABLE:x=1By"),
        card("fine", "NOTE:tab\tand\\nline"),
    ]
    .concat();
    let imported = app.import(&ada, "text/vcard", file).await;
    let report = expect(imported, StatusCode::OK).await;
    assert_eq!(report["created"], 1, "{report}");
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.iter().map(|f| f["index"].as_i64().unwrap()).collect::<Vec<_>>(), [0, 1], "{report}");
    assert!(failed.iter().all(|f| f["detail"].as_str().unwrap().contains("control characters")), "{report}");
    let put = dav(&app, "PUT", "/dav/addressbooks/ada/contacts/raw.vcf", "ada", &secret)
        .header("content-type", "text/vcard")
        .body(card("raw", "NOTE:a\u{1b}b"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::BAD_REQUEST);
    assert!(text(put).await.contains("valid-address-data"));

    let with_cards =
        SYNC.replace("<d:getetag/>", r#"<d:getetag/><c:address-data xmlns:c="urn:ietf:params:xml:ns:carddav"/>"#);
    for version in ["", r#" version="4.0""#] {
        let report = with_cards.replace("<c:address-data ", &format!("<c:address-data{version} ")).replace("TOKEN", "");
        let sync = dav(&app, "REPORT", "/dav/addressbooks/ada/contacts/", "ada", &secret).body(report).send().await;
        let sync = sync.unwrap();
        assert_eq!(sync.status(), StatusCode::MULTI_STATUS);
        let body = text(sync).await;
        assert!(body.contains("tab\tand") && !body.contains('\u{b}') && !body.contains('\u{1b}'), "{body}");
    }

    let rename = r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>bad &#x1b; name</d:displayname></d:prop></d:set></d:propertyupdate>"#;
    let refused = dav(&app, "PROPPATCH", "/dav/addressbooks/ada/contacts/", "ada", &secret)
        .header("content-type", "application/xml")
        .body(rename)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let home = dav(&app, "PROPFIND", "/dav/addressbooks/ada/", "ada", &secret).header("depth", "1").send().await;
    assert!(!text(home.unwrap()).await.contains('\u{1b}'));
}

/// A sync from a token finds its book in the statement that reads the changes: a book that is
/// gone is a `404` whatever the token says, and a token past any number a book can reach is a
/// `403` `DAV:valid-sync-token` on a book that is there.
#[tokio::test]
async fn a_sync_from_a_token_on_a_book_that_is_gone_is_404() {
    let (app, _, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/work/";
    assert_eq!(dav(&app, "MKCOL", book, "ada", &secret).send().await.unwrap().status(), StatusCode::CREATED);
    let (_, first) = sync_from(&app, book, &secret, "").await;
    let token = token_of(&first);
    // The same book, at a change number no book reaches (past the largest a database keeps).
    let (prefix, _) = token.rsplit_once('-').expect("a book-number token");
    let too_far = format!("{prefix}-18000000000000000000");

    let (status, body) = sync_from(&app, book, &secret, &too_far).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("valid-sync-token"), "{body}");

    assert_eq!(dav(&app, "DELETE", book, "ada", &secret).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    for token in [token.as_str(), too_far.as_str(), "garbage"] {
        let (status, body) = sync_from(&app, book, &secret, token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{token}: {body}");
    }
}

#[tokio::test]
async fn an_initial_sync_with_a_limit_comes_in_pages_that_add_up_to_the_book() {
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/contacts/";
    let mut uids = Vec::new();
    for i in 0..5 {
        let made = app.create_contact(&ada, &contact("Ada", &format!("Number{i}"), &format!("a{i}@example.com"))).await;
        uids.push(made["uid"].as_str().unwrap().to_owned());
    }
    let gone = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.com")).await;
    let deleted = app.request(Method::DELETE, &format!("/api/contacts/{}", gone["id"])).bearer_auth(&ada.token).send();
    assert_eq!(deleted.await.unwrap().status(), StatusCode::NO_CONTENT);
    let (_, before) = sync_from(&app, book, &secret, "").await;
    // The tombstone is purged, as the maintenance does after 30 days: older tokens go invalid,
    // but a first sync from now on, in pages, has missed no deletion.
    app.db.execute("DELETE FROM card_changes WHERE deleted").await;
    app.db.execute("UPDATE address_books SET sync_floor = sync_seq").await;
    let now = token_of(&before);
    let (position, seq) = now.rsplit_once('-').unwrap();
    let older = format!("{position}-{}", seq.parse::<u64>().unwrap() - 1);
    let (status, _) = sync_from(&app, book, &secret, &older).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a token from before the purge");
    let limited_to = |token: &str, most: u32| {
        let body = SYNC.replace("TOKEN", token).replace(
            "<d:sync-level>1</d:sync-level>",
            &format!("<d:sync-level>1</d:sync-level><d:limit><d:nresults>{most}</d:nresults></d:limit>"),
        );
        dav(&app, "REPORT", book, "ada", &secret).body(body).send()
    };
    let limited = |token: &str| limited_to(token, 2);

    // A limit past the book's size: the whole book at once, its deletion left out.
    let whole = text(limited_to("", 10).await.unwrap()).await;
    assert_eq!(whole.matches(".vcf<").count(), 5, "{whole}");
    assert!(!whole.contains("HTTP/1.1 404") && !whole.contains("HTTP/1.1 507"), "{whole}");

    let mut token = String::new();
    let mut seen = Vec::new();
    for page in 0.. {
        assert!(page < 5, "the pages end");
        let answer = limited(&token).await.unwrap();
        assert_eq!(answer.status(), StatusCode::MULTI_STATUS);
        let body = text(answer).await;
        let cards = body.matches(".vcf<").count();
        assert!(cards <= 2, "at most the limit: {body}");
        // The first answer lists no deletion; the next ones are syncs from a token, and may
        // list the deleted card (a client ignores a deletion of a card it never had).
        assert!(page > 0 || !body.contains("HTTP/1.1 404"), "an initial sync lists no deletion: {body}");
        seen.extend(uids.iter().filter(|uid| body.contains(uid.as_str())).cloned());
        token = token_of(&body);
        if !body.contains("HTTP/1.1 507") {
            break;
        }
    }
    seen.sort();
    uids.sort();
    assert_eq!(seen, uids, "every card once");
    let (status, after) = sync_from(&app, book, &secret, &token).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(!after.contains(".vcf"), "the last page's token is the book's: {after}");
}

#[tokio::test]
async fn a_card_put_without_a_uid_is_stored_with_one_and_no_etag() {
    // API.md: a card arriving through CardDAV is accepted with any parts missing; changed on
    // the way in (a UID added), it is answered without an ETag, so the client reads it back.
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let path = "/dav/addressbooks/ada/contacts/no-uid.vcf";
    let without = CARD.replace("UID:dav-uid-1\r\n", "");
    let put = dav(&app, "PUT", path, "ada", &secret).header("content-type", "text/vcard").body(without);
    let stored = put.send().await.unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
    assert!(stored.headers().get("etag").is_none(), "not stored byte for byte");
    let read = text(dav(&app, "GET", path, "ada", &secret).send().await.unwrap()).await;
    let uid = read.lines().find_map(|l| l.strip_prefix("UID:")).expect("a UID was given").to_owned();
    let listed = expect(app.get("/api/contacts/", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(listed[0]["uid"], uid.as_str());
    // With its UID a card is stored as sent, and its ETag comes with the answer.
    let path = "/dav/addressbooks/ada/contacts/with-uid.vcf";
    let put = dav(&app, "PUT", path, "ada", &secret).header("content-type", "text/vcard").body(CARD);
    let stored = put.send().await.unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
    let etag = stored.headers()["etag"].to_str().unwrap().to_owned();
    let read = dav(&app, "GET", path, "ada", &secret).send().await.unwrap();
    assert_eq!(read.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(text(read).await, CARD);
}

#[tokio::test]
async fn a_put_keeps_the_uid_of_the_card_under_its_name() {
    // RFC 6352 6.3.2.1: no overwriting a card with one of another UID; REST's `uid` is stable.
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let made = app.create_contact(&ada, &contact("Ada", "Lovelace", "ada@example.com")).await;
    let uid = made["uid"].as_str().unwrap();
    let href = format!("/dav/addressbooks/ada/contacts/{uid}.vcf");
    let rest = format!("/api/contacts/{}", made["id"]);
    let put = |body: String| dav(&app, "PUT", &href, "ada", &secret).header("content-type", "text/vcard").body(body);

    let other = put(CARD.to_owned()).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::CONFLICT);
    let other = text(other).await;
    assert!(other.contains("no-uid-conflict") && other.contains(&format!("<D:href>{href}</D:href>")), "{other}");
    assert_eq!(expect(app.get(&rest, Some(&ada.token)).await, StatusCode::OK).await, made, "nothing changed");

    // Sent without a UID, the card takes the one it has: the same contact, changed.
    let without = put(CARD.replace("UID:dav-uid-1\r\n", "")).send().await.unwrap();
    assert_eq!(without.status(), StatusCode::NO_CONTENT);
    assert!(without.headers().get("etag").is_none(), "not stored byte for byte");
    let changed = expect(app.get(&rest, Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!((changed["uid"].as_str(), changed["first_name"].as_str()), (Some(uid), Some("Grace")));
    let read = text(dav(&app, "GET", &href, "ada", &secret).send().await.unwrap()).await;
    assert_eq!(read.matches("UID:").count(), 1, "{read}");
    assert!(read.contains(&format!("UID:{uid}\r\n")), "{read}");
}

#[tokio::test]
async fn a_moved_card_is_the_same_contact_and_a_copied_one_a_new_contact() {
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/contacts/";
    let made = app.create_contact(&ada, &contact("Ada", "Lovelace", "ada@example.com")).await;
    let href = format!("{book}{}.vcf", made["uid"].as_str().unwrap());
    let token = token_of(
        &text(dav(&app, "REPORT", book, "ada", &secret).body(SYNC.replace("TOKEN", "")).send().await.unwrap()).await,
    );
    let moved = dav(&app, "MOVE", &href, "ada", &secret).header("destination", format!("{book}ada.vcf"));
    assert_eq!(moved.send().await.unwrap().status(), StatusCode::CREATED);
    let rest = expect(app.get(&format!("/api/contacts/{}", made["id"]), Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!((&rest["uid"], &rest["first_name"]), (&made["uid"], &made["first_name"]), "the same contact");
    let sync =
        text(dav(&app, "REPORT", book, "ada", &secret).body(SYNC.replace("TOKEN", &token)).send().await.unwrap()).await;
    let gone = &sync[sync.find(&href).expect("the old name is listed")..];
    assert!(gone[..gone.find("</D:response>").unwrap()].contains("404"), "{sync}");
    assert!(sync.contains(&format!("{book}ada.vcf")), "{sync}");

    let work = dav(&app, "MKCOL", "/dav/addressbooks/ada/work/", "ada", &secret).send().await.unwrap();
    assert_eq!(work.status(), StatusCode::CREATED);
    let copied = dav(&app, "COPY", &format!("{book}ada.vcf"), "ada", &secret)
        .header("destination", "/dav/addressbooks/ada/work/ada.vcf");
    assert_eq!(copied.send().await.unwrap().status(), StatusCode::CREATED);
    let listed = expect(app.get("/api/contacts/", Some(&ada.token)).await, StatusCode::OK).await;
    let uids: Vec<&str> = listed.as_array().unwrap().iter().map(|c| c["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, [made["uid"].as_str().unwrap(); 2], "one contact in each book");
    // Moving it under another name into the book that has its UID: 409 naming that card.
    let clash = dav(&app, "MOVE", &format!("{book}ada.vcf"), "ada", &secret)
        .header("destination", "/dav/addressbooks/ada/work/other.vcf")
        .send()
        .await
        .unwrap();
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    let clash = text(clash).await;
    assert!(clash.contains("<D:href>/dav/addressbooks/ada/work/ada.vcf</D:href>"), "{clash}");
    let still = dav(&app, "GET", &format!("{book}ada.vcf"), "ada", &secret).send().await.unwrap();
    assert_eq!(still.status(), StatusCode::OK, "nothing moved");
}

#[tokio::test]
async fn a_sync_after_a_big_import_lists_every_card_of_it() {
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/contacts/";
    let (_, initial) = sync_from(&app, book, &secret, "").await;
    // More changes than one page of the log: read and written a page at a time.
    let cards: String = (0..1200)
        .map(|i| format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:big-{i}\r\nFN:Card {i}\r\nEND:VCARD\r\n"))
        .collect();
    let imported = app.import(&ada, "text/vcard", cards).await;
    assert_eq!(expect(imported, StatusCode::OK).await["created"], 1200);

    let (status, changes) = sync_from(&app, book, &secret, &token_of(&initial)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(!changes.contains("HTTP/1.1 507"), "no limit was asked for");
    for i in 0..1200 {
        assert!(changes.contains(&format!("{book}big-{i}.vcf<")), "big-{i} is listed");
    }
    // The same answer to a client that takes gzip, as phones' HTTP stacks do: compressed.
    let compressed = dav(&app, "REPORT", book, "ada", &secret)
        .header("Accept-Encoding", "gzip")
        .body(SYNC.replace("TOKEN", &token_of(&initial)))
        .send()
        .await
        .unwrap();
    assert_eq!(compressed.status(), StatusCode::MULTI_STATUS);
    assert_eq!(compressed.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    let bytes = compressed.bytes().await.unwrap();
    let mut inflated = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut inflated).unwrap();
    assert_eq!(inflated, changes, "the same answer");
    assert!(bytes.len() * 4 < changes.len(), "{} bytes of {}", bytes.len(), changes.len());
    let (_, nothing) = sync_from(&app, book, &secret, &token_of(&changes)).await;
    assert!(!nothing.contains(".vcf<"), "the token given is the book's: {nothing}");
}

#[tokio::test]
async fn names_and_uids_longer_than_the_store_keeps_are_refused_not_a_500() {
    // "Never a 500 for bad input": PostgreSQL refuses an index entry past about 2.7 KB, so a card
    // name, a UID or a property name that long must be turned away before it reaches a table.
    use contacts_domain::addressbook::{MAX_CARD_NAME_BYTES, MAX_CLIENT_PROPERTY_NAME_BYTES};
    use contacts_domain::contact::vcard::MAX_UID_BYTES;
    let (app, ada, secret) = app_with_dav_user("ada").await;
    let book = "/dav/addressbooks/ada/contacts/";
    let put = |name: &str, body: String| {
        dav(&app, "PUT", &format!("{book}{name}"), "ada", &secret).header("content-type", "text/vcard").body(body)
    };
    // Multi-byte characters: the bounds are in bytes, as the index's is.
    let long_name = "ü".repeat(MAX_CARD_NAME_BYTES / 2 + 1);
    assert_eq!(put(&long_name, CARD.to_owned()).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let at_bound = "ü".repeat(MAX_CARD_NAME_BYTES / 2);
    assert_eq!(put(&at_bound, CARD.to_owned()).send().await.unwrap().status(), StatusCode::CREATED);
    for method in ["MOVE", "COPY"] {
        let to = dav(&app, method, &format!("{book}{at_bound}"), "ada", &secret)
            .header("destination", format!("/dav/addressbooks/ada/contacts/x{}", long_name.replace('ü', "%C3%BC")));
        assert_eq!(to.send().await.unwrap().status(), StatusCode::FORBIDDEN, "{method}");
    }

    let long_uid = "u".repeat(MAX_UID_BYTES + 1);
    let card = CARD.replace("dav-uid-1", &long_uid);
    let refused = put("long-uid.vcf", card.clone()).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(text(refused).await.contains("valid-address-data"));
    let report = expect(app.import(&ada, "text/vcard", card).await, StatusCode::OK).await;
    assert_eq!(report["created"], 0);
    let detail = report["failed"][0]["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("longer than {MAX_UID_BYTES} bytes")), "{report}");
    let at_bound = CARD.replace("dav-uid-1", &"u".repeat(MAX_UID_BYTES));
    assert_eq!(put("uid-at-bound.vcf", at_bound).send().await.unwrap().status(), StatusCode::CREATED);

    let long_property = "p".repeat(MAX_CLIENT_PROPERTY_NAME_BYTES + 1);
    let patch = format!(
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:{long_property} xmlns:x="urn:x">v</x:{long_property}></D:prop></D:set></D:propertyupdate>"#
    );
    let answer = dav(&app, "PROPPATCH", book, "ada", &secret).body(patch).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::MULTI_STATUS);
    assert!(text(answer).await.contains("507"));
    let at_bound = "p".repeat(MAX_CLIENT_PROPERTY_NAME_BYTES);
    let namespace = format!("urn:{}", "n".repeat(MAX_CLIENT_PROPERTY_NAME_BYTES - 4));
    let patch = format!(
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:{at_bound} xmlns:x="{namespace}">v</x:{at_bound}></D:prop></D:set></D:propertyupdate>"#
    );
    let answer = dav(&app, "PROPPATCH", book, "ada", &secret).body(patch).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::MULTI_STATUS);
    let answer = text(answer).await;
    assert!(answer.contains("200 OK") && !answer.contains("507"), "kept at both bounds: {answer}");
}
