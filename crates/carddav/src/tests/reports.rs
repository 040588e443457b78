//! REPORTs: addressbook-multiget, addressbook-query, sync-collection.

use super::*;

const BOOK: &str = "/dav/addressbooks/ada/contacts/";

fn ada() -> crate::DavUser {
    crate::DavUser { id: contacts_domain::user::UserId(1), username: "ada".into() }
}

fn sync_body(token: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
        <d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
        <d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>{extra}
        <d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

fn token_of(answer: &Answer) -> String {
    answer.xml().child(&Name::dav("sync-token")).expect("a sync-token").text.clone()
}

#[actix_web::test]
async fn multiget_returns_asked_cards_and_404s_the_rest() {
    let backend = backend();
    backend.insert(&ada(), "contacts", "a.vcf", &vcard("a", "Ada"));
    backend.insert(&ada(), "contacts", "b c.vcf", &vcard("b", "Bea"));
    backend.insert(&ada(), "contacts", "r.vcf", &vcard("r", "Rel"));
    backend.insert(&ada(), "contacts", "d.vcf", &vcard("d", "Dot"));
    let app = service(backend.clone()).await;
    // RFC 4918 8.3: an href may be relative to the request URI, with dot segments.
    let body = r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><D:getetag/><C:address-data content-type="text/vcard" version="4.0"/><D:nope/></D:prop>
        <D:href>r.vcf</D:href>
        <D:href>/dav/addressbooks/ada/contacts/../contacts/./d.vcf</D:href>
        <D:href>/dav/addressbooks/ada/contacts/a.vcf</D:href>
        <D:href>https://dav.example.org/dav/addressbooks/ada/contacts/b%20c.vcf</D:href>
        <D:href>/dav/addressbooks/ada/contacts/missing.vcf</D:href>
        <D:href>/dav/addressbooks/bob/contacts/a.vcf</D:href>
    </C:addressbook-multiget>"#;
    let answer = send(&app, request("REPORT", BOOK).insert_header(("Depth", "1")).set_payload(body)).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    let a = answer.response("/dav/addressbooks/ada/contacts/a.vcf");
    assert!(a.ok(&Name::dav("getetag")).text.starts_with("\"e"));
    let data = &a.ok(&Name::carddav("address-data")).text;
    assert!(data.contains("UID:a") && data.contains("VERSION:4.0"), "{data}");
    assert!(a.status_of(&Name::dav("nope")).unwrap().contains("404"));
    assert!(
        answer
            .response("/dav/addressbooks/ada/contacts/b%20c.vcf")
            .ok(&Name::carddav("address-data"))
            .text
            .contains("UID:b")
    );
    for (href, uid) in
        [("/dav/addressbooks/ada/contacts/r.vcf", "UID:r"), ("/dav/addressbooks/ada/contacts/d.vcf", "UID:d")]
    {
        assert!(answer.response(href).ok(&Name::carddav("address-data")).text.contains(uid), "{href}");
    }
    let missing = answer.response("/dav/addressbooks/ada/contacts/missing.vcf");
    assert!(missing.status.as_deref().unwrap().contains("404"));
    let foreign = answer.response("/dav/addressbooks/bob/contacts/a.vcf");
    assert!(foreign.status.as_deref().unwrap().contains("404"));
}

#[actix_web::test]
async fn multiget_on_a_card_reads_the_cards_it_names() {
    let backend = backend();
    backend.insert(&ada(), "contacts", "a.vcf", &vcard("a", "Ada"));
    let app = service(backend.clone()).await;
    let card = "/dav/addressbooks/ada/contacts/a.vcf";
    let body = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><D:getetag/><C:address-data/></D:prop><D:href>{card}</D:href></C:addressbook-multiget>"#
    );
    // RFC 6352 8.7: the request URI may be the card itself.
    let answer = send(&app, request("REPORT", card).set_payload(body)).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    assert!(answer.response(card).ok(&Name::carddav("address-data")).text.contains("UID:a"));
    // Without hrefs, the card itself.
    let bare = r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><D:getetag/></D:prop></C:addressbook-multiget>"#;
    let answer = send(&app, request("REPORT", card).set_payload(bare)).await;
    assert_eq!(answer.responses().len(), 1);
    assert!(answer.response(card).ok(&Name::dav("getetag")).text.starts_with('"'));
    let on_book = send(&app, request("REPORT", BOOK).set_payload(bare)).await;
    assert!(on_book.responses().is_empty(), "a book is no card");
    // The other reports are of a book only.
    let sync = send(&app, request("REPORT", card).set_payload(sync_body("", ""))).await;
    assert_eq!(sync.status, StatusCode::FORBIDDEN);
    assert_eq!(sync.condition(), Name::dav("supported-report"));
}

