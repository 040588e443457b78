//! Address books: extended MKCOL, PROPPATCH displayname and description, DELETE.

use super::*;

const MKCOL: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
    <D:displayname>Work people</D:displayname>
    <C:addressbook-description>Colleagues</C:addressbook-description>
  </D:prop></D:set>
</D:mkcol>"#;

const DISPLAYNAME: &str = r#"<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>"#;

const DESCRIPTION: &str = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop>
    <C:addressbook-description/></prop></propfind>"#;

#[actix_web::test]
async fn extended_mkcol_makes_a_book_with_its_displayname_and_description() {
    let app = service(backend()).await;
    let path = "/dav/addressbooks/ada/Work%20Stuff/";
    let made =
        send(&app, request("MKCOL", path).insert_header(("Content-Type", "application/xml")).set_payload(MKCOL)).await;
    assert_eq!(made.status, StatusCode::CREATED);
    let answer = send(&app, request("PROPFIND", path).set_payload(DISPLAYNAME)).await;
    assert_eq!(answer.response(path).ok(&Name::dav("displayname")).text, "Work people");
    let answer = send(&app, request("PROPFIND", path).set_payload(DESCRIPTION)).await;
    assert_eq!(answer.response(path).ok(&Name::carddav("addressbook-description")).text, "Colleagues");
    let home = send(
        &app,
        request("PROPFIND", "/dav/addressbooks/ada/").insert_header(("Depth", "1")).set_payload(DISPLAYNAME),
    )
    .await;
    assert!(home.responses().iter().any(|r| r.href == path));

    let again = send(&app, request("MKCOL", path).set_payload(MKCOL)).await;
    assert_eq!(again.status, StatusCode::METHOD_NOT_ALLOWED);

    // vdirsyncer's MKCOL: resourcetype only; a plain MKCOL also makes an address book.
    let plain = send(&app, request("MKCOL", "/dav/addressbooks/ada/plain/")).await;
    assert_eq!(plain.status, StatusCode::CREATED);

    let calendar = r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
        <D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>"#;
    let refused = send(&app, request("MKCOL", "/dav/addressbooks/ada/cal/").set_payload(calendar)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.condition(), Name::dav("valid-resourcetype"));

    let json = send(
        &app,
        request("MKCOL", "/dav/addressbooks/ada/j/")
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{}"),
    )
    .await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // RFC 4918 9.3: a body of a type MKCOL does not take is 415, even one that reads as XML.
    let plain_text = request("MKCOL", "/dav/addressbooks/ada/t/").insert_header(("Content-Type", "text/plain"));
    assert_eq!(send(&app, plain_text.set_payload(calendar)).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // RFC 5689 3: an extended MKCOL's resourcetype names a collection.
    let no_collection = r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
        <D:resourcetype><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>"#;
    let refused = send(&app, request("MKCOL", "/dav/addressbooks/ada/n/").set_payload(no_collection)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.condition(), Name::dav("valid-resourcetype"));
    // Inside an address book (which holds only cards) 403; under one that does not exist 409.
    let inside = send(&app, request("MKCOL", "/dav/addressbooks/ada/contacts/x/")).await;
    assert_eq!(inside.status, StatusCode::FORBIDDEN);
    assert_eq!(inside.condition(), Name::carddav("addressbook-collection-location-ok"));
    for orphan in ["/dav/addressbooks/ada/nope/x/", "/dav/addressbooks/ada/nope/x/y/"] {
        assert_eq!(send(&app, request("MKCOL", orphan)).await.status, StatusCode::CONFLICT, "{orphan}");
    }
    for elsewhere in ["/dav/addressbooks/bob/contacts/x/", "/dav/principals/ada/x/", "/dav/x/y/"] {
        assert_eq!(send(&app, request("MKCOL", elsewhere)).await.status, StatusCode::NOT_FOUND, "{elsewhere}");
    }
    // A book has no body to GET; one that does not exist is not there at all.
    assert_eq!(
        send(&app, request("GET", "/dav/addressbooks/ada/contacts/")).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(send(&app, request("GET", "/dav/addressbooks/ada/gone/")).await.status, StatusCode::NOT_FOUND);
    let home_level = send(&app, request("MKCOL", "/dav/addressbooks/ada/")).await;
    assert_eq!(home_level.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[actix_web::test]
async fn proppatch_sets_and_removes_displayname_and_refuses_the_rest_atomically() {
    let app = service(backend()).await;
    let path = "/dav/addressbooks/ada/contacts/";
    let set = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>
        <D:displayname>Family</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", path).set_payload(set)).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    assert!(answer.response(path).status_of(&Name::dav("displayname")).unwrap().contains("200"));
    let read = send(&app, request("PROPFIND", path).set_payload(DISPLAYNAME)).await;
    assert_eq!(read.response(path).ok(&Name::dav("displayname")).text, "Family");

    let mixed = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>
        <D:displayname>Ignored</D:displayname><I:calendar-color>#fff</I:calendar-color>
        </D:prop></D:set></D:propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", path).set_payload(mixed)).await;
    let response = answer.response(path);
    assert!(response.status_of(&Name::owned("http://apple.com/ns/ical/", "calendar-color")).unwrap().contains("403"));
    assert!(response.status_of(&Name::dav("displayname")).unwrap().contains("424"));
    let read = send(&app, request("PROPFIND", path).set_payload(DISPLAYNAME)).await;
    assert_eq!(read.response(path).ok(&Name::dav("displayname")).text, "Family", "nothing applied");

    let remove =
        r#"<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><D:displayname/></D:prop></D:remove></D:propertyupdate>"#;
    assert_eq!(send(&app, request("PROPPATCH", path).set_payload(remove)).await.status, StatusCode::MULTI_STATUS);
    let read = send(&app, request("PROPFIND", path).set_payload(DISPLAYNAME)).await;
    assert_eq!(read.response(path).ok(&Name::dav("displayname")).text, "contacts", "falls back to the name");

    // One property sent many times is one write, of its last value.
    let backend = backend();
    let counted = service(backend.clone()).await;
    let many = format!(
        r#"<D:propertyupdate xmlns:D="DAV:">{}<D:set><D:prop><D:displayname>Last</D:displayname></D:prop></D:set></D:propertyupdate>"#,
        r#"<D:set><D:prop><D:displayname>Again</D:displayname></D:prop></D:set>"#.repeat(50)
    );
    assert_eq!(send(&counted, request("PROPPATCH", path).set_payload(many)).await.status, StatusCode::MULTI_STATUS);
    assert_eq!(backend.label_writes(), 1);
    let read = send(&counted, request("PROPFIND", path).set_payload(DISPLAYNAME)).await;
    assert_eq!(read.response(path).ok(&Name::dav("displayname")).text, "Last");

    // The description is set and removed the same way; a book without one answers it 404.
    let describe = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
        <C:addressbook-description>Family and friends</C:addressbook-description></D:prop></D:set>
        </D:propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", path).set_payload(describe)).await;
    assert!(answer.response(path).status_of(&Name::carddav("addressbook-description")).unwrap().contains("200"));
    let read = send(&app, request("PROPFIND", path).set_payload(DESCRIPTION)).await;
    assert_eq!(read.response(path).ok(&Name::carddav("addressbook-description")).text, "Family and friends");
    let undescribe = describe.replace("D:set", "D:remove").replace("Family and friends", "");
    assert_eq!(send(&app, request("PROPPATCH", path).set_payload(undescribe)).await.status, StatusCode::MULTI_STATUS);
    let read = send(&app, request("PROPFIND", path).set_payload(DESCRIPTION)).await;
    let response = read.response(path);
    let missing = response.status_of(&Name::carddav("addressbook-description")).unwrap();
    assert!(missing.contains("404"), "{missing}");

    let principal = send(&app, request("PROPPATCH", "/dav/principals/ada/").set_payload(set)).await;
    assert!(principal.response("/dav/principals/ada/").status_of(&Name::dav("displayname")).unwrap().contains("403"));
    let missing = send(&app, request("PROPPATCH", "/dav/addressbooks/ada/none/").set_payload(set)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn delete_removes_a_book_but_never_the_default_one() {
    let app = service(backend()).await;
    send(&app, request("MKCOL", "/dav/addressbooks/ada/old/")).await;
    send(&app, request("PUT", "/dav/addressbooks/ada/old/a.vcf").set_payload(vcard("a", "A"))).await;
    assert_eq!(send(&app, request("DELETE", "/dav/addressbooks/ada/old/")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, request("GET", "/dav/addressbooks/ada/old/a.vcf")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, request("PROPFIND", "/dav/addressbooks/ada/old/")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, request("DELETE", "/dav/addressbooks/ada/contacts/")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, request("DELETE", "/dav/addressbooks/ada/")).await.status, StatusCode::METHOD_NOT_ALLOWED);
}
