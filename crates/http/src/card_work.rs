//! [`CardWork`]: vCard parsing and rendering off the async executor, a bounded number at a time.
//!
//! Parsing an import of 10 MiB, or rendering a page of 500 cards that must be converted to the
//! other vCard version, takes long enough to stall every other request on the same worker. Such
//! work runs on tokio's blocking pool, and at most one job per core runs at once (the rule
//! bcrypt's hashes and avatar decodes follow): a burst of imports and exports queues instead of
//! spawning a thread each. The server hands one `CardWork` to REST and to CardDAV, so both doors
//! share the bound. Compressing a kept list answer (`kept_answers`), or a CardDAV answer made
//! whole before it is sent, uses it too, but only when a place is free
//! ([`CardWork::run_if_free`]): such an answer can always go uncompressed.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a job gave no result: the bound was closed, or the job panicked.
pub type CardWorkError = Box<dyn std::error::Error + Send + Sync>;

/// The bound on card jobs running at once, shared by every clone.
#[derive(Debug, Clone)]
pub struct CardWork(Arc<Semaphore>);

impl CardWork {
    /// At most `limit` jobs at a time (at least one).
    pub fn new(limit: usize) -> Self {
        Self(Arc::new(Semaphore::new(limit.max(1))))
    }

    /// One job per core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Runs `work` on the blocking pool while holding one permit; waits for a permit first.
    ///
    /// The permit goes to the blocking thread with the job: a caller that stops waiting (its
    /// client hung up) does not stop the job, so the job keeps its place in the bound until it
    /// ends.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, CardWorkError> {
        let permit = self.0.clone().acquire_owned().await?;
        Self::with(permit, work).await
    }

    /// Runs `work` as [`run`](Self::run) does if a permit is free now; `None`, and `work` not
    /// run, if every permit is taken: for work that only saves bytes (compressing an answer
    /// that can go as it is), which must not queue a request behind imports.
    pub async fn run_if_free<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<Result<T, CardWorkError>> {
        let permit = self.0.clone().try_acquire_owned().ok()?;
        Some(Self::with(permit, work).await)
    }

    async fn with<T: Send + 'static>(
        permit: OwnedSemaphorePermit,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CardWorkError> {
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await?)
    }
}

/// A job that holds one of `work`'s places from the moment this returns until a message comes
/// on the sender: how tests fill the bound. The handle gives the job's end.
#[cfg(test)]
pub(crate) async fn place_held(
    work: &CardWork,
) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<Result<(), CardWorkError>>) {
    let (finish, finished) = std::sync::mpsc::channel::<()>();
    let (started, running) = std::sync::mpsc::channel::<()>();
    let job = tokio::spawn({
        let work = work.clone();
        async move {
            work.run(move || {
                started.send(()).unwrap();
                finished.recv().ok();
            })
            .await
        }
    });
    tokio::task::spawn_blocking(move || running.recv().unwrap()).await.unwrap();
    (finish, job)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Runs six jobs of 30 ms at once under `limit`; returns their results and how many ran
    /// together at most.
    async fn six_jobs(limit: usize) -> (Vec<usize>, usize) {
        let work = CardWork::new(limit);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..6).map(|i| {
            let (work, running, most) = (work.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                work.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
                .await
                .unwrap()
            })
        });
        let mut results = Vec::new();
        for job in jobs.collect::<Vec<_>>() {
            results.push(job.await.unwrap());
        }
        (results, most.load(Ordering::SeqCst))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_jobs_run_at_once_than_the_limit() {
        for limit in [1, 2] {
            let (results, most) = six_jobs(limit).await;
            assert_eq!(results, [0, 1, 2, 3, 4, 5], "every job's result, limit {limit}");
            assert!(most <= limit, "{most} jobs at once under a limit of {limit}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_caller_gave_up_keeps_its_place_until_it_ends() {
        let work = CardWork::new(1);
        let (finish, finished) = std::sync::mpsc::channel::<()>();
        let running = Arc::new(AtomicUsize::new(0));
        // A long job, and a caller that stops waiting for it (as a handler does when its client
        // hangs up): the job itself runs on.
        let first = tokio::spawn({
            let (work, running) = (work.clone(), running.clone());
            async move {
                work.run(move || {
                    running.fetch_add(1, Ordering::SeqCst);
                    finished.recv().ok();
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }
        });
        while running.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        // The next job waits for the first one to end, not for its caller.
        let next = tokio::spawn({
            let (work, running) = (work.clone(), running.clone());
            async move { work.run(move || running.load(Ordering::SeqCst)).await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!next.is_finished(), "a second job ran while the first still held the only place");
        finish.send(()).unwrap();
        assert_eq!(next.await.unwrap(), 0, "the first job had ended when the next one ran");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_that_must_not_wait_runs_only_while_a_place_is_free() {
        let work = CardWork::new(1);
        assert_eq!(work.run_if_free(|| 1).await.unwrap().unwrap(), 1, "a free place");
        let (finish, long) = place_held(&work).await;
        assert!(work.run_if_free(|| 2).await.is_none(), "the only place is taken: not run, not queued");
        finish.send(()).unwrap();
        long.await.unwrap().unwrap();
        assert_eq!(work.run_if_free(|| 3).await.unwrap().unwrap(), 3, "free again");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_gives_its_permit_back() {
        let work = CardWork::new(1);
        assert!(work.run(|| panic!("a broken card")).await.is_err());
        assert_eq!(work.run(|| 7).await.unwrap(), 7);
    }
}
