//! Test fixtures of the vCard mapping (feature `mocks`), shared by the domain's unit tests and
//! its real-card round trips.

use chrono::{TimeZone, Utc};

use super::vcard::{CardBirthday, CardView};
use super::{Contact, ContactId};

/// The contact a card's mapped properties are stored as, the way an import stores them: the
/// first email and phone as the REST fields, the birthday's date and month-day. A card without
/// a `UID` gets `generated`; the timestamps are a fixed instant.
pub fn contact_from(view: &CardView) -> Contact {
    let at = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    Contact {
        id: ContactId(1),
        uid: view.uid.clone().unwrap_or_else(|| "generated".to_owned()),
        first_name: view.first_name.clone(),
        last_name: view.last_name.clone(),
        email: view.emails.first().map(|e| e.value.clone()),
        phone: view.phones.first().map(|e| e.value.clone()),
        birthday: view.birthday.and_then(CardBirthday::date),
        birthday_md: view.birthday.map(CardBirthday::month_day),
        additional_info: view.note.clone(),
        emails: view.emails.clone(),
        phones: view.phones.clone(),
        created_at: at,
        updated_at: at,
    }
}
