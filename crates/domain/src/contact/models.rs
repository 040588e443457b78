//! Contact entities, the value objects they are made of, and the shapes of their inputs.

use chrono::{DateTime, NaiveDate, Utc};

use crate::email::EmailAddress;
use crate::error::{Error, FieldError, PhoneProblem, Problems, Rule, Unit, required};

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

/// A stored contact, exactly as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Database identity.
    pub id: ContactId,
    /// Trimmed first name.
    pub first_name: String,
    /// Trimmed last name.
    pub last_name: String,
    /// Email as sent; unique per owner, case-insensitively.
    pub email: String,
    /// Phone as sent.
    pub phone: String,
    /// Date of birth.
    pub birthday: NaiveDate,
    /// Optional notes.
    pub additional_info: Option<String>,
    /// When it was created (microsecond precision).
    pub created_at: DateTime<Utc>,
    /// When it was last changed (microsecond precision).
    pub updated_at: DateTime<Utc>,
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
}

impl NewContact {
    /// Validates every field, reporting all problems at once; `today` bounds the birthday.
    pub fn parse(input: ContactInput, today: NaiveDate) -> Result<Self, Error> {
        let mut problems = Problems::default();
        let first_name =
            problems.take(required("first_name", input.first_name).and_then(|v| PersonName::parse("first_name", &v)));
        let last_name =
            problems.take(required("last_name", input.last_name).and_then(|v| PersonName::parse("last_name", &v)));
        let email = problems.take(required("email", input.email).and_then(|v| EmailAddress::parse("email", &v)));
        let phone = problems.take(required("phone", input.phone).and_then(|v| Phone::parse(&v)));
        let birthday = problems.take(required("birthday", input.birthday).and_then(|v| Birthday::parse(&v, today)));
        let additional_info = input.additional_info.map(|v| problems.take(AdditionalInfo::parse(&v)));
        problems.finish()?;
        match (first_name, last_name, email, phone, birthday) {
            (Some(first_name), Some(last_name), Some(email), Some(phone), Some(birthday)) => {
                Ok(Self { first_name, last_name, email, phone, birthday, additional_info: additional_info.flatten() })
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

#[cfg(test)]
mod tests;
