//! [`CardParses`]: reading a `PUT` body into a card record, and converting a stored card for a
//! `GET`, off the async executor.
//!
//! A card may be 1 MiB of folded, quoted-printable text; calcard's parse of that takes long
//! enough to stall every other request on the same worker. So parsing runs on tokio's blocking
//! pool under the bound REST's imports and exports share ([`CardWork`], one job per core): a
//! burst of uploads queues instead of spawning a thread each.

use contacts_carddav::BackendError;
use contacts_domain::contact::CardRecord;
use contacts_domain::contact::vcard::{self, CardError, record};
use contacts_http::CardWork;

/// A card body read into what storage keeps.
#[derive(Debug)]
pub(crate) struct ParsedCard {
    /// The record to store.
    pub(crate) record: CardRecord,
    /// The stored text's ETag (a digest of up to 1 MiB, so computed here too).
    pub(crate) etag: String,
    /// Whether the stored text is exactly the body sent (no `UID` had to be added).
    pub(crate) stored_as_sent: bool,
}

/// Card work of the CardDAV backend under the shared [`CardWork`] bound, its errors the
/// backend's.
#[derive(Debug, Clone)]
pub(crate) struct CardParses(CardWork);

impl From<CardWork> for CardParses {
    fn from(work: CardWork) -> Self {
        Self(work)
    }
}

impl CardParses {
    /// At most `limit` parses at a time (at least one), under a bound of their own.
    #[cfg(test)]
    pub(crate) fn new(limit: usize) -> Self {
        Self(CardWork::new(limit))
    }

    /// Parses `body` on the blocking pool while holding one permit.
    pub(crate) async fn parse(&self, body: Vec<u8>) -> Result<ParsedCard, BackendError> {
        self.run(move || parse(&body)).await?
    }

    /// Runs other card work of the same weight (a stored card converted to another vCard
    /// version, say) on the blocking pool while holding one permit.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, BackendError> {
        self.0.run(work).await.map_err(BackendError::Unexpected)
    }

    /// [`CardParses::run`] if a permit is free now; `None`, and `work` not run, if not.
    pub(crate) async fn run_if_free<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, BackendError> {
        self.0.run_if_free(work).await.transpose().map_err(BackendError::Unexpected)
    }
}

/// Reads a UTF-8 vCard body; the errors are those `PUT` answers with.
fn parse(body: &[u8]) -> Result<ParsedCard, BackendError> {
    let text = std::str::from_utf8(body).map_err(|_| BackendError::UnsupportedCard)?;
    // One card a resource (RFC 6352, 5.1): a second would be stored, served back, and never
    // seen by REST, which reads the first.
    if vcard::split_cards(text).is_some_and(|cards| cards.len() > 1) {
        return Err(BackendError::InvalidCard("one vCard a resource".to_owned()));
    }
    // A resource is vCard 3.0 or 4.0, as `supported-address-data` says (RFC 6352 6.2.2).
    let refused = |e: CardError| match e {
        CardError::TooLarge => BackendError::TooLarge,
        CardError::UnsupportedVersion => BackendError::UnsupportedCard,
        other => BackendError::InvalidCard(other.to_string()),
    };
    vcard::resource_version(text).map_err(refused)?;
    let record = record(text).map_err(refused)?;
    let stored_as_sent = record.card == text;
    Ok(ParsedCard { etag: vcard::etag(&record.card), record, stored_as_sent })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n";

    #[tokio::test]
    async fn a_card_with_a_uid_is_stored_as_sent() {
        let parsed = CardParses::new(1).parse(CARD.as_bytes().to_vec()).await.unwrap();
        assert!(parsed.stored_as_sent);
        assert_eq!(parsed.record.uid, "u1");
        assert_eq!(parsed.record.card, CARD);
        assert_eq!(parsed.etag, vcard::etag(CARD));
    }

    #[tokio::test]
    async fn a_card_without_a_uid_gets_one_and_is_not_stored_as_sent() {
        let body = CARD.replace("UID:u1\r\n", "");
        let parsed = CardParses::new(1).parse(body.into_bytes()).await.unwrap();
        assert!(!parsed.stored_as_sent);
        assert!(parsed.record.card.contains(&format!("UID:{}", parsed.record.uid)));
    }

    #[tokio::test]
    async fn bad_bodies_map_to_the_answers_of_put() {
        let parses = CardParses::new(1);
        assert!(matches!(parses.parse(vec![0xff, 0xfe]).await, Err(BackendError::UnsupportedCard)));
        assert!(matches!(parses.parse(b"hello".to_vec()).await, Err(BackendError::InvalidCard(_))));
        let two = format!("{CARD}{}", CARD.replace("u1", "u2"));
        assert!(matches!(parses.parse(two.into_bytes()).await, Err(BackendError::InvalidCard(_))));
        // vCard 2.1 is no version `supported-address-data` names; a card cut short is no card.
        let v21 = CARD.replace("VERSION:4.0", "VERSION:2.1");
        assert!(matches!(parses.parse(v21.into_bytes()).await, Err(BackendError::UnsupportedCard)));
        let cut = CARD.replace("END:VCARD\r\n", "");
        assert!(matches!(parses.parse(cut.into_bytes()).await, Err(BackendError::InvalidCard(_))));
        let nameless = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nEND:VCARD\r\n";
        assert!(matches!(parses.parse(nameless.as_bytes().to_vec()).await, Err(BackendError::InvalidCard(_))));
        let huge = format!("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nNOTE:{}\r\nEND:VCARD\r\n", "x".repeat(1024 * 1024));
        assert!(matches!(parses.parse(huge.into_bytes()).await, Err(BackendError::TooLarge)));
    }

    #[tokio::test]
    async fn parses_queue_behind_the_bound() {
        let parses = CardParses::new(1);
        // A job that holds the only permit until told to finish.
        let (finish, finished) = std::sync::mpsc::channel::<()>();
        let held = tokio::spawn({
            let parses = parses.clone();
            async move { parses.run(move || finished.recv()).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let waiting = tokio::spawn({
            let parses = parses.clone();
            async move { parses.parse(CARD.as_bytes().to_vec()).await.map(|p| p.stored_as_sent) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a parse waits while every permit is taken");
        finish.send(()).unwrap();
        held.await.unwrap().unwrap().unwrap();
        assert!(waiting.await.unwrap().unwrap());
    }
}
