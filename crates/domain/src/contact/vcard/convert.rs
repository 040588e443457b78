//! A stored card as it is sent out in either version: calcard rewrites the syntax, and what it
//! leaves wrong or does not know is mended here (year-less birthdays, 2.1's bare parameters,
//! preferences, `tel:` numbers, inline photos, line breaks).

use calcard::vcard::{
    VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue, VCardVersion,
};
use chrono::Datelike;

use super::{
    CardBirthday, OMITTED_YEAR, Version, apply_rest_values, birthday_of, card_version, parse, phone_number,
    written_birthday,
};
use crate::contact::models::Contact;

/// A card as it is sent out: REST's changes written in when `dirty`, then converted to
/// `version` unless the card already is in it (then its text is given back unchanged).
pub fn render(card: &str, contact: &Contact, dirty: bool, version: Version) -> String {
    let merged = if dirty { apply_rest_values(card, contact) } else { card.to_owned() };
    let target = match version {
        Version::V3 => VCardVersion::V3_0,
        Version::V4 => VCardVersion::V4_0,
    };
    if card_version(&merged) == Some(target) {
        return merged;
    }
    let Ok(mut parsed) = parse(&merged) else { return merged };
    let written = written_birthday(&merged);
    for entry in parsed.entries.iter_mut().filter(|e| e.name == VCardProperty::Bday) {
        convert_birthday(entry, target, written.as_deref());
    }
    for entry in &mut parsed.entries {
        params_for(entry, target);
        line_breaks_as_lf(entry);
        if entry.name == VCardProperty::N && entry.values.len() < 5 {
            // 3.0 and 4.0 give `N` all five parts; a 2.1 card may stop after the given name.
            entry.values.resize(5, VCardValue::Text(String::new()));
        }
        if target == VCardVersion::V4_0 {
            binary_as_data_uri(entry);
        } else {
            tel_as_number(entry);
        }
    }
    if !parsed.entries.iter().any(|e| e.name == VCardProperty::Fn) {
        // 3.0 and 4.0 require an FN, which a 2.1 card may lack (N alone): the name REST shows.
        let full = format!("{} {}", contact.first_name, contact.last_name).trim().to_owned();
        let at = parsed.entries.iter().position(|e| e.name == VCardProperty::N).unwrap_or(0);
        parsed.entries.insert(at, VCardEntry::new(VCardProperty::Fn).with_value(full));
    }
    if target == VCardVersion::V3_0 && !parsed.entries.iter().any(|e| e.name == VCardProperty::N) {
        // 3.0 requires an N (RFC 2426 3.1.2), which 4.0 does not: a 4.0 card with only an FN
        // gets the names REST shows (the FN split at its last space), after its FN.
        let names = [contact.last_name.as_str(), contact.first_name.as_str(), "", "", ""];
        let values = names.iter().map(|part| VCardValue::Text((*part).to_owned())).collect();
        let at = parsed.entries.iter().position(|e| e.name == VCardProperty::Fn).map_or(0, |at| at + 1);
        parsed.entries.insert(at, VCardEntry::new(VCardProperty::N).with_values(values));
    }
    let mut out = String::with_capacity(merged.len() + 64);
    match parsed.write_to(&mut out, target) {
        Ok(()) => out,
        Err(_) => merged,
    }
}

/// Parameters in the form `target` has. A 2.1 card writes some without a name (`TEL;CELL;PREF`,
/// `EMAIL;INTERNET`, `PHOTO;JPEG`): calcard makes the types it knows `TYPE=`, and keeps the
/// others as valueless parameters, which 3.0 and 4.0 do not have; there they are types too. A
/// preference is `PREF=1` in 4.0 and `TYPE=pref` in 3.0, which has no `PREF` parameter.
fn params_for(entry: &mut VCardEntry, target: VCardVersion) {
    let v4 = target == VCardVersion::V4_0;
    for param in &mut entry.params {
        let word = match (&param.name, &param.value) {
            (VCardParameterName::Pref, VCardParameterValue::Null) if v4 => {
                param.value = VCardParameterValue::Integer(1);
                continue;
            }
            (VCardParameterName::Pref, _) if !v4 => "pref".to_owned(),
            (VCardParameterName::Other(word), VCardParameterValue::Null) => word.clone(),
            _ => continue,
        };
        *param = VCardParameter { name: VCardParameterName::Type, value: VCardParameterValue::Text(word) };
    }
}

