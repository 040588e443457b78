//! Long listings and reports go gzip-compressed to clients that take gzip, and as they are to
//! the others; short answers and cards go as they are to everyone.

use std::io::Read;

use flate2::read::GzDecoder;

use super::*;

const BOOK: &str = "/dav/addressbooks/ada/contacts/";

fn ada() -> crate::DavUser {
    crate::DavUser { id: contacts_domain::user::UserId(1), username: "ada".into() }
}

fn inflated(body: &[u8]) -> Vec<u8> {
    assert_eq!(body.get(..2), Some(&[0x1f, 0x8b][..]), "a gzip member");
    let mut out = Vec::new();
    GzDecoder::new(body).read_to_end(&mut out).expect("gzip that inflates");
    out
}

/// The requests whose answers list a book's cards: PROPFIND depth 1, an initial
/// sync-collection, a sync from a token (answered whole when one page holds it), a multiget of
/// every card, an addressbook-query that matches every card.
fn listing_requests(cards: usize, token: &str) -> Vec<(&'static str, test::TestRequest)> {
    let sync = |token: &str| {
        format!(
            r#"<d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:sync-token>{token}</d:sync-token>
            <d:sync-level>1</d:sync-level><d:prop><d:getetag/><card:address-data/></d:prop></d:sync-collection>"#
        )
    };
    let hrefs: String = (0..cards).map(|i| format!("<D:href>{BOOK}c{i}.vcf</D:href>")).collect();
    vec![
        ("PROPFIND", request("PROPFIND", BOOK).insert_header(("Depth", "1")).set_payload(PROPFIND_ETAGS)),
        ("initial sync", request("REPORT", BOOK).set_payload(sync(""))),
        ("sync from a token", request("REPORT", BOOK).set_payload(sync(token))),
        (
            "multiget",
            request("REPORT", BOOK).set_payload(format!(
                r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
                <D:prop><D:getetag/><C:address-data/></D:prop>{hrefs}</C:addressbook-multiget>"#
            )),
        ),
        (
            "query",
            request("REPORT", BOOK).set_payload(
                r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
                <D:prop><D:getetag/></D:prop><C:filter/></C:addressbook-query>"#,
            ),
        ),
    ]
}

/// Ada's book, the sync token of its empty start, then `cards` cards made since; and the service.
async fn book_changed_by(
    cards: usize,
) -> (
    MemoryBackend,
    impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
    String,
) {
    let backend = backend();
    let app = service(backend.clone()).await;
    let body = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level>
        <d:prop><d:getetag/></d:prop></d:sync-collection>"#;
    let answer = send(&app, request("REPORT", BOOK).set_payload(body)).await;
    let token = answer.xml().child(&Name::dav("sync-token")).expect("a sync-token").text.clone();
    for i in 0..cards {
        backend.insert(&ada(), "contacts", &format!("c{i}.vcf"), &vcard(&format!("c{i}"), &format!("Card {i}")));
    }
    (backend, app, token)
}

#[actix_web::test]
async fn long_listings_and_reports_go_gzip_compressed_to_clients_that_take_it() {
    // 300 cards: more than the bytes read ahead, less than a page of the change log (so the
    // sync from a token is answered whole).
    let (backend, app, token) = book_changed_by(300).await;
    let plain_answers = listing_requests(300, &token);
    let gzip_answers = listing_requests(300, &token);
    for ((what, plain), (_, gzip)) in plain_answers.into_iter().zip(gzip_answers) {
        let plain = send(&app, plain).await;
        assert_eq!(plain.status, StatusCode::MULTI_STATUS, "{what}");
        assert!(plain.body.len() > crate::multistatus::GZIP_AT_LEAST, "{what}: long enough to compress");
        assert_eq!(plain.header("content-encoding"), None, "{what}: asked for no coding");
        assert_eq!(plain.header("vary"), Some("Accept-Encoding"), "{what}");

        let offloaded = backend.offloaded();
        let compressed = send(&app, gzip.insert_header(("Accept-Encoding", "gzip, deflate"))).await;
        assert_eq!(compressed.status, StatusCode::MULTI_STATUS, "{what}");
        assert_eq!(compressed.header("content-encoding"), Some("gzip"), "{what}");
        assert_eq!(compressed.header("vary"), Some("Accept-Encoding"), "{what}");
        assert_eq!(compressed.header("content-type"), plain.header("content-type"), "{what}");
        assert!(backend.offloaded() > offloaded, "{what}: compressed off the executor");
        assert!(
            compressed.body.len() * 4 < plain.body.len(),
            "{what}: {} bytes of {}",
            compressed.body.len(),
            plain.body.len()
        );
        assert_eq!(String::from_utf8(inflated(&compressed.body)).unwrap(), plain.text(), "{what}: the same answer");
    }
}