#[actix_web::test]
async fn address_data_with_props_sends_only_those_properties() {
    let backend = backend();
    backend.insert(&ada(), "contacts", "a.vcf", &vcard("a", "Ada"));
    let app = service(backend.clone()).await;
    let data = r#"<C:address-data><C:prop name="UID"/><C:prop name="FN"/></C:address-data>"#;
    let multiget = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><D:getetag/>{data}</D:prop><D:href>/dav/addressbooks/ada/contacts/a.vcf</D:href>
        </C:addressbook-multiget>"#
    );
    // A query filters on the whole card (`N`), and sends only what was asked for.
    let query = format!(
        r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop>{data}</D:prop><C:filter><C:prop-filter name="N"/></C:filter></C:addressbook-query>"#
    );
    let sync = |limit| sync_body("", limit).replace("<d:getetag/>", &data.replace("C:", "card:"));
    // A first sync is a listing; a limited one reads the change log.
    let (sync, limited) = (sync(""), sync("<d:limit><d:nresults>5</d:nresults></d:limit>"));
    for body in [multiget, query, sync, limited] {
        let answer = send(&app, request("REPORT", BOOK).set_payload(body)).await;
        assert_eq!(answer.status, StatusCode::MULTI_STATUS);
        let response = answer.response("/dav/addressbooks/ada/contacts/a.vcf");
        let card = &response.ok(&Name::carddav("address-data")).text;
        assert_eq!(card.replace("\r\n", "\n"), "BEGIN:VCARD\nVERSION:3.0\nUID:a\nFN:Ada\nEND:VCARD\n");
    }
}

#[actix_web::test]
async fn query_filters_cards_and_honours_the_limit() {
    let backend = backend();
    backend.insert(&ada(), "contacts", "1.vcf", &vcard("u1", "Ada Lovelace"));
    backend.insert(&ada(), "contacts", "2.vcf", &vcard("u2", "Alan Turing"));
    backend.insert(&ada(), "contacts", "3.vcf", &vcard("u3", "Adele Goldberg"));
    let app = service(backend.clone()).await;
    let query = |filter: &str, limit: &str| {
        format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
            <D:prop><D:getetag/></D:prop><C:filter>{filter}</C:filter>{limit}</C:addressbook-query>"#
        )
    };
    let starts_ad =
        r#"<C:prop-filter name="FN"><C:text-match match-type="starts-with">ad</C:text-match></C:prop-filter>"#;
    let answer = send(&app, request("REPORT", BOOK).set_payload(query(starts_ad, ""))).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    let hrefs: Vec<String> = answer.responses().into_iter().map(|r| r.href).collect();
    assert_eq!(hrefs, vec!["/dav/addressbooks/ada/contacts/1.vcf", "/dav/addressbooks/ada/contacts/3.vcf"]);
    assert!(!answer.text().contains("address-data"), "not asked for");
    let depth = |d| request("REPORT", BOOK).insert_header(("Depth", d)).set_payload(query(starts_ad, ""));
    assert_eq!(send(&app, depth("1")).await.responses().len(), 2);
    // RFC 6352 8.6: at depth 0 the scope is the book itself, which is no card.
    let itself = send(&app, depth("0")).await;
    assert_eq!(itself.status, StatusCode::MULTI_STATUS);
    assert!(itself.responses().is_empty());

    let limited = send(
        &app,
        request("REPORT", BOOK).set_payload(query(starts_ad, "<C:limit><C:nresults>1</C:nresults></C:limit>")),
    )
    .await;
    let responses = limited.responses();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0].href, "/dav/addressbooks/ada/contacts/1.vcf");
    assert_eq!(responses[1].href, BOOK);
    assert!(responses[1].status.as_deref().unwrap().contains("507"));
    // RFC 6352 8.6.1: the cut says why.
    assert!(limited.text().contains("<D:error><D:number-of-matches-within-limits/></D:error>"), "{}", limited.text());

    let uid = r#"<C:prop-filter name="UID"><C:text-match match-type="equals">u2</C:text-match></C:prop-filter>"#;
    let answer = send(&app, request("REPORT", BOOK).set_payload(query(uid, ""))).await;
    assert_eq!(answer.responses().len(), 1);

    let everything = send(&app, request("REPORT", BOOK).set_payload(query("", ""))).await;
    assert_eq!(everything.responses().len(), 3);

    let bad =
        query(r#"<C:prop-filter name="FN"><C:text-match collation="i;nope">x</C:text-match></C:prop-filter>"#, "");
    let refused = send(&app, request("REPORT", BOOK).set_payload(bad)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.condition(), Name::carddav("supported-collation"));
}

