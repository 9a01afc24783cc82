//! CPU-bound work that anyone may ask for (`POST /api/validate`) runs on tokio's blocking pool,
//! never on the threads that answer requests, a few at a time, within a time budget. The
//! async workers stay free, so `/api/health` and running pipelines' event streams answer
//! while big validations run.

use super::error::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub struct CpuLimit {
    permits: Arc<Semaphore>,
    /// How long a request waits for a free permit before it is told to retry.
    queue_wait: Duration,
    /// How long one job may take before its request is answered with an error.
    budget: Duration,
    what: &'static str,
}

impl CpuLimit {
    pub fn new(what: &'static str, concurrent: usize, queue_wait: Duration, budget: Duration) -> CpuLimit {
        CpuLimit { permits: Arc::new(Semaphore::new(concurrent.max(1))), queue_wait, budget, what }
    }

    /// One job per CPU, a brief wait for a turn, and 10 s each: validating the largest file
    /// the core accepts (1 MiB) takes well under a second (docs/perf.md).
    pub fn for_validation() -> CpuLimit {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        CpuLimit::new("validation", cpus, Duration::from_secs(2), Duration::from_secs(10))
    }

    /// Run `job` on the blocking pool. A job that outlives its budget keeps its permit until
    /// it ends (a thread cannot be stopped from outside), so at most `concurrent` jobs ever
    /// use the CPU at once, answered or not.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = match tokio::time::timeout(self.queue_wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => unreachable!("the semaphore is never closed"),
            Err(_) => {
                return Err(ApiError::Busy {
                    retry_after: 1,
                    message: format!("the server is busy with other requests' {}; try again shortly", self.what),
                });
            }
        };
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        });
        match tokio::time::timeout(self.budget, handle).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(ApiError::Internal(anyhow::anyhow!("{} failed: {e}", self.what))),
            Err(_) => Err(ApiError::Unprocessable(format!(
                "{} took longer than the server's budget of {} s; split or simplify the files",
                self.what,
                self.budget.as_secs()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    fn status(e: &ApiError) -> String {
        match e {
            ApiError::Busy { retry_after, message } => format!("busy {retry_after}: {message}"),
            ApiError::Unprocessable(m) => format!("422: {m}"),
            other => format!("{other:?}"),
        }
    }

    /// The jobs here sleep on real threads of the blocking pool: that is what a long
    /// validation looks like to the limiter.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_over_budget_is_answered_and_keeps_its_permit_until_it_ends() {
        let limit = Arc::new(CpuLimit::new("validation", 1, Duration::from_millis(100), Duration::from_millis(200)));
        let started = Instant::now();
        let e = limit.run(|| std::thread::sleep(Duration::from_millis(1500))).await.unwrap_err();
        assert!(status(&e).starts_with("422: validation took longer than"), "{}", status(&e));
        assert!(started.elapsed() < Duration::from_millis(1000), "the answer waited for the job");
        // The slow job still runs and holds the only permit: the next request waits briefly, then
        // is told to retry.
        let e = limit.run(|| ()).await.unwrap_err();
        assert!(status(&e).starts_with("busy 1: the server is busy"), "{}", status(&e));
        // Once it has ended, jobs run again.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(limit.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_given_number_of_jobs_run_at_once() {
        let limit = Arc::new(CpuLimit::new("validation", 2, Duration::from_secs(10), Duration::from_secs(10)));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..6)
            .map(|_| {
                let (limit, now, most) = (limit.clone(), now.clone(), most.clone());
                tokio::spawn(async move {
                    limit
                        .run(move || {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(100));
                            now.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for j in jobs {
            assert!(j.await.unwrap().is_ok());
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
