//! [`BcryptHasher`]: the password-hasher port on bcrypt.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use contacts_domain::Error;
use contacts_domain::auth::{Password, PasswordHasher};
use contacts_domain::user::PasswordHash;

/// How much less CPU time a hashing thread is owed than a request thread when both want a core
/// (a nice value: 10 gives it about a tenth of a core that a thread at 0 also wants).
const HASHING_NICENESS: i32 = 10;

/// Hashes with bcrypt at a configured cost. bcrypt is deliberately slow (about 250 ms at cost
/// 12), so every call runs on threads of its own, never on the async executor: one per core, so a
/// burst of logins queues instead of spawning a thread each, and each at a lower scheduling
/// priority, so while logins keep every core hashing, the requests that need a few microseconds
/// (a list, a sync) still get the CPU at once and a login waits a little longer instead.
#[derive(Debug, Clone)]
pub struct BcryptHasher {
    cost: u32,
    decoy: PasswordHash,
    pool: HashingPool,
}

impl BcryptHasher {
    /// A hasher at `cost` (4–31). It computes its decoy hash once, here, at the same cost, and
    /// starts its hashing threads (they end when the last clone of the hasher is dropped).
    pub fn new(cost: u32) -> Result<Self, Error> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(Error::unexpected)?;
        let decoy = bcrypt::hash(random, cost).map_err(Error::unexpected)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self { cost, decoy: PasswordHash(decoy), pool: HashingPool::start(cores)? })
    }

    /// Runs `work` on a hashing thread once one is free, and waits for its result.
    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let (answer, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone (its request was cancelled): nobody to tell.
            let _ = answer.send(work());
        });
        self.pool.jobs.send(job).map_err(|_| Error::unexpected("the hashing threads have stopped"))?;
        result.await.map_err(Error::unexpected)
    }
}

/// One unit of hashing work.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of niced threads taking jobs from one queue.
#[derive(Debug, Clone)]
struct HashingPool {
    jobs: Sender<Job>,
}

impl HashingPool {
    /// Starts `threads` threads, each at [`HASHING_NICENESS`] (where the system refuses, the
    /// thread runs at the usual priority: slower requests during logins, nothing worse).
    fn start(threads: usize) -> Result<Self, Error> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("bcrypt-{n}"))
                .spawn(move || {
                    // On Linux the nice value belongs to the calling thread alone.
                    let _ = rustix::process::nice(HASHING_NICENESS);
                    while let Some(job) = next_job(&queue) {
                        // A panicking job drops its answer (its caller gets an error); the thread
                        // stays to take the next one.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .map_err(Error::unexpected)?;
        }
        Ok(Self { jobs })
    }
}

/// The next queued job, or `None` once every sender is gone.
fn next_job(queue: &Mutex<Receiver<Job>>) -> Option<Job> {
    // A job that panicked poisons nothing this lock guards: the receiver stays usable.
    let queue = queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    queue.recv().ok()
}

impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        // `Password` holds at most 72 bytes, all of which bcrypt uses (it only drops the
        // terminating NUL), so the plain `hash` loses nothing.
        let (plain, cost) = (password.expose().to_owned(), self.cost);
        let hash = self.blocking(move || bcrypt::hash(plain, cost)).await?.map_err(Error::unexpected)?;
        Ok(PasswordHash(hash))
    }

    async fn verify(&self, candidate: &str, hash: &PasswordHash) -> Result<bool, Error> {
        if candidate.len() > 72 {
            // No stored password is that long, so it cannot match; bcrypt would truncate it.
            return Ok(false);
        }
        let (plain, hash) = (candidate.to_owned(), hash.0.clone());
        self.blocking(move || bcrypt::verify(plain, &hash)).await?.map_err(Error::unexpected)
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
        let long = "xy".repeat(36);
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hasher = BcryptHasher::new(4).unwrap();
        let cores = std::thread::available_parallelism().unwrap().get();
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..cores * 4).map(|_| {
            let (hasher, running, peak) = (hasher.clone(), running.clone(), peak.clone());
            tokio::spawn(async move {
                hasher
                    .blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                    .unwrap();
            })
        });
        for job in jobs.collect::<Vec<_>>() {
            job.await.unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=cores).contains(&peak), "{peak} hashes ran at once on {cores} cores");
    }

    #[tokio::test]
    async fn hashing_yields_the_cpu_to_requests() {
        let hasher = BcryptHasher::new(4).unwrap();
        let ours = rustix::process::getpriority_process(None).unwrap();
        let theirs = hasher.blocking(|| rustix::process::getpriority_process(None).unwrap()).await.unwrap();
        assert_eq!(theirs, (ours + HASHING_NICENESS).min(19), "hashing threads run niced, this one does not");
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_threads_stay() {
        let hasher = BcryptHasher::new(4).unwrap();
        let cores = std::thread::available_parallelism().unwrap().get();
        for _ in 0..cores * 2 {
            assert!(hasher.blocking(|| panic!("a bug in a hash")).await.is_err());
        }
        let hash = hasher.hash(&password("still hashing")).await.unwrap();
        assert!(hasher.verify("still hashing", &hash).await.unwrap());
    }

    #[tokio::test]
    async fn a_malformed_hash_is_an_error() {
        let hasher = BcryptHasher::new(4).unwrap();
        assert!(hasher.verify("password", &PasswordHash("not a hash".into())).await.is_err());
    }
}
