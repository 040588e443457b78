//! Contacts as vCards: import, export, one card, and REST edits that keep what REST does not map.

use chrono::{Datelike, Utc};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const APPLE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n\
N:Appleseed;Johnny;;;\r\nFN:Johnny Appleseed\r\nORG:Apple Inc.;\r\n\
item1.EMAIL;type=INTERNET;type=HOME;type=pref:johnny@example.com\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n\
TEL;type=CELL;type=VOICE;type=pref:+1 (408) 555-0100\r\n\
item2.ADR;type=HOME;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;United States\r\n\
BDAY;X-APPLE-OMIT-YEAR=1604:1604-12-09\r\nUID:apple-uid-1\r\nEND:VCARD\r\n";

async fn all_contacts(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let list = expect(app.get("/api/contacts/?limit=1000", Some(&user.token)).await, StatusCode::OK).await;
    list.as_array().unwrap().clone()
}

#[tokio::test]
async fn an_imported_card_shows_in_rest_and_a_rest_edit_keeps_its_other_properties() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let report = expect(app.import(&ada, "text/vcard", APPLE.to_owned()).await, StatusCode::OK).await;
    assert_eq!(report, json!({"created": 1, "updated": 0, "failed": []}));

    let contacts = all_contacts(&app, &ada).await;
    let c = &contacts[0];
    assert_eq!((c["first_name"].as_str(), c["last_name"].as_str()), (Some("Johnny"), Some("Appleseed")));
    assert_eq!(c["uid"], "apple-uid-1");
    assert_eq!(c["email"], "johnny@example.com");
    assert_eq!(c["emails"], json!([{"value": "johnny@example.com", "type": "home"}]));
    assert_eq!(c["phones"], json!([{"value": "+1 (408) 555-0100", "type": "cell"}]));
    assert_eq!(c["birthday"], Value::Null, "a year-less birthday is null in REST");

    let id = c["id"].as_i64().unwrap();
    let card = app.get(&format!("/api/contacts/{id}/vcard?version=3.0"), Some(&ada.token)).await;
    assert_eq!(card.status(), StatusCode::OK);
    assert!(card.headers()["etag"].to_str().unwrap().starts_with('"'));
    assert_eq!(card.text().await.unwrap(), APPLE, "an unchanged card is given back byte for byte");

    let path = format!("/api/contacts/{id}");
    let patched = app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"first_name": "John"})).await;
    let patched = expect(patched, StatusCode::OK).await;
    assert_eq!(patched["first_name"], "John");
    let card = app.get(&format!("/api/contacts/{id}/vcard?version=3.0"), Some(&ada.token)).await;
    let etag = card.headers()["etag"].to_str().unwrap().to_owned();
    let text = card.text().await.unwrap();
    for kept in [
        "PRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n",
        "ORG:Apple Inc.;\r\n",
        "item1.EMAIL;type=INTERNET;type=HOME;type=pref:johnny@example.com\r\n",
        "item1.X-ABLabel:_$!<Other>!$_\r\n",
        "item2.ADR;type=HOME;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;United States\r\n",
        "BDAY;X-APPLE-OMIT-YEAR=1604:1604-12-09\r\n",
        "UID:apple-uid-1\r\n",
    ] {
        assert!(text.contains(kept), "{kept:?} lost:\n{text}");
    }
    assert!(text.contains("N:Appleseed;John;;;\r\n") && text.contains("FN:John Appleseed\r\n"), "{text}");
    let again = app.get(&format!("/api/contacts/{id}/vcard?version=3.0"), Some(&ada.token)).await;
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag, "the ETag is stable");
    // A client holding it already is told so (a weak tag compares too); another tag gets the card.
    let conditional = |tag: String| {
        let path = format!("/api/contacts/{id}/vcard?version=3.0");
        app.request(Method::GET, &path).bearer_auth(&ada.token).header("If-None-Match", tag).send()
    };
    let held = conditional(format!("\"other\", W/{etag}")).await.unwrap();
    assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(held.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(conditional("\"other\"".to_owned()).await.unwrap().status(), StatusCode::OK);

    // Another user cannot read it.
    let eve = app.user("eve").await;
    expect(app.get(&format!("/api/contacts/{id}/vcard"), Some(&eve.token)).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_uid_already_in_the_book_updates_and_shared_emails_are_accepted() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let twin = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Twin Two\r\nEMAIL:johnny@example.com\r\nUID:twin\r\nEND:VCARD\r\n";
    let both = format!("{APPLE}{twin}");
    let report = expect(app.import(&ada, "text/x-vcard", both.clone()).await, StatusCode::OK).await;
    assert_eq!(report, json!({"created": 2, "updated": 0, "failed": []}));
    let report = expect(app.import(&ada, "text/vcard; charset=utf-8", both).await, StatusCode::OK).await;
    assert_eq!(report, json!({"created": 0, "updated": 2, "failed": []}));
    assert_eq!(all_contacts(&app, &ada).await.len(), 2);
    // REST's 409 holds against them: the user already has a contact with that email.
    let again = contact("Johnny", "Again", "JOHNNY@example.com");
    let taken = app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &again).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    // A REST edit of a synced card that keeps its email is fine, though its twin shares it.
    let twin_id = all_contacts(&app, &ada).await.into_iter().find(|c| c["uid"] == "twin").unwrap()["id"].clone();
    let edit = contact("Twin", "Two", "johnny@example.com");
    let put = app.send_json(Method::PUT, &format!("/api/contacts/{twin_id}"), Some(&ada.token), &edit).await;
    expect(put, StatusCode::OK).await;

    // A card without UID gets one, shown in REST and in its card.
    let no_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nemo\r\nEND:VCARD\r\n".to_owned();
    expect(app.import(&ada, "text/vcard", no_uid.clone()).await, StatusCode::OK).await;
    let nemo = all_contacts(&app, &ada).await.into_iter().find(|c| c["first_name"] == "Nemo").unwrap();
    // It has no UID in the book, so it is created again, as is a second one alike in one file.
    let again = expect(app.import(&ada, "text/vcard", no_uid.repeat(2)).await, StatusCode::OK).await;
    assert_eq!(again, json!({"created": 2, "updated": 0, "failed": []}));
    let nemos = all_contacts(&app, &ada).await.into_iter().filter(|c| c["first_name"] == "Nemo").count();
    assert_eq!(nemos, 3);
    assert!(nemo["uid"].as_str().is_some_and(|u| u.len() == 36), "{nemo}");
    assert_eq!((nemo["email"].clone(), nemo["phone"].clone()), (Value::Null, Value::Null));
    let text = app.get(&format!("/api/contacts/{}/vcard", nemo["id"]), Some(&ada.token)).await.text().await.unwrap();
    assert!(text.contains(&format!("UID:{}", nemo["uid"].as_str().unwrap())), "{text}");
}

