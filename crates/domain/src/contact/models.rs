//! Contact entities, the value objects they are made of, and the shapes of their inputs.

use chrono::{DateTime, NaiveDate, Utc};

use super::birthday_list::BirthdayList;
use super::birthdays::MonthDay;
use crate::email::EmailAddress;
use crate::error::{Error, FieldError, PathSegment, PhoneProblem, Problems, Rule, Unit, required};

/// A contact's database identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(pub i64);

/// A first or last name: 1–50 characters once surrounding whitespace is trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Trims and checks a name from the body field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let trimmed = raw.trim();
        if trimmed.chars().any(char::is_control) {
            return Err(FieldError::new(field, Rule::ControlCharacters { line_breaks_allowed: false }));
        }
        match trimmed.chars().count() {
            0 => Err(FieldError::new(field, Rule::TooShort { min: 1, unit: Unit::Characters })),
            1..=50 => Ok(Self(trimmed.to_owned())),
            _ => Err(FieldError::new(field, Rule::TooLong { max: 50, unit: Unit::Characters })),
        }
    }

    /// The trimmed name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number: 7–20 characters of digits, spaces, `-`, `(`, `)` and an optional leading
/// `+`, with at least 7 digits. Kept exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Checks a phone number from the body field `phone`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let invalid = |problem| FieldError::new("phone", Rule::InvalidPhone(problem));
        let len = raw.chars().count();
        if !(7..=20).contains(&len) {
            return Err(invalid(PhoneProblem::Length { min: 7, max: 20 }));
        }
        let body = raw.strip_prefix('+').unwrap_or(raw);
        if !body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')')) {
            return Err(invalid(PhoneProblem::Characters));
        }
        if body.chars().filter(char::is_ascii_digit).count() < 7 {
            return Err(invalid(PhoneProblem::TooFewDigits { min: 7 }));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The number as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A birthday: a real calendar date from 1900-01-01 up to today (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Birthday(NaiveDate);

impl Birthday {
    /// The earliest birthday accepted.
    pub const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");

    /// Parses `YYYY-MM-DD` and checks the range against `today`.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, FieldError> {
        let invalid = |rule| FieldError::new("birthday", rule);
        // Strictly `DDDD-DD-DD`: chrono alone would also accept a sign or spaces before numbers.
        let well_formed = raw.len() == 10
            && raw.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|_| well_formed)
            .ok_or_else(|| invalid(Rule::InvalidDate))?;
        if date > today {
            return Err(invalid(Rule::FutureDate));
        }
        if date < Self::EARLIEST {
            return Err(invalid(Rule::DateBefore(Self::EARLIEST)));
        }
        Ok(Self(date))
    }

    /// The date.
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

/// Free-text notes about a contact, at most 1000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdditionalInfo(String);

impl AdditionalInfo {
    /// Checks the length of the body field `additional_info`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        // Line breaks and tabs are fine in notes; other control characters (NUL above all,
        // which PostgreSQL cannot store) are not.
        if raw.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(FieldError::new("additional_info", Rule::ControlCharacters { line_breaks_allowed: true }));
        }
        if raw.chars().count() > 1000 {
            return Err(FieldError::new("additional_info", Rule::TooLong { max: 1000, unit: Unit::Characters }));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The text as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value of a list property (`EMAIL`, `TEL`) with its `TYPE`, such as `home` or `work`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedValue {
    /// The address or number as sent.
    pub value: String,
    /// Free text, lower-cased `TYPE` parameters joined by commas when read from a card.
    pub kind: Option<String>,
}

/// A stored contact, exactly as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Database identity.
    pub id: ContactId,
    /// The card's `UID`: stable for the contact's life, unique in its address book.
    pub uid: String,
    /// Trimmed first name (may be empty for a card that has only a family name).
    pub first_name: String,
    /// Trimmed last name (may be empty for a card that has only one name).
    pub last_name: String,
    /// The first of `emails`; `None` when a card has none.
    pub email: Option<String>,
    /// The first of `phones`; `None` when a card has none.
    pub phone: Option<String>,
    /// Date of birth, when known with its year.
    pub birthday: Option<NaiveDate>,
    /// Month and day of the birthday, also for one without a year (which `birthday` cannot
    /// show): what birthday lists and reminders match on.
    pub birthday_md: Option<MonthDay>,
    /// Optional notes.
    pub additional_info: Option<String>,
    /// Every email address, in card order.
    pub emails: Vec<TypedValue>,
    /// Every phone number, in card order.
    pub phones: Vec<TypedValue>,
    /// When it was created (microsecond precision).
    pub created_at: DateTime<Utc>,
    /// When it was last changed (microsecond precision).
    pub updated_at: DateTime<Utc>,
}

/// A contact with the card it is kept as, for vCard reads (export, one card, CardDAV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    /// The contact as REST shows it.
    pub contact: Contact,
    /// The card exactly as last received (import, CardDAV) or made (REST create).
    pub card: String,
    /// Whether a REST write changed mapped fields since `card` was stored: then readers write
    /// those fields into the card (see [`super::vcard::render`]).
    pub dirty: bool,
}

