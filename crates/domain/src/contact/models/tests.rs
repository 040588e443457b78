use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The "today" of these tests.
fn today() -> NaiveDate {
    date(2025, 6, 15)
}

fn kind_of<T: std::fmt::Debug>(parsed: Result<T, FieldError>) -> &'static str {
    parsed.unwrap_err().rule.name()
}

fn problems_of<T: std::fmt::Debug>(parsed: Result<T, Error>) -> Vec<(String, &'static str)> {
    match parsed.unwrap_err() {
        Error::Invalid(problems) => problems.into_iter().map(|p| (p.field(), p.rule.name())).collect(),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

fn problem(field: &str, kind: &'static str) -> (String, &'static str) {
    (field.to_owned(), kind)
}

fn valid_input() -> ContactInput {
    ContactInput {
        first_name: Some("Ada".to_owned()),
        last_name: Some("Lovelace".to_owned()),
        email: Some("Ada@Example.org".to_owned()),
        phone: Some("+44 (20) 7946-0018".to_owned()),
        birthday: Some("1990-12-10".to_owned()),
        additional_info: Some("Met at the Analytical Society".to_owned()),
        emails: None,
        phones: None,
    }
}

fn sent(value: &str) -> Option<Option<String>> {
    Some(Some(value.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// PersonName

#[test]
fn names_are_trimmed() {
    let name = PersonName::parse("first_name", "  \tAda \n").unwrap();
    assert_eq!(name.as_str(), "Ada");
}

#[test]
fn names_keep_inner_whitespace() {
    assert_eq!(PersonName::parse("last_name", " van  Rossum ").unwrap().as_str(), "van  Rossum");
}

#[test]
fn empty_or_blank_names_are_too_short() {
    for blank in ["", " ", "\t\n  "] {
        let error = PersonName::parse("first_name", blank).unwrap_err();
        assert_eq!((error.field().as_str(), error.rule.name()), ("first_name", "TooShort"), "{blank:?}");
    }
}

#[test]
fn names_have_1_to_50_characters() {
    assert_eq!(PersonName::parse("first_name", "A").unwrap().as_str(), "A");
    let fifty = "a".repeat(50);
    assert_eq!(PersonName::parse("first_name", &fifty).unwrap().as_str(), fifty);
    let error = PersonName::parse("last_name", &"a".repeat(51)).unwrap_err();
    assert_eq!((error.field().as_str(), error.rule.name()), ("last_name", "TooLong"));
}

#[test]
fn name_length_is_counted_after_trimming() {
    let padded = format!("   {}   ", "a".repeat(50));
    assert_eq!(PersonName::parse("first_name", &padded).unwrap().as_str(), "a".repeat(50));
}

#[test]
fn name_length_is_counted_in_characters_not_bytes() {
    // 50 two-byte characters are 100 bytes, still 50 characters.
    let fifty = "é".repeat(50);
    assert_eq!(PersonName::parse("first_name", &fifty).unwrap().as_str(), fifty);
    let fifty_cjk = "名".repeat(50);
    assert!(PersonName::parse("first_name", &fifty_cjk).is_ok());
    assert_eq!(kind_of(PersonName::parse("first_name", &"é".repeat(51))), "TooLong");
}

// ---------------------------------------------------------------------------------------------
// Phone

#[test]
fn phones_are_kept_exactly_as_sent() {
    for ok in ["1234567", "+1 (555) 123-4567", "+380 44 123 45 67", "(044)1234567", "12345678901234567890"] {
        assert_eq!(Phone::parse(ok).unwrap().as_str(), ok);
    }
}

#[test]
fn phones_have_7_to_20_characters() {
    assert!(Phone::parse("1234567").is_ok());
    assert!(Phone::parse(&"1".repeat(20)).is_ok());
    for bad in ["", "123456", "+123456", &"1".repeat(21), "+1 234 567 890 123 45"] {
        let error = Phone::parse(bad).unwrap_err();
        assert_eq!((error.field().as_str(), error.rule.name()), ("phone", "InvalidPhone"), "{bad:?}");
    }
}

#[test]
fn phones_only_allow_digits_spaces_dashes_parentheses_and_a_leading_plus() {
    for bad in ["123-456-789a", "123.456.7890", "123/4567890", "1234567#", "+1 555 123 4567 x12", "١٢٣٤٥٦٧٨"] {
        assert!(Phone::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_plus_is_only_allowed_at_the_start() {
    assert!(Phone::parse("+1234567").is_ok());
    for bad in ["1234+567", "1234567+", "++1234567", " +1234567"] {
        assert!(Phone::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn phones_need_at_least_7_digits() {
    assert!(Phone::parse("12-34-567").is_ok());
    for bad in ["123-45-6", "(12) 34-56", "+1 (23) 456", "- - - - - - -"] {
        assert!(Phone::parse(bad).is_err(), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Birthday

#[test]
fn birthdays_parse_yyyy_mm_dd() {
    assert_eq!(Birthday::parse("1990-12-10", today()).unwrap().date(), date(1990, 12, 10));
}

#[test]
fn birthdays_must_be_real_calendar_dates() {
    assert_eq!(Birthday::parse("2024-02-29", today()).unwrap().date(), date(2024, 2, 29));
    for bad in ["2023-02-29", "2024-02-30", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32"] {
        let error = Birthday::parse(bad, today()).unwrap_err();
        assert_eq!((error.field().as_str(), error.rule.name()), ("birthday", "InvalidDate"), "{bad:?}");
    }
}

#[test]
fn birthdays_must_be_exactly_in_the_yyyy_mm_dd_format() {
    for bad in [
        "2024-2-1",
        "2024-02-1",
        "2024-2-01",
        "24-02-01",
        "2024/02/01",
        "20240201",
        "01-02-2024",
        "2024-02-01T00:00:00",
        " 2024-02-01",
        "2024-02-01 ",
        "2024- 2-01",
        "2024-02- 1",
        "+202-02-01",
        "",
        "yesterday",
    ] {
        let parsed = Birthday::parse(bad, today());
        assert_eq!(parsed.map_err(|e| e.rule.name()), Err("InvalidDate"), "{bad:?}");
    }
}

#[test]
fn a_birthday_may_be_today_but_not_tomorrow() {
    assert_eq!(Birthday::parse("2025-06-15", today()).unwrap().date(), today());
    let error = Birthday::parse("2025-06-16", today()).unwrap_err();
    assert_eq!((error.field().as_str(), error.rule.name()), ("birthday", "FutureDate"));
}

#[test]
fn the_future_is_judged_against_the_given_today() {
    assert!(Birthday::parse("2025-06-16", date(2025, 6, 16)).is_ok());
    assert!(Birthday::parse("2025-06-15", date(2025, 6, 14)).is_err());
}

#[test]
fn birthdays_start_on_1900_01_01() {
    assert_eq!(Birthday::parse("1900-01-01", today()).unwrap().date(), date(1900, 1, 1));
    let error = Birthday::parse("1899-12-31", today()).unwrap_err();
    assert_eq!((error.field().as_str(), error.rule.name()), ("birthday", "DateBefore"));
}

// ---------------------------------------------------------------------------------------------
// AdditionalInfo

#[test]
fn additional_info_has_at_most_1000_characters() {
    assert_eq!(AdditionalInfo::parse("").unwrap().as_str(), "");
    let thousand = "€".repeat(1000);
    assert_eq!(AdditionalInfo::parse(&thousand).unwrap().as_str(), thousand);
    let error = AdditionalInfo::parse(&"x".repeat(1001)).unwrap_err();
    assert_eq!((error.field().as_str(), error.rule.name()), ("additional_info", "TooLong"));
}

#[test]
fn additional_info_is_kept_as_sent() {
    assert_eq!(AdditionalInfo::parse("  two\nlines  ").unwrap().as_str(), "  two\nlines  ");
}

// ---------------------------------------------------------------------------------------------
// NewContact

#[test]
fn a_valid_contact_parses_with_names_trimmed_and_the_rest_as_sent() {
    let input = ContactInput { first_name: Some("  Ada ".to_owned()), ..valid_input() };

    let contact = NewContact::parse(input, today()).unwrap();

    assert_eq!(contact.first_name.as_str(), "Ada");
    assert_eq!(contact.last_name.as_str(), "Lovelace");
    assert_eq!(contact.email.as_str(), "Ada@Example.org");
    assert_eq!(contact.phone.as_str(), "+44 (20) 7946-0018");
    assert_eq!(contact.birthday.date(), date(1990, 12, 10));
    assert_eq!(contact.additional_info.as_ref().map(AdditionalInfo::as_str), Some("Met at the Analytical Society"));
}

#[test]
fn a_contact_without_additional_info_has_none() {
    let contact = NewContact::parse(ContactInput { additional_info: None, ..valid_input() }, today()).unwrap();

    assert_eq!(contact.additional_info, None);
}

#[test]
fn a_new_contact_reports_every_missing_field() {
    assert_eq!(
        problems_of(NewContact::parse(ContactInput::default(), today())),
        vec![
            problem("first_name", "Missing"),
            problem("last_name", "Missing"),
            problem("email", "Missing"),
            problem("phone", "Missing"),
            problem("birthday", "Missing"),
        ]
    );
}

#[test]
fn a_new_contact_reports_every_invalid_field() {
    let input = ContactInput {
        first_name: Some("   ".to_owned()),
        last_name: Some("x".repeat(51)),
        email: Some("ada@localhost".to_owned()),
        phone: Some("12345".to_owned()),
        birthday: Some("2025-06-16".to_owned()),
        additional_info: Some("x".repeat(1001)),
        emails: None,
        phones: None,
    };

    assert_eq!(
        problems_of(NewContact::parse(input, today())),
        vec![
            problem("first_name", "TooShort"),
            problem("last_name", "TooLong"),
            problem("email", "InvalidEmail"),
            problem("phone", "InvalidPhone"),
            problem("birthday", "FutureDate"),
            problem("additional_info", "TooLong"),
        ]
    );
}

#[test]
fn a_new_contact_reports_only_the_fields_that_are_wrong() {
    let input = ContactInput { phone: None, birthday: Some("2023-02-29".to_owned()), ..valid_input() };

    assert_eq!(
        problems_of(NewContact::parse(input, today())),
        vec![problem("phone", "Missing"), problem("birthday", "InvalidDate")]
    );
}

#[test]
fn problems_name_top_level_fields() {
    match NewContact::parse(ContactInput::default(), today()).unwrap_err() {
        Error::Invalid(problems) => assert!(problems.iter().all(|p| p.path.len() == 1), "top-level fields"),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// ContactPatch

#[test]
fn an_empty_patch_is_refused() {
    let error = ContactPatch::parse(ContactPatchInput::default(), today()).unwrap_err();

    match error {
        Error::Invalid(problems) => {
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0], FieldError::whole(Rule::AtLeastOneField));
        }
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

#[test]
fn a_patch_changes_only_the_fields_sent() {
    let input = ContactPatchInput { last_name: sent(" Byron "), ..ContactPatchInput::default() };

    let patch = ContactPatch::parse(input, today()).unwrap();

    assert_eq!(
        patch,
        ContactPatch { last_name: Some(PersonName::parse("last_name", "Byron").unwrap()), ..ContactPatch::default() }
    );
}

#[test]
fn a_patch_may_set_every_field() {
    let input = ContactPatchInput {
        first_name: sent("Ada"),
        last_name: sent("King"),
        email: sent("ada@example.org"),
        phone: sent("+44 20 7946 0018"),
        birthday: sent("2025-06-15"),
        additional_info: sent("Countess"),
        emails: None,
        phones: None,
    };

    let patch = ContactPatch::parse(input, today()).unwrap();

    assert_eq!(patch.first_name.unwrap().as_str(), "Ada");
    assert_eq!(patch.last_name.unwrap().as_str(), "King");
    assert_eq!(patch.email.unwrap().as_str(), "ada@example.org");
    assert_eq!(patch.phone.unwrap().as_str(), "+44 20 7946 0018");
    assert_eq!(patch.birthday.unwrap().date(), today());
    assert_eq!(patch.additional_info.unwrap().unwrap().as_str(), "Countess");
}

#[test]
fn a_patch_may_not_null_a_required_field() {
    for (name, input) in [
        ("first_name", ContactPatchInput { first_name: Some(None), ..ContactPatchInput::default() }),
        ("last_name", ContactPatchInput { last_name: Some(None), ..ContactPatchInput::default() }),
        ("email", ContactPatchInput { email: Some(None), ..ContactPatchInput::default() }),
        ("phone", ContactPatchInput { phone: Some(None), ..ContactPatchInput::default() }),
        ("birthday", ContactPatchInput { birthday: Some(None), ..ContactPatchInput::default() }),
    ] {
        assert_eq!(problems_of(ContactPatch::parse(input, today())), vec![problem(name, "NotNull")], "{name}");
    }
}

#[test]
fn a_patch_with_null_additional_info_clears_it() {
    let input = ContactPatchInput { additional_info: Some(None), ..ContactPatchInput::default() };

    let patch = ContactPatch::parse(input, today()).unwrap();

    assert_eq!(patch, ContactPatch { additional_info: Some(None), ..ContactPatch::default() });
}

#[test]
fn a_patch_reports_every_problem_at_once() {
    let input = ContactPatchInput {
        first_name: Some(None),
        last_name: sent(""),
        email: sent("nope"),
        phone: sent("12+34567"),
        birthday: sent("1899-12-31"),
        additional_info: sent(&"x".repeat(1001)),
        emails: None,
        phones: None,
    };

    assert_eq!(
        problems_of(ContactPatch::parse(input, today())),
        vec![
            problem("first_name", "NotNull"),
            problem("last_name", "TooShort"),
            problem("email", "InvalidEmail"),
            problem("phone", "InvalidPhone"),
            problem("birthday", "DateBefore"),
            problem("additional_info", "TooLong"),
        ]
    );
}

#[test]
fn a_patch_judges_the_birthday_against_today() {
    let tomorrow = ContactPatchInput { birthday: sent("2025-06-16"), ..ContactPatchInput::default() };
    assert_eq!(problems_of(ContactPatch::parse(tomorrow, today())), vec![problem("birthday", "FutureDate")]);

    let on_today = ContactPatchInput { birthday: sent("2025-06-15"), ..ContactPatchInput::default() };
    assert_eq!(ContactPatch::parse(on_today, today()).unwrap().birthday.unwrap().date(), today());
}

#[test]
fn control_characters_are_refused_in_names_and_notes_but_line_breaks_are_fine_in_notes() {
    assert_eq!(PersonName::parse("first_name", "Gr\u{0}ace").unwrap_err().field(), "first_name");
    assert!(PersonName::parse("last_name", "Hop\nper").is_err());
    assert!(AdditionalInfo::parse("a\u{0}b").is_err());
    assert!(AdditionalInfo::parse("a\u{7}b").is_err());
    assert_eq!(AdditionalInfo::parse("one\r\ntwo\tthree").unwrap().as_str(), "one\r\ntwo\tthree");
}

fn entry(value: &str, kind: Option<&str>) -> TypedValueInput {
    TypedValueInput { value: Some(value.to_owned()), kind: kind.map(str::to_owned) }
}

#[test]
fn emails_and_phones_lists_follow_the_single_fields_rules_at_their_own_path() {
    let input = ContactInput {
        emails: Some(vec![entry("ada@example.com", Some(" home ")), entry("nope", None)]),
        phones: Some(vec![entry("+1 (555) 010-2030", None), entry("12", Some(&"x".repeat(21)))]),
        ..valid_input()
    };
    let mut found = problems_of(NewContact::parse(input, today()));
    found.sort();
    assert_eq!(
        found,
        vec![
            problem("emails[1].value", "InvalidEmail"),
            problem("phones[1].type", "TooLong"),
            problem("phones[1].value", "InvalidPhone"),
        ]
    );
    let too_many = ContactInput { emails: Some(vec![entry("a@b.co", None); 21]), ..valid_input() };
    assert_eq!(problems_of(NewContact::parse(too_many, today())), vec![problem("emails", "TooManyItems")]);
}

#[test]
fn email_defaults_to_the_first_of_emails_and_must_equal_it_when_both_are_sent() {
    let only_list = ContactInput {
        email: None,
        emails: Some(vec![entry("first@example.com", Some("work")), entry("second@example.com", None)]),
        ..valid_input()
    };
    let parsed = NewContact::parse(only_list, today()).unwrap();
    assert_eq!(parsed.email.as_str(), "first@example.com");
    assert_eq!(parsed.emails.unwrap()[0].kind.as_deref(), Some("work"), "types are trimmed and kept");

    let disagree = ContactInput { emails: Some(vec![entry("other@example.com", None)]), ..valid_input() };
    assert_eq!(problems_of(NewContact::parse(disagree, today())), vec![problem("email", "DiffersFromFirstEntry")]);
    let empty = ContactPatchInput { emails: Some(vec![]), ..Default::default() };
    assert_eq!(problems_of(ContactPatch::parse(empty, today())), vec![problem("emails", "TooFewItems")]);
    let patch = ContactPatchInput { phones: Some(vec![entry("+1 555 010 2030", None)]), ..Default::default() };
    let patch = ContactPatch::parse(patch, today()).unwrap();
    assert_eq!(patch.phone.map(|p| p.as_str().to_owned()).as_deref(), Some("+1 555 010 2030"));
}
