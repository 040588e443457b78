//! The digest: which contacts it lists (the `/birthdays` rules in the user's local calendar)
//! and the mail that lists them.

use chrono::{Datelike, Days, NaiveDate};

use crate::EmailAddress;
use crate::contact::MonthDay;
use crate::mail::{Email, escape_html};

/// A contact with a birthday, as the digest needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthdayContact {
    /// The name shown.
    pub name: String,
    /// The full birthday, when its year is known.
    pub birthday: Option<NaiveDate>,
    /// Month and day, known for every birthday.
    pub birthday_md: MonthDay,
}

/// One line of a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEntry {
    /// The name shown.
    pub name: String,
    /// The local date it is celebrated on.
    pub date: NaiveDate,
    /// The age turned that day, when the birth year is known.
    pub age: Option<i32>,
}

/// When a birthday on `md` is next celebrated on or after `today`: 29 February falls on
/// 28 February in non-leap years.
fn next_celebration(md: MonthDay, today: NaiveDate) -> Option<NaiveDate> {
    let on = |year: i32| {
        NaiveDate::from_ymd_opt(year, md.month, md.day)
            .or_else(|| (md.month == 2 && md.day == 29).then(|| NaiveDate::from_ymd_opt(year, 2, 28)).flatten())
    };
    match on(today.year()) {
        Some(date) if date >= today => Some(date),
        _ => on(today.year() + 1),
    }
}

/// The contacts celebrating from `today` to `today + days` (inclusive), soonest first, with
/// the date and the age they turn (from one year on: the day of birth itself is no birthday
/// turned). A card may name a birth date still to come (an import takes cards as they are):
/// nobody celebrates before being born, so such a contact is left out.
pub fn digest_entries(contacts: &[BirthdayContact], today: NaiveDate, days: u32) -> Vec<DigestEntry> {
    let last = today.checked_add_days(Days::new(days.into())).unwrap_or(today);
    let mut entries: Vec<DigestEntry> = contacts
        .iter()
        .filter_map(|contact| {
            let date = next_celebration(contact.birthday_md, today)?;
            let born_by_then = contact.birthday.is_none_or(|born| born <= date);
            (date <= last && born_by_then).then(|| DigestEntry {
                name: one_line(&contact.name),
                date,
                age: contact.birthday.map(|born| date.year() - born.year()).filter(|age| *age >= 1),
            })
        })
        .collect();
    entries.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.name.cmp(&b.name)));
    entries
}

