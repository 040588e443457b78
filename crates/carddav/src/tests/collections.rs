//! Address books: extended MKCOL, PROPPATCH of labels and of the properties clients keep (on
//! the home, books and cards), DELETE.

use contacts_domain::addressbook::{
    MAX_CLIENT_PROPERTIES, MAX_CLIENT_PROPERTY_BYTES, MAX_CLIENT_PROPERTY_NAME_BYTES, MAX_HELD_PROPERTY_BYTES,
};

use crate::backend::BookLabel;

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
        <D:displayname>Ignored</D:displayname><D:getetag>"mine"</D:getetag><I:calendar-color>#fff</I:calendar-color>
        </D:prop></D:set></D:propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", path).set_payload(mixed)).await;
    let response = answer.response(path);
    assert!(response.status_of(&Name::dav("getetag")).unwrap().contains("403"));
    assert!(response.status_of(&Name::dav("displayname")).unwrap().contains("424"));
    assert!(response.status_of(&Name::owned("http://apple.com/ns/ical/", "calendar-color")).unwrap().contains("424"));
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

    // A label past its bound is refused (507, more than the book records) and nothing of its
    // request is written (424 for the rest).
    let too_long = format!(
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:tag xmlns:x="urn:x">kept?</x:tag>
        <D:displayname>{}</D:displayname></D:prop></D:set></D:propertyupdate>"#,
        "x".repeat(BookLabel::DisplayName.max_chars() + 1)
    );
    let answer = send(&app, request("PROPPATCH", path).set_payload(too_long)).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    let response = answer.response(path);
    assert!(response.status_of(&Name::dav("displayname")).unwrap().contains("507"));
    assert!(response.status_of(&Name::owned("urn:x", "tag")).unwrap().contains("424"));
    let at_bound = format!(
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>{}</D:displayname></D:prop></D:set></D:propertyupdate>"#,
        "é".repeat(BookLabel::DisplayName.max_chars())
    );
    let answer = send(&app, request("PROPPATCH", path).set_payload(at_bound)).await;
    assert!(
        answer.response(path).status_of(&Name::dav("displayname")).unwrap().contains("200"),
        "counted in characters"
    );
    let ask = r#"<propfind xmlns="DAV:"><prop><x:tag xmlns:x="urn:x"/></prop></propfind>"#;
    let read = send(&app, request("PROPFIND", path).set_payload(ask)).await;
    assert!(read.response(path).status_of(&Name::owned("urn:x", "tag")).unwrap().contains("404"), "nothing kept");

    let principal = send(&app, request("PROPPATCH", "/dav/principals/ada/").set_payload(set)).await;
    assert!(principal.response("/dav/principals/ada/").status_of(&Name::dav("displayname")).unwrap().contains("403"));
    let missing = send(&app, request("PROPPATCH", "/dav/addressbooks/ada/none/").set_payload(set)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

const ME_CARD: &str = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:set><D:prop>
    <CS:me-card><D:href>/dav/addressbooks/ada/contacts/me.vcf</D:href></CS:me-card></D:prop></D:set>
    </D:propertyupdate>"#;

const ASK_ME_CARD: &str = r#"<D:propfind xmlns:D="DAV:"><D:prop><CS:me-card xmlns:CS="http://calendarserver.org/ns/"/>
    <D:displayname/></D:prop></D:propfind>"#;

/// RFC 4918 4.1 and 9.2: a property outside the namespaces the server defines is kept as sent,
/// on a book or on the home (macOS keeps its "me" card on the home), and given back by name,
/// by `allprop` and `propname`, until it is removed.
#[actix_web::test]
async fn books_and_the_home_keep_the_properties_clients_set() {
    let app = service(backend()).await;
    let home = "/dav/addressbooks/ada/";
    let me_card = Name::calserver("me-card");
    let answer = send(&app, request("PROPPATCH", home).set_payload(ME_CARD)).await;
    assert!(answer.response(home).status_of(&me_card).unwrap().contains(" 200 "), "{}", answer.text());
    let read = send(&app, request("PROPFIND", home).set_payload(ASK_ME_CARD)).await;
    let kept = read.response(home);
    assert_eq!(kept.href_in(&me_card), "/dav/addressbooks/ada/contacts/me.vcf", "its element kept");
    assert!(kept.status_of(&Name::dav("displayname")).unwrap().contains("404"));
    let privileges = r#"<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>"#;
    let read = send(&app, request("PROPFIND", home).set_payload(privileges)).await;
    let granted = read.response(home).ok(&Name::dav("current-user-privilege-set")).clone();
    let granted: Vec<&Name> = granted.children.iter().map(|p| &p.children[0].name).collect();
    assert!(granted.contains(&&Name::dav("write-properties")), "{granted:?}");
    // Kept on the home, not on the books under it, and not for Bob.
    let listing = send(&app, request("PROPFIND", home).insert_header(("Depth", "1")).set_payload(ASK_ME_CARD)).await;
    assert!(listing.response("/dav/addressbooks/ada/contacts/").status_of(&me_card).unwrap().contains("404"));
    let bob = request("PROPFIND", "/dav/addressbooks/bob/")
        .insert_header(("Authorization", basic("bob", "bob-app-password")));
    assert!(
        send(&app, bob.set_payload(ASK_ME_CARD))
            .await
            .response("/dav/addressbooks/bob/")
            .status_of(&me_card)
            .unwrap()
            .contains("404")
    );

    // A book keeps any value: attributes, namespaces and text as sent, also with no namespace.
    let book = "/dav/addressbooks/ada/contacts/";
    let color = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>
        <I:calendar-color xmlns:I="http://apple.com/ns/ical/" symbolic="red">#FF0000 &amp; &lt;b&gt;</I:calendar-color>
        <order xmlns=""><x:n xmlns:x="urn:x" x:at="1">2</x:n></order></D:prop></D:set></D:propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", book).set_payload(color)).await;
    assert!(answer.response(book).props.iter().all(|(status, _)| status.contains(" 200 ")), "{}", answer.text());
    let all =
        send(&app, request("PROPFIND", book).set_payload(r#"<propfind xmlns="DAV:"><allprop/></propfind>"#)).await;
    let response = all.response(book);
    let kept = response.ok(&Name::owned("http://apple.com/ns/ical/", "calendar-color"));
    assert_eq!((kept.text.as_str(), kept.attr("symbolic")), ("#FF0000 & <b>", Some("red")));
    let order = response.ok(&Name::owned("", "order"));
    let n = order.child(&Name::owned("urn:x", "n")).unwrap();
    assert_eq!((n.text.as_str(), &n.attrs[0].0), ("2", &Name::owned("urn:x", "at")));
    let names =
        send(&app, request("PROPFIND", book).set_payload(r#"<propfind xmlns="DAV:"><propname/></propfind>"#)).await;
    assert!(names.response(book).ok(&Name::owned("", "order")).children.is_empty());

    // Set again it is replaced; removed it is gone; removing what is not there is fine.
    let again = color.replace("#FF0000", "#00FF00");
    send(&app, request("PROPPATCH", book).set_payload(again)).await;
    let ask =
        r#"<propfind xmlns="DAV:"><prop><I:calendar-color xmlns:I="http://apple.com/ns/ical/"/></prop></propfind>"#;
    let read = send(&app, request("PROPFIND", book).set_payload(ask)).await;
    assert!(
        read.response(book).ok(&Name::owned("http://apple.com/ns/ical/", "calendar-color")).text.starts_with("#00FF00")
    );
    let remove = r#"<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><I:calendar-color xmlns:I="http://apple.com/ns/ical/"/>
        <I:never-set xmlns:I="urn:y"/></D:prop></D:remove></D:propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", book).set_payload(remove)).await;
    assert!(answer.response(book).props.iter().all(|(status, _)| status.contains(" 200 ")), "{}", answer.text());
    let read = send(&app, request("PROPFIND", book).set_payload(ask)).await;
    assert!(
        read.response(book)
            .status_of(&Name::owned("http://apple.com/ns/ical/", "calendar-color"))
            .unwrap()
            .contains("404")
    );

    // A book made again under a removed one's name starts without them.
    send(&app, request("MKCOL", "/dav/addressbooks/ada/work/")).await;
    send(&app, request("PROPPATCH", "/dav/addressbooks/ada/work/").set_payload(ME_CARD)).await;
    send(&app, request("DELETE", "/dav/addressbooks/ada/work/")).await;
    send(&app, request("MKCOL", "/dav/addressbooks/ada/work/")).await;
    let read = send(&app, request("PROPFIND", "/dav/addressbooks/ada/work/").set_payload(ASK_ME_CARD)).await;
    assert!(read.response("/dav/addressbooks/ada/work/").status_of(&me_card).unwrap().contains("404"));
}

/// A card keeps properties too (RFC 4918 4.1): given back by its own PROPFIND and in every
/// listing and report that asks for them, kept when it moves, copied with it (9.8.2), gone
/// with it.
#[actix_web::test]
async fn cards_keep_properties_through_listings_moves_and_copies() {
    let app = service(backend()).await;
    let card = "/dav/addressbooks/ada/contacts/a.vcf";
    let put = |path: &str, uid: &str| {
        request("PUT", path).set_payload(format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Ada\r\nEND:VCARD\r\n"))
    };
    send(&app, put(card, "a")).await;
    send(&app, put("/dav/addressbooks/ada/contacts/b.vcf", "b")).await;
    let tag = Name::owned("urn:x", "tag");
    let set = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:tag xmlns:x="urn:x">red</x:tag></D:prop></D:set></D:propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", card).set_payload(set)).await;
    assert!(answer.response(card).status_of(&tag).unwrap().contains(" 200 "), "{}", answer.text());
    let labels = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", card).set_payload(labels)).await;
    assert!(answer.response(card).status_of(&Name::dav("displayname")).unwrap().contains("403"), "no labels on cards");

    let ask = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><x:tag xmlns:x="urn:x"/></D:prop></D:propfind>"#;
    assert_eq!(send(&app, request("PROPFIND", card).set_payload(ask)).await.response(card).ok(&tag).text, "red");
    let listing = send(
        &app,
        request("PROPFIND", "/dav/addressbooks/ada/contacts/").insert_header(("Depth", "1")).set_payload(ask),
    )
    .await;
    assert_eq!(listing.response(card).ok(&tag).text, "red");
    let other = listing.response("/dav/addressbooks/ada/contacts/b.vcf");
    assert!(other.status_of(&tag).unwrap().contains("404"), "only the card it was set on");
    let multiget = r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><x:tag xmlns:x="urn:x"/></D:prop><D:href>/dav/addressbooks/ada/contacts/a.vcf</D:href></C:addressbook-multiget>"#;
    let report = send(&app, request("REPORT", "/dav/addressbooks/ada/contacts/").set_payload(multiget)).await;
    assert_eq!(report.response(card).ok(&tag).text, "red");
    let sync = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level>
        <D:prop><x:tag xmlns:x="urn:x"/></D:prop></D:sync-collection>"#;
    let report = send(&app, request("REPORT", "/dav/addressbooks/ada/contacts/").set_payload(sync)).await;
    assert_eq!(report.response(card).ok(&tag).text, "red");
    let all =
        send(&app, request("PROPFIND", card).set_payload(r#"<propfind xmlns="DAV:"><allprop/></propfind>"#)).await;
    assert_eq!(all.response(card).ok(&tag).text, "red");

    // Moved, the card keeps them; copied, the copy has them too, over what it replaced.
    send(&app, request("MKCOL", "/dav/addressbooks/ada/work/")).await;
    let moved = "/dav/addressbooks/ada/contacts/renamed.vcf";
    let answer = send(&app, request("MOVE", card).insert_header(("Destination", moved))).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(send(&app, request("PROPFIND", moved).set_payload(ask)).await.response(moved).ok(&tag).text, "red");
    let copy = "/dav/addressbooks/ada/work/copy.vcf";
    send(&app, put(copy, "a")).await;
    let other_tag = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:old xmlns:x="urn:x">1</x:old></D:prop></D:set></D:propertyupdate>"#;
    send(&app, request("PROPPATCH", copy).set_payload(other_tag)).await;
    let answer = send(&app, request("COPY", moved).insert_header(("Destination", copy))).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text());
    let ask_both =
        r#"<D:propfind xmlns:D="DAV:"><D:prop><x:tag xmlns:x="urn:x"/><x:old xmlns:x="urn:x"/></D:prop></D:propfind>"#;
    let read = send(&app, request("PROPFIND", copy).set_payload(ask_both)).await;
    assert_eq!(read.response(copy).ok(&tag).text, "red");
    assert!(read.response(copy).status_of(&Name::owned("urn:x", "old")).unwrap().contains("404"), "replaced");
    assert_eq!(send(&app, request("PROPFIND", moved).set_payload(ask)).await.response(moved).ok(&tag).text, "red");

    // Deleted, they go: a card put again under the name starts without them.
    send(&app, request("DELETE", moved)).await;
    send(&app, put(moved, "a")).await;
    let read = send(&app, request("PROPFIND", moved).set_payload(ask)).await;
    assert!(read.response(moved).status_of(&tag).unwrap().contains("404"));
}

/// An extended MKCOL sets the properties a client keeps with the book (RFC 5689); past their
/// bounds no book is made.
#[actix_web::test]
async fn an_extended_mkcol_sets_kept_properties_within_their_bounds() {
    let app = service(backend()).await;
    let colored = MKCOL.replace(
        "<D:displayname>",
        r#"<I:addressbook-color xmlns:I="http://apple.com/ns/ical/">#00FF00</I:addressbook-color><D:displayname>"#,
    );
    let made = send(&app, request("MKCOL", "/dav/addressbooks/ada/work/").set_payload(colored)).await;
    assert_eq!(made.status, StatusCode::CREATED);
    let ask =
        r#"<propfind xmlns="DAV:"><prop><I:addressbook-color xmlns:I="http://apple.com/ns/ical/"/></prop></propfind>"#;
    let read = send(&app, request("PROPFIND", "/dav/addressbooks/ada/work/").set_payload(ask)).await;
    let color = Name::owned("http://apple.com/ns/ical/", "addressbook-color");
    assert_eq!(read.response("/dav/addressbooks/ada/work/").ok(&color).text, "#00FF00");

    let many: String = (0..=MAX_CLIENT_PROPERTIES).map(|i| format!(r#"<x:p{i} xmlns:x="urn:x"/>"#)).collect();
    let crowded = MKCOL.replace("<D:displayname>", &format!("{many}<D:displayname>"));
    let refused = send(&app, request("MKCOL", "/dav/addressbooks/ada/crowded/").set_payload(crowded)).await;
    assert_eq!(refused.status, StatusCode::INSUFFICIENT_STORAGE);
    let huge = format!(r#"<x:big xmlns:x="urn:x">{}</x:big><D:displayname>"#, "a".repeat(MAX_CLIENT_PROPERTY_BYTES));
    let refused = send(
        &app,
        request("MKCOL", "/dav/addressbooks/ada/huge/").set_payload(MKCOL.replace("<D:displayname>", &huge)),
    )
    .await;
    assert_eq!(refused.status, StatusCode::INSUFFICIENT_STORAGE);
    // RFC 5689 3: a property that cannot be set refuses the whole request, saying which.
    let protected = MKCOL.replace("<D:displayname>", "<D:getetag>x</D:getetag><D:displayname>");
    let refused = send(&app, request("MKCOL", "/dav/addressbooks/ada/etag/").set_payload(protected)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let root = refused.xml();
    assert_eq!(root.name, Name::dav("mkcol-response"), "{}", refused.text());
    let statuses: Vec<(String, Vec<Name>)> = root
        .children
        .iter()
        .map(|propstat| {
            let status = propstat.child(&Name::dav("status")).unwrap().text.clone();
            (status, propstat.child(&Name::dav("prop")).unwrap().children.iter().map(|p| p.name.clone()).collect())
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("HTTP/1.1 403 Forbidden".to_owned(), vec![Name::dav("getetag")]),
            (
                "HTTP/1.1 424 Failed Dependency".to_owned(),
                vec![Name::dav("resourcetype"), Name::dav("displayname"), Name::carddav("addressbook-description")]
            ),
        ]
    );
    for name in ["crowded", "huge", "etag"] {
        let path = format!("/dav/addressbooks/ada/{name}/");
        assert_eq!(send(&app, request("PROPFIND", &path)).await.status, StatusCode::NOT_FOUND, "no book made");
    }
}

/// A kept property is bounded in size, and what one resource keeps in number and in bytes; past a bound nothing of the request is
/// applied (`507` for the properties it is about, `424` for the rest).
#[actix_web::test]
async fn kept_properties_are_bounded_and_a_request_past_a_bound_changes_nothing() {
    let app = service(backend()).await;
    let book = "/dav/addressbooks/ada/contacts/";
    let set = |props: &str| {
        format!(r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>{props}</D:prop></D:set></D:propertyupdate>"#)
    };
    let huge = format!(
        r#"<x:big xmlns:x="urn:x">{}</x:big><D:displayname>Big</D:displayname>"#,
        "a".repeat(MAX_CLIENT_PROPERTY_BYTES)
    );
    let answer = send(&app, request("PROPPATCH", book).set_payload(set(&huge))).await;
    let response = answer.response(book);
    assert!(response.status_of(&Name::owned("urn:x", "big")).unwrap().contains("507"));
    assert!(response.status_of(&Name::dav("displayname")).unwrap().contains("424"));
    let read = send(&app, request("PROPFIND", book).set_payload(DISPLAYNAME)).await;
    assert_eq!(read.response(book).ok(&Name::dav("displayname")).text, "Contacts", "nothing applied");
    // A name, or a namespace, longer than a kept property's may be: refused the same way.
    let long = "n".repeat(MAX_CLIENT_PROPERTY_NAME_BYTES + 1);
    for (namespace, local) in [("urn:x".to_owned(), long.clone()), (format!("urn:{long}"), "short".to_owned())] {
        let props = format!(r#"<x:{local} xmlns:x="{namespace}">v</x:{local}><D:displayname>Long</D:displayname>"#);
        let answer = send(&app, request("PROPPATCH", book).set_payload(set(&props))).await;
        let response = answer.response(book);
        assert!(response.status_of(&Name::owned(namespace, local)).unwrap().contains("507"), "{}", answer.text());
        assert!(response.status_of(&Name::dav("displayname")).unwrap().contains("424"));
    }
    let at_bound = "n".repeat(MAX_CLIENT_PROPERTY_NAME_BYTES);
    let props = format!(r#"<x:{at_bound} xmlns:x="urn:x">v</x:{at_bound}>"#);
    let answer = send(&app, request("PROPPATCH", book).set_payload(set(&props))).await;
    assert!(answer.response(book).props.iter().all(|(status, _)| status.contains(" 200 ")), "{}", answer.text());
    let remove = format!(
        r#"<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><x:{at_bound} xmlns:x="urn:x"/></D:prop></D:remove></D:propertyupdate>"#
    );
    assert_eq!(send(&app, request("PROPPATCH", book).set_payload(remove)).await.status, StatusCode::MULTI_STATUS);

    let many =
        |from: i64, to: i64| (from..to).map(|i| format!(r#"<x:p{i} xmlns:x="urn:x">{i}</x:p{i}>"#)).collect::<String>();
    let answer = send(&app, request("PROPPATCH", book).set_payload(set(&many(0, MAX_CLIENT_PROPERTIES)))).await;
    assert!(answer.response(book).props.iter().all(|(status, _)| status.contains(" 200 ")));
    let one_more =
        format!("{}<D:displayname>Full</D:displayname>", many(MAX_CLIENT_PROPERTIES, MAX_CLIENT_PROPERTIES + 1));
    let answer = send(&app, request("PROPPATCH", book).set_payload(set(&one_more))).await;
    let response = answer.response(book);
    let last = Name::owned("urn:x", format!("p{MAX_CLIENT_PROPERTIES}"));
    assert!(response.status_of(&last).unwrap().contains("507"), "{}", answer.text());
    assert!(response.status_of(&Name::dav("displayname")).unwrap().contains("424"));
    let read = send(&app, request("PROPFIND", book).set_payload(DISPLAYNAME)).await;
    assert_eq!(read.response(book).ok(&Name::dav("displayname")).text, "Contacts", "nothing applied");
    // Values of more than 64 KiB in all on one holder (here the home), each under its own bound.
    let home = "/dav/addressbooks/ada/";
    let value = "v".repeat(15_000);
    let heavy: String = (0..5).map(|i| format!(r#"<x:h{i} xmlns:x="urn:x">{value}</x:h{i}>"#)).collect();
    const { assert!(5 * 15_000 > MAX_HELD_PROPERTY_BYTES && 15_000 < MAX_CLIENT_PROPERTY_BYTES) };
    let answer = send(&app, request("PROPPATCH", home).set_payload(set(&heavy))).await;
    assert!(answer.response(home).props.iter().all(|(status, _)| status.contains(" 507 ")), "{}", answer.text());
    let four: String = (0..4).map(|i| format!(r#"<x:h{i} xmlns:x="urn:x">{value}</x:h{i}>"#)).collect();
    let answer = send(&app, request("PROPPATCH", home).set_payload(set(&four))).await;
    assert!(answer.response(home).props.iter().all(|(status, _)| status.contains(" 200 ")), "{}", answer.text());
    // Replacing one that is there keeps the count: still fine.
    let answer = send(&app, request("PROPPATCH", book).set_payload(set(r#"<x:p0 xmlns:x="urn:x">new</x:p0>"#))).await;
    assert!(answer.response(book).status_of(&Name::owned("urn:x", "p0")).unwrap().contains(" 200 "));
}

#[actix_web::test]
async fn delete_removes_a_book_but_never_the_default_one() {
    let app = service(backend()).await;
    send(&app, request("MKCOL", "/dav/addressbooks/ada/old/")).await;
    send(&app, request("PUT", "/dav/addressbooks/ada/old/a.vcf").set_payload(vcard("a", "A"))).await;
    // RFC 9110 13.1.1: a failing `If-Match` (or `If-Unmodified-Since`: a book has no date, so
    // it is ignored) stops the delete.
    let stale = request("DELETE", "/dav/addressbooks/ada/old/").insert_header(("If-Match", "\"stale\""));
    assert_eq!(send(&app, stale).await.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(send(&app, request("GET", "/dav/addressbooks/ada/old/a.vcf")).await.status, StatusCode::OK);
    let etag = book_etag(&app, "/dav/addressbooks/ada/old/").await;
    let current = request("DELETE", "/dav/addressbooks/ada/old/").insert_header(("If-Match", etag.as_str()));
    send(&app, request("MKCOL", "/dav/addressbooks/ada/old2/")).await;
    assert_eq!(send(&app, current).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, request("GET", "/dav/addressbooks/ada/old/a.vcf")).await.status, StatusCode::NOT_FOUND);
    let undated = request("DELETE", "/dav/addressbooks/ada/old2/")
        .insert_header(("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"));
    assert_eq!(send(&app, undated).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, request("PROPFIND", "/dav/addressbooks/ada/old/")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, request("DELETE", "/dav/addressbooks/ada/contacts/")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, request("DELETE", "/dav/addressbooks/ada/")).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// The book's `getetag`, quoted as `If-Match` takes it.
async fn book_etag<S, B>(app: &S, path: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let answer = send(app, request("PROPFIND", path).set_payload(PROPFIND_ETAGS)).await;
    answer.response(path).ok(&Name::dav("getetag")).text.clone()
}

/// RFC 9110 13.1: no method goes ahead when `If-Match` (or `If-None-Match`) fails, also those
/// that do not write a card: `PROPPATCH`, `COPY`, `MKCOL`, `PROPFIND`, `REPORT`.
#[actix_web::test]
async fn every_method_honours_if_match_and_if_none_match() {
    let app = service(backend()).await;
    let book = "/dav/addressbooks/ada/contacts/";
    send(&app, request("PUT", "/dav/addressbooks/ada/contacts/a.vcf").set_payload(vcard("a", "A"))).await;
    let rename = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>New</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    let stale = || ("If-Match", "\"stale\"");
    let patched = send(&app, request("PROPPATCH", book).insert_header(stale()).set_payload(rename)).await;
    assert_eq!(patched.status, StatusCode::PRECONDITION_FAILED);
    let answer = send(&app, request("PROPFIND", book).set_payload(DISPLAYNAME)).await;
    assert_ne!(answer.response(book).status_of(&Name::dav("displayname")).map(|_| answer.text()), None);
    assert!(!answer.text().contains("New"), "unchanged: {}", answer.text());
    let etag = book_etag(&app, book).await;
    let patched = request("PROPPATCH", book).insert_header(("If-Match", etag.as_str())).set_payload(rename);
    assert_eq!(send(&app, patched).await.status, StatusCode::MULTI_STATUS);

    let copy = request("COPY", "/dav/addressbooks/ada/contacts/a.vcf")
        .insert_header(("Destination", "/dav/addressbooks/ada/contacts/b.vcf"))
        .insert_header(stale());
    assert_eq!(send(&app, copy).await.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(send(&app, request("GET", "/dav/addressbooks/ada/contacts/b.vcf")).await.status, StatusCode::NOT_FOUND);

    // Nothing is there yet, so no `If-Match` can hold, `*` included.
    let new_book = request("MKCOL", "/dav/addressbooks/ada/new/").insert_header(("If-Match", "*"));
    assert_eq!(send(&app, new_book).await.status, StatusCode::PRECONDITION_FAILED);
    let new_book = request("MKCOL", "/dav/addressbooks/ada/new/").insert_header(("If-None-Match", "*"));
    assert_eq!(send(&app, new_book).await.status, StatusCode::CREATED);

    let listing = request("PROPFIND", book).insert_header(("If-None-Match", "*")).set_payload(PROPFIND_ETAGS);
    assert_eq!(send(&app, listing).await.status, StatusCode::PRECONDITION_FAILED);
    let sync = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
    let report = request("REPORT", book).insert_header(stale()).set_payload(sync);
    assert_eq!(send(&app, report).await.status, StatusCode::PRECONDITION_FAILED);
    let report = request("REPORT", book).insert_header(("If-Match", "*")).set_payload(sync);
    assert_eq!(send(&app, report).await.status, StatusCode::MULTI_STATUS);

    // The home, a principal and the root are there without a tag: `*` holds, no tag matches.
    for path in ["/dav/addressbooks/ada/", "/dav/principals/ada/", "/dav/"] {
        for (header, value, status) in [
            ("If-Match", "\"x\"", StatusCode::PRECONDITION_FAILED),
            ("If-Match", "*", StatusCode::MULTI_STATUS),
            ("If-None-Match", "*", StatusCode::PRECONDITION_FAILED),
            ("If-None-Match", "\"x\"", StatusCode::MULTI_STATUS),
        ] {
            let asked = request("PROPFIND", path).insert_header((header, value)).set_payload(DISPLAYNAME);
            assert_eq!(send(&app, asked).await.status, status, "{path} {header}: {value}");
        }
    }
}
