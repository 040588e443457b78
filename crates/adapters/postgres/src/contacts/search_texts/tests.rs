use super::*;

fn needle(field: Field, text: &str) -> PlainNeedle {
    PlainNeedle { field, bytes: plain(text).expect("a plain needle") }
}

/// A copy of a few contacts, their ids 10, 20, 30, ...
fn copy(contacts: &[(&str, &str, Option<&str>)]) -> BookText {
    let mut copy = BookText::new(7);
    for (i, (first, last, email)) in contacts.iter().enumerate() {
        assert!(copy.push(10 * (i as i64 + 1), first, last, *email));
    }
    copy
}

#[test]
fn only_printable_ascii_needles_are_matched_in_memory_lowered() {
    assert_eq!(plain("AnN"), Some(b"ann".to_vec()));
    assert_eq!(plain("50% O'Brien_\\"), Some(b"50% o'brien_\\".to_vec()));
    for other in ["", "Müller", "ann\u{1f}", "tab\there", "İ", "日本"] {
        assert_eq!(plain(other), None, "{other:?}");
    }
}

#[test]
fn a_needle_is_found_in_its_field_or_in_any_for_q() {
    let copy = copy(&[
        ("ada", "lovelace", Some("ada@math.org")),
        ("alan", "adams", Some("alan@cs.org")),
        ("grace", "hopper", None),
        ("bob", "smith", Some("bob.adams@example.com")),
    ]);
    assert_eq!(copy.matches(&[needle(Field::Any, "ADA")]), [10, 20, 40]);
    assert_eq!(copy.matches(&[needle(Field::FirstName, "ada")]), [10]);
    assert_eq!(copy.matches(&[needle(Field::LastName, "ada")]), [20]);
    assert_eq!(copy.matches(&[needle(Field::Email, "ada")]), [10, 40]);
    assert_eq!(copy.matches(&[needle(Field::Email, "hop")]), Vec::<i64>::new(), "no email");
    assert_eq!(copy.matches(&[needle(Field::Any, "hop")]), [30]);
    // Needles are ANDed.
    assert_eq!(copy.matches(&[needle(Field::Any, "ada"), needle(Field::Email, ".org")]), [10, 20]);
    assert_eq!(copy.matches(&[needle(Field::FirstName, "a"), needle(Field::LastName, "o")]), [10, 30]);
    assert_eq!(copy.matches(&[]), Vec::<i64>::new());
}

#[test]
fn no_match_spans_two_fields_or_two_contacts() {
    let copy = copy(&[("ann", "abel", Some("x@y")), ("y", "nn", None)]);
    // "nnab" would span first and last name, "yy" the end of one contact and the next.
    assert_eq!(copy.matches(&[needle(Field::Any, "nnab")]), Vec::<i64>::new());
    assert_eq!(copy.matches(&[needle(Field::Any, "yy")]), Vec::<i64>::new());
    assert_eq!(copy.matches(&[needle(Field::Any, "nn")]), [10, 20]);
}

#[test]
fn overlapping_occurrences_still_find_a_later_field() {
    // The first occurrence of "aa" in "aaa" hides the overlapping one; the last name still counts.
    let copy = copy(&[("aaa", "baab", None)]);
    assert_eq!(copy.matches(&[needle(Field::LastName, "aa")]), [10]);
    assert_eq!(copy.matches(&[needle(Field::FirstName, "aa")]), [10]);
}

#[test]
fn a_field_holding_a_separator_makes_the_copy_unusable() {
    let mut copy = BookText::new(1);
    assert!(copy.push(1, "ann", "lee", None));
    assert!(!copy.push(2, "a\u{1f}b", "lee", None));
    assert!(!BookText::new(1).push(2, "ann", "lee", Some("x\u{1e}y")));
}

#[test]
fn a_book_is_copied_on_its_second_search_at_one_stamp_and_once() {
    let texts = Arc::new(SearchTexts::default());
    assert!(texts.searched(1, 5).is_none(), "one search");
    assert!(texts.searched(1, 6).is_none(), "another stamp starts over");
    let copying = texts.searched(1, 6).expect("the second at stamp 6");
    assert!(texts.searched(1, 6).is_none(), "while it is being copied");
    copying.keep(copy(&[("ann", "lee", None)]));
    assert_eq!(texts.get(1).map(|copy| copy.stamp), Some(7), "the copy's own stamp");
    assert!(texts.searched(1, 6).is_none(), "already copied");

    texts.forget(1);
    assert!(texts.get(1).is_none());
    assert!(texts.searched(1, 9).is_none());
    assert!(texts.searched(1, 9).is_some(), "copied again after a change");
}

#[test]
fn a_book_not_worth_a_copy_is_not_tried_again_at_its_stamp() {
    let texts = Arc::new(SearchTexts::default());
    texts.searched(2, 1);
    texts.searched(2, 1).expect("the right to copy").refuse(1);
    for _ in 0..5 {
        assert!(texts.searched(2, 1).is_none());
    }
    assert!(texts.get(2).is_none());
    texts.searched(2, 3);
    assert!(texts.searched(2, 3).is_some(), "the book changed: worth a new look");
}

