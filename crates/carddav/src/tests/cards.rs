//! Cards: PUT, GET/HEAD, DELETE and their preconditions.

use super::*;

const CARD: &str = "/dav/addressbooks/ada/contacts/Ada%20L%C3%BC.vcf";

fn put(path: &str, body: impl Into<String>) -> test::TestRequest {
    request("PUT", path).insert_header(("Content-Type", "text/vcard; charset=utf-8")).set_payload(body.into())
}

#[actix_web::test]
async fn put_creates_then_replaces_and_get_reads_back_byte_for_byte() {
    let backend = backend();
    let app = service(backend.clone()).await;
    let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada-1\r\nFN:Ada Lü\r\n\
        item1.EMAIL;type=INTERNET;type=pref:ada@example.org\r\nEND:VCARD\r\n";
    let created = send(&app, put(CARD, text).insert_header(("If-None-Match", "*"))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let etag = created.header("etag").expect("stored as sent: an ETag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let ada = crate::DavUser { id: contacts_domain::user::UserId(1), username: "ada".into() };
    assert_eq!(backend.stored(&ada, "contacts", "Ada Lü.vcf").as_deref(), Some(text));

    let got = send(&app, request("GET", CARD)).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-type"), Some("text/vcard; charset=utf-8"));
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert_eq!(got.text(), text);

    // RFC 6352 5.1.1.1: an Accept that takes no vCard cannot be served.
    let accept = |value: &'static str| request("GET", CARD).insert_header(("Accept", value));
    let refused = send(&app, accept("application/octet-stream")).await;
    assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(refused.condition(), Name::carddav("supported-address-data-conversion"));
    assert_eq!(send(&app, accept("text/vcard;q=0, application/json")).await.status, StatusCode::NOT_ACCEPTABLE);
    for taken in ["*/*", "text/*;q=0.5", "text/x-vcard", "text/html, */*;q=0.8", "text/vcard; version=4.0"] {
        assert_eq!(send(&app, accept(taken)).await.status, StatusCode::OK, "{taken}");
    }

    let head = send(&app, request("HEAD", CARD)).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert_eq!(head.header("content-type"), Some("text/vcard; charset=utf-8"));
    // The body is GET's: actix-web's HTTP/1 layer sends its length and leaves it out (the API
    // test `a_card_is_served_in_the_version_asked_for_and_a_big_one_as_stored` checks the wire).
    assert_eq!(head.text(), text);

    // allprop names the length GET sends (RFC 4918 requires it then) and the card's last change.
    let props = send(&app, request("PROPFIND", CARD).insert_header(("Depth", "0"))).await;
    let props = &props.responses()[0];
    assert_eq!(props.ok(&Name::dav("getcontentlength")).text, text.len().to_string());
    let modified = &props.ok(&Name::dav("getlastmodified")).text;
    assert!(modified.parse::<actix_web::http::header::HttpDate>().is_ok(), "an HTTP date: {modified}");

    let not_modified = send(&app, request("GET", CARD).insert_header(("If-None-Match", etag.as_str()))).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.header("vary"), Some("Accept"), "as the 200 it stands for");

    // Dates (RFC 9110 13.1.3, 13.1.4): `Last-Modified`, judged to the second.
    let modified = got.header("last-modified").expect("a Last-Modified").to_owned();
    assert!(modified.parse::<actix_web::http::header::HttpDate>().is_ok(), "{modified}");
    let since = |date: &str| request("GET", CARD).insert_header(("If-Modified-Since", date.to_owned()));
    assert_eq!(send(&app, since(&modified)).await.status, StatusCode::NOT_MODIFIED);
    let long_ago = "Thu, 01 Jan 1970 00:00:00 GMT";
    assert_eq!(send(&app, since(long_ago)).await.status, StatusCode::OK);
    assert_eq!(send(&app, since("yesterday")).await.status, StatusCode::OK, "not a date: ignored");
    let wrong_day = since("Mon, 01 Jan 2100 00:00:00 GMT"); // a Friday
    assert_eq!(send(&app, wrong_day).await.status, StatusCode::NOT_MODIFIED, "the date, whatever the day says");
    let tag_wins = since(&modified).insert_header(("If-None-Match", "\"other\""));
    assert_eq!(send(&app, tag_wins).await.status, StatusCode::OK, "If-None-Match decides when sent");
    // A GET's own preconditions (RFC 9110 13.1.1, 13.1.4): `412` when the card has changed.
    let changed = request("GET", CARD).insert_header(("If-Match", "\"other\""));
    assert_eq!(send(&app, changed).await.status, StatusCode::PRECONDITION_FAILED);
    let same = request("GET", CARD).insert_header(("If-Match", etag.as_str()));
    assert_eq!(send(&app, same).await.status, StatusCode::OK);
    let changed_since = request("GET", CARD).insert_header(("If-Unmodified-Since", long_ago));
    assert_eq!(send(&app, changed_since).await.status, StatusCode::PRECONDITION_FAILED);
    let stale = put(CARD, text).insert_header(("If-Unmodified-Since", long_ago));
    assert_eq!(send(&app, stale).await.status, StatusCode::PRECONDITION_FAILED);
    let stale = request("DELETE", CARD).insert_header(("If-Unmodified-Since", long_ago));
    assert_eq!(send(&app, stale).await.status, StatusCode::PRECONDITION_FAILED);

    let replaced =
        send(&app, put(CARD, text.replace("Ada Lü", "Ada Lovelace")).insert_header(("If-Match", etag.as_str()))).await;
    assert_eq!(replaced.status, StatusCode::NO_CONTENT);
    let new_etag = replaced.header("etag").unwrap();
    assert_ne!(new_etag, etag);

    // The old ETag no longer matches: 412, nothing written.
    let stale = send(&app, put(CARD, text).insert_header(("If-Match", etag.as_str()))).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(backend.stored(&ada, "contacts", "Ada Lü.vcf").unwrap().contains("Ada Lovelace"));
    // If-None-Match: * refuses an existing name.
    let exists = send(&app, put(CARD, text).insert_header(("If-None-Match", "*"))).await;
    assert_eq!(exists.status, StatusCode::PRECONDITION_FAILED);
    // If-Match on a card that does not exist.
    let absent = send(
        &app,
        put("/dav/addressbooks/ada/contacts/new.vcf", vcard("n", "N")).insert_header(("If-Match", "\"e1\"")),
    )
    .await;
    assert_eq!(absent.status, StatusCode::PRECONDITION_FAILED);
}

#[actix_web::test]
async fn a_card_changed_on_the_way_in_gets_no_etag() {
    let app = service(backend()).await;
    let without_uid = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:No Uid\r\nEND:VCARD\r\n";
    let answer = send(&app, put("/dav/addressbooks/ada/contacts/n.vcf", without_uid)).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.header("etag"), None);
}

