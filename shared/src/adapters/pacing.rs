//! The ELB adapter's own share of ELB's `Describe*` budget: a token bucket
//! each `Describe*` call waits on before it is sent, so a run over thousands
//! of target groups spends at most `rate` calls a second (after a burst of
//! `burst`) instead of draining the account's bucket (40, refilled at 10 per
//! second, shared with the console, Terraform and every other tool) and
//! leaning on retries. The SDK's retry stays for what others spend.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::usage::ApiMeter;

/// How fast one process may send ELB `Describe*` calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DescribeRate {
    /// Calls per second, sustained.
    pub per_second: f64,
    /// Calls that may go at once after a quiet period.
    pub burst: f64,
}

impl DescribeRate {
    /// 6 calls a second, bursts of 12: 60 % of ELB's refill and under a
    /// third of its bucket, the rest left to other tools of the account.
    pub const DEFAULT: DescribeRate = DescribeRate { per_second: 6.0, burst: 12.0 };

    /// `per_second` sustained, bursts of two seconds' worth.
    pub fn per_second(per_second: f64) -> DescribeRate {
        DescribeRate { per_second, burst: (per_second * 2.0).max(1.0) }
    }
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The token bucket; waits are added to the [`ApiMeter`].
pub struct DescribePacer {
    rate: DescribeRate,
    bucket: Mutex<Bucket>,
    meter: Arc<ApiMeter>,
}

impl DescribePacer {
    pub fn new(rate: DescribeRate, meter: Arc<ApiMeter>) -> Self {
        DescribePacer { rate, bucket: Mutex::new(Bucket { tokens: rate.burst, updated: Instant::now() }), meter }
    }

    /// Waits until a call may be sent, and takes its token. Callers queue in
    /// order (the lock is held while waiting), so no caller starves.
    pub async fn acquire(&self) {
        let mut bucket = self.bucket.lock().await;
        let started = Instant::now();
        let refill = |bucket: &mut Bucket, now: Instant| {
            let gained = now.duration_since(bucket.updated).as_secs_f64() * self.rate.per_second;
            bucket.tokens = (bucket.tokens + gained).min(self.rate.burst);
            bucket.updated = now;
        };
        refill(&mut bucket, started);
        if bucket.tokens < 1.0 {
            let missing = 1.0 - bucket.tokens;
            tokio::time::sleep(Duration::from_secs_f64(missing / self.rate.per_second)).await;
            refill(&mut bucket, Instant::now());
            self.meter.waited(started.elapsed());
        }
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_beyond_the_burst_go_at_the_rate() {
        let meter = Arc::new(ApiMeter::default());
        let pacer = DescribePacer::new(DescribeRate { per_second: 4.0, burst: 8.0 }, meter.clone());
        let start = Instant::now();
        for _ in 0..8 {
            pacer.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..20 {
            pacer.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((4.9..=5.1).contains(&elapsed), "20 more calls at 4/s take 5 s, took {elapsed}");
        let waited = meter.snapshot().budget_wait.as_secs_f64();
        assert!((4.9..=5.1).contains(&waited), "the waits are counted: {waited}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_period_refills_up_to_the_burst_only() {
        let pacer = DescribePacer::new(DescribeRate { per_second: 10.0, burst: 5.0 }, Arc::default());
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        for _ in 0..10 {
            pacer.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.45..=0.55).contains(&elapsed), "5 at once, then 5 at 10/s: {elapsed}");
    }
}
