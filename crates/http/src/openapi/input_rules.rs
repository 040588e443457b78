//! The input rules of the domain's value objects, written into the request schemas, so that a
//! client generated from the document (or a fuzzer such as Schemathesis) sends what the server
//! accepts: email syntax, phone and username characters, names without control characters, a
//! birthday from 1900-01-01 to today, the time zones known, at least one entry in `emails` and
//! `phones`.
//!
//! What JSON Schema cannot say stays in the descriptions and API.md: a password's 72 *bytes*,
//! a common or repeated password, `email` equal to `emails[0].value`, names counted after
//! trimming, a phone's seven digits. A rule here is looser than the server's where JSON Schema
//! cannot say more (or says it in a way a generator cannot use), and stricter only where the
//! server forgives: the whitespace it trims around a name or an entry's type (a tab there).

use chrono::{Datelike, NaiveDate, Utc};
use utoipa::Modify;
use utoipa::openapi::schema::{Array, ArrayItems, KnownFormat, Object, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr, Schema};

use contacts_domain::email::MAX_EMAIL_LENGTH;
use contacts_domain::reminders::TimeZoneName;

/// No control character (Unicode category Cc), and at least one character that is not
/// whitespace: a name the server keeps after trimming.
const NAME: &str = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";

/// No control character (Unicode category Cc).
const NO_CONTROLS: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";

/// No NUL.
const NO_NUL: &str = r"^[^\x00]*$";

/// Notes: line breaks and tabs, but no other control character.
const NOTE: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";

/// Digits, spaces, `-`, `(`, `)` and an optional leading `+`. That seven of them are digits is
/// left to the description: a pattern that counts them, with the length of 7 to 20, matched so
/// few generated strings that Schemathesis gave up on the contact routes.
const PHONE: &str = r"^\+?[0-9 ()-]+$";

/// ASCII letters, digits, `_`, `.` and `-`.
const USERNAME: &str = r"^[A-Za-z0-9_.-]+$";

/// A line `BEGIN:VCARD` (any case) somewhere in an import.
const HAS_A_CARD: &str = r"(^|\n)[ \t]*[Bb][Ee][Gg][Ii][Nn]:[Vv][Cc][Aa][Rr][Dd][ \t\r]*(\n|$)";

/// Writes the rules into the components and the import's body.
pub(super) struct InputRules;

impl Modify for InputRules {
    fn modify(&self, openapi: &mut OpenApi) {
        let birthday = birthday_pattern(Utc::now().date_naive());
        let mut doc = Doc(openapi);
        doc.rule("RegisterRequest", "username", |o| text(o, Some(3), Some(50), USERNAME));
        doc.rule("RegisterRequest", "email", email);
        doc.rule("RegisterRequest", "password", password);
        doc.rule("ResetPasswordRequest", "new_password", password);
        doc.rule("EmailRequest", "email", email);
        doc.rule("AppPasswordRequest", "name", |o| text(o, Some(1), Some(100), NAME));
        doc.rule("ReminderSettingsPatch", "timezone", |o| {
            o.enum_values = Some(TimeZoneName::every_name().map(Into::into).collect());
        });
        doc.entries("EmailEntryRequest", "An entry of `emails`: an address and its type.", email);
        doc.entries("PhoneEntryRequest", "An entry of `phones`: a number and its type.", phone);
        // Every list now names the entry of its kind.
        if let Some(components) = doc.0.components.as_mut() {
            components.schemas.remove("TypedValueRequest");
        }
        for contact in ["ContactRequest", "ContactPatchRequest"] {
            for name in ["first_name", "last_name"] {
                doc.rule(contact, name, |o| text(o, Some(1), Some(50), NAME));
            }
            doc.rule(contact, "email", email);
            doc.rule(contact, "phone", phone);
            doc.rule(contact, "birthday", |o| {
                o.format = Some(SchemaFormat::KnownFormat(KnownFormat::Date));
                o.pattern = birthday.clone();
                o.description = Some("A date from 1900-01-01 to today (UTC)".to_owned());
            });
            doc.rule(contact, "additional_info", |o| text(o, None, Some(1000), NOTE));
            doc.list(contact, "emails", "EmailEntryRequest");
            doc.list(contact, "phones", "PhoneEntryRequest");
        }
        // A PATCH changes at least one field; its fields but `additional_info` are never null.
        if let Some(patch) = doc.object("ContactPatchRequest") {
            patch.min_properties = Some(1);
            for name in ["first_name", "last_name", "email", "phone", "birthday"] {
                if let Some(RefOr::T(Schema::Object(field))) = patch.properties.get_mut(name) {
                    field.schema_type = SchemaType::Type(Type::String);
                }
            }
        }
        doc.import_body();
        doc.list_filters();
    }
}

/// The document being changed.
struct Doc<'a>(&'a mut OpenApi);