#[test]
fn a_copy_that_went_away_lets_a_later_search_try_again() {
    let texts = Arc::new(SearchTexts::default());
    texts.searched(3, 1);
    drop(texts.searched(3, 1).expect("the right to copy"));
    assert!(texts.searched(3, 1).is_none(), "counted from the start again");
    assert!(texts.searched(3, 1).is_some(), "the mark went with the failed copy");
}

/// A copy of `contacts` contacts weighing about `bytes_each` a contact.
fn heavy(contacts: usize, bytes_each: usize) -> BookText {
    let mut copy = BookText::new(1);
    let name = "x".repeat(bytes_each.saturating_sub(CONTACT_WEIGHT + 4));
    for id in 0..contacts {
        assert!(copy.push(id as i64, &name, "", None));
    }
    copy
}

#[test]
fn copies_stay_within_their_bound_the_least_recently_used_going_first() {
    let texts = Arc::new(SearchTexts::default());
    let third = MOST_BYTES / 3;
    let keep = |owner: i64| {
        texts.searched(owner, 1);
        texts.searched(owner, 1).expect("the right to copy").keep(heavy(third / 1000, 1000));
    };
    keep(1);
    keep(2);
    keep(3);
    assert!(texts.get(1).is_some(), "three fit; owner 1 is now the latest used");
    keep(4);
    assert!(texts.get(2).is_none(), "the least recently used went");
    assert!(texts.get(1).is_some() && texts.get(3).is_some() && texts.get(4).is_some());
    assert!(texts.lock().weight <= MOST_BYTES);
}

#[test]
fn a_copy_over_the_bound_is_refused_while_it_is_read() {
    let mut copy = BookText::new(1);
    let name = "y".repeat(1000);
    let pushed = (0..MOST_BYTES).take_while(|&id| copy.push(id as i64, &name, "", None)).count();
    assert!(pushed < MOST_BYTES / 1000 + 1, "stopped at {pushed}");
    assert!(copy.weight() > MOST_BYTES);
}

#[test]
fn the_memory_of_searched_owners_is_bounded() {
    let texts = Arc::new(SearchTexts::default());
    for owner in 0..(3 * MOST_OWNERS_SEEN as i64) {
        texts.searched(owner, 1);
    }
    assert!(texts.lock().seen.len() <= MOST_OWNERS_SEEN);
}

/// A book of `contacts` made-up contacts over a few letters, so that needles recur, overlap and
/// straddle fields; the same every run.
fn made_up(contacts: usize) -> Vec<(String, String, Option<String>)> {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut word = |longest: u64| -> String {
        let len = next(longest + 1);
        (0..len).map(|_| b"anbel.@"[next(7) as usize] as char).collect()
    };
    (0..contacts)
        .map(|_| {
            let (first, last, email) = (word(7), word(9), word(12));
            (first, last, (!email.is_empty()).then_some(email))
        })
        .collect()
}

#[test]
fn the_index_finds_what_a_scan_of_the_copy_finds() {
    let contacts = made_up(3_000);
    let fill = |copy: &mut BookText| {
        for (i, (first, last, email)) in contacts.iter().enumerate() {
            assert!(copy.push(i as i64 * 3, first, last, email.as_deref()));
        }
    };
    let (mut scanned, mut indexed) = (BookText::new(1), BookText::new(1));
    fill(&mut scanned);
    fill(&mut indexed);
    indexed.index(MOST_BYTES);
    assert!(indexed.trigrams.is_some() && indexed.weight() > scanned.weight());

    let needles = made_up(400);
    let fields = [Field::Any, Field::FirstName, Field::LastName, Field::Email];
    let mut found = 0;
    for (i, (a, b, _)) in needles.iter().enumerate().filter(|(_, (a, _, _))| !a.is_empty()) {
        let mut asked = vec![needle(fields[i % 4], a)];
        if i % 3 == 0 && !b.is_empty() {
            asked.push(needle(fields[(i / 3) % 4], b));
        }
        let expected = scanned.matches(&asked);
        assert_eq!(indexed.matches(&asked), expected, "{asked:?}");
        found += expected.len();
    }
    assert!(found > 10_000, "the needles find something: {found}");
}

#[test]
fn an_index_past_the_bound_is_left_out_and_the_copy_scanned() {
    let mut copy = copy(&[("anna", "lee", Some("anna@lee.org")), ("bob", "annan", None)]);
    let unindexed = copy.weight();
    copy.index(unindexed + 10);
    assert!(copy.trigrams.is_none(), "an index of a dozen trigrams weighs more than 10 bytes");
    assert_eq!(copy.weight(), unindexed);
    assert_eq!(copy.matches(&[needle(Field::Any, "ann")]), [10, 20]);
    copy.index(MOST_BYTES);
    assert!(copy.trigrams.is_some());
    assert_eq!(copy.matches(&[needle(Field::Any, "ann")]), [10, 20]);
}

#[tokio::test]
async fn a_copy_is_kept_indexed() {
    let texts = Arc::new(SearchTexts::default());
    texts.searched(1, 7);
    texts.searched(1, 7).expect("the right to copy").index_and_keep(copy(&[("ann", "lee", None)])).await;
    let kept = texts.get(1).expect("kept");
    assert!(kept.trigrams.is_some());
    assert_eq!(kept.matches(&[needle(Field::LastName, "LEE")]), [10]);
}
