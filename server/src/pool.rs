//! The CPU pool: pipeline runs go to `spawn_blocking` only with a permit.
//!
//! Why: inference is CPU-bound for hundreds of milliseconds (seconds for a video). Run on
//! the async workers it would stall every other request; run on unbounded blocking threads
//! it would let a burst queue without limit and time everyone out. So: `size` permits (one
//! per core by default) plus a small, bounded wait queue. A request that finds the queue
//! full gets `503` with `Retry-After` at once (back-pressure the client can act on), and one
//! that waits longer than `queue_timeout` gets the same.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::AppError;

/// Bounded admission to the blocking pool.
#[derive(Debug)]
pub struct CpuPool {
    /// Admission: `size + queue` permits, taken without waiting.
    admission: Arc<Semaphore>,
    /// Workers: `size` permits, awaited.
    workers: Arc<Semaphore>,
    /// Unauthenticated work (public sessions' evidence): at most this many jobs at once,
    /// admitted or running, so anonymous callers can never take the whole pool.
    public: Arc<Semaphore>,
    size: usize,
    queue: usize,
    queue_timeout: Duration,
    retry_after_s: u64,
    rejected: AtomicU64,
}

/// A snapshot for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: usize,
    pub queue: usize,
    pub busy: usize,
    pub admitted: usize,
    pub rejected: u64,
}

impl CpuPool {
    pub fn new(size: usize, queue: usize, queue_timeout: Duration, retry_after_s: u64) -> Self {
        Self::with_public_share(size, queue, size.div_ceil(2), queue_timeout, retry_after_s)
    }

    /// A pool whose unauthenticated work is limited to `public` jobs at once.
    pub fn with_public_share(
        size: usize,
        queue: usize,
        public: usize,
        queue_timeout: Duration,
        retry_after_s: u64,
    ) -> Self {
        Self {
            admission: Arc::new(Semaphore::new(size + queue)),
            workers: Arc::new(Semaphore::new(size)),
            public: Arc::new(Semaphore::new(public)),
            size,
            queue,
            queue_timeout,
            retry_after_s,
            rejected: AtomicU64::new(0),
        }
    }

    fn saturated(&self) -> AppError {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        AppError::Unavailable {
            message: "server is at capacity; retry later",
            retry_after_s: self.retry_after_s,
        }
    }

    /// Runs `job` on a blocking thread once a worker permit is free; 503 when saturated.
    pub async fn run<T, F>(&self, job: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| self.saturated())?;
        let worker = tokio::time::timeout(self.queue_timeout, self.workers.clone().acquire_owned())
            .await
            .map_err(|_| self.saturated())?
            .map_err(|_| AppError::Internal("cpu pool closed".into()))?;
        tokio::task::spawn_blocking(move || {
            // Both permits live as long as the job, even if the request is dropped meanwhile.
            let _permits = (admitted, worker);
            job()
        })
        .await
        .map_err(|e| AppError::Internal(format!("pipeline task failed: {e}")))
    }

    /// [`CpuPool::run`] for unauthenticated work: 503 at once when the public share is taken.
    pub async fn run_public<T, F>(&self, job: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let share = self
            .public
            .clone()
            .try_acquire_owned()
            .map_err(|_| self.saturated())?;
        let out = self.run(job).await;
        drop(share);
        out
    }

    /// Runs `job` only if a worker is free right now: `Ok(None)` when the pool is busy (the
    /// caller drops the work instead of queueing it; the WebSocket API drops a live frame, as
    /// a camera would). Counted in `rejected` like a 503.
    pub async fn try_run<T, F>(&self, job: F) -> Result<Option<T>, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Ok(admitted) = self.admission.clone().try_acquire_owned() else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        let Ok(worker) = self.workers.clone().try_acquire_owned() else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, worker);
            job()
        })
        .await
        .map(Some)
        .map_err(|e| AppError::Internal(format!("pipeline task failed: {e}")))
    }

    /// Current occupancy.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            size: self.size,
            queue: self.queue,
            busy: self.size - self.workers.available_permits().min(self.size),
            admitted: (self.size + self.queue) - self.admission.available_permits(),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn zero_sized_pool_rejects_with_503_and_a_sized_one_runs() {
        let none = CpuPool::new(0, 0, Duration::from_millis(10), 3);
        let err = none.run(|| 1).await.unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(none.stats().rejected, 1);
        let one = CpuPool::new(1, 0, Duration::from_millis(10), 3);
        assert_eq!(one.run(|| 41 + 1).await.unwrap(), 42);
    }

    #[tokio::test]
    async fn public_work_never_takes_the_whole_pool() {
        let pool = Arc::new(CpuPool::with_public_share(
            2,
            4,
            1,
            Duration::from_secs(5),
            3,
        ));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run_public(move || wait.recv().ok()).await })
        };
        while pool.stats().busy == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The public share is taken: another anonymous job is refused at once...
        let refused = pool.run_public(|| 1).await.unwrap_err();
        assert_eq!(
            refused.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        // ...while an authenticated one still runs on the other worker.
        assert_eq!(pool.run(|| 2).await.unwrap(), 2);
        release.send(()).unwrap();
        assert!(busy.await.unwrap().is_ok());
        assert_eq!(pool.run_public(|| 3).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn try_run_drops_instead_of_waiting() {
        let none = CpuPool::new(0, 4, Duration::from_secs(10), 3);
        assert_eq!(none.try_run(|| 1).await.unwrap(), None);
        assert_eq!(none.stats().rejected, 1);
        let one = CpuPool::new(1, 0, Duration::from_millis(10), 3);
        assert_eq!(one.try_run(|| 7).await.unwrap(), Some(7));
    }
}