impl Doc<'_> {
    /// The component schema `name`, as an object.
    fn object(&mut self, name: &str) -> Option<&mut Object> {
        let components = self.0.components.as_mut()?;
        match components.schemas.get_mut(name)? {
            RefOr::T(Schema::Object(object)) => Some(object),
            _ => None,
        }
    }

    /// Applies `rule` to property `property` of component `schema` (a string, or a string or
    /// null). A debug build (every test, `just fuzz`) panics when either is gone, here and in
    /// the rules below, so a renamed field or path cannot lose its rule unseen.
    fn rule(&mut self, schema: &str, property: &str, rule: impl FnOnce(&mut Object)) {
        let field = self.object(schema).and_then(|o| o.properties.get_mut(property));
        let found = matches!(field, Some(RefOr::T(Schema::Object(_))));
        debug_assert!(found, "no text property {schema}.{property} in the OpenAPI document");
        if let Some(RefOr::T(Schema::Object(field))) = field {
            rule(field);
        }
    }

    /// A component `name`: `TypedValueRequest` with `rule` on its `value`, for one kind of list.
    fn entries(&mut self, name: &str, description: &str, rule: impl FnOnce(&mut Object)) {
        let Some(components) = self.0.components.as_mut() else { return };
        let Some(RefOr::T(Schema::Object(entry))) = components.schemas.get("TypedValueRequest") else { return };
        let mut entry = entry.clone();
        entry.description = Some(description.to_owned());
        if let Some(RefOr::T(Schema::Object(value))) = entry.properties.get_mut("value") {
            rule(value);
        }
        if let Some(RefOr::T(Schema::Object(kind))) = entry.properties.get_mut("type") {
            kind.pattern = Some(NO_CONTROLS.to_owned());
        }
        components.schemas.insert(name.to_owned(), RefOr::T(Schema::Object(entry)));
    }

    /// Property `property` of `schema` (a list of typed values) holds at least one entry, each
    /// a `entry`.
    fn list(&mut self, schema: &str, property: &str, entry: &str) {
        let field = self.object(schema).and_then(|o| o.properties.get_mut(property));
        debug_assert!(matches!(field, Some(RefOr::T(Schema::Array(_)))), "no list {schema}.{property}");
        if let Some(RefOr::T(Schema::Array(list))) = field {
            set_items(list, entry);
        }
    }

    /// The list's text filters hold no NUL (PostgreSQL's text cannot).
    fn list_filters(&mut self) {
        let Some(get) = self.0.paths.paths.get_mut("/api/contacts/").and_then(|item| item.get.as_mut()) else {
            debug_assert!(false, "no GET /api/contacts/ in the OpenAPI document");
            return;
        };
        let mut filters = 0;
        for parameter in get.parameters.iter_mut().flatten() {
            if let RefOr::T(parameter) = parameter
                && ["q", "first_name", "last_name", "email"].contains(&parameter.name.as_str())
                && let Some(RefOr::T(Schema::Object(text))) = parameter.schema.as_mut()
            {
                text.pattern = Some(NO_NUL.to_owned());
                filters += 1;
            }
        }
        debug_assert_eq!(filters, 4, "the list's four text filters");
    }

    /// The import's `text/vcard` body holds a `BEGIN:VCARD` line.
    fn import_body(&mut self) {
        let body = self.0.paths.paths.get_mut("/api/contacts/import").and_then(|item| item.post.as_mut());
        let Some(RefOr::T(body)) = body.and_then(|post| post.request_body.as_mut()) else {
            debug_assert!(false, "no body of POST /api/contacts/import in the OpenAPI document");
            return;
        };
        let mut texts = 0;
        for (media, content) in &mut body.content {
            if media.starts_with("text/")
                && let RefOr::T(content) = content
                && let Some(RefOr::T(Schema::Object(text))) = content.schema.as_mut()
            {
                text.pattern = Some(HAS_A_CARD.to_owned());
                texts += 1;
            }
        }
        debug_assert!(texts > 0, "the import takes a text/vcard body");
    }
}

/// A list's entries are `entry`, and there is at least one.
fn set_items(list: &mut Array, entry: &str) {
    list.items = ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(entry))));
    list.min_items = Some(1);
}

/// Text of `min`–`max` characters matching `pattern`.
fn text(o: &mut Object, min: Option<usize>, max: Option<usize>, pattern: &str) {
    o.min_length = min.or(o.min_length);
    o.max_length = max.or(o.max_length);
    o.pattern = Some(pattern.to_owned());
}

/// The fewest characters 8 bytes of UTF-8 can be (four bytes a character at most).
const MIN_PASSWORD_CHARS: usize = 2;

/// An email address as the server reads one.
fn email(o: &mut Object) {
    o.format = Some(SchemaFormat::Custom("email".to_owned()));
    o.max_length = Some(MAX_EMAIL_LENGTH);
}

/// A password: 8 to 72 bytes without a control character. JSON Schema counts characters, and a
/// character is 1 to 4 bytes of UTF-8, so the lengths it can state are the ones every such
/// password has: at least 2 characters (8 bytes in 2 four-byte ones), at most 72. A minimum of
/// 8 characters would call `ïñ𭂌í` (4 characters, 10 bytes) invalid, which the server takes (a
/// fuzzing run met it). The bytes are in the description. Not one character repeated is left to
/// the description too: Schemathesis took strings that matched a lookahead saying so for ones
/// that did not.
fn password(o: &mut Object) {
    text(o, Some(MIN_PASSWORD_CHARS), Some(72), NO_CONTROLS);
    o.description = Some(
        "8 to 72 bytes of UTF-8 without a control character; not one character repeated, not the \
         username, the email or its local part, and not a commonly used password (ignoring case)"
            .to_owned(),
    );
}

