//! The words clients read for domain errors that are data: FastAPI's `msg` and `type` for
//! every validation [`Rule`], and the `detail` of every [`Conflict`]. The one place to change
//! such a text; the domain only says which rule was broken.

use contacts_domain::error::{EmailProblem, PasswordProblem, PhoneProblem, Unit};
use contacts_domain::{Conflict, Rule};

/// FastAPI's `msg` and `type` for a broken rule.
pub(crate) fn describe(rule: &Rule) -> (String, &'static str) {
    const VALUE: &str = "value_error";
    match rule {
        Rule::Missing => ("Field required".into(), "missing"),
        Rule::NotNull => ("Field may not be null".into(), VALUE),
        Rule::AtLeastOneField => ("At least one field must be provided".into(), VALUE),
        Rule::TooShort { min, unit: Unit::Bytes } => {
            (format!("Password must be at least {min} bytes"), "string_too_short")
        }
        Rule::TooShort { min, unit: Unit::Characters } => {
            (format!("String should have at least {min} character{}", plural(*min)), "string_too_short")
        }
        Rule::TooLong { max, unit: Unit::Bytes } => {
            (format!("Password must be at most {max} bytes"), "string_too_long")
        }
        Rule::TooLong { max, unit: Unit::Characters } => {
            (format!("String should have at most {max} character{}", plural(*max)), "string_too_long")
        }
        Rule::Length { min, max } => {
            (format!("String should have between {min} and {max} characters"), "string_length")
        }
        Rule::Range { min, max: None } => {
            (format!("Input should be greater than or equal to {min}"), "greater_than_equal")
        }
        Rule::Range { min, max: Some(max) } => (format!("Input should be between {min} and {max}"), "range"),
        Rule::UnknownTimeZone => ("Unknown time zone: use an IANA name such as Europe/Paris".into(), VALUE),
        Rule::Pattern { allowed } => (format!("Only {allowed} are allowed"), "string_pattern_mismatch"),
        Rule::ControlCharacters { line_breaks_allowed: false } => {
            ("Names may not contain control characters".into(), VALUE)
        }
        Rule::ControlCharacters { line_breaks_allowed: true } => ("Control characters are not allowed".into(), VALUE),
        Rule::NulCharacters => ("NUL characters are not allowed".into(), VALUE),
        Rule::InvalidEmail(problem) => (email(*problem), VALUE),
        Rule::InvalidPhone(problem) => (phone(*problem), VALUE),
        Rule::InvalidDate => {
            ("Input should be a valid date in the format YYYY-MM-DD".into(), "date_from_datetime_parsing")
        }
        Rule::FutureDate => ("Birthday cannot be in the future".into(), "date_future"),
        Rule::DateBefore(earliest) => (format!("Birthday cannot be before {earliest}"), "date_too_early"),
        Rule::WeakPassword(problem) => password(*problem),
        Rule::TooManyItems { max } => (format!("List should have at most {max} items"), "too_long"),
        Rule::TooFewItems { min } => (format!("List should have at least {min} item{}", plural(*min)), "too_short"),
        Rule::DiffersFromFirstEntry { list } => (format!("Value must equal {list}[0].value when both are sent"), VALUE),
    }
}

fn password(problem: PasswordProblem) -> (String, &'static str) {
    let (msg, kind) = match problem {
        PasswordProblem::ControlCharacter => {
            ("Password must not hold control characters", "password_control_character")
        }
        PasswordProblem::Repeated => ("Password must not be one character repeated", "password_repeated"),
        PasswordProblem::Common => ("Password is too common", "password_common"),
        PasswordProblem::Personal => ("Password must not be the username or the email address", "password_personal"),
    };
    (msg.to_owned(), kind)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn email(problem: EmailProblem) -> String {
    const INVALID: &str = "value is not a valid email address";
    match problem {
        EmailProblem::TooLong { max } => format!("{INVALID}: at most {max} characters"),
        EmailProblem::NoAt => format!("{INVALID}: it must contain an @"),
        EmailProblem::Malformed => INVALID.to_owned(),
    }
}

fn phone(problem: PhoneProblem) -> String {
    match problem {
        PhoneProblem::Length { min, max } => format!("Phone number must have {min} to {max} characters"),
        PhoneProblem::Characters => {
            "Phone number may only contain digits, spaces, '-', '(', ')' and a leading '+'".to_owned()
        }
        PhoneProblem::TooFewDigits { min } => format!("Phone number must contain at least {min} digits"),
    }
}

/// The `detail` of a `409`.
pub(crate) fn conflict(conflict: Conflict) -> &'static str {
    match conflict {
        Conflict::UsernameTaken => "An account with this username already exists",
        Conflict::EmailTaken => "An account with this email already exists",
        Conflict::ContactEmailTaken => "A contact with this email already exists",
        Conflict::CardUidTaken => "A card with this UID is already in the address book",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_fastapis() {
        let cases = [
            (Rule::Missing, "Field required", "missing"),
            (
                Rule::TooShort { min: 1, unit: Unit::Characters },
                "String should have at least 1 character",
                "string_too_short",
            ),
            (
                Rule::TooLong { max: 50, unit: Unit::Characters },
                "String should have at most 50 characters",
                "string_too_long",
            ),
            (Rule::Range { min: 0, max: None }, "Input should be greater than or equal to 0", "greater_than_equal"),
            (Rule::Range { min: 1, max: Some(1000) }, "Input should be between 1 and 1000", "range"),
            (Rule::Length { min: 3, max: 50 }, "String should have between 3 and 50 characters", "string_length"),
            (Rule::InvalidEmail(EmailProblem::Malformed), "value is not a valid email address", "value_error"),
        ];
        for (rule, msg, kind) in cases {
            assert_eq!(describe(&rule), (msg.to_owned(), kind), "{rule:?}");
        }
    }

    #[test]
    fn every_conflict_has_its_own_text() {
        let texts = [Conflict::UsernameTaken, Conflict::EmailTaken, Conflict::ContactEmailTaken].map(conflict);
        assert!(texts[0].contains("username") && texts[1].contains("email") && texts[2].contains("contact"));
    }
}