#[tokio::test]
async fn ten_thousand_cards_with_one_broken_import_all_but_that_one() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let mut file = String::new();
    for i in 0..10_000 {
        if i == 4321 {
            file.push_str("BEGIN:VCARD\r\nVERSION:4.0\r\nEMAIL:nobody@example.com\r\nEND:VCARD\r\n");
        } else {
            file.push_str(&format!(
                "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:card-{i}\r\nFN:Person {i}\r\nN:{i};Person;;;\r\n\
                 EMAIL;TYPE=work:p{i}@example.com\r\nX-CUSTOM:{i}\r\nEND:VCARD\r\n"
            ));
        }
    }
    let report = expect(app.import(&ada, "text/vcard", file).await, StatusCode::OK).await;
    assert_eq!((report["created"].as_i64(), report["updated"].as_i64()), (Some(9_999), Some(0)));
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!((failed[0]["index"].as_i64(), &failed[0]["uid"]), (Some(4321), &Value::Null));
    assert!(failed[0]["detail"].as_str().unwrap().contains("name"), "{failed:?}");

    let total = app.get("/api/contacts/?limit=1", Some(&ada.token)).await;
    assert_eq!(total.headers()["x-total-count"].to_str().unwrap(), "9999");

    // The export streams every card back, each as it was imported.
    let export = app.get("/api/contacts/export.vcf", Some(&ada.token)).await;
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(export.headers()["content-type"].to_str().unwrap(), "text/vcard; charset=utf-8");
    assert_eq!(export.headers()["content-disposition"].to_str().unwrap(), "attachment; filename=\"contacts.vcf\"");
    let text = export.text().await.unwrap();
    assert_eq!(text.matches("BEGIN:VCARD\r\n").count(), 9_999);
    assert!(text.contains("UID:card-9999\r\nFN:Person 9999\r\nN:9999;Person;;;\r\n"));
}

