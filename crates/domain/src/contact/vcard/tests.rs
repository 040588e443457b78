//! Tests of the vCard mapping: reading cards of every version, REST edits that keep the rest of
//! a card, and conversions between 3.0 and 4.0.

use chrono::NaiveDate;

use super::*;
use crate::contact::fixtures::contact_from;

const APPLE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n\
N:Appleseed;Johnny;;;\r\nFN:Johnny Appleseed\r\nORG:Apple Inc.;\r\n\
item1.EMAIL;type=INTERNET;type=HOME;type=pref:johnny@example.com\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n\
EMAIL;type=INTERNET;type=WORK:j.appleseed@apple.example\r\nTEL;type=CELL;type=VOICE;type=pref:+1 (408) 555-0100\r\n\
item2.ADR;type=HOME;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;United States\r\n\
BDAY;X-APPLE-OMIT-YEAR=1604:1604-12-09\r\nNOTE:Met at WWDC\\, 2019\r\nUID:apple-uid-1\r\nEND:VCARD\r\n";

const V21_QP: &str = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen\r\n\
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BC=\r\nller\r\nTEL;HOME;VOICE:+49 30 1234567\r\nEND:VCARD\r\n";

#[test]
fn reads_an_apple_card() {
    let view = read_card(APPLE).unwrap();
    assert_eq!(view.uid.as_deref(), Some("apple-uid-1"));
    assert_eq!((view.first_name.as_str(), view.last_name.as_str()), ("Johnny", "Appleseed"));
    assert_eq!(view.emails.len(), 2);
    assert_eq!(view.emails[0].value, "johnny@example.com");
    assert_eq!(view.emails[0].kind.as_deref(), Some("home"));
    assert_eq!(view.emails[1].kind.as_deref(), Some("work"));
    assert_eq!(view.phones[0].value, "+1 (408) 555-0100");
    assert_eq!(view.birthday, Some(CardBirthday::YearLess(MonthDay { month: 12, day: 9 })));
    assert_eq!(view.note.as_deref(), Some("Met at WWDC, 2019"));
}

#[test]
fn reads_quoted_printable_2_1_and_year_less_4_0() {
    let view = read_card(V21_QP).unwrap();
    assert_eq!((view.first_name.as_str(), view.last_name.as_str()), ("Jürgen", "Müller"));
    assert_eq!(view.phones[0].value, "+49 30 1234567");
    let v4 = read_card("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Cher Sarkisian\r\nBDAY:--0415\r\nEND:VCARD\r\n").unwrap();
    assert_eq!((v4.first_name.as_str(), v4.last_name.as_str()), ("Cher", "Sarkisian"));
    assert_eq!(v4.birthday, Some(CardBirthday::YearLess(MonthDay { month: 4, day: 15 })));
}

#[test]
fn a_card_without_a_name_or_over_1_mib_is_refused() {
    assert_eq!(read_card("BEGIN:VCARD\r\nVERSION:4.0\r\nEMAIL:a@b.io\r\nEND:VCARD\r\n"), Err(CardError::NoName));
    let big = format!("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nNOTE:{}\r\nEND:VCARD\r\n", "x".repeat(MAX_CARD_BYTES));
    assert_eq!(read_card(&big), Err(CardError::TooLarge));
}

#[test]
fn a_control_character_is_refused_as_written_or_as_decoded() {
    let refused = Err(CardError::Invalid("control characters are not allowed".to_owned()));
    let card = |note: &str| format!("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A B\r\n{note}\r\nEND:VCARD\r\n");
    assert_eq!(record(&card("NOTE:a\u{b}b")).map(|r| r.uid), refused);
    assert_eq!(record(&card("X-OTHER:\u{1b}[31m")).map(|r| r.uid), refused);
    assert_eq!(record(&card("NOTE:a\u{85}b")).map(|r| r.uid), refused, "C1 controls too, as REST refuses them");
    let decoded = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:A B\r\nNOTE;ENCODING=QUOTED-PRINTABLE:x=1By=0Bz\r\nEND:VCARD\r\n";
    assert_eq!(record(decoded).map(|r| r.uid), refused);
    // A card stored before this rule is still read, so REST edits of it keep their lines.
    assert_eq!(read_card(decoded).unwrap().note.as_deref(), Some("x\u{1b}y\u{b}z"));
    // Tabs and the line breaks of a multi-line note are what notes are made of.
    let note = record(&card("NOTE:one\\ntwo\tthree")).unwrap().view.note;
    assert_eq!(note.as_deref(), Some("one\ntwo\tthree"));
}

