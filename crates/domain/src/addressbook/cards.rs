//! The text and ETag of a stored card.

use crate::contact::StoredCard;
use crate::contact::vcard;

/// The card's current text in its stored version: byte for byte as last received, or with
/// REST's later changes written in (a REST edit marks the card dirty instead of rewriting it).
pub fn card_text(stored: &StoredCard) -> String {
    if stored.dirty { vcard::apply_rest_values(&stored.card, &stored.contact) } else { stored.card.clone() }
}

/// The strong ETag of [`card_text`]: it changes exactly when the text does.
pub fn card_etag(stored: &StoredCard) -> String {
    vcard::etag(&card_text(stored))
}