impl StoredCard {
    /// The card as sent to clients in `version`.
    pub fn render(&self, version: super::vcard::Version) -> String {
        super::vcard::render(&self.card, &self.contact, self.dirty, version)
    }
}

/// A card read from an import, ready to be stored: its exact text and what REST shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    /// The card's `UID` (generated when it had none).
    pub uid: String,
    /// The card's text as received, with a `UID` line added when it had none.
    pub card: String,
    /// The mapped properties.
    pub view: super::vcard::CardView,
    /// Whether `uid` was made for a card that came without one (its line added to `card`).
    pub uid_added: bool,
}

impl CardRecord {
    /// This card as it may replace a stored card whose UID is `stored_uid`. A card keeps its UID
    /// for its life (RFC 6352's `no-uid-conflict` forbids overwriting a card with one of another
    /// UID, and REST's `uid` is stable): a card that came without one takes the stored UID in
    /// place of the one made for it; one whose own UID differs is refused (`None`).
    pub fn replacing(&self, stored_uid: &str) -> Option<std::borrow::Cow<'_, CardRecord>> {
        use std::borrow::Cow;
        if self.uid == stored_uid {
            return Some(Cow::Borrowed(self));
        }
        if !self.uid_added {
            return None;
        }
        // The added line stands last, right before `END:VCARD` (see `vcard::record`).
        let added = format!("UID:{}\r\n", self.uid);
        let at = self.card.rfind(&added)?;
        let card = format!("{}UID:{stored_uid}\r\n{}", &self.card[..at], &self.card[at + added.len()..]);
        let view = super::vcard::CardView { uid: Some(stored_uid.to_owned()), ..self.view.clone() };
        Some(Cow::Owned(CardRecord { uid: stored_uid.to_owned(), card, view, uid_added: true }))
    }
}

/// What storing one imported card did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new contact.
    Created,
    /// A contact with the same `UID` in the book was replaced.
    Updated,
}

/// A create or full-replace request as received: nothing validated, fields may be missing.
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Birthday, `YYYY-MM-DD`.
    pub birthday: Option<String>,
    /// Notes; absent or `None` means none.
    pub additional_info: Option<String>,
    /// Every email with its type; absent keeps the others and `email` replaces the first.
    pub emails: Option<Vec<TypedValueInput>>,
    /// Every phone with its type; absent keeps the others and `phone` replaces the first.
    pub phones: Option<Vec<TypedValueInput>>,
}

/// One entry of `emails` or `phones` as received.
#[derive(Debug, Clone, Default)]
pub struct TypedValueInput {
    /// The address or number.
    pub value: Option<String>,
    /// Free text up to 20 characters, such as `home`, `work`, `cell`.
    pub kind: Option<String>,
}

/// Most entries `emails` or `phones` may have.
const MAX_LIST_ENTRIES: usize = 20;

/// The path of key `key` of entry `index` of list `list`, such as `emails[0].value`.
pub fn list_path(list: &str, index: usize, key: &str) -> Vec<PathSegment> {
    vec![PathSegment::Field(list.to_owned()), PathSegment::Index(index), PathSegment::Field(key.to_owned())]
}

/// Checks a list of typed values; `rule` checks one value.
fn parse_list(
    list: &str,
    entries: Vec<TypedValueInput>,
    rule: fn(&str) -> Result<(), Rule>,
    problems: &mut Problems,
) -> Option<Vec<TypedValue>> {
    if entries.len() > MAX_LIST_ENTRIES {
        problems.push(FieldError::new(list, Rule::TooManyItems { max: MAX_LIST_ENTRIES }));
        return None;
    }
    let mut out = Vec::with_capacity(entries.len());
    let before = problems.len();
    for (i, entry) in entries.into_iter().enumerate() {
        let value = entry
            .value
            .ok_or(Rule::Missing)
            .and_then(|v| rule(&v).map(|()| v))
            .map_err(|rule| FieldError::at(list_path(list, i, "value"), rule));
        let value = problems.take(value);
        let kind = entry.kind.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty());
        if let Some(k) = &kind {
            if k.chars().count() > MAX_TYPE_CHARS {
                let rule = Rule::TooLong { max: MAX_TYPE_CHARS, unit: Unit::Characters };
                problems.push(FieldError::at(list_path(list, i, "type"), rule));
            } else if k.chars().any(char::is_control) {
                let rule = Rule::ControlCharacters { line_breaks_allowed: false };
                problems.push(FieldError::at(list_path(list, i, "type"), rule));
            }
        }
        if let Some(value) = value {
            out.push(TypedValue { value, kind });
        }
    }
    if problems.len() > before { None } else { Some(out) }
}