#[actix_web::test]
async fn sync_collection_gives_everything_then_exactly_what_changed() {
    let backend = backend();
    backend.insert(&ada(), "contacts", "keep.vcf", &vcard("k", "Keep"));
    backend.insert(&ada(), "contacts", "edit.vcf", &vcard("e", "Edit"));
    backend.insert(&ada(), "contacts", "gone.vcf", &vcard("g", "Gone"));
    let app = service(backend.clone()).await;

    let junk = request("REPORT", BOOK).insert_header(("Depth", "garbage")).set_payload(sync_body("", ""));
    assert_eq!(send(&app, junk).await.status, StatusCode::BAD_REQUEST, "no WebDAV depth");
    let initial = send(&app, request("REPORT", BOOK).set_payload(sync_body("", ""))).await;
    assert_eq!(initial.status, StatusCode::MULTI_STATUS);
    assert_eq!(initial.responses().len(), 3);
    let token = token_of(&initial);

    let nothing = send(&app, request("REPORT", BOOK).set_payload(sync_body(&token, ""))).await;
    assert_eq!(nothing.responses().len(), 0);
    assert_eq!(token_of(&nothing), token);

    // Changes through the DAV door and through another door (the backend directly).
    let edited =
        send(&app, request("PUT", "/dav/addressbooks/ada/contacts/edit.vcf").set_payload(vcard("e", "Edited"))).await;
    assert_eq!(edited.status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, request("DELETE", "/dav/addressbooks/ada/contacts/gone.vcf")).await.status,
        StatusCode::NO_CONTENT
    );
    backend.insert(&ada(), "contacts", "new.vcf", &vcard("n", "New"));

    let changes = send(&app, request("REPORT", BOOK).set_payload(sync_body(&token, ""))).await;
    let responses = changes.responses();
    let hrefs: Vec<&str> = responses.iter().map(|r| r.href.as_str()).collect();
    assert_eq!(
        hrefs,
        vec![
            "/dav/addressbooks/ada/contacts/edit.vcf",
            "/dav/addressbooks/ada/contacts/gone.vcf",
            "/dav/addressbooks/ada/contacts/new.vcf"
        ]
    );
    assert_eq!(responses[0].ok(&Name::dav("getetag")).text, edited.header("etag").unwrap());
    assert!(responses[1].status.as_deref().unwrap().contains("404"), "a deletion is a 404 member");
    let next = token_of(&changes);
    assert_ne!(next, token);

    // getctag and sync-token moved too.
    let props = send(
        &app,
        request("PROPFIND", BOOK).set_payload(
            r#"<propfind xmlns="DAV:" xmlns:cs="http://calendarserver.org/ns/">
            <prop><cs:getctag/><sync-token/></prop></propfind>"#,
        ),
    )
    .await;
    assert_eq!(props.response(BOOK).ok(&Name::dav("sync-token")).text, next);

    // A limit cuts the list and says so; the token given resumes after the last change sent.
    let limited = send(
        &app,
        request("REPORT", BOOK).set_payload(sync_body(&token, "<d:limit><d:nresults>2</d:nresults></d:limit>")),
    )
    .await;
    let responses = limited.responses();
    assert_eq!(responses.len(), 3);
    assert!(responses[2].href == BOOK && responses[2].status.as_deref().unwrap().contains("507"));
    let rest = send(&app, request("REPORT", BOOK).set_payload(sync_body(&token_of(&limited), ""))).await;
    let hrefs: Vec<String> = rest.responses().into_iter().map(|r| r.href).collect();
    assert_eq!(hrefs, vec!["/dav/addressbooks/ada/contacts/new.vcf"]);
}