/// A phone number: its characters, and in words the seven digits.
fn phone(o: &mut Object) {
    text(o, Some(7), Some(20), PHONE);
    o.description = Some("Digits, spaces, `-`, `(`, `)` and an optional leading `+`; at least 7 digits".to_owned());
}

/// `YYYY-MM-DD` from 1900-01-01 to `today` (UTC: a birthday is never in the future), or `None`
/// for a year this pattern was not written for. The served document is made anew each UTC day
/// (`openapi_document` in the routes), so the pattern is today's.
fn birthday_pattern(today: NaiveDate) -> Option<String> {
    let year = today.year();
    if !(2000..=2099).contains(&year) {
        return None;
    }
    // Two-digit numbers from 1 to `last`, as alternatives.
    let upto = |last: u32| (1..=last).map(|n| format!("{n:02}")).collect::<Vec<_>>().join("|");
    let (tens, units) = ((year / 10) % 10, year % 10);
    let mut earlier_years = vec!["19[0-9][0-9]".to_owned()];
    if tens > 0 {
        earlier_years.push(format!("20[0-{}][0-9]", tens - 1));
    }
    if units > 0 {
        earlier_years.push(format!("20{tens}[0-{}]", units - 1));
    }
    let any_day = "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
    let mut dates = vec![format!("({})-{any_day}", earlier_years.join("|"))];
    if today.month() > 1 {
        dates.push(format!("{year}-({})-(0[1-9]|[12][0-9]|3[01])", upto(today.month() - 1)));
    }
    dates.push(format!("{year}-{:02}-({})", today.month(), upto(today.day())));
    Some(format!("^({})$", dates.join("|")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `pattern` matches `text`, through regex-lite (the patterns anchor themselves).
    fn matches(pattern: &str, text: &str) -> bool {
        regex_lite::Regex::new(pattern).unwrap().is_match(text)
    }

    /// Text over `alphabet` of every length up to `most`, 60 mixes of each length.
    fn samples(alphabet: &str, most: usize) -> Vec<String> {
        let letters: Vec<char> = alphabet.chars().collect();
        let mut out = Vec::new();
        for len in 0..=most {
            for seed in 0..60usize {
                let text = (0..len).map(|i| letters[(seed * 31 + i * (seed % 7 + 1) * 17) % letters.len()]).collect();
                out.push(text);
            }
        }
        out
    }

    #[test]
    fn the_phone_and_username_patterns_say_what_the_server_accepts() {
        use contacts_domain::contact::Phone;
        use contacts_domain::user::Username;
        for phone in samples("0123456789 ()-+x", 22) {
            let documented = matches(PHONE, &phone) && (7..=20).contains(&phone.chars().count());
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            // The pattern leaves the seven digits to the description.
            assert_eq!(documented && digits >= 7, Phone::parse(&phone).is_ok(), "{phone:?}");
        }
        for name in samples("aZ09_.-!é ", 52) {
            let documented = matches(USERNAME, &name) && (3..=50).contains(&name.chars().count());
            assert_eq!(documented, Username::parse(&name).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn the_name_pattern_says_what_the_server_accepts_inside_its_trimmed_whitespace() {
        use contacts_domain::contact::PersonName;
        for name in samples("ab \u{1}\u{7f}\u{85}é", 52) {
            let documented = matches(NAME, &name) && (1..=50).contains(&name.chars().count());
            let kept = PersonName::parse("first_name", &name).is_ok();
            // The server also keeps a name whose control characters are whitespace at its ends.
            let trimmed = name.trim() != name;
            assert!(documented == kept || (trimmed && kept), "{name:?}");
        }
        assert!(matches(NAME, "Grace") && !matches(NAME, "   ") && !matches(NAME, "a\u{0}b"));
    }

    #[test]
    fn a_birthday_pattern_takes_every_day_from_1900_to_today() {
        for today in ["2000-01-01", "2009-03-31", "2010-12-31", "2026-12-04", "2099-07-15"] {
            let today: NaiveDate = today.parse().unwrap();
            let pattern = birthday_pattern(today).unwrap();
            let mut day = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
            let last = today + chrono::Days::new(400);
            while day <= last {
                let text = day.format("%Y-%m-%d").to_string();
                assert_eq!(matches(&pattern, &text), day <= today, "{text} on {today}");
                day = day + chrono::Days::new(if day.year() < today.year() - 1 { 37 } else { 1 });
            }
            assert!(!matches(&pattern, "1899-12-31"), "{today}");
        }
        assert_eq!(birthday_pattern(NaiveDate::from_ymd_opt(2100, 1, 1).unwrap()), None);
    }
}