#[actix_web::test]
async fn get_converts_to_the_version_accept_asks_for() {
    let app = service(backend()).await;
    send(&app, put(CARD, vcard("ada-1", "Ada"))).await;
    let stored = send(&app, request("GET", CARD)).await;
    let as_four = send(&app, request("GET", CARD).insert_header(("Accept", "text/vcard; version=4.0"))).await;
    assert_eq!(as_four.status, StatusCode::OK);
    assert!(as_four.text().contains("VERSION:4.0"));
    let four_etag = as_four.header("etag").unwrap();
    assert_eq!(Some(four_etag), stored.header("etag"), "the card's one tag, which If-Match takes");
    assert_eq!(as_four.header("vary"), Some("Accept"));
    let as_three = send(&app, request("GET", CARD).insert_header(("Accept", "text/vcard; version=3.0"))).await;
    assert_eq!(as_three.text(), stored.text());
}

#[actix_web::test]
async fn uid_conflicts_bad_cards_and_size_limits() {
    let app = service(backend()).await;
    assert_eq!(
        send(&app, put("/dav/addressbooks/ada/contacts/a.vcf", vcard("same", "A"))).await.status,
        StatusCode::CREATED
    );
    let conflict = send(&app, put("/dav/addressbooks/ada/contacts/b.vcf", vcard("same", "B"))).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    let root = conflict.xml();
    let condition = root.child(&Name::carddav("no-uid-conflict")).expect("no-uid-conflict");
    assert_eq!(condition.child(&Name::dav("href")).unwrap().text, "/dav/addressbooks/ada/contacts/a.vcf");
    // Nor may a card be overwritten with one of another UID (RFC 6352 6.3.2.1).
    let changed = send(&app, put("/dav/addressbooks/ada/contacts/a.vcf", vcard("other", "A"))).await;
    assert_eq!(changed.status, StatusCode::CONFLICT);
    let root = changed.xml();
    let condition = root.child(&Name::carddav("no-uid-conflict")).expect("no-uid-conflict");
    assert_eq!(condition.child(&Name::dav("href")).unwrap().text, "/dav/addressbooks/ada/contacts/a.vcf");
    // The same UID in another book is fine.
    send(&app, request("MKCOL", "/dav/addressbooks/ada/work/")).await;
    assert_eq!(
        send(&app, put("/dav/addressbooks/ada/work/b.vcf", vcard("same", "B"))).await.status,
        StatusCode::CREATED
    );

    let not_vcard = send(&app, put("/dav/addressbooks/ada/contacts/x.vcf", "hello")).await;
    assert_eq!(not_vcard.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_vcard.condition(), Name::carddav("valid-address-data"));

    let wrong_type = send(
        &app,
        request("PUT", "/dav/addressbooks/ada/contacts/x.vcf")
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{}"),
    )
    .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(wrong_type.condition(), Name::carddav("supported-address-data"));

    let v21 = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Old\r\nEND:VCARD\r\n";
    let old = send(&app, put("/dav/addressbooks/ada/contacts/x.vcf", v21)).await;
    assert_eq!(old.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(old.condition(), Name::carddav("supported-address-data"));

    let mut huge = String::from("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Big\r\nNOTE:");
    huge.push_str(&"x".repeat(1024 * 1024));
    huge.push_str("\r\nEND:VCARD\r\n");
    let too_big = send(&app, put("/dav/addressbooks/ada/contacts/big.vcf", huge)).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_big.condition(), Name::carddav("max-resource-size"));

    // RFC 4918 9.7.1: a PUT into a collection that does not exist is a conflict.
    let no_book = send(&app, put("/dav/addressbooks/ada/missing/x.vcf", vcard("x", "X"))).await;
    assert_eq!(no_book.status, StatusCode::CONFLICT);
}