/// Longest `type` of an email or phone entry, in characters.
const MAX_TYPE_CHARS: usize = 20;

fn email_rule(raw: &str) -> Result<(), Rule> {
    EmailAddress::parse("value", raw).map(|_| ()).map_err(|e| e.rule)
}

fn phone_rule(raw: &str) -> Result<(), Rule> {
    Phone::parse(raw).map(|_| ()).map_err(|e| e.rule)
}

/// The single field and its list together: the single one defaults to the list's first entry,
/// and when both are sent they must agree. A REST contact keeps at least one entry.
fn reconcile(
    single: &str,
    value: Option<String>,
    list_name: &'static str,
    list: Option<&Vec<TypedValue>>,
    problems: &mut Problems,
) -> Option<String> {
    let Some(list) = list else { return value };
    let Some(first) = list.first() else {
        problems.push(FieldError::new(list_name, Rule::TooFewItems { min: 1 }));
        return value;
    };
    match value {
        Some(v) if v != first.value => {
            problems.push(FieldError::new(single, Rule::DiffersFromFirstEntry { list: list_name }));
            Some(v)
        }
        Some(v) => Some(v),
        None => Some(first.value.clone()),
    }
}

/// A partial update as received. The outer `Option` says whether the field was sent; the
/// inner one whether it was `null` (which only `additional_info` accepts, to clear it).
#[derive(Debug, Clone, Default)]
pub struct ContactPatchInput {
    /// First name.
    pub first_name: Option<Option<String>>,
    /// Last name.
    pub last_name: Option<Option<String>>,
    /// Email address.
    pub email: Option<Option<String>>,
    /// Phone number.
    pub phone: Option<Option<String>>,
    /// Birthday, `YYYY-MM-DD`.
    pub birthday: Option<Option<String>>,
    /// Notes; `Some(None)` clears them.
    pub additional_info: Option<Option<String>>,
    /// Every email with its type (replaces the list).
    pub emails: Option<Vec<TypedValueInput>>,
    /// Every phone with its type (replaces the list).
    pub phones: Option<Vec<TypedValueInput>>,
}

/// A validated contact, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    /// First name.
    pub first_name: PersonName,
    /// Last name.
    pub last_name: PersonName,
    /// Email address.
    pub email: EmailAddress,
    /// Phone number.
    pub phone: Phone,
    /// Birthday.
    pub birthday: Birthday,
    /// Notes.
    pub additional_info: Option<AdditionalInfo>,
    /// The whole email list, when sent (its first entry is `email`); `None` keeps the others.
    pub emails: Option<Vec<TypedValue>>,
    /// The whole phone list, when sent (its first entry is `phone`); `None` keeps the others.
    pub phones: Option<Vec<TypedValue>>,
}

impl NewContact {
    /// Validates every field, reporting all problems at once; `today` bounds the birthday.
    pub fn parse(input: ContactInput, today: NaiveDate) -> Result<Self, Error> {
        let mut problems = Problems::default();
        let first_name =
            problems.take(required("first_name", input.first_name).and_then(|v| PersonName::parse("first_name", &v)));
        let last_name =
            problems.take(required("last_name", input.last_name).and_then(|v| PersonName::parse("last_name", &v)));
        let emails = input.emails.and_then(|l| parse_list("emails", l, email_rule, &mut problems));
        let phones = input.phones.and_then(|l| parse_list("phones", l, phone_rule, &mut problems));
        let email_raw = reconcile("email", input.email, "emails", emails.as_ref(), &mut problems);
        let phone_raw = reconcile("phone", input.phone, "phones", phones.as_ref(), &mut problems);
        let email = problems.take(required("email", email_raw).and_then(|v| EmailAddress::parse("email", &v)));
        let phone = problems.take(required("phone", phone_raw).and_then(|v| Phone::parse(&v)));
        let birthday = problems.take(required("birthday", input.birthday).and_then(|v| Birthday::parse(&v, today)));
        let additional_info = input.additional_info.map(|v| problems.take(AdditionalInfo::parse(&v)));
        problems.finish()?;
        match (first_name, last_name, email, phone, birthday) {
            (Some(first_name), Some(last_name), Some(email), Some(phone), Some(birthday)) => {
                let additional_info = additional_info.flatten();
                Ok(Self { first_name, last_name, email, phone, birthday, additional_info, emails, phones })
            }
            _ => unreachable!("every field parsed when there are no problems"),
        }
    }
}