#[tokio::test]
async fn bad_imports_are_413_415_422_and_a_big_card_fails_alone() {
    let app = spawn_app_with(&[("MAX_IMPORT_BYTES", "3000000")]).await;
    let ada = app.user("ada").await;
    let response = app.import(&ada, "application/json", APPLE.to_owned()).await;
    let refused = expect(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(refused["detail"], "Unsupported media type: send text/vcard, text/x-vcard or multipart/form-data");
    expect(app.import(&ada, "text/vcard", "hello\r\nworld\r\n".to_owned()).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    let too_big = "X".repeat(3_000_001);
    expect(app.import(&ada, "text/vcard", too_big).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    let big = format!("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Big\r\nNOTE:{}\r\nEND:VCARD\r\n", "x".repeat(1_100_000));
    let report = expect(app.import(&ada, "text/vcard", format!("{big}{APPLE}")).await, StatusCode::OK).await;
    assert_eq!(report["created"], 1);
    assert_eq!(report["failed"][0]["index"], 0);
    // A file cut off inside its last card: the whole cards are imported, the cut one is listed
    // (stored, it would be exported and synced without its END:VCARD).
    let cut = format!("{APPLE}BEGIN:VCARD\r\nVERSION:4.0\r\nUID:cut-1\r\nFN:Cut Off\r\n");
    let report = expect(app.import(&ada, "text/vcard", cut).await, StatusCode::OK).await;
    assert_eq!((&report["created"], &report["updated"]), (&json!(0), &json!(1)), "{report}");
    assert_eq!(report["failed"][0]["index"], 1, "{report}");
    assert!(report["failed"][0]["detail"].as_str().unwrap().contains("END:VCARD"), "{report}");
    let listed = expect(app.get("/api/contacts/?q=cut", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(listed, json!([]), "nothing of it stored");
    expect_unauthenticated(app.get("/api/contacts/export.vcf", None).await).await;
}

/// A birthday list of many contacts, and pages of many out of a bigger book. The guests are
/// born in a leap year, so the test holds on 29 February too.
#[tokio::test]
async fn long_birthday_lists_and_pages_hold_every_contact() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let today = Utc::now().date_naive();
    let file: String = (0..150)
        .map(|i| {
            format!(
                "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:party-{i}\r\nFN:Guest {i}\r\nN:{i};Guest;;;\r\n\
                 BDAY:2000{:02}{:02}\r\nEND:VCARD\r\n",
                today.month(),
                today.day()
            )
        })
        .collect();
    assert_eq!(expect(app.import(&ada, "text/vcard", file).await, StatusCode::OK).await["created"], 150);

    let response = app.get("/api/contacts/birthdays?days=0", Some(&ada.token)).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let today_list = expect(response, StatusCode::OK).await;
    let mut uids: Vec<&str> = today_list.as_array().unwrap().iter().map(|c| c["uid"].as_str().unwrap()).collect();
    uids.sort_unstable();
    let mut expected: Vec<String> = (0..150).map(|i| format!("party-{i}")).collect();
    expected.sort_unstable();
    assert_eq!(uids, expected);

    let page = app.get("/api/contacts/?skip=10&limit=100", Some(&ada.token)).await;
    assert_eq!(page.headers()["x-total-count"], "150");
    assert!(page.headers().contains_key("content-length"), "a page of up to 100 is built whole");
    let page = expect(page, StatusCode::OK).await;
    // A page of more than 100 is written as it is built; the same contacts, the same JSON.
    let long = app.get("/api/contacts/?skip=5&limit=1000", Some(&ada.token)).await;
    assert_eq!(long.headers()["x-total-count"], "150");
    assert_eq!(long.headers()["content-type"], "application/json");
    assert_eq!(long.headers()["transfer-encoding"], "chunked", "written as it is built");
    let long = expect(long, StatusCode::OK).await;
    let all = all_contacts(&app, &ada).await;
    assert_eq!(all.len(), 150);
    assert_eq!(page.as_array().unwrap()[..], all[10..110], "a page is its stretch of the whole book");
    assert_eq!(long.as_array().unwrap()[..], all[5..], "a long page too, every contact once");
    let ids: Vec<i64> = all.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered by id");
}

/// A birthday list longer than the service reads at once (`BIRTHDAY_CHUNK`, 500): days read
/// together, one day longer than a chunk read in pages, and the whole written as one JSON
/// array as it is read.
#[tokio::test]
async fn a_birthday_list_longer_than_a_chunk_arrives_whole_and_soonest_first() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let today = Utc::now().date_naive();
    // Days from today, and how many celebrate on each: the cards are interleaved, so ids do
    // not follow the days.
    let days = [(2_u64, 700), (0, 300), (1, 250), (5, 50)];
    let mut cards = Vec::new();
    for (offset, count) in days {
        let day = today + chrono::Days::new(offset);
        for i in 0..count {
            // Year-less birthdays count as well. Born in a leap year, so a window holding
            // 29 February gives real dates.
            let bday = if i % 3 == 0 {
                format!("--{:02}{:02}", day.month(), day.day())
            } else {
                format!("2000{:02}{:02}", day.month(), day.day())
            };
            cards.push((i, format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:d{offset}-{i}\r\nFN:Guest {offset} {i}\r\nBDAY:{bday}\r\nEND:VCARD\r\n")));
        }
    }
    cards.sort_by_key(|(i, _)| *i);
    let file: String = cards.into_iter().map(|(_, card)| card).collect();
    assert_eq!(expect(app.import(&ada, "text/vcard", file).await, StatusCode::OK).await["created"], 1300);
    let mut book = all_contacts(&app, &ada).await;
    let rest = app.get("/api/contacts/?skip=1000&limit=1000", Some(&ada.token)).await;
    book.extend(expect(rest, StatusCode::OK).await.as_array().unwrap().iter().cloned());
    // Soonest first, ties by id; a contact's day is in its UID.
    let day_of = |c: &Value| c["uid"].as_str().unwrap()[1..].split('-').next().unwrap().parse::<u64>().unwrap();
    let mut expected: Vec<(u64, i64)> = book.iter().map(|c| (day_of(c), c["id"].as_i64().unwrap())).collect();
    expected.sort_unstable();

    let response = app.get("/api/contacts/birthdays?days=5", Some(&ada.token)).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["transfer-encoding"], "chunked", "written as it is read");
    let vary = response.headers()["vary"].to_str().unwrap();
    assert!(vary.split(',').any(|name| name.trim() == "Accept-Encoding"), "a list answer, kept or not: {vary}");
    let list = expect(response, StatusCode::OK).await;
    let got: Vec<(u64, i64)> =
        list.as_array().expect("one JSON array").iter().map(|c| (day_of(c), c["id"].as_i64().unwrap())).collect();
    assert_eq!(got.len(), 1300);
    assert_eq!(got, expected, "every birthday once, soonest first, ties by id");
    assert_eq!(list[0], book.iter().find(|c| c["id"] == list[0]["id"]).cloned().unwrap(), "as the list shows it");
}

/// A birthday list asked again the same day is sent from the instance's copy while PostgreSQL
/// says the book is unchanged: a long one (written as it is read) as well as a short one, and a
/// change made through another instance shows on the very next request.
#[tokio::test]
async fn a_birthday_list_asked_again_shows_a_change_made_through_another_instance_at_once() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let today = Utc::now().date_naive();
    let md = format!("{:02}{:02}", today.month(), today.day());
    let cards: String = (0..600)
        .map(|i| format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:g{i}\r\nFN:Guest {i}\r\nBDAY:--{md}\r\nEND:VCARD\r\n"))
        .collect();
    assert_eq!(expect(app.import(&ada, "text/vcard", cards).await, StatusCode::OK).await["created"], 600);
    let second = app.second_instance().await;
    let here = app.address.clone();
    let list_on = async |base: &str, days: u32| {
        let url = format!("{base}/api/contacts/birthdays?days={days}");
        let response = app.client.get(url).bearer_auth(&ada.token).send().await.unwrap();
        let length = response.headers().get("content-length").is_some();
        (length, expect(response, StatusCode::OK).await)
    };

    let (sent_whole, first) = list_on(&here, 0).await;
    assert!(!sent_whole, "600 birthdays are more than a chunk: written as read");
    assert_eq!(first.as_array().unwrap().len(), 600);
    let (sent_whole, again) = list_on(&here, 0).await;
    assert!(sent_whole, "asked again: the kept copy, sent whole");
    assert_eq!(again, first);

    // A field the list shows, changed through the other instance.
    let guest = first[0]["id"].clone();
    let patched = app.client.patch(format!("{second}/api/contacts/{guest}")).bearer_auth(&ada.token);
    expect(patched.json(&json!({"phone": "+1 555 0199"})).send().await.unwrap(), StatusCode::OK).await;
    let (_, after_patch) = list_on(&here, 0).await;
    assert_eq!(after_patch[0]["phone"], "+1 555 0199");
    assert_eq!(list_on(&here, 0).await.1, after_patch, "kept again");

    // A delete through the other instance; a short list of another window is kept on its own.
    let deleted = app.client.delete(format!("{second}/api/contacts/{guest}")).bearer_auth(&ada.token);
    assert_eq!(deleted.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let (_, after_delete) = list_on(&here, 0).await;
    assert_eq!(after_delete.as_array().unwrap().len(), 599);
    assert!(after_delete.as_array().unwrap().iter().all(|c| c["id"] != guest));
    let eve = app.user("eve").await;
    let mut body = contact("Eve", "B", "eve@b.co");
    body["birthday"] = json!(format!("2000-{:02}-{:02}", today.month(), today.day()));
    app.create_contact(&eve, &body).await;
    let eves = async || expect(app.get("/api/contacts/birthdays", Some(&eve.token)).await, StatusCode::OK).await;
    let short = eves().await;
    assert_eq!((short.as_array().unwrap().len(), eves().await), (1, short.clone()));
    let created = app.client.post(format!("{second}/api/contacts/")).bearer_auth(&eve.token);
    let mut body = contact("Eve", "C", "eve2@b.co");
    body["birthday"] = json!(format!("1990-{:02}-{:02}", today.month(), today.day()));
    expect(created.json(&body).send().await.unwrap(), StatusCode::CREATED).await;
    assert_eq!(eves().await.as_array().unwrap().len(), 2, "a contact created through the other instance");
}

#[tokio::test]
async fn multipart_import_and_version_3_export() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let today = Utc::now().date_naive();
    let card = format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Cher\r\nBDAY:--{:02}{:02}\r\nUID:cher\r\nEND:VCARD\r\n",
        today.month(),
        today.day()
    );
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::text(card).file_name("cher.vcf").mime_str("text/vcard").unwrap());
    let response =
        app.request(Method::POST, "/api/contacts/import").bearer_auth(&ada.token).multipart(form).send().await.unwrap();
    assert_eq!(expect(response, StatusCode::OK).await["created"], 1);

    // A year-less birthday still counts for the birthday list.
    let soon = expect(app.get("/api/contacts/birthdays?days=0", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(soon.as_array().unwrap().len(), 1, "{soon}");
    assert_eq!(soon[0]["birthday"], Value::Null);

    let v3 = app.get("/api/contacts/export.vcf?version=3.0", Some(&ada.token)).await.text().await.unwrap();
    assert!(v3.contains("VERSION:3.0\r\n"), "{v3}");
    let expected = format!("X-APPLE-OMIT-YEAR=1604:1604-{:02}-{:02}", today.month(), today.day());
    assert!(v3.contains(&expected), "{v3}");
    let bad = app.get("/api/contacts/export.vcf?version=2.1", Some(&ada.token)).await;
    expect_invalid(bad, &["query", "version"]).await;
}

#[tokio::test]
async fn an_export_ends_every_line_with_crlf_whatever_line_ends_its_cards_came_with() {
    // Cards are kept as sent: here one with bare LF line ends and one without a last line end.
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let file = "BEGIN:VCARD\nVERSION:4.0\nUID:lf\nFN:Line Feed\nEND:VCARD\n\
        BEGIN:VCARD\r\nVERSION:4.0\r\nUID:open\r\nFN:Open End\r\nEND:VCARD";
    let import = app.import(&ada, "text/vcard", file.to_owned()).await;
    assert_eq!(expect(import, StatusCode::OK).await["created"], 2);
    let export = app.get("/api/contacts/export.vcf", Some(&ada.token)).await.text().await.unwrap();
    assert_eq!(export.matches('\n').count(), export.matches("\r\n").count(), "no bare LF: {export:?}");
    assert!(export.ends_with("END:VCARD\r\n"), "{export:?}");
    let begins = export.split("\r\n").filter(|line| *line == "BEGIN:VCARD").count();
    assert_eq!(begins, 2, "each card begins on a line of its own: {export:?}");
    // And the file reads back: both cards, each the same contact again.
    let again = expect(app.import(&ada, "text/vcard", export).await, StatusCode::OK).await;
    assert_eq!((again["created"].as_i64(), again["updated"].as_i64()), (Some(0), Some(2)), "{again}");
}

#[tokio::test]
async fn a_rest_made_contact_is_a_4_0_card() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let created = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@navy.mil")).await;
    assert_eq!(created["emails"], json!([{"value": "grace@navy.mil", "type": null}]));
    let uid = created["uid"].as_str().unwrap().to_owned();
    let card = app.get(&format!("/api/contacts/{}/vcard", created["id"]), Some(&ada.token)).await;
    let text = card.text().await.unwrap();
    for line in [
        "VERSION:4.0\r\n".to_owned(),
        format!("UID:{uid}\r\n"),
        "FN:Grace Hopper\r\n".to_owned(),
        "N:Hopper;Grace;;;\r\n".to_owned(),
        "EMAIL:grace@navy.mil\r\n".to_owned(),
        "BDAY:19900517\r\n".to_owned(),
    ] {
        assert!(text.contains(&line), "{line:?} missing:\n{text}");
    }
    // Through import, the same UID replaces it instead of duplicating.
    let replaced = text.replace("FN:Grace Hopper", "FN:Grace B. Hopper").replace("N:Hopper;Grace;;;\r\n", "");
    let report = expect(app.import(&ada, "text/vcard", replaced).await, StatusCode::OK).await;
    assert_eq!(report["updated"], 1);
    let read = expect(app.get(&format!("/api/contacts/{}", created["id"]), Some(&ada.token)).await, StatusCode::OK);
    assert_eq!(read.await["first_name"], "Grace B.");
}

#[tokio::test]
async fn rest_writes_lists_of_emails_and_phones() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    let mut input = contact("Ada", "Lovelace", "ada@example.com");
    input["emails"] =
        json!([{"value": "ada@example.com", "type": "home"}, {"value": "ada@work.example", "type": "work"}]);
    input["phones"] = json!([{"value": "+1 (555) 010-2030"}, {"value": "+44 20 7946 0000", "type": "cell"}]);
    let created = app.create_contact(&ada, &input).await;
    assert_eq!(created["emails"][1], json!({"value": "ada@work.example", "type": "work"}));
    assert_eq!(created["phones"][1], json!({"value": "+44 20 7946 0000", "type": "cell"}));
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/contacts/{id}");

    // Only `email`: the first entry changes, the others stay.
    let patched = app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"email": "ada@new.example"})).await;
    let patched = expect(patched, StatusCode::OK).await;
    assert_eq!(patched["email"], "ada@new.example");
    assert_eq!(
        patched["emails"],
        json!([{"value": "ada@new.example", "type": "home"}, {"value": "ada@work.example", "type": "work"}])
    );
    let read = expect(app.get(&path, Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(read, patched, "reads back as returned");
    let text = app.get(&format!("{path}/vcard"), Some(&ada.token)).await.text().await.unwrap();
    assert!(text.contains("EMAIL;TYPE=home:ada@new.example\r\nEMAIL;TYPE=work:ada@work.example\r\n"), "{text}");
    assert!(text.contains("TEL;TYPE=cell:+44 20 7946 0000\r\n"), "{text}");

    // `email` and `emails[0]` must agree; entries follow the single field's rules.
    let body = json!({"email": "x@example.com", "emails": [{"value": "y@example.com"}]});
    expect_invalid(app.send_json(Method::PATCH, &path, Some(&ada.token), &body).await, &["body", "email"]).await;
    let body = json!({"emails": [{"value": "ok@example.com"}, {"value": "not-an-email", "type": "work"}]});
    let response =
        expect(app.send_json(Method::PATCH, &path, Some(&ada.token), &body).await, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = response.await["detail"].to_string();
    assert!(detail.contains("emails") && detail.contains('1'), "{detail}");
    let many: Vec<Value> = (0..21).map(|i| json!({"value": format!("p{i}@example.com")})).collect();
    let response = app.send_json(Method::PATCH, &path, Some(&ada.token), &json!({"emails": many})).await;
    expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let long_type = json!({"phones": [{"value": "+1 555 010 2030", "type": "x".repeat(21)}]});
    let response = app.send_json(Method::PATCH, &path, Some(&ada.token), &long_type).await;
    expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Sending `emails` alone sets `email` to its first entry; REST's one-email rule still holds.
    let body = json!({"emails": [{"value": "only@example.com", "type": null}]});
    let patched = expect(app.send_json(Method::PATCH, &path, Some(&ada.token), &body).await, StatusCode::OK).await;
    assert_eq!(patched["email"], "only@example.com");
    let twin = contact("B", "C", "ONLY@example.com");
    let clash = app.send_json(Method::POST, "/api/contacts/", Some(&ada.token), &twin).await;
    expect(clash, StatusCode::CONFLICT).await;
}

/// An import of one card streamed without `Content-Length` (chunked), `total` bytes in all, the
/// card padded in its `NOTE`.
async fn chunked_import(app: &TestApp, user: &TestUser, total: usize) -> Response {
    let head = b"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:streamed\r\nFN:Streamed\r\nNOTE:";
    let body = chunked_body(head, b'x', b"\r\nEND:VCARD\r\n", total);
    app.request(Method::POST, "/api/contacts/import")
        .bearer_auth(&user.token)
        .header("content-type", "text/vcard")
        .body(body)
        .send()
        .await
        .expect("an answer, not a broken connection")
}

#[tokio::test]
async fn a_chunked_import_is_held_to_the_limit_too() {
    let app = spawn_app_with(&[("MAX_IMPORT_BYTES", "200000")]).await;
    let ada = app.user("ada").await;
    let head = request_head(|post| post.body(chunked_body(b"BEGIN:VCARD", b'x', b"", 100_000))).await;
    assert!(head.contains("transfer-encoding: chunked") && !head.contains("content-length"), "{head}");
    let report = expect(chunked_import(&app, &ada, 200_000).await, StatusCode::OK).await;
    assert_eq!(report, json!({"created": 1, "updated": 0, "failed": []}), "at the limit, chunked bodies import");
    expect(chunked_import(&app, &ada, 200_001).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Far over the limit: refused while reading, long before the 64 MiB are sent.
    let started = std::time::Instant::now();
    expect(chunked_import(&app, &ada, 64 * 1024 * 1024).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    // The multipart form of import, streamed: its file is held to the limit the same way.
    let file = reqwest::multipart::Part::stream(chunked_body(b"BEGIN:VCARD\r\nNOTE:", b'x', b"", 200_001));
    let form = reqwest::multipart::Form::new().part("file", file.file_name("big.vcf"));
    let response =
        app.request(Method::POST, "/api/contacts/import").bearer_auth(&ada.token).multipart(form).send().await.unwrap();
    expect(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Small parts with huge headers: the whole form counts (the limit and 64 KiB of framing).
    let mut form = reqwest::multipart::Form::new();
    for i in 0..20 {
        let part = reqwest::multipart::Part::stream(chunked_body(b"", b'x', b"", 10));
        form = form.part(format!("junk{i}"), part.file_name("n".repeat(20_000)));
    }
    let card = reqwest::multipart::Part::stream(chunked_body(b"BEGIN:VCARD\r\nFN:A B\r\nEND:VCARD\r\n", 0, b"", 32));
    let form = form.part("file", card.file_name("a.vcf"));
    let response =
        app.request(Method::POST, "/api/contacts/import").bearer_auth(&ada.token).multipart(form).send().await.unwrap();
    expect(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(all_contacts(&app, &ada).await.len(), 1, "nothing of the refused bodies was stored");
}