/// A 4.0 `tel:` URI (`TEL;VALUE=uri:tel:+1-555-0100`) as the number 3.0 writes (`TEL:+1-555-0100`):
/// 3.0 has no URI phone numbers, and a 3.0 client shows the scheme as part of the number.
fn tel_as_number(entry: &mut VCardEntry) {
    if entry.name != VCardProperty::Tel {
        return;
    }
    let mut stripped = false;
    for value in &mut entry.values {
        if let VCardValue::Text(text) = value {
            let number = phone_number(text.clone());
            stripped |= number.len() != text.len();
            *text = number;
        }
    }
    if stripped {
        entry.params.retain(|p| p.name != VCardParameterName::Value);
    }
}

/// A value's line breaks as vCard's `\n`: a 2.1 card's quoted-printable `=0D=0A` decodes to
/// CR LF, and calcard would write the CR as `\r`, an escape no vCard version has.
fn line_breaks_as_lf(entry: &mut VCardEntry) {
    let lf = |text: &mut String| {
        if text.contains('\r') {
            *text = text.replace("\r\n", "\n").replace('\r', "\n");
        }
    };
    for value in &mut entry.values {
        match value {
            VCardValue::Text(text) => lf(text),
            VCardValue::Component(parts) => parts.iter_mut().for_each(lf),
            _ => {}
        }
    }
}

/// An inline binary value of a 3.0 or 2.1 card (`PHOTO;ENCODING=b;TYPE=JPEG:...`) as the data
/// URI RFC 6350 writes in 4.0 (`PHOTO:data:image/jpeg;base64,...`). calcard writes it with the
/// comma escaped (`base64\,`), which a URI value does not unescape: clients read a broken
/// photo. As URI text the comma goes out as it is (a `VALUE=` of the old card would say
/// otherwise, so it goes).
fn binary_as_data_uri(entry: &mut VCardEntry) {
    use base64::Engine;
    // A 2.1 card names an image's format as a bare type (`PHOTO;JPEG`).
    let image_type = entry.params.iter().find_map(|p| match (&p.name, &p.value) {
        (VCardParameterName::Type, VCardParameterValue::Text(t)) => {
            ["JPEG", "PNG", "GIF"].into_iter().find(|f| t.eq_ignore_ascii_case(f)).map(|f| f.to_ascii_lowercase())
        }
        _ => None,
    });
    let mut converted = false;
    for value in &mut entry.values {
        if let VCardValue::Binary(data) = value {
            let media_type = match (&data.content_type, &image_type) {
                (Some(given), _) => given.clone(),
                (None, Some(format)) => format!("image/{format}"),
                (None, None) => String::new(),
            };
            let encoded = base64::engine::general_purpose::STANDARD.encode(&data.data);
            *value = VCardValue::Text(format!("data:{media_type};base64,{encoded}"));
            converted = true;
        }
    }
    if converted {
        entry.params.retain(|p| p.name != VCardParameterName::Value);
    }
}

/// A year-less `BDAY` in the other version's form: `--MMDD` in 4.0, Apple's `1604-MM-DD` with
/// `X-APPLE-OMIT-YEAR=1604` in 3.0 (which has no year-less dates). calcard rewrites syntax
/// only, not values, so this is done here. A date calcard read short (`1999-12-06` in 4.0,
/// see [`birthday_of`]) is given its day back.
fn convert_birthday(entry: &mut VCardEntry, target: VCardVersion, written: Option<&str>) {
    let birthday = birthday_of(entry, written);
    if let Some(CardBirthday::Date(date)) = birthday {
        for value in &mut entry.values {
            if let VCardValue::PartialDateTime(partial) = value
                && partial.day.is_none()
            {
                partial.year = u16::try_from(date.year()).ok();
                partial.month = u8::try_from(date.month()).ok();
                partial.day = u8::try_from(date.day()).ok();
            }
        }
    }
    let Some(CardBirthday::YearLess(_)) = birthday else { return };
    let omit = VCardParameterName::Other("X-APPLE-OMIT-YEAR".to_owned());
    entry.params.retain(|p| p.name != omit);
    for value in &mut entry.values {
        if let VCardValue::PartialDateTime(date) = value {
            if target == VCardVersion::V4_0 {
                date.year = None;
            } else {
                date.year = Some(OMITTED_YEAR);
            }
        }
    }
    if target != VCardVersion::V4_0 {
        entry.params.push(VCardParameter { name: omit, value: VCardParameterValue::Text(OMITTED_YEAR.to_string()) });
    }
}
