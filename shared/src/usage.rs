//! How many API calls a run made, per service, and how long it waited for
//! ELB's `Describe*` budget: typed here, JSON only in `report.rs`.
//!
//! The adapters count into one [`ApiMeter`] shared by the engine (every
//! attempt the SDK sends, retries included, and every wait of the ELB
//! adapter's pacer); a run's [`ApiUsage`] is the difference between the
//! meter after and before it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A service whose calls are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Elastic Load Balancing v2.
    Elb,
    /// Amazon RDS.
    Rds,
    /// DynamoDB (the lease table).
    DynamoDb,
}

/// Calls one run (or one meter so far) made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiUsage {
    /// ELB requests sent (every attempt, retries included).
    pub elb_calls: u64,
    /// Of these, `Describe*` requests (ELB's shared token bucket).
    pub elb_describe_calls: u64,
    /// RDS requests sent.
    pub rds_calls: u64,
    /// DynamoDB requests sent.
    pub dynamodb_calls: u64,
    /// Requests the SDK's retry sent again (attempts beyond each call's first:
    /// throttled or failed ones).
    pub retried_calls: u64,
    /// Time spent waiting for the ELB `Describe*` pacer.
    pub budget_wait: Duration,
}

impl ApiUsage {
    /// What was counted between `earlier` and `self`.
    pub fn since(&self, earlier: &ApiUsage) -> ApiUsage {
        ApiUsage {
            elb_calls: self.elb_calls.saturating_sub(earlier.elb_calls),
            elb_describe_calls: self.elb_describe_calls.saturating_sub(earlier.elb_describe_calls),
            rds_calls: self.rds_calls.saturating_sub(earlier.rds_calls),
            dynamodb_calls: self.dynamodb_calls.saturating_sub(earlier.dynamodb_calls),
            retried_calls: self.retried_calls.saturating_sub(earlier.retried_calls),
            budget_wait: self.budget_wait.saturating_sub(earlier.budget_wait),
        }
    }
}

/// The counters the adapters add to; shared (`Arc`) by adapters and engine.
#[derive(Debug, Default)]
pub struct ApiMeter {
    elb_calls: AtomicU64,
    elb_describe_calls: AtomicU64,
    rds_calls: AtomicU64,
    dynamodb_calls: AtomicU64,
    calls_started: AtomicU64,
    budget_wait_micros: AtomicU64,
}

impl ApiMeter {
    /// A call begins (its attempts are counted by [`ApiMeter::count`]).
    pub fn call_started(&self) {
        self.calls_started.fetch_add(1, Ordering::Relaxed);
    }

    /// One request (attempt) sent to `service`; `describe` for ELB's
    /// `Describe*` actions.
    pub fn count(&self, service: Service, describe: bool) {
        let counter = match service {
            Service::Elb => &self.elb_calls,
            Service::Rds => &self.rds_calls,
            Service::DynamoDb => &self.dynamodb_calls,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if describe && service == Service::Elb {
            self.elb_describe_calls.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Time a call waited for budget.
    pub fn waited(&self, wait: Duration) {
        let micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.budget_wait_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> ApiUsage {
        ApiUsage {
            elb_calls: self.elb_calls.load(Ordering::Relaxed),
            elb_describe_calls: self.elb_describe_calls.load(Ordering::Relaxed),
            rds_calls: self.rds_calls.load(Ordering::Relaxed),
            dynamodb_calls: self.dynamodb_calls.load(Ordering::Relaxed),
            retried_calls: (self.elb_calls.load(Ordering::Relaxed)
                + self.rds_calls.load(Ordering::Relaxed)
                + self.dynamodb_calls.load(Ordering::Relaxed))
            .saturating_sub(self.calls_started.load(Ordering::Relaxed)),
            budget_wait: Duration::from_micros(self.budget_wait_micros.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_sees_only_what_was_counted_during_it() {
        let meter = ApiMeter::default();
        meter.call_started();
        meter.count(Service::Elb, true);
        let before = meter.snapshot();
        for _ in 0..4 {
            meter.call_started();
        }
        meter.count(Service::Elb, true);
        meter.count(Service::Elb, false);
        meter.count(Service::Elb, false); // a retry
        meter.count(Service::Rds, false);
        meter.count(Service::DynamoDb, false);
        meter.waited(Duration::from_millis(250));
        let run = meter.snapshot().since(&before);
        assert_eq!(
            run,
            ApiUsage {
                elb_calls: 3,
                elb_describe_calls: 1,
                rds_calls: 1,
                dynamodb_calls: 1,
                retried_calls: 1,
                budget_wait: Duration::from_millis(250),
            }
        );
    }
}