/// A validated partial update: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactPatch {
    /// New first name.
    pub first_name: Option<PersonName>,
    /// New last name.
    pub last_name: Option<PersonName>,
    /// New email.
    pub email: Option<EmailAddress>,
    /// New phone.
    pub phone: Option<Phone>,
    /// New birthday.
    pub birthday: Option<Birthday>,
    /// New notes; `Some(None)` clears them.
    pub additional_info: Option<Option<AdditionalInfo>>,
    /// New email list (its first entry is then `email`).
    pub emails: Option<Vec<TypedValue>>,
    /// New phone list (its first entry is then `phone`).
    pub phones: Option<Vec<TypedValue>>,
}

impl ContactPatch {
    /// Validates the fields that were sent; an update that sends no field is refused.
    pub fn parse(input: ContactPatchInput, today: NaiveDate) -> Result<Self, Error> {
        let mut problems = Problems::default();
        let mut field = |name: &str, value: Option<Option<String>>| -> Option<String> {
            match value? {
                Some(v) => Some(v),
                None => {
                    problems.push(FieldError::new(name, Rule::NotNull));
                    None
                }
            }
        };
        let first_name = field("first_name", input.first_name);
        let last_name = field("last_name", input.last_name);
        let email = field("email", input.email);
        let phone = field("phone", input.phone);
        let birthday = field("birthday", input.birthday);
        let emails = input.emails.and_then(|l| parse_list("emails", l, email_rule, &mut problems));
        let phones = input.phones.and_then(|l| parse_list("phones", l, phone_rule, &mut problems));
        let email = reconcile("email", email, "emails", emails.as_ref(), &mut problems);
        let phone = reconcile("phone", phone, "phones", phones.as_ref(), &mut problems);
        let patch = Self {
            first_name: first_name.and_then(|v| problems.take(PersonName::parse("first_name", &v))),
            last_name: last_name.and_then(|v| problems.take(PersonName::parse("last_name", &v))),
            email: email.and_then(|v| problems.take(EmailAddress::parse("email", &v))),
            phone: phone.and_then(|v| problems.take(Phone::parse(&v))),
            birthday: birthday.and_then(|v| problems.take(Birthday::parse(&v, today))),
            additional_info: match input.additional_info {
                None => None,
                Some(None) => Some(None),
                Some(Some(v)) => problems.take(AdditionalInfo::parse(&v)).map(Some),
            },
            emails,
            phones,
        };
        problems.finish()?;
        if patch == Self::default() {
            return Err(Error::invalid(FieldError::whole(Rule::AtLeastOneField)));
        }
        Ok(patch)
    }
}

/// Case-insensitive substring filters for listing contacts, combined with AND; `q` matches
/// any of first name, last name or email. `%` and `_` are plain characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFilter {
    /// Substring of the first name.
    pub first_name: Option<String>,
    /// Substring of the last name.
    pub last_name: Option<String>,
    /// Substring of the email.
    pub email: Option<String>,
    /// Substring of any of the three.
    pub q: Option<String>,
}

/// Which slice of a list to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// How many matches to skip (at least 0).
    pub skip: i64,
    /// How many to return at most (1–1000).
    pub limit: i64,
}

/// The version of an owner's whole book that a page was read at. It changes with every insert,
/// delete or change of any of the owner's contacts, by any instance, and never returns to an
/// earlier value, so a copy of a page made at one stamp is the page for as long as the book's
/// stamp is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BookStamp(pub i64);

/// What a birthday list was read at: the owner's book stamp and the day its window starts. The
/// list is the same answer while both are, so a caller keeping a copy of it asks with this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BirthdayStamp {
    /// The owner's book stamp, read no later than the list's first contact.
    pub book: BookStamp,
    /// The first day of the window (UTC).
    pub today: NaiveDate,
}

/// A page of the list, or word that the caller's copy of it is still the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Listed {
    /// The book's stamp is still the one the caller gave: its copy of the page is current.
    Unchanged,
    /// The page was read.
    Read {
        /// The page's contacts, ordered by id.
        contacts: Vec<Contact>,
        /// Matches before paging.
        total: i64,
        /// The stamp the page was read at, when the page may be kept and asked about again
        /// (pages of the whole book that are not too deep); `None` otherwise.
        stamp: Option<BookStamp>,
    },
}

/// A birthday list, or word that the caller's copy of it is still the list.
#[derive(Debug, Clone, PartialEq)]
pub enum Birthdays {
    /// The day and the book are still those of the stamp the caller gave: its copy is current.
    Unchanged,
    /// The list was read.
    Read {
        /// The list, or its first chunk, soonest first.
        first: Vec<Contact>,
        /// The rest of a list too long to read at once.
        rest: Option<BirthdayList>,
        /// What the list was read at (`None` for an owner who never had a contact).
        stamp: Option<BirthdayStamp>,
    },
}

#[cfg(test)]
mod tests;