#[actix_web::test]
async fn sync_collection_sends_address_data_when_asked() {
    let backend = backend();
    backend.insert(&ada(), "contacts", "a.vcf", &vcard("a", "Ada"));
    let app = service(backend.clone()).await;
    let body = r#"<d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:sync-token/>
        <d:sync-level>1</d:sync-level><d:prop><d:getetag/><card:address-data/></d:prop></d:sync-collection>"#;
    let initial = send(&app, request("REPORT", BOOK).set_payload(body)).await;
    let card = initial.response("/dav/addressbooks/ada/contacts/a.vcf");
    assert_eq!(card.ok(&Name::carddav("address-data")).text, vcard("a", "Ada"));
    backend.insert(&ada(), "contacts", "b.vcf", &vcard("b", "Bea"));
    let changes = send(
        &app,
        request("REPORT", BOOK).set_payload(
            body.replace("<d:sync-token/>", &format!("<d:sync-token>{}</d:sync-token>", token_of(&initial))),
        ),
    )
    .await;
    let card = changes.response("/dav/addressbooks/ada/contacts/b.vcf");
    assert_eq!(card.ok(&Name::carddav("address-data")).text, vcard("b", "Bea"));
}

#[actix_web::test]
async fn unknown_or_expired_sync_tokens_are_403_valid_sync_token() {
    let backend = backend();
    backend.insert(&ada(), "contacts", "a.vcf", &vcard("a", "Ada"));
    let app = service(backend.clone()).await;
    let initial = send(&app, request("REPORT", BOOK).set_payload(sync_body("", ""))).await;
    let old = token_of(&initial);
    backend.insert(&ada(), "contacts", "b.vcf", &vcard("b", "Bea"));
    backend.forget_changes(&ada(), "contacts");
    for token in [old.as_str(), "http://contacts-api/ns/sync/999999", "http://radicale.org/ns/sync/abc", "garbage"] {
        let answer = send(&app, request("REPORT", BOOK).set_payload(sync_body(token, ""))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{token}");
        assert_eq!(answer.condition(), Name::dav("valid-sync-token"));
    }
}

#[actix_web::test]
async fn a_token_of_another_book_or_of_a_deleted_one_is_403_valid_sync_token() {
    let app = service(backend()).await;
    let work = "/dav/addressbooks/ada/work/";
    assert_eq!(send(&app, request("MKCOL", work)).await.status, StatusCode::CREATED);
    let of_work = token_of(&send(&app, request("REPORT", work).set_payload(sync_body("", ""))).await);
    let of_contacts = token_of(&send(&app, request("REPORT", BOOK).set_payload(sync_body("", ""))).await);
    assert_ne!(of_work, of_contacts);
    let elsewhere = send(&app, request("REPORT", BOOK).set_payload(sync_body(&of_work, ""))).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    assert_eq!(elsewhere.condition(), Name::dav("valid-sync-token"));

    // Deleted and made again under the same name: the old token names the old book.
    assert_eq!(send(&app, request("DELETE", work)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, request("MKCOL", work)).await.status, StatusCode::CREATED);
    let stale = send(&app, request("REPORT", work).set_payload(sync_body(&of_work, ""))).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert_eq!(stale.condition(), Name::dav("valid-sync-token"));
    let fresh = send(&app, request("REPORT", work).set_payload(sync_body("", ""))).await;
    let again = send(&app, request("REPORT", work).set_payload(sync_body(&token_of(&fresh), ""))).await;
    assert_eq!(again.status, StatusCode::MULTI_STATUS);
}

#[actix_web::test]
async fn other_reports_and_places() {
    let app = service(backend()).await;
    let calendar = r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#;
    let answer = send(&app, request("REPORT", BOOK).set_payload(calendar)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.condition(), Name::dav("supported-report"));
    let expand =
        send(&app, request("REPORT", "/dav/principals/ada/").set_payload(r#"<expand-property xmlns="DAV:"/>"#)).await;
    assert_eq!(expand.status, StatusCode::MULTI_STATUS);
    assert!(expand.responses().is_empty());
    let on_home = send(&app, request("REPORT", "/dav/addressbooks/ada/").set_payload(sync_body("", ""))).await;
    assert_eq!(on_home.status, StatusCode::FORBIDDEN);
    let missing_book =
        send(&app, request("REPORT", "/dav/addressbooks/ada/nope/").set_payload(sync_body("", ""))).await;
    assert_eq!(missing_book.status, StatusCode::NOT_FOUND);
    // A sync from a token finds the book with its changes, not before them: still a 404, with a
    // token of another book or with one that is not a token at all.
    let token = token_of(&send(&app, request("REPORT", BOOK).set_payload(sync_body("", ""))).await);
    for token in [token.as_str(), "garbage"] {
        let answer =
            send(&app, request("REPORT", "/dav/addressbooks/ada/nope/").set_payload(sync_body(token, ""))).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{token}");
    }
}

#[actix_web::test]
async fn an_initial_sync_with_a_limit_is_cut_and_resumed_without_deletions() {
    let backend = backend();
    for name in ["a", "b", "c", "gone"] {
        backend.insert(&ada(), "contacts", &format!("{name}.vcf"), &vcard(name, name));
    }
    let app = service(backend.clone()).await;
    let deleted = send(&app, request("DELETE", "/dav/addressbooks/ada/contacts/gone.vcf")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let limit = "<d:limit><d:nresults>2</d:nresults></d:limit>";

    let first = send(&app, request("REPORT", BOOK).set_payload(sync_body("", limit))).await;
    let responses = first.responses();
    let hrefs: Vec<&str> = responses.iter().map(|r| r.href.as_str()).collect();
    assert_eq!(hrefs, ["/dav/addressbooks/ada/contacts/a.vcf", "/dav/addressbooks/ada/contacts/b.vcf", BOOK]);
    assert!(responses[2].status.as_deref().unwrap().contains("507"), "cut short, and said so");

    let rest = send(&app, request("REPORT", BOOK).set_payload(sync_body(&token_of(&first), limit))).await;
    let hrefs: Vec<String> = rest.responses().into_iter().map(|r| r.href).collect();
    assert_eq!(hrefs, ["/dav/addressbooks/ada/contacts/c.vcf", "/dav/addressbooks/ada/contacts/gone.vcf"]);
    let after = send(&app, request("REPORT", BOOK).set_payload(sync_body(&token_of(&rest), ""))).await;
    assert!(after.responses().is_empty(), "the last page's token is the book's");

    // With no deletion in its way, a limit past the book's size answers it whole.
    let whole =
        send(&app, request("REPORT", BOOK).set_payload(sync_body("", "<d:limit><d:nresults>9</d:nresults></d:limit>")))
            .await;
    assert_eq!(whole.responses().len(), 3);
}

#[actix_web::test]
async fn a_sync_over_more_changes_than_a_page_lists_them_all_with_the_books_token() {
    let backend = backend();
    backend.insert(&ada(), "contacts", "gone.vcf", &vcard("gone", "Gone"));
    let app = service(backend.clone()).await;
    let body = r#"<d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:sync-token>TOKEN</d:sync-token>
        <d:sync-level>1</d:sync-level><d:prop><d:getetag/><card:address-data/></d:prop></d:sync-collection>"#;
    let token = token_of(&send(&app, request("REPORT", BOOK).set_payload(body.replace("TOKEN", ""))).await);
    // A phone away while 1,100 cards came in (three pages of changes) and one went.
    for i in 0..1100 {
        backend.insert(&ada(), "contacts", &format!("c{i}.vcf"), &vcard(&format!("c{i}"), &format!("Card {i}")));
    }
    assert_eq!(
        send(&app, request("DELETE", "/dav/addressbooks/ada/contacts/gone.vcf")).await.status,
        StatusCode::NO_CONTENT
    );

    let reads_before = backend.change_reads().len();
    let changes = send(&app, request("REPORT", BOOK).set_payload(body.replace("TOKEN", &token))).await;
    assert_eq!(changes.status, StatusCode::MULTI_STATUS);
    assert_eq!(backend.change_reads()[reads_before..], [Some(500); 3], "read a page at a time");
    let responses = changes.responses();
    assert_eq!(responses.len(), 1101, "every change, and no 507: the client set no limit");
    for (i, response) in responses.iter().take(1100).enumerate() {
        assert_eq!(response.href, format!("/dav/addressbooks/ada/contacts/c{i}.vcf"));
        assert_eq!(response.ok(&Name::carddav("address-data")).text, vcard(&format!("c{i}"), &format!("Card {i}")));
    }
    assert!(responses[1100].status.as_deref().unwrap().contains("404"), "the deletion last");
    let next = token_of(&changes);
    let props = send(
        &app,
        request("PROPFIND", BOOK).set_payload(r#"<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>"#),
    )
    .await;
    assert_eq!(props.response(BOOK).ok(&Name::dav("sync-token")).text, next, "the book's own token");
    let nothing = send(&app, request("REPORT", BOOK).set_payload(body.replace("TOKEN", &next))).await;
    assert!(nothing.responses().is_empty());
}

#[actix_web::test]
async fn a_card_changed_while_a_paged_sync_is_written_is_listed_once_by_the_next_sync() {
    let backend = backend();
    let app = service(backend.clone()).await;
    let token = token_of(&send(&app, request("REPORT", BOOK).set_payload(sync_body("", ""))).await);
    for i in 0..600 {
        backend.insert(&ada(), "contacts", &format!("c{i}.vcf"), &vcard(&format!("c{i}"), &format!("Card {i}")));
    }
    let card = |i: usize| format!("/dav/addressbooks/ada/contacts/c{i}.vcf");

    // The first page (c0 to c499) is read before the answer starts; the rest while it is sent.
    let started =
        test::call_service(&app, request("REPORT", BOOK).set_payload(sync_body(&token, "")).to_request()).await;
    backend.insert(&ada(), "contacts", "c0.vcf", &vcard("c0", "Card 0, changed")); // listed already
    backend.insert(&ada(), "contacts", "c550.vcf", &vcard("c550", "Card 550, changed")); // not yet
    let answer = Answer { status: started.status(), headers: started.headers().clone(), body: Vec::new() };
    let answer = Answer { body: test::read_body(started).await.to_vec(), ..answer };
    let hrefs: Vec<String> = answer.responses().into_iter().map(|r| r.href).collect();
    let expected: Vec<String> = (0..600).filter(|&i| i != 550).map(card).collect();
    assert_eq!(hrefs, expected, "every card once: c550's change is past where the answer stops");

    let next = send(&app, request("REPORT", BOOK).set_payload(sync_body(&token_of(&answer), ""))).await;
    let hrefs: Vec<String> = next.responses().into_iter().map(|r| r.href).collect();
    assert_eq!(hrefs, [card(0), card(550)], "both changes, in the next sync");
}

#[actix_web::test]
async fn a_first_sync_cut_by_a_limit_resumes_past_forgotten_deletions() {
    let backend = backend();
    for name in ["a", "b", "c"] {
        backend.insert(&ada(), "contacts", &format!("{name}.vcf"), &vcard(name, name));
    }
    let app = service(backend.clone()).await;
    assert_eq!(
        send(&app, request("DELETE", "/dav/addressbooks/ada/contacts/c.vcf")).await.status,
        StatusCode::NO_CONTENT
    );
    // The book forgets its deletions (tombstones purged): tokens from before that go invalid,
    // but a first sync that starts now has not missed any of them.
    backend.forget_changes(&ada(), "contacts");
    let limit = "<d:limit><d:nresults>1</d:nresults></d:limit>";

    let mut token = String::new();
    let mut listed = Vec::new();
    loop {
        let page = send(&app, request("REPORT", BOOK).set_payload(sync_body(&token, limit))).await;
        assert_eq!(page.status, StatusCode::MULTI_STATUS, "{}", page.text());
        let responses = page.responses();
        // Cards; a deletion listed on the way (a card the client never had) is a 404 member.
        listed.extend(responses.iter().filter(|r| r.href != BOOK && r.status.is_none()).map(|r| r.href.clone()));
        token = token_of(&page);
        if !responses.iter().any(|r| r.href == BOOK) {
            break;
        }
    }
    assert_eq!(listed, ["/dav/addressbooks/ada/contacts/a.vcf", "/dav/addressbooks/ada/contacts/b.vcf"]);
    let nothing = send(&app, request("REPORT", BOOK).set_payload(sync_body(&token, ""))).await;
    assert!(nothing.responses().is_empty());
}

#[actix_web::test]
async fn an_if_header_with_a_stale_sync_token_stops_the_request() {
    let backend = backend();
    let app = service(backend.clone()).await;
    let card = "/dav/addressbooks/ada/contacts/a.vcf";
    let old = token_of(&send(&app, request("REPORT", BOOK).set_payload(sync_body("", ""))).await);
    backend.insert(&ada(), "contacts", "a.vcf", &vcard("a", "Ada"));
    let now = token_of(&send(&app, request("REPORT", BOOK).set_payload(sync_body(&old, ""))).await);
    let with_if = |method: &str, path: &str, header: String| request(method, path).insert_header(("If", header));
    // RFC 4918 10.4, RFC 6578 5: the request goes ahead only while the book is as the token says.
    assert_eq!(
        send(&app, with_if("PROPFIND", BOOK, format!("(<{old}>)"))).await.status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(send(&app, with_if("PROPFIND", BOOK, format!("(<{now}>)"))).await.status, StatusCode::MULTI_STATUS);
    let stale_put = with_if("PUT", card, format!("(<{old}>)"))
        .insert_header(("Content-Type", "text/vcard"))
        .set_payload(vcard("a", "Ada King"));
    assert_eq!(send(&app, stale_put).await.status, StatusCode::PRECONDITION_FAILED);
    assert!(backend.stored(&ada(), "contacts", "a.vcf").unwrap().contains("FN:Ada\r\n"), "not written");
    assert_eq!(send(&app, with_if("DELETE", card, format!("(<{old}>)"))).await.status, StatusCode::PRECONDITION_FAILED);
    let etag = send(&app, request("GET", card)).await.header("etag").unwrap().to_owned();
    assert_eq!(send(&app, with_if("GET", card, format!("([{etag}])"))).await.status, StatusCode::OK);
    assert_eq!(send(&app, with_if("GET", card, "(Not <DAV:no-lock>)".into())).await.status, StatusCode::OK);
    assert_eq!(send(&app, with_if("GET", card, "(garbage)".into())).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(send(&app, with_if("DELETE", card, format!("(<{now}>)"))).await.status, StatusCode::NO_CONTENT);
}