#[actix_web::test]
async fn a_body_in_a_content_coding_is_refused_unread() {
    let backend = backend();
    let app = service(backend.clone()).await;
    let text = vcard("coded", "Coded");
    let coded = |coding: &'static str| put(CARD, text.clone()).insert_header(("Content-Encoding", coding));
    for coding in ["gzip", "br", "identity, gzip", "GZIP"] {
        let refused = send(&app, coded(coding)).await;
        assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{coding}");
        assert_eq!(refused.header("accept-encoding"), Some("identity"), "{coding}");
    }
    let ada = crate::DavUser { id: contacts_domain::user::UserId(1), username: "ada".into() };
    assert_eq!(backend.stored(&ada, "contacts", "Ada Lü.vcf"), None, "nothing stored");
    let propfind = request("PROPFIND", "/dav/addressbooks/ada/contacts/").insert_header(("Content-Encoding", "gzip"));
    assert_eq!(send(&app, propfind).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // `identity` is no coding at all.
    assert_eq!(send(&app, coded("identity")).await.status, StatusCode::CREATED);
    assert_eq!(backend.stored(&ada, "contacts", "Ada Lü.vcf").as_deref(), Some(text.as_str()));
}

#[actix_web::test]
async fn delete_honours_if_match() {
    let app = service(backend()).await;
    let created = send(&app, put(CARD, vcard("d", "D"))).await;
    let etag = created.header("etag").unwrap().to_owned();
    let stale = send(&app, request("DELETE", CARD).insert_header(("If-Match", "\"other\""))).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let deleted = send(&app, request("DELETE", CARD).insert_header(("If-Match", etag.as_str()))).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, request("GET", CARD)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, request("DELETE", CARD)).await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn propfind_depth_one_lists_cards_with_etags_and_streams_pages() {
    let backend = backend();
    let ada = crate::DavUser { id: contacts_domain::user::UserId(1), username: "ada".into() };
    for i in 0..1203 {
        backend.insert(&ada, "contacts", &format!("card {i:04}.vcf"), &vcard(&format!("u{i}"), "X"));
    }
    let app = service(backend.clone()).await;
    let before = backend.list_calls();
    let answer = send(
        &app,
        request("PROPFIND", "/dav/addressbooks/ada/contacts/")
            .insert_header(("Depth", "1"))
            .set_payload(PROPFIND_ETAGS),
    )
    .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    let responses = answer.responses();
    assert_eq!(responses.len(), 1204);
    assert_eq!(backend.list_calls() - before, 3, "read in pages of 500");
    let first = &responses[1];
    assert_eq!(first.href, "/dav/addressbooks/ada/contacts/card%200000.vcf");
    assert!(first.ok(&Name::dav("getetag")).text.starts_with('"'));
    assert_eq!(first.ok(&Name::dav("getcontenttype")).text, "text/vcard; charset=utf-8");
    assert!(first.ok(&Name::dav("resourcetype")).children.is_empty());
    // A card on its own.
    let one =
        send(&app, request("PROPFIND", "/dav/addressbooks/ada/contacts/card%200001.vcf").set_payload(PROPFIND_ETAGS))
            .await;
    assert_eq!(one.responses().len(), 1);
    assert_eq!(one.responses()[0].href, "/dav/addressbooks/ada/contacts/card%200001.vcf");
}

#[actix_web::test]
async fn a_listing_is_read_page_by_page_as_the_body_is_sent() {
    use actix_web::body::MessageBody;
    let backend = backend();
    let ada = crate::DavUser { id: contacts_domain::user::UserId(1), username: "ada".into() };
    for i in 0..1500 {
        backend.insert(&ada, "contacts", &format!("{i:05}.vcf"), &vcard(&format!("u{i}"), "X"));
    }
    let app = service(backend.clone()).await;
    let req = request("PROPFIND", "/dav/addressbooks/ada/contacts/")
        .insert_header(("Depth", "1"))
        .set_payload(PROPFIND_ETAGS);
    let start = backend.list_calls();
    let response = test::call_service(&app, req.to_request()).await;
    assert_eq!(response.status(), StatusCode::MULTI_STATUS);
    // The first page is read before the answer starts: the bytes read ahead decide whether it
    // goes whole or streamed (`multistatus::send`).
    assert_eq!(backend.list_calls(), start + 1, "only the first page read ahead");
    let mut body = std::pin::pin!(response.into_body());
    let mut next = async || {
        let chunk = futures_util::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await;
        chunk.expect("a chunk").ok().expect("not an error")
    };
    let head = next().await;
    assert!(String::from_utf8_lossy(&head).contains("/dav/addressbooks/ada/contacts/</D:href>"));
    let first_page = next().await;
    assert_eq!(backend.list_calls(), start + 1, "the page read ahead is sent before another is read");
    assert_eq!(String::from_utf8_lossy(&first_page).matches("<D:response>").count(), 500);
    next().await;
    assert_eq!(backend.list_calls(), start + 2, "one page in memory at a time");
}

#[actix_web::test]
async fn move_renames_or_refiles_a_card_and_copy_puts_its_text_elsewhere() {
    let backend = backend();
    let ada = crate::DavUser { id: contacts_domain::user::UserId(1), username: "ada".into() };
    backend.insert(&ada, "contacts", "a.vcf", &vcard("a", "Ada"));
    backend.insert(&ada, "contacts", "b.vcf", &vcard("b", "Bea"));
    let app = service(backend.clone()).await;
    send(&app, request("MKCOL", "/dav/addressbooks/ada/work/")).await;
    let to = |method: &str, from: &str, to: &str| {
        request(method, &format!("/dav/addressbooks/ada/{from}"))
            .insert_header(("Destination", format!("http://dav.example.org/dav/addressbooks/ada/{to}")))
    };

    // A rename in the book: the same card under its new name, the old one gone.
    assert_eq!(send(&app, to("MOVE", "contacts/a.vcf", "contacts/ada.vcf")).await.status, StatusCode::CREATED);
    assert_eq!(backend.stored(&ada, "contacts", "ada.vcf").as_deref(), Some(vcard("a", "Ada").as_str()));
    assert_eq!(backend.stored(&ada, "contacts", "a.vcf"), None);
    // Overwrite: F keeps a taken name; a card of another UID is never overwritten.
    let kept = to("MOVE", "contacts/ada.vcf", "contacts/b.vcf").insert_header(("Overwrite", "F"));
    assert_eq!(send(&app, kept).await.status, StatusCode::PRECONDITION_FAILED);
    let other_uid = send(&app, to("MOVE", "contacts/ada.vcf", "contacts/b.vcf")).await;
    assert_eq!(other_uid.status, StatusCode::CONFLICT);
    assert_eq!(other_uid.condition(), Name::carddav("no-uid-conflict"));
    assert!(backend.stored(&ada, "contacts", "b.vcf").unwrap().contains("UID:b"), "nothing changed");

    // A copy into the same book would hold the UID twice; into another book it is a new card.
    let twice = send(&app, to("COPY", "contacts/ada.vcf", "contacts/ada-2.vcf")).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.condition(), Name::carddav("no-uid-conflict"));
    assert_eq!(send(&app, to("COPY", "contacts/ada.vcf", "work/ada.vcf")).await.status, StatusCode::CREATED);
    assert!(backend.stored(&ada, "contacts", "ada.vcf").is_some(), "a copy keeps its source");
    // Moving onto that copy (same UID) with Overwrite replaces it: 204.
    assert_eq!(send(&app, to("MOVE", "contacts/ada.vcf", "work/ada.vcf")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(backend.stored(&ada, "contacts", "ada.vcf"), None);

    // Refusals: no Destination, onto itself, a book as destination, a book that does not exist.
    assert_eq!(
        send(&app, request("MOVE", "/dav/addressbooks/ada/contacts/b.vcf")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(send(&app, to("COPY", "contacts/b.vcf", "contacts/b.vcf")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, to("COPY", "contacts/b.vcf", "work/")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, to("MOVE", "contacts/b.vcf", "nope/b.vcf")).await.status, StatusCode::CONFLICT);
    assert_eq!(send(&app, to("MOVE", "contacts/gone.vcf", "work/gone.vcf")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, to("MOVE", "contacts/", "other/")).await.status, StatusCode::METHOD_NOT_ALLOWED);
    let nested = send(&app, to("COPY", "contacts/", "work/contacts/")).await;
    assert_eq!(nested.status, StatusCode::FORBIDDEN, "no book inside a book");
    assert_eq!(nested.condition(), Name::carddav("addressbook-collection-location-ok"));
    let bad = to("COPY", "contacts/b.vcf", "work/b.vcf").insert_header(("Overwrite", "maybe"));
    assert_eq!(send(&app, bad).await.status, StatusCode::BAD_REQUEST);
}