#[test]
fn a_fold_inside_a_character_is_mended_and_utf8_is_kept_as_sent() {
    let folded = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:M\xc3\r\n \xbcller;J\xc3\xbcrgen\r\nEND:VCARD\r\n".to_vec();
    let view = read_card(&file_text(folded)).unwrap();
    assert_eq!((view.first_name.as_str(), view.last_name.as_str()), ("Jürgen", "Müller"));
    let sent = format!("{APPLE}{V21_QP}");
    assert_eq!(file_text(sent.clone().into_bytes()), sent, "UTF-8 as sent, folds and all");
    assert_eq!(file_text(b"N:\xff\r\n x".to_vec()), "N:\u{ff}x", "what is still not UTF-8 is Windows-1252");
}

#[test]
fn byte_order_marks_and_8_bit_lines_are_read_as_their_writers_meant() {
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jürgen Müller\r\nNOTE:5 €\r\nEND:VCARD\r\n";
    let mut utf8 = b"\xef\xbb\xbf".to_vec();
    utf8.extend_from_slice(card.as_bytes());
    assert_eq!(file_text(utf8), card, "a UTF-8 mark is not text");
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(card.encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(file_text(utf16), card, "UTF-16, little-endian");
    // A UTF-8 card and a Windows-1252 one in one file: each line read in its own encoding.
    let mut mixed = card.as_bytes().to_vec();
    mixed.extend_from_slice(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:J\xfcrgen M\xfcller\r\nNOTE:5 \x80\r\nEND:VCARD\r\n");
    assert_eq!(file_text(mixed), format!("{card}{card}"));
}

#[test]
fn splits_files_and_finds_no_card_in_other_text() {
    let file = format!("{APPLE}{V21_QP}");
    let cards = split_cards(&file).unwrap();
    assert_eq!(cards, vec![APPLE, V21_QP]);
    assert_eq!(split_cards("hello\r\nworld"), None);
}

#[test]
fn an_unchanged_card_renders_byte_for_byte_in_its_own_version() {
    let contact = contact_from(&read_card(APPLE).unwrap());
    assert_eq!(render(APPLE, &contact, false, Version::V3), APPLE);
    // Applying unchanged REST values keeps every line except REV.
    let applied = apply_rest_values(APPLE, &contact);
    assert_eq!(applied.replace("REV:20261130T120000Z\r\n", ""), APPLE);
}

#[test]
fn a_rest_edit_changes_only_mapped_lines() {
    let mut contact = contact_from(&read_card(APPLE).unwrap());
    contact.first_name = "John".to_owned();
    contact.emails[1].value = "john@work.example".to_owned();
    contact.phones.push(TypedValue { value: "+1 555 0101".to_owned(), kind: Some("work".to_owned()) });
    let card = apply_rest_values(APPLE, &contact);
    for kept in [
        "ORG:Apple Inc.;\r\n",
        "item1.EMAIL;type=INTERNET;type=HOME;type=pref:johnny@example.com\r\n",
        "item1.X-ABLabel:_$!<Other>!$_\r\n",
        "item2.ADR;type=HOME;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;United States\r\n",
        "BDAY;X-APPLE-OMIT-YEAR=1604:1604-12-09\r\n",
        "PRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n",
        "TEL;type=CELL;type=VOICE;type=pref:+1 (408) 555-0100\r\n",
    ] {
        assert!(card.contains(kept), "{kept:?} lost in\n{card}");
    }
    assert!(card.contains("N:Appleseed;John;;;\r\n"), "{card}");
    assert!(card.contains("FN:John Appleseed\r\n"), "{card}");
    assert!(card.contains("EMAIL;TYPE=work:john@work.example\r\n"), "{card}");
    assert!(card.contains("TEL;TYPE=work:+1 555 0101\r\n"), "{card}");
    let back = read_card(&card).unwrap();
    assert_eq!(contact_from(&back).emails, contact.emails);
    assert_eq!(back.phones, contact.phones);
}

#[test]
fn a_card_without_fn_gets_one_when_converted() {
    let card =
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8:M\u{fc}ller;J\u{fc}rgen\r\nTEL:+49 30 1234567\r\nEND:VCARD\r\n";
    let contact = contact_from(&read_card(card).unwrap());
    for version in [Version::V3, Version::V4] {
        let converted = render(card, &contact, false, version);
        let names: Vec<&str> = converted.lines().filter(|l| l.starts_with("FN")).collect();
        assert_eq!(names.len(), 1, "{converted}");
        assert!(names[0].ends_with(":J\u{fc}rgen M\u{fc}ller"), "{converted}");
    }
    // A card that has one keeps its own.
    let v4 = render(APPLE, &contact_from(&read_card(APPLE).unwrap()), false, Version::V4);
    assert_eq!(v4.matches("FN:").count(), 1, "{v4}");
    assert!(v4.contains("FN:Johnny Appleseed"), "{v4}");
}

#[test]
fn a_card_without_n_gets_one_in_3_0_only() {
    // RFC 2426 3.1.2: a 3.0 card must have an N; RFC 6350 lets a 4.0 card go without.
    let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:Grace Brewster Hopper\r\nEND:VCARD\r\n";
    let contact = contact_from(&read_card(card).unwrap());
    let v3 = render(card, &contact, false, Version::V3);
    assert!(v3.contains("FN:Grace Brewster Hopper\r\nN:Hopper;Grace Brewster;;;\r\n"), "{v3}");
    assert_eq!(v3.lines().filter(|l| l.starts_with("N:")).count(), 1, "{v3}");
    assert_eq!(render(card, &contact, false, Version::V4), card, "4.0 as stored");
    // A card that has one keeps its own.
    let named = card.replace("END:VCARD", "N:Hopper;Grace;Brewster;;\r\nEND:VCARD").replace("\r\n\r\n", "\r\n");
    let v3 = render(&named, &contact_from(&read_card(&named).unwrap()), false, Version::V3);
    assert_eq!(v3.lines().filter(|l| l.starts_with("N:")).collect::<Vec<_>>(), ["N:Hopper;Grace;Brewster;;"], "{v3}");
}

#[test]
fn year_less_birthdays_convert_between_versions() {
    let contact = contact_from(&read_card(APPLE).unwrap());
    let v4 = render(APPLE, &contact, false, Version::V4);
    assert!(v4.contains("VERSION:4.0"), "{v4}");
    assert!(v4.contains("BDAY:--1209"), "{v4}");
    assert!(!v4.contains("OMIT-YEAR"), "{v4}");
    let card4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Cher\r\nBDAY:--0415\r\nEND:VCARD\r\n";
    let v3 = render(card4, &contact_from(&read_card(card4).unwrap()), false, Version::V3);
    assert!(v3.contains("VERSION:3.0"), "{v3}");
    assert!(v3.contains("X-APPLE-OMIT-YEAR=1604"), "{v3}");
    assert!(v3.contains(":1604-04-15"), "{v3}");
    assert_eq!(read_card(&v3).unwrap().birthday, Some(CardBirthday::YearLess(MonthDay { month: 4, day: 15 })));
}

#[test]
fn a_rest_made_card_carries_the_mapped_fields() {
    let view = CardView {
        uid: Some("rest-1".to_owned()),
        first_name: "Ada".to_owned(),
        last_name: "Lovelace".to_owned(),
        emails: vec![TypedValue { value: "ada@example.com".to_owned(), kind: None }],
        phones: vec![TypedValue { value: "+44 20 7946 0000".to_owned(), kind: None }],
        birthday: Some(CardBirthday::Date(NaiveDate::from_ymd_opt(1815, 12, 10).unwrap())),
        note: Some("Analyst; poet\nline 2".to_owned()),
    };
    let card = new_card(&contact_from(&view));
    assert_eq!(read_card(&card).unwrap(), view);
    assert!(card.contains("BDAY:18151210\r\n"), "{card}");
}

#[test]
fn a_card_without_uid_gets_a_new_one_each_time() {
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Uid\r\nEND:VCARD\r\n";
    let (a, b) = (record(card).unwrap(), record(card).unwrap());
    assert_ne!(a.uid, b.uid, "the same text twice is two cards");
    for uid in [&a.uid, &b.uid] {
        let parts: Vec<usize> = uid.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{uid}");
        assert!(uid.as_bytes()[14] == b'4', "a version 4 UUID: {uid}");
    }
    assert!(a.card.ends_with(&format!("UID:{}\r\nEND:VCARD\r\n", a.uid)), "{}", a.card);
    assert_eq!(read_card(&a.card).unwrap().uid, Some(a.uid));
}

#[test]
fn a_uid_longer_than_the_store_keeps_is_refused() {
    let card = |uid: &str| format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Ada\r\nEND:VCARD\r\n");
    assert!(record(&card(&"u".repeat(MAX_UID_BYTES))).is_ok());
    let refused = record(&card(&"ü".repeat(MAX_UID_BYTES / 2 + 1)));
    assert!(matches!(refused, Err(CardError::Invalid(why)) if why.contains("UID is longer")), "bytes, not characters");
}

#[test]
fn a_card_must_end_with_its_end_line() {
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nEND:VCARD\r\n";
    assert!(record(card).is_ok());
    assert!(record(&format!("{card}\r\n\r\n")).is_ok(), "blank lines after it are no content");
    for broken in [card.replace("END:VCARD\r\n", ""), format!("{card}NOTE:after the end\r\n")] {
        assert!(matches!(record(&broken), Err(CardError::Invalid(_))), "{broken}");
    }
}

#[test]
fn a_resource_is_3_0_or_4_0_written_as_its_rfc_asks() {
    let v3 = "BEGIN:VCARD\r\nFN:Ada\r\nVERSION:3.0\r\nEND:VCARD\r\n";
    assert_eq!(resource_version(v3), Ok(Version::V3), "3.0 puts VERSION anywhere");
    let v4 = |extra: &str| format!("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada\r\n{extra}END:VCARD\r\n");
    assert_eq!(resource_version(&v4("")), Ok(Version::V4));
    assert_eq!(resource_version(&v4("EMAIL;PREF=1:a@b.io\r\nTEL;TYPE=cell;PREF=100:1\r\n")), Ok(Version::V4));
    assert_eq!(resource_version(&v4("X-A;X-B=\"PREF=0:\":x\r\n")), Ok(Version::V4), "inside a quoted value");
    for bad in ["EMAIL;PREF=0:a@b.io\r\n", "EMAIL;PREF=101:a@b.io\r\n", "EMAIL;PREF=x:a@b.io\r\n"] {
        assert!(matches!(resource_version(&v4(bad)), Err(CardError::Invalid(_))), "{bad}");
    }
    let member = "MEMBER:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af\r\n";
    assert!(matches!(resource_version(&v4(member)), Err(CardError::Invalid(_))), "RFC 6350 6.6.5");
    assert_eq!(resource_version(&v4(&format!("KIND:group\r\n{member}"))), Ok(Version::V4));
    let profile = |value: &str| v3.replace("FN:Ada", &format!("PROFILE:{value}\r\nFN:Ada"));
    assert_eq!(resource_version(&profile("VCARD")), Ok(Version::V3));
    assert!(matches!(resource_version(&profile("VCALENDAR")), Err(CardError::Invalid(_))), "RFC 2426 2.1.3");
    let late = "BEGIN:VCARD\r\nFN:Ada\r\nVERSION:4.0\r\nEND:VCARD\r\n";
    assert!(matches!(resource_version(late), Err(CardError::Invalid(_))), "RFC 6350: VERSION follows BEGIN");
    let none = "BEGIN:VCARD\r\nFN:Ada\r\nEND:VCARD\r\n";
    assert!(matches!(resource_version(none), Err(CardError::Invalid(_))));
    let v21 = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Ada\r\nEND:VCARD\r\n";
    assert_eq!(resource_version(v21), Err(CardError::UnsupportedVersion));
}

#[test]
fn a_card_replacing_a_stored_one_keeps_its_uid() {
    let own = record("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Ada\r\nEND:VCARD\r\n").unwrap();
    assert!(!own.uid_added);
    assert_eq!(own.replacing("u1").as_deref(), Some(&own), "the same UID: as sent");
    assert_eq!(own.replacing("u2"), None, "another UID: refused");
    // A card without one takes the stored card's UID, in its text and in its view.
    let without = record("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nEND:VCARD\r\n").unwrap();
    assert!(without.uid_added);
    let kept = without.replacing("u1").expect("takes the stored UID");
    assert_eq!(kept.uid, "u1");
    assert_eq!(kept.card, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nUID:u1\r\nEND:VCARD\r\n");
    assert_eq!(read_card(&kept.card).unwrap(), kept.view);
}

#[test]
fn a_4_0_birthday_written_with_dashes_is_read_as_a_date() {
    // RFC 6350 writes 4.0 dates without dashes, but many exporters keep 3.0's extended form;
    // read as text, such a birthday was lost to REST, birthday lists and reminders.
    let card = |bday: &str| format!("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada\r\nBDAY:{bday}\r\nEND:VCARD\r\n");
    let date = |y, m, d| Some(CardBirthday::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap()));
    assert_eq!(read_card(&card("1999-12-06")).unwrap().birthday, date(1999, 12, 6));
    assert_eq!(read_card(&card("1999-12-06T00:00:00Z")).unwrap().birthday, date(1999, 12, 6));
    assert_eq!(
        read_card(&card("--12-06")).unwrap().birthday,
        Some(CardBirthday::YearLess(MonthDay { month: 12, day: 6 }))
    );
    assert_eq!(read_card(&card("19991206")).unwrap().birthday, date(1999, 12, 6), "the RFC's own form");
    for not_a_day in ["1999-02-30", "1999-12", "circa 1999", "--13-01"] {
        assert_eq!(read_card(&card(not_a_day)).unwrap().birthday, None, "{not_a_day}");
    }
}

#[test]
fn a_4_0_birthday_with_dashes_keeps_its_day_in_a_3_0_conversion() {
    let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nBDAY:1815-12-10\r\nEND:VCARD\r\n";
    let view = read_card(card).unwrap();
    let contact = contact_from(&view);
    let v3 = render(card, &contact, false, Version::V3);
    assert!(v3.contains("BDAY:1815-12-10\r\n"), "{v3}");
    assert_eq!(read_card(&v3).unwrap().birthday, view.birthday);
}

#[test]
fn an_inline_photo_of_a_3_0_card_is_a_plain_data_uri_in_4_0_and_comes_back() {
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n\
                PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\nLOGO;VALUE=binary;ENCODING=b;TYPE=PNG:iVBORw0KGgo=\r\nEND:VCARD\r\n";
    let contact = contact_from(&read_card(card).unwrap());
    let v4 = render(card, &contact, false, Version::V4).replace("\r\n ", "");
    assert!(v4.contains("\r\nPHOTO;TYPE=JPEG:data:image/jpeg;base64,/9j/4AAQ\r\n"), "{v4}");
    assert!(v4.contains("\r\nLOGO;TYPE=PNG:data:image/png;base64,iVBORw0KGgo=\r\n"), "no VALUE=binary in 4.0: {v4}");
    // Read back as 3.0 (an iPhone asking for the card a 4.0 client wrote), it is inline again.
    let v3 = render(&v4, &contact, false, Version::V3).replace("\r\n ", "");
    assert!(v3.contains("\r\nPHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQ\r\n"), "{v3}");
}

#[test]
fn a_tel_uri_is_read_as_its_number_and_kept_when_rest_leaves_it() {
    let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n\
                TEL;VALUE=uri;TYPE=cell:tel:+1-555-0100\r\nTEL;VALUE=uri:TEL:+44 20 7946 0958\r\nEND:VCARD\r\n";
    let view = read_card(card).unwrap();
    let numbers: Vec<&str> = view.phones.iter().map(|p| p.value.as_str()).collect();
    assert_eq!(numbers, ["+1-555-0100", "+44 20 7946 0958"]);
    assert_eq!(view.phones[0].kind.as_deref(), Some("cell"));

    // REST writes the numbers back unchanged, then changes the second one.
    let mut contact = contact_from(&view);
    let kept = apply_rest_values(card, &contact);
    assert!(
        kept.contains("\r\nTEL;VALUE=uri;TYPE=cell:tel:+1-555-0100\r\nTEL;VALUE=uri:TEL:+44 20 7946 0958\r\n"),
        "{kept}"
    );
    contact.phones[1].value = "+44 20 7946 0000".to_owned();
    let changed = apply_rest_values(card, &contact);
    assert!(changed.contains("\r\nTEL;VALUE=uri;TYPE=cell:tel:+1-555-0100\r\n"), "{changed}");
    assert_eq!(read_card(&changed).unwrap().phones[1].value, "+44 20 7946 0000");
}

/// `card` rendered in `version` (lines unfolded) holds each of `lines` as a whole line, ignoring
/// letter case.
fn assert_renders_lines(card: &str, version: Version, lines: &[&str]) {
    let contact = contact_from(&read_card(card).unwrap());
    let rendered = render(card, &contact, false, version).replace("\r\n ", "");
    for line in lines {
        let whole = format!("\r\n{}\r\n", line.to_ascii_uppercase());
        assert!(rendered.to_ascii_uppercase().contains(&whole), "{line} in {rendered}");
    }
}

#[test]
fn a_2_1_card_reads_as_valid_3_0_and_4_0() {
    // As Android exports: bare types, PREF, quoted-printable with a line break, an inline photo.
    let card = "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Lovelace;Ada\r\nTEL;CELL;PREF:+44 20 7946 0958\r\n\
                EMAIL;INTERNET:ada@example.org\r\nNOTE;ENCODING=QUOTED-PRINTABLE:one=0D=0Atwo\r\n\
                PHOTO;JPEG;ENCODING=BASE64:/9j/4AAQ\r\n\r\nEND:VCARD\r\n";
    let v4_lines = [
        "N:Lovelace;Ada;;;",
        "TEL;TYPE=CELL;PREF=1:+44 20 7946 0958",
        "EMAIL;TYPE=INTERNET:ada@example.org",
        "NOTE:one\\ntwo",
        "PHOTO;TYPE=JPEG:data:image/jpeg;base64,/9j/4AAQ",
    ];
    assert_renders_lines(card, Version::V4, &v4_lines);
    let v3_lines = [
        "N:Lovelace;Ada;;;",
        "TEL;TYPE=CELL,pref:+44 20 7946 0958",
        "EMAIL;TYPE=INTERNET:ada@example.org",
        "NOTE:one\\ntwo",
        "PHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQ",
    ];
    assert_renders_lines(card, Version::V3, &v3_lines);
    let contact = contact_from(&read_card(card).unwrap());
    let v4 = render(card, &contact, false, Version::V4);
    assert_eq!(read_card(&v4).unwrap().phones, read_card(card).unwrap().phones, "the same numbers and types");
}

#[test]
fn a_4_0_card_reads_as_3_0_with_plain_numbers_and_preferences_as_types() {
    let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n\
                TEL;VALUE=uri;TYPE=cell;PREF=1:tel:+1-555-0100\r\nEMAIL;TYPE=work;PREF=2:ada@example.org\r\nEND:VCARD\r\n";
    assert_renders_lines(
        card,
        Version::V3,
        &["TEL;TYPE=CELL,pref:+1-555-0100", "EMAIL;TYPE=WORK,pref:ada@example.org"],
    );
}

#[test]
fn quoted_printable_values_decode_in_their_charset() {
    assert_eq!(quoted_printable_text("J=C3=BCrgen M=C3=BCller", Some("UTF-8")), "Jürgen Müller");
    assert_eq!(quoted_printable_text("Ren=E9", Some("ISO-8859-1")), "René");
    assert_eq!(quoted_printable_text("Ren=E9", None), "René", "ISO-8859-1 when none is named");
    assert_eq!(quoted_printable_text("a=3Db =ZZ=", Some("utf-8")), "a=b =ZZ=", "a bare `=` stays");
    assert_eq!(quoted_printable_text("=C3=BC", Some("no-such-charset")), "ü", "UTF-8 when the name is unknown");
}

#[test]
fn a_file_entry_ends_every_line_with_crlf() {
    let crlf = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A B\r\nEND:VCARD\r\n";
    assert!(matches!(file_entry(crlf), std::borrow::Cow::Borrowed(_)), "as it is");
    assert_eq!(file_entry("BEGIN:VCARD\nVERSION:4.0\nFN:A B\nEND:VCARD\n"), crlf);
    assert_eq!(file_entry("BEGIN:VCARD\r\nVERSION:4.0\nFN:A B\r\nEND:VCARD"), crlf, "mixed, and no last break");
    let folded = "BEGIN:VCARD\nNOTE:a long\n  line\nEND:VCARD\n";
    assert_eq!(file_entry(folded), "BEGIN:VCARD\r\nNOTE:a long\r\n  line\r\nEND:VCARD\r\n", "folds kept");
}
