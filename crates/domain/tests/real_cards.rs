//! Round trips with real-world cards (see `tests/cards/README.md` for where they come from):
//! every card reads, comes back byte for byte in its own version, keeps every unmapped line
//! through a REST write of unchanged values, and converts to 3.0 and 4.0 without losing what
//! REST shows.

use contacts_domain::contact::fixtures::contact_from;
use contacts_domain::contact::vcard::{CardView, Version, apply_rest_values, read_card, render, split_cards};

fn corpus() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cards");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "vcf"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus is there");
    files
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

fn version_of(card: &str) -> Option<Version> {
    let upper = card.to_ascii_uppercase();
    if upper.contains("VERSION:4.0") {
        Some(Version::V4)
    } else if upper.contains("VERSION:3.0") {
        Some(Version::V3)
    } else {
        None
    }
}

#[test]
fn every_real_card_reads_and_round_trips() {
    let mut cards = 0;
    for (name, file) in corpus() {
        for (i, card) in split_cards(&file).unwrap_or_else(|| panic!("{name}: no card")).into_iter().enumerate() {
            let view = read_card(card).unwrap_or_else(|e| panic!("{name}#{i}: {e}"));
            assert!(!(view.first_name.is_empty() && view.last_name.is_empty()), "{name}#{i}: a name");
            let contact = contact_from(&view);
            if let Some(own) = version_of(card) {
                assert_eq!(render(card, &contact, false, own), card, "{name}#{i}: byte for byte");
            }
            // A REST write of the same values changes no line but REV (and adds UID, and FN
            // which 3.0 and 4.0 require, when missing).
            let had_fn = card.lines().any(|l| l.to_ascii_uppercase().starts_with("FN"));
            let applied = apply_rest_values(card, &contact);
            let added: Vec<&str> = applied.lines().filter(|l| !card.lines().any(|c| c == *l)).collect();
            assert!(
                added
                    .iter()
                    .all(|l| l.starts_with("REV:") || l.starts_with("UID:") || (!had_fn && l.starts_with("FN:"))),
                "{name}#{i}: changed {added:?}"
            );
            // Converted to either version, REST sees the same contact.
            for version in [Version::V3, Version::V4] {
                let converted = render(card, &contact, false, version);
                let again = read_card(&converted).unwrap_or_else(|e| panic!("{name}#{i} as {version:?}: {e}"));
                assert_eq!(
                    (&again.first_name, &again.last_name, &again.birthday),
                    (&view.first_name, &view.last_name, &view.birthday),
                    "{name}#{i} as {version:?}:\n{converted}"
                );
                let values = |v: &CardView| v.emails.iter().map(|e| e.value.clone()).collect::<Vec<_>>();
                assert_eq!(values(&again), values(&view), "{name}#{i} as {version:?}");
            }
            cards += 1;
        }
    }
    assert!(cards >= 20, "{cards} cards");
}