/// A name as one line of the mail: a card may hold line breaks and other control characters
/// in its names (imports and CardDAV take cards whole), which would otherwise start lines of
/// their own in the text part (a fake link, a fake log line where mails are logged).
fn one_line(name: &str) -> String {
    name.chars().map(|c| if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') { ' ' } else { c }).collect()
}

/// Subject of the digest.
pub const DIGEST_SUBJECT: &str = "Upcoming birthdays";

fn describe(entry: &DigestEntry, today: NaiveDate) -> String {
    let when = if entry.date == today { "today".to_owned() } else { entry.date.format("%A %-d %B").to_string() };
    match entry.age {
        Some(age) => format!("{when}, turns {age}"),
        None => when,
    }
}

/// The digest mail for `entries` (not empty), with the one-click `unsubscribe` link in both
/// parts and in RFC 8058's headers, so mail clients can offer an "unsubscribe" button.
pub fn reminder_digest(
    to: EmailAddress,
    username: &str,
    today: NaiveDate,
    entries: &[DigestEntry],
    unsubscribe: &str,
) -> Email {
    let mut text = format!("Hello {username},\n\nupcoming birthdays:\n\n");
    let mut items = String::new();
    for entry in entries {
        let line = describe(entry, today);
        text.push_str(&format!("- {}: {line}\n", entry.name));
        items.push_str(&format!("<li><strong>{}</strong>: {}</li>", escape_html(&entry.name), escape_html(&line)));
    }
    text.push_str(&format!("\nTo stop these reminders, open:\n\n{unsubscribe}\n"));
    let html = format!(
        "<!doctype html><html><body><p>Hello {name},</p><p>upcoming birthdays:</p><ul>{items}</ul>\
         <p><a href=\"{href}\">Stop these reminders</a></p></body></html>",
        name = escape_html(username),
        href = escape_html(unsubscribe),
    );
    let headers = vec![
        ("List-Unsubscribe".to_owned(), format!("<{unsubscribe}>")),
        ("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned()),
    ];
    Email { to, subject: DIGEST_SUBJECT.to_owned(), text, html, headers }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn born(name: &str, date: NaiveDate) -> BirthdayContact {
        BirthdayContact { name: name.to_owned(), birthday: Some(date), birthday_md: MonthDay::of(date) }
    }

    fn yearless(name: &str, month: u32, day: u32) -> BirthdayContact {
        BirthdayContact { name: name.to_owned(), birthday: None, birthday_md: MonthDay { month, day } }
    }

    #[test]
    fn zero_days_is_today_only_with_ages() {
        let contacts = [born("Ada", d(1990, 6, 15)), born("Bob", d(1980, 6, 16)), yearless("Cy", 6, 15)];
        let entries = digest_entries(&contacts, d(2025, 6, 15), 0);
        assert_eq!(
            entries,
            vec![
                DigestEntry { name: "Ada".into(), date: d(2025, 6, 15), age: Some(35) },
                DigestEntry { name: "Cy".into(), date: d(2025, 6, 15), age: None },
            ]
        );
    }

    #[test]
    fn the_window_wraps_the_year_end_and_ages_count_the_new_year() {
        let contacts = [born("Ada", d(1990, 1, 1)), born("Bob", d(1980, 12, 31)), born("Cy", d(1980, 1, 3))];
        let entries = digest_entries(&contacts, d(2025, 12, 31), 1);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], DigestEntry { name: "Bob".into(), date: d(2025, 12, 31), age: Some(45) });
        assert_eq!(entries[1], DigestEntry { name: "Ada".into(), date: d(2026, 1, 1), age: Some(36) });
    }

    #[test]
    fn leap_day_birthdays_are_on_28_february_in_other_years() {
        let contacts = [born("Leap", d(2000, 2, 29)), yearless("Anon", 2, 29)];
        let entries = digest_entries(&contacts, d(2025, 2, 28), 0);
        assert_eq!(
            entries.iter().map(|e| (e.date, e.age)).collect::<Vec<_>>(),
            [(d(2025, 2, 28), None), (d(2025, 2, 28), Some(25))]
        );
        assert!(digest_entries(&contacts, d(2025, 3, 1), 0).is_empty());
        // In a leap year the 28th is not their day; the 29th is.
        assert!(digest_entries(&contacts, d(2024, 2, 28), 0).is_empty());
        assert_eq!(digest_entries(&contacts, d(2024, 2, 28), 1).len(), 2);
    }

    #[test]
    fn nobody_celebrates_before_a_first_birthday() {
        let contacts = [born("Newborn", d(2025, 6, 15)), born("Unborn", d(2030, 6, 15)), born("One", d(2024, 6, 15))];
        let entries = digest_entries(&contacts, d(2025, 6, 15), 0);
        assert_eq!(
            entries,
            vec![
                DigestEntry { name: "Newborn".into(), date: d(2025, 6, 15), age: None },
                DigestEntry { name: "One".into(), date: d(2025, 6, 15), age: Some(1) },
            ]
        );
    }

    #[test]
    fn a_name_with_line_breaks_stays_on_its_line() {
        let name = "Eve\r\n\nTo stop these reminders, open:\u{2028}https://evil.example/\u{7}";
        let entries = digest_entries(&[born(name, d(1990, 6, 15))], d(2025, 6, 15), 0);
        let to = EmailAddress::parse("email", "a@b.co").unwrap();
        let mail = reminder_digest(to, "ann", d(2025, 6, 15), &entries, "http://x.test/u");
        let line = "- Eve   To stop these reminders, open: https://evil.example/ : today, turns 35";
        assert!(mail.text.lines().any(|l| l == line), "{}", mail.text);
        assert_eq!(mail.text.lines().filter(|l| l.contains("stop these reminders")).count(), 2);
    }

    #[test]
    fn the_mail_lists_each_contact_and_the_unsubscribe_link() {
        let to = EmailAddress::parse("email", "a@b.co").unwrap();
        let entries = digest_entries(&[born("<Ada>", d(1990, 6, 16))], d(2025, 6, 15), 1);
        let link = "http://x.test/unsubscribe?token=T";
        let mail = reminder_digest(to, "ann", d(2025, 6, 15), &entries, link);
        assert!(mail.text.contains("- <Ada>: Monday 16 June, turns 35"), "{}", mail.text);
        assert!(mail.text.lines().any(|l| l == link));
        assert!(mail.html.contains("&lt;Ada&gt;"));
        assert!(mail.html.contains("href=\"http://x.test/unsubscribe?token=T\""));
        assert_eq!(
            mail.headers,
            [
                ("List-Unsubscribe".to_owned(), format!("<{link}>")),
                ("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned()),
            ]
        );
    }
}
