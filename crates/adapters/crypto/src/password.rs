//! [`BcryptHasher`]: the password-hasher port on bcrypt.

use contacts_domain::Error;
use contacts_domain::auth::{Password, PasswordHasher};
use contacts_domain::user::PasswordHash;

/// Hashes with bcrypt at a configured cost. bcrypt is deliberately slow (about 250 ms at cost
/// 12), so every call runs on tokio's blocking pool, never on the async executor.
#[derive(Debug, Clone)]
pub struct BcryptHasher {
    cost: u32,
    decoy: PasswordHash,
}

impl BcryptHasher {
    /// A hasher at `cost` (4–31). It computes its decoy hash once, here, at the same cost.
    pub fn new(cost: u32) -> Result<Self, Error> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(Error::unexpected)?;
        let decoy = bcrypt::hash(random, cost).map_err(Error::unexpected)?;
        Ok(Self { cost, decoy: PasswordHash(decoy) })
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(work).await.map_err(Error::unexpected)
}

impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        // `Password` holds at most 72 bytes, all of which bcrypt uses (it only drops the
        // terminating NUL), so the plain `hash` loses nothing.
        let (plain, cost) = (password.expose().to_owned(), self.cost);
        let hash = blocking(move || bcrypt::hash(plain, cost)).await?.map_err(Error::unexpected)?;
        Ok(PasswordHash(hash))
    }

    async fn verify(&self, candidate: &str, hash: &PasswordHash) -> Result<bool, Error> {
        if candidate.len() > 72 {
            // No stored password is that long, so it cannot match; bcrypt would truncate it.
            return Ok(false);
        }
        let (plain, hash) = (candidate.to_owned(), hash.0.clone());
        blocking(move || bcrypt::verify(plain, &hash)).await?.map_err(Error::unexpected)
    }

    fn decoy_hash(&self) -> PasswordHash {
        self.decoy.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(raw: &str) -> Password {
        Password::parse("password", raw).unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_only_their_own_password() {
        let hasher = BcryptHasher::new(4).unwrap();
        let hash = hasher.hash(&password("correct horse")).await.unwrap();
        assert!(hash.0.starts_with("$2b$04$"), "cost is encoded in the hash");
        assert!(hasher.verify("correct horse", &hash).await.unwrap());
        assert!(!hasher.verify("correct horsE", &hash).await.unwrap());
    }

    #[tokio::test]
    async fn the_73rd_byte_counts() {
        let hasher = BcryptHasher::new(4).unwrap();
        let long = "x".repeat(72);
        let hash = hasher.hash(&password(&long)).await.unwrap();
        assert!(hasher.verify(&long, &hash).await.unwrap());
        assert!(!hasher.verify(&format!("{long}y"), &hash).await.unwrap());
    }

    #[tokio::test]
    async fn the_decoy_matches_nothing_ordinary() {
        let hasher = BcryptHasher::new(4).unwrap();
        assert!(!hasher.verify("", &hasher.decoy_hash()).await.unwrap());
        assert!(!hasher.verify("password", &hasher.decoy_hash()).await.unwrap());
    }

    #[tokio::test]
    async fn a_malformed_hash_is_an_error() {
        let hasher = BcryptHasher::new(4).unwrap();
        assert!(hasher.verify("password", &PasswordHash("not a hash".into())).await.is_err());
    }
}