#[actix_web::test]
async fn clients_that_refuse_gzip_get_long_answers_as_they_are() {
    let (backend, app, token) = book_changed_by(300).await;
    for accept in ["gzip;q=0", "identity", "br", "*", "gzip;q=0.5, identity", "not an encoding;;"] {
        let plain = listing_requests(300, &token);
        let asked = listing_requests(300, &token);
        for ((what, plain), (_, asked)) in plain.into_iter().zip(asked) {
            let plain = send(&app, plain).await;
            let answer = send(&app, asked.insert_header(("Accept-Encoding", accept))).await;
            assert_eq!(answer.header("content-encoding"), None, "{what}, {accept:?}");
            assert_eq!(answer.header("vary"), Some("Accept-Encoding"), "{what}, {accept:?}");
            assert_eq!(answer.text(), plain.text(), "{what}, {accept:?}");
        }
    }
    assert_eq!(backend.offloaded(), 0, "nothing compressed");
}

#[actix_web::test]
async fn short_answers_and_cards_go_as_they_are_to_every_client() {
    let (backend, app, token) = book_changed_by(3).await;
    for (what, asked) in listing_requests(3, &token) {
        let answer = send(&app, asked.insert_header(("Accept-Encoding", "gzip"))).await;
        assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{what}");
        assert!(answer.body.len() < crate::multistatus::GZIP_AT_LEAST, "{what}");
        assert_eq!(answer.header("content-encoding"), None, "{what}: short, sent whole");
        assert_eq!(answer.header("vary"), None, "{what}: the same answer for every client");
        assert!(answer.text().contains("c2.vcf"), "{what}: {}", answer.text());
    }
    // A card's strong ETag names its bytes: never another coding of them.
    let big =
        format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big\r\nFN:Big\r\nNOTE:{}\r\nEND:VCARD\r\n", "x".repeat(20_000));
    backend.insert(&ada(), "contacts", "big.vcf", &big);
    let card = send(&app, request("GET", &format!("{BOOK}big.vcf")).insert_header(("Accept-Encoding", "gzip"))).await;
    assert_eq!(card.status, StatusCode::OK);
    assert_eq!(card.header("content-encoding"), None);
    assert_eq!(card.text(), big);
    assert_eq!(backend.offloaded(), 0, "nothing compressed");
}

#[actix_web::test]
async fn a_failure_before_the_answer_starts_is_answered_and_one_after_cuts_it() {
    let (backend, app, _) = book_changed_by(1200).await;
    let propfind = || request("PROPFIND", BOOK).insert_header(("Depth", "1")).set_payload(PROPFIND_ETAGS);
    backend.fail_listings_after(0);
    let down = send(&app, propfind()).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "no 207 went out: {}", down.text());

    // The first page read ahead, the second fails while the answer streams: the body is cut,
    // never ended as if the book had no more cards.
    backend.fail_listings_after(1);
    let response = test::call_service(&app, propfind().insert_header(("Accept-Encoding", "gzip")).to_request()).await;
    assert_eq!(response.status(), StatusCode::MULTI_STATUS);
    assert_eq!(response.headers().get("content-encoding").unwrap(), "gzip");
    assert!(test::try_read_body(response).await.is_err());
}

#[actix_web::test]
async fn an_answer_made_whole_goes_with_its_length_and_a_listing_streams() {
    use actix_web::body::BodySize;
    let (_, app, token) = book_changed_by(300).await;
    for accept in [None, Some("gzip")] {
        for (what, asked) in listing_requests(300, &token) {
            let asked = match accept {
                Some(accept) => asked.insert_header(("Accept-Encoding", accept)),
                None => asked,
            };
            let response = test::call_service(&app, asked.to_request()).await;
            assert_eq!(response.status(), StatusCode::MULTI_STATUS, "{what}");
            let encoding = response.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(encoding.as_deref(), accept, "{what}");
            let size = response.response().body().size();
            // A sync of one page of changes is made before its answer starts: nothing to stream.
            if what == "sync from a token" {
                assert!(matches!(size, BodySize::Sized(n) if n > 0), "{what}, {accept:?}: {size:?}");
            } else {
                assert_eq!(size, BodySize::Stream, "{what}, {accept:?}");
            }
        }
    }
}

#[actix_web::test]
async fn a_whole_answer_goes_as_it_is_when_the_pool_has_no_free_place() {
    let (backend, app, token) = book_changed_by(300).await;
    let sync_from_token = || {
        let (what, asked) = listing_requests(300, &token).swap_remove(2);
        assert_eq!(what, "sync from a token");
        asked.insert_header(("Accept-Encoding", "gzip"))
    };
    let compressed = send(&app, sync_from_token()).await;
    assert_eq!(compressed.header("content-encoding"), Some("gzip"), "a free place: compressed");

    // Every place taken (imports, say): the answer, whole already, is not held back behind them.
    backend.set_offload_busy(true);
    let offloaded = backend.offloaded();
    let plain = send(&app, sync_from_token()).await;
    assert_eq!(plain.status, StatusCode::MULTI_STATUS);
    assert_eq!(plain.header("content-encoding"), None, "sent as it is");
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    assert_eq!(plain.text(), String::from_utf8(inflated(&compressed.body)).unwrap(), "the same answer");
    assert_eq!(backend.offloaded(), offloaded, "nothing run off the executor");

    // A streamed answer has chosen gzip before its chunks come: it waits for its places.
    let (_, propfind) = listing_requests(300, &token).swap_remove(0);
    let streamed = send(&app, propfind.insert_header(("Accept-Encoding", "gzip"))).await;
    assert_eq!(streamed.header("content-encoding"), Some("gzip"));
}
