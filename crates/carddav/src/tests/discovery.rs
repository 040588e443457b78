//! Discovery, sign-in, PROPFIND and the limits of the tree.

use super::*;

const PRINCIPAL_PROPS: &str = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <prop><current-user-principal/><C:addressbook-home-set/><principal-URL/><resourcetype/><displayname/></prop>
</propfind>"#;

#[actix_web::test]
async fn well_known_redirects_to_the_dav_root() {
    let app = service(backend()).await;
    for method in ["GET", "PROPFIND"] {
        let answer = send(
            &app,
            test::TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri("/.well-known/carddav"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(answer.header("location"), Some("/dav/"));
        assert_eq!(answer.header("cache-control"), Some("max-age=86400"), "RFC 6764 5");
    }
    // A client given only the server's address asks its root; only PROPFIND is CardDAV's there.
    let root = send(&app, test::TestRequest::default().method(Method::from_bytes(b"PROPFIND").unwrap()).uri("/")).await;
    assert_eq!((root.status, root.header("location")), (StatusCode::MOVED_PERMANENTLY, Some("/dav/")));
    let get = send(&app, test::TestRequest::default().uri("/")).await;
    assert_eq!(get.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_discovery_chain_leads_to_the_default_book() {
    let app = service(backend()).await;
    let root =
        send(&app, request("PROPFIND", "/dav/").insert_header(("Depth", "0")).set_payload(PRINCIPAL_PROPS)).await;
    assert_eq!(root.status, StatusCode::MULTI_STATUS);
    assert_eq!(root.header("content-type"), Some("application/xml; charset=utf-8"));
    let principal = root.response("/dav/").href_in(&Name::dav("current-user-principal"));
    assert_eq!(principal, "/dav/principals/ada/");
    // What the root does not have is a 404 propstat, not an error.
    assert!(root.response("/dav/").status_of(&Name::carddav("addressbook-home-set")).unwrap().contains("404"));

    let answer =
        send(&app, request("PROPFIND", &principal).insert_header(("Depth", "0")).set_payload(PRINCIPAL_PROPS)).await;
    let me = answer.response("/dav/principals/ada/");
    assert_eq!(me.href_in(&Name::dav("principal-URL")), "/dav/principals/ada/");
    let home = me.href_in(&Name::carddav("addressbook-home-set"));
    assert_eq!(home, "/dav/addressbooks/ada/");
    assert!(me.ok(&Name::dav("resourcetype")).child(&Name::dav("principal")).is_some());

    let answer = send(
        &app,
        request("PROPFIND", &home).insert_header(("Depth", "1")).set_payload(
            r#"<propfind xmlns="DAV:" xmlns:cs="http://calendarserver.org/ns/" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <prop><resourcetype/><displayname/><cs:getctag/><sync-token/><C:supported-address-data/>
        <supported-report-set/><C:max-resource-size/><current-user-privilege-set/><owner/><getetag/>
        <C:addressbook-description/></prop></propfind>"#,
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    let hrefs: Vec<String> = answer.responses().iter().map(|r| r.href.clone()).collect();
    assert_eq!(hrefs, vec!["/dav/addressbooks/ada/", "/dav/addressbooks/ada/contacts/"]);
    let book = answer.response("/dav/addressbooks/ada/contacts/");
    let types = book.ok(&Name::dav("resourcetype"));
    assert!(types.child(&Name::dav("collection")).is_some() && types.child(&Name::carddav("addressbook")).is_some());
    assert_eq!(book.ok(&Name::dav("displayname")).text, "Contacts");
    let ctag = book.ok(&Name::calserver("getctag")).text.clone();
    assert!(!ctag.is_empty());
    assert!(book.ok(&Name::dav("sync-token")).text.starts_with("http://contacts-api/ns/sync/"));
    let versions: Vec<&str> =
        book.ok(&Name::carddav("supported-address-data")).children.iter().map(|t| t.attr("version").unwrap()).collect();
    assert_eq!(versions, vec!["3.0", "4.0"]);
    let reports = book.ok(&Name::dav("supported-report-set"));
    let names: Vec<Name> = reports.children.iter().map(|r| r.children[0].children[0].name.clone()).collect();
    assert!(names.contains(&Name::dav("sync-collection")));
    assert!(names.contains(&Name::carddav("addressbook-multiget")));
    assert!(names.contains(&Name::carddav("addressbook-query")));
    assert_eq!(book.ok(&Name::carddav("max-resource-size")).text, "1048576");
    assert!(!book.ok(&Name::dav("current-user-privilege-set")).children.is_empty());
    assert_eq!(book.href_in(&Name::dav("owner")), "/dav/principals/ada/");
    assert!(book.ok(&Name::dav("getetag")).text.starts_with('"'));
    assert!(book.status_of(&Name::carddav("addressbook-description")).unwrap().contains("404"));
}

#[actix_web::test]
async fn options_advertises_carddav_without_credentials() {
    let app = service(backend()).await;
    let answer =
        send(&app, test::TestRequest::default().method(Method::OPTIONS).uri("/dav/addressbooks/ada/contacts/")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("dav"), Some("1, 3, addressbook"));
    let allow = answer.header("allow").unwrap();
    for method in ["PROPFIND", "REPORT", "DELETE", "PROPPATCH"] {
        assert!(allow.contains(method), "{allow}");
    }
    // RFC 4918 9.3.1: MKCOL only makes a collection where none is.
    assert!(!allow.contains("MKCOL"), "{allow}");
}

#[actix_web::test]
async fn requests_without_valid_credentials_get_a_basic_challenge() {
    let backend = backend();
    let app = service(backend.clone()).await;
    for auth in [
        None,
        Some(basic("ada", "wrong")),
        Some(basic("ada", "")),
        Some("Basic !!!".to_owned()),
        Some("Bearer nope".to_owned()),
        Some("Digest x".to_owned()),
    ] {
        let mut req = test::TestRequest::default().method(Method::from_bytes(b"PROPFIND").unwrap()).uri("/dav/");
        if let Some(auth) = &auth {
            req = req.insert_header(("Authorization", auth.as_str()));
        }
        let answer = send(&app, req).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(answer.header("www-authenticate"), Some("Basic realm=\"contacts\""));
    }
    // Every header that did not sign in was reported to the backend (login throttle): the
    // wrong and the empty password, the garbage, the bad token, the unknown scheme; a request
    // without one asks for the challenge and is not a failure.
    let failed = backend.failed_logins();
    assert_eq!(failed.len(), 5);
    let with_proxy = test::TestRequest::default()
        .method(Method::from_bytes(b"PROPFIND").unwrap())
        .uri("/dav/")
        .peer_addr("192.0.2.7:4000".parse().unwrap())
        .insert_header(("X-Forwarded-For", "198.51.100.1"))
        .insert_header(("Authorization", basic("ada", "nope")));
    assert_eq!(send(&app, with_proxy).await.status, StatusCode::UNAUTHORIZED);
    let origin = backend.failed_logins().pop().unwrap();
    assert_eq!(origin.peer, Some("192.0.2.7".parse().unwrap()));
    assert_eq!(origin.forwarded_for.as_deref(), Some("198.51.100.1"));
    // A proxy that adds a line of its own: both lines reach the backend, the last hop last.
    let two_lines = test::TestRequest::default()
        .method(Method::from_bytes(b"PROPFIND").unwrap())
        .uri("/dav/")
        .peer_addr("192.0.2.7:4000".parse().unwrap())
        .append_header(("X-Forwarded-For", "203.0.113.9"))
        .append_header(("X-Forwarded-For", "198.51.100.1"))
        .insert_header(("Authorization", basic("ada", "nope")));
    assert_eq!(send(&app, two_lines).await.status, StatusCode::UNAUTHORIZED);
    let origin = backend.failed_logins().pop().unwrap();
    assert_eq!(origin.forwarded_for.as_deref(), Some("203.0.113.9, 198.51.100.1"));
}

#[actix_web::test]
async fn email_logins_and_bearer_tokens_sign_in_too() {
    let app = service(backend()).await;
    for auth in [basic("ADA@example.org", "ada-app-password"), "Bearer ada-token".to_owned()] {
        let req = test::TestRequest::default()
            .method(Method::from_bytes(b"PROPFIND").unwrap())
            .uri("/dav/")
            .insert_header(("Authorization", auth))
            .set_payload(PRINCIPAL_PROPS);
        let answer = send(&app, req).await;
        assert_eq!(answer.status, StatusCode::MULTI_STATUS);
        assert_eq!(answer.response("/dav/").href_in(&Name::dav("current-user-principal")), "/dav/principals/ada/");
    }
}

#[actix_web::test]
async fn another_users_paths_are_404_as_if_absent() {
    let app = service(backend()).await;
    for path in [
        "/dav/principals/bob/",
        "/dav/addressbooks/bob/",
        "/dav/addressbooks/bob/contacts/",
        "/dav/addressbooks/bob/contacts/x.vcf",
        "/dav/addressbooks/Ada/contacts/",
        "/dav/addressbooks/ada/nope/",
        "/dav/nowhere/",
    ] {
        let answer = send(&app, request("PROPFIND", path).insert_header(("Depth", "0"))).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    let get = send(&app, request("GET", "/dav/addressbooks/bob/contacts/x.vcf")).await;
    assert_eq!(get.status, StatusCode::NOT_FOUND);
    let put = send(&app, request("PUT", "/dav/addressbooks/bob/contacts/x.vcf").set_payload(vcard("x", "X"))).await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    let delete = send(&app, request("DELETE", "/dav/addressbooks/bob/contacts/")).await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn depth_infinity_is_refused_and_no_depth_means_zero() {
    let app = service(backend()).await;
    let answer = send(&app, request("PROPFIND", "/dav/addressbooks/ada/").insert_header(("Depth", "infinity"))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.condition(), Name::dav("propfind-finite-depth"));

    let answer = send(&app, request("PROPFIND", "/dav/addressbooks/ada/")).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    assert_eq!(answer.responses().len(), 1);

    // The root answers without its trailing slash too, and names itself with one.
    let answer = send(&app, request("PROPFIND", "/dav")).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    assert_eq!(answer.responses()[0].href, "/dav/");
}

#[actix_web::test]
async fn allprop_and_propname_list_what_a_book_has() {
    let app = service(backend()).await;
    let all = send(&app, request("PROPFIND", "/dav/addressbooks/ada/contacts/")).await;
    let book = all.response("/dav/addressbooks/ada/contacts/");
    assert_eq!(book.ok(&Name::dav("displayname")).text, "Contacts");
    assert!(book.status_of(&Name::carddav("max-resource-size")).is_none(), "not in allprop");
    let description = Name::carddav("addressbook-description");
    assert!(book.status_of(&description).is_none(), "none set: not listed, not a 404 either");
    let describe = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
        <C:addressbook-description>Family</C:addressbook-description></D:prop></D:set></D:propertyupdate>"#;
    send(&app, request("PROPPATCH", "/dav/addressbooks/ada/contacts/").set_payload(describe)).await;
    // Set, it is still left out of allprop (RFC 6352 6.2.1), and given when asked for.
    let all = send(&app, request("PROPFIND", "/dav/addressbooks/ada/contacts/")).await;
    assert!(all.response("/dav/addressbooks/ada/contacts/").status_of(&description).is_none());
    let asked = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop>
        <C:addressbook-description/></prop></propfind>"#;
    let asked = send(&app, request("PROPFIND", "/dav/addressbooks/ada/contacts/").set_payload(asked)).await;
    assert_eq!(asked.response("/dav/addressbooks/ada/contacts/").ok(&description).text, "Family");
    // RFC 4918 14.8: `include` adds what allprop leaves out.
    let include = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:allprop/>
        <D:include><C:max-resource-size/><C:addressbook-description/></D:include></D:propfind>"#;
    let included = send(&app, request("PROPFIND", "/dav/addressbooks/ada/contacts/").set_payload(include)).await;
    let book = included.response("/dav/addressbooks/ada/contacts/");
    assert_eq!(book.ok(&Name::carddav("max-resource-size")).text, "1048576");
    assert_eq!(book.ok(&description).text, "Family");
    assert_eq!(book.ok(&Name::dav("displayname")).text, "Contacts", "and everything allprop gives");

    let names = send(
        &app,
        request("PROPFIND", "/dav/addressbooks/ada/contacts/")
            .set_payload(r#"<propfind xmlns="DAV:"><propname/></propfind>"#),
    )
    .await;
    let book = names.response("/dav/addressbooks/ada/contacts/");
    assert!(book.ok(&Name::calserver("getctag")).text.is_empty());
    assert!(book.ok(&Name::carddav("max-resource-size")).text.is_empty());
}

#[actix_web::test]
async fn xml_limits_and_entities() {
    let app = service(backend()).await;
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
        <propfind xmlns="DAV:"><prop><displayname>&lol2;</displayname></prop></propfind>"#;
    let answer = send(&app, request("PROPFIND", "/dav/").set_payload(laughs)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let xxe = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
        <propertyupdate xmlns="DAV:"><set><prop><displayname>&x;</displayname></prop></set></propertyupdate>"#;
    let answer = send(&app, request("PROPPATCH", "/dav/addressbooks/ada/contacts/").set_payload(xxe)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let mut big = String::from(r#"<propfind xmlns="DAV:"><prop>"#);
    while big.len() <= 1024 * 1024 {
        big.push_str("<displayname/>");
    }
    big.push_str("</prop></propfind>");
    let answer = send(&app, request("PROPFIND", "/dav/").set_payload(big)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

    for junk in ["<propfind", "not xml at all", "<a:propfind xmlns:b=\"DAV:\"/>", "<propfind xmlns=\"DAV:\"/>"] {
        let answer = send(&app, request("PROPFIND", "/dav/").set_payload(junk)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{junk}");
    }
    let bad_depth = send(&app, request("PROPFIND", "/dav/").insert_header(("Depth", "many"))).await;
    assert_eq!(bad_depth.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn unknown_methods_are_405_with_allow() {
    let app = service(backend()).await;
    let answer = send(&app, request("PATCH", "/dav/addressbooks/ada/contacts/")).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(answer.header("allow").unwrap().contains("PROPFIND"));
    let answer = send(&app, request("PUT", "/dav/addressbooks/ada/contacts/")).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}
