use super::*;
use crate::xml::{APPLE_ICAL, CALSERVER};

#[test]
fn propfind_reads_prop_allprop_propname_and_an_empty_body() {
    assert_eq!(propfind(b"").unwrap(), Propfind::AllProp(vec![]));
    assert_eq!(propfind(b"  \r\n").unwrap(), Propfind::AllProp(vec![]));
    assert_eq!(propfind(br#"<propfind xmlns="DAV:"><allprop/></propfind>"#).unwrap(), Propfind::AllProp(vec![]));
    assert_eq!(propfind(br#"<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>"#).unwrap(), Propfind::PropName);
    let include = br#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:sync-token/></D:include></D:propfind>"#;
    assert_eq!(propfind(include).unwrap(), Propfind::AllProp(vec![Name::dav("sync-token")]));
    let body = br#"<?xml version="1.0" encoding="utf-8"?>
        <d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/" xmlns:a="http://apple.com/ns/ical/">
          <d:prop><d:displayname/><cs:getctag/><a:calendar-color/><x:odd xmlns:x="urn:x"/><bare xmlns=""/></d:prop>
        </d:propfind>"#;
    assert_eq!(
        propfind(body).unwrap(),
        Propfind::Prop(vec![
            Name::dav("displayname"),
            Name::owned(CALSERVER, "getctag"),
            Name::owned(APPLE_ICAL, "calendar-color"),
            Name::owned("urn:x", "odd"),
            Name::owned("", "bare"),
        ])
    );
}

#[test]
fn default_and_prefixed_namespaces_are_the_same_names() {
    let a = propfind(br#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#).unwrap();
    let b = propfind(br#"<X:propfind xmlns:X="DAV:"><X:prop><X:getetag/></X:prop></X:propfind>"#).unwrap();
    assert_eq!(a, b);
}

#[test]
fn wrong_roots_and_broken_xml_are_errors() {
    assert!(matches!(propfind(br#"<propfind><prop/></propfind>"#), Err(XmlError::Unexpected(_))));
    assert!(matches!(propfind(br#"<d:propfind xmlns:d="DAV:"><d:prop>"#), Err(XmlError::Malformed(_))));
    assert!(matches!(propfind(br#"<x:propfind/>"#), Err(XmlError::Malformed(_))));
    assert!(matches!(propfind(b"\xff\xfe<"), Err(XmlError::Malformed(_))));
    assert!(matches!(propfind(br#"<a xmlns="DAV:"/><b/>"#), Err(XmlError::Malformed(_))));
    assert!(matches!(propfind(br#"<propfind xmlns="DAV:">&unknown;</propfind>"#), Err(XmlError::Malformed(_))));
}

#[test]
fn a_tag_whose_name_is_not_an_xml_name_is_malformed() {
    // quick-xml reads `<c:a/b/>` as an empty element named `c:a/b`; written back in a `404`
    // propstat, such a name made the whole multistatus unreadable.
    let ask =
        |prop: &str| format!(r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:x"><d:prop>{prop}</d:prop></d:propfind>"#);
    for bad in ["<c:a/b/>", "<d:a&amp;b/>", "<c:a:b/>", "<c:-a/>", "<c:a\u{1}/>"] {
        assert!(matches!(propfind(ask(bad).as_bytes()), Err(XmlError::Malformed(_))), "{bad}");
    }
    let fine = propfind(ask("<c:a.b-c_d/><c:é/>").as_bytes()).unwrap();
    assert_eq!(fine, Propfind::Prop(vec![Name::owned("urn:x", "a.b-c_d"), Name::owned("urn:x", "é")]));
}

#[test]
fn a_character_xml_does_not_allow_is_malformed_as_a_reference_or_as_text() {
    let set = |name: &str| {
        format!(
            r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>{name}</d:displayname></d:prop></d:set></d:propertyupdate>"#
        )
    };
    for bad in ["bad &#x1b; char", "x&#1;y", "a&#xFFFF;", "raw \u{b} tab", "<![CDATA[\u{1}]]>"] {
        assert!(matches!(proppatch(set(bad).as_bytes()), Err(XmlError::Malformed(_))), "{bad}");
    }
    let fine = proppatch(set("tab&#9;and&#xA;line \u{85}").as_bytes()).unwrap();
    assert_eq!(texts(&fine), vec![(Name::dav("displayname"), Some("tab\tand\nline \u{85}".into()))]);
}

#[test]
fn doctypes_and_entities_are_never_resolved() {
    let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<propfind xmlns="DAV:"><prop><displayname>&lol3;</displayname></prop></propfind>"#;
    assert_eq!(propfind(laughs), Err(XmlError::Doctype));
    let external = br#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<propertyupdate xmlns="DAV:"><set><prop><displayname>&xxe;</displayname></prop></set></propertyupdate>"#;
    assert_eq!(proppatch(external), Err(XmlError::Doctype));
    // Predefined entities and character references are plain text.
    let ok = br#"<propertyupdate xmlns="DAV:"><set><prop>
        <displayname>A &amp; B &#x263A;</displayname></prop></set></propertyupdate>"#;
    assert_eq!(texts(&proppatch(ok).unwrap()), vec![(Name::dav("displayname"), Some("A & B \u{263A}".into()))]);
}

#[test]
fn proppatch_keeps_set_and_remove_in_order() {
    let body = br#"<D:propertyupdate xmlns:D="DAV:" xmlns:I="http://apple.com/ns/ical/">
        <D:set><D:prop><D:displayname>Work</D:displayname><I:calendar-color>#ff0000</I:calendar-color></D:prop></D:set>
        <D:remove><D:prop><D:displayname/></D:prop></D:remove>
    </D:propertyupdate>"#;
    assert_eq!(
        texts(&proppatch(body).unwrap()),
        vec![
            (Name::dav("displayname"), Some("Work".into())),
            (Name::owned(APPLE_ICAL, "calendar-color"), Some("#ff0000".into())),
            (Name::dav("displayname"), None),
        ]
    );
}

/// Each update as its property's name and, for a set, its text.
fn texts(updates: &[PropUpdate]) -> Vec<(Name, Option<String>)> {
    updates
        .iter()
        .map(|u| match u {
            PropUpdate::Set(element) => (element.name.clone(), Some(element.text.clone())),
            PropUpdate::Remove(name) => (name.clone(), None),
        })
        .collect()
}

#[test]
fn extended_mkcol_reads_resourcetype_and_displayname() {
    let body = br#"<?xml version="1.0" encoding="utf-8" ?>
        <D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
          <D:set><D:prop>
            <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
            <D:displayname>Lisa's Contacts</D:displayname>
            <C:addressbook-description xml:lang="en">My primary address book.</C:addressbook-description>
          </D:prop></D:set>
        </D:mkcol>"#;
    assert_eq!(
        mkcol(body).unwrap(),
        Mkcol {
            resourcetype: vec![Name::dav("collection"), Name::carddav("addressbook")],
            displayname: Some("Lisa's Contacts".into()),
            description: Some("My primary address book.".into()),
            others: Vec::new(),
        }
    );
    assert_eq!(mkcol(b"").unwrap(), Mkcol::default());
}

#[test]
fn multiget_reads_hrefs_props_and_address_data_version() {
    let body = br#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><D:getetag/><C:address-data content-type="text/vcard" version="3.0"/></D:prop>
        <D:href>/dav/addressbooks/ada/contacts/a.vcf</D:href>
        <D:href> /dav/addressbooks/ada/contacts/b%20c.vcf </D:href>
    </C:addressbook-multiget>"#;
    let Report::Multiget { props, hrefs } = report(body).unwrap() else { panic!("not a multiget") };
    assert_eq!(props.names, vec![Name::dav("getetag"), Name::carddav("address-data")]);
    assert_eq!(props.address_data, Some(AddressData { version: Some(VcardVersion::V3), parts: None }));
    assert_eq!(hrefs, vec!["/dav/addressbooks/ada/contacts/a.vcf", "/dav/addressbooks/ada/contacts/b%20c.vcf"]);

    // RFC 6352 8.7.1: only some properties of each card.
    let some = br#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><C:address-data><C:prop name="version"/><C:prop name="item1.EMAIL"/>
        <C:prop name="PHOTO" novalue="yes"/><C:prop/></C:address-data></D:prop><D:href>/a</D:href>
        </C:addressbook-multiget>"#;
    let Report::Multiget { props, .. } = report(some).unwrap() else { panic!("not a multiget") };
    let part = |group: Option<&str>, name: &str, novalue| CardPart {
        group: group.map(str::to_owned),
        name: name.to_owned(),
        novalue,
    };
    let parts = props.address_data.and_then(|d| d.parts);
    assert_eq!(
        parts,
        Some(vec![part(None, "VERSION", false), part(Some("ITEM1"), "EMAIL", false), part(None, "PHOTO", true)])
    );
    let all = br#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><C:address-data><C:allprop/><C:prop name="FN"/></C:address-data></D:prop><D:href>/a</D:href>
        </C:addressbook-multiget>"#;
    let Report::Multiget { props, .. } = report(all).unwrap() else { panic!("not a multiget") };
    assert_eq!(props.address_data.unwrap().parts, None, "allprop: the whole card");

    let json = br#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><C:address-data content-type="application/vcard+json"/></D:prop></C:addressbook-multiget>"#;
    assert_eq!(report(json), Err(XmlError::UnsupportedAddressData));
    let v21 = br#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><C:address-data version="2.1"/></D:prop></C:addressbook-multiget>"#;
    assert_eq!(report(v21), Err(XmlError::UnsupportedAddressData));
}

#[test]
fn query_reads_filters_tests_and_limit() {
    let body = br#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><D:getetag/></D:prop>
        <C:filter test="allof">
          <C:prop-filter name="fn">
            <C:text-match collation="i;ascii-casemap" match-type="starts-with">ad</C:text-match>
          </C:prop-filter>
          <C:prop-filter name="EMAIL" test="allof">
            <C:text-match negate-condition="yes" match-type="ends-with">@spam.example</C:text-match>
            <C:param-filter name="type"><C:text-match match-type="equals">work</C:text-match></C:param-filter>
          </C:prop-filter>
          <C:prop-filter name="TEL"><C:is-not-defined/></C:prop-filter>
        </C:filter>
        <C:limit><C:nresults>5</C:nresults></C:limit>
    </C:addressbook-query>"#;
    let Report::Query { props, filter, limit } = report(body).unwrap() else { panic!("not a query") };
    assert_eq!(props.names, vec![Name::dav("getetag")]);
    assert_eq!(limit, Some(5));
    assert!(filter.all_of);
    assert_eq!(filter.prop_filters.len(), 3);
    let fn_filter = &filter.prop_filters[0];
    assert_eq!(fn_filter.name, "FN");
    assert!(!fn_filter.all_of);
    assert_eq!(
        fn_filter.text_matches,
        vec![TextMatch {
            text: "ad".into(),
            collation: Collation::AsciiCasemap,
            match_type: MatchType::StartsWith,
            negate: false
        }]
    );
    let email = &filter.prop_filters[1];
    assert!(email.all_of && email.text_matches[0].negate);
    assert_eq!(email.text_matches[0].collation, Collation::UnicodeCasemap);
    assert_eq!(email.param_filters[0].name, "TYPE");
    assert_eq!(email.param_filters[0].text_match.as_ref().unwrap().match_type, MatchType::Equals);
    assert!(filter.prop_filters[2].is_not_defined);

    let collation = br#"<C:addressbook-query xmlns:C="urn:ietf:params:xml:ns:carddav"><C:filter>
        <C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter>
        </C:filter></C:addressbook-query>"#;
    assert_eq!(report(collation), Err(XmlError::UnsupportedCollation("i;klingon".into())));
    let adr = br#"<C:addressbook-query xmlns:C="urn:ietf:params:xml:ns:carddav"><C:filter>
        <C:prop-filter name="ADR"/></C:filter></C:addressbook-query>"#;
    assert_eq!(report(adr), Err(XmlError::UnsupportedFilter("ADR".into())));
}

#[test]
fn sync_collection_reads_token_level_props_and_limit() {
    let body = br#"<d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
        <d:sync-token>http://contacts-api/ns/sync/4</d:sync-token><d:sync-level>1</d:sync-level>
        <d:limit><d:nresults>10</d:nresults></d:limit>
        <d:prop><d:getetag/><card:address-data/></d:prop></d:sync-collection>"#;
    let Report::SyncCollection { token, props, limit } = report(body).unwrap() else { panic!("not a sync") };
    assert_eq!(token.as_deref(), Some("http://contacts-api/ns/sync/4"));
    assert_eq!(limit, Some(10));
    assert_eq!(props.address_data, Some(AddressData { version: None, parts: None }));

    let initial = br#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level>
        <prop><getetag/></prop></sync-collection>"#;
    assert!(matches!(report(initial).unwrap(), Report::SyncCollection { token: None, .. }));

    for nresults in ["0", "-1", "ten"] {
        let limited = format!(
            r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level>
            <limit><nresults>{nresults}</nresults></limit><prop><getetag/></prop></sync-collection>"#
        );
        assert!(matches!(report(limited.as_bytes()), Err(XmlError::Unexpected(_))), "{nresults}");
    }
}

#[test]
fn other_reports_are_named() {
    assert_eq!(report(br#"<expand-property xmlns="DAV:"/>"#).unwrap(), Report::Empty);
    assert_eq!(
        report(br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#).unwrap(),
        Report::Unsupported(Name::owned("urn:ietf:params:xml:ns:caldav", "calendar-query"))
    );
}
