//! Time as the functions need it: wall-clock milliseconds for view times and
//! event latencies, and (feature `lambda`) the invocation's deadline as a
//! `tokio` `Instant` (the one way every function computes it).

#[cfg(feature = "lambda")]
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

#[cfg(feature = "lambda")]
use tokio::time::Instant;

/// The current time in Unix milliseconds (0 if the clock is before 1970).
pub fn now_millis() -> u64 {
    #[cfg(test)]
    if let Some(virtual_ms) = virtual_time::now() {
        return virtual_ms;
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(0)).unwrap_or(0)
}

/// Tests that run on tokio's paused clock (the simulation of overlapping
/// runs) make [`now_millis`] follow it on their thread.
#[cfg(test)]
pub(crate) mod virtual_time {
    use std::cell::Cell;

    thread_local! {
        static START: Cell<Option<(u64, tokio::time::Instant)>> = const { Cell::new(None) };
    }

    /// From now on, on this thread, Unix time is `start_ms` plus the time
    /// tokio's clock has advanced since.
    pub(crate) fn start(start_ms: u64) {
        START.with(|s| s.set(Some((start_ms, tokio::time::Instant::now()))));
    }

    pub(crate) fn stop() {
        START.with(|s| s.set(None));
    }

    pub(super) fn now() -> Option<u64> {
        START.with(Cell::get).map(|(ms, at)| ms + u64::try_from(at.elapsed().as_millis()).unwrap_or(0))
    }
}

#[cfg(feature = "lambda")]
/// What [`lambda_time_left`] assumes when the context carries no deadline
/// (Lambda's longest timeout).
pub const UNKNOWN_DEADLINE_TIME_LEFT: Duration = Duration::from_secs(900);

#[cfg(feature = "lambda")]
/// Time until the invocation's deadline (zero if past); when the context has
/// no deadline (`0`), [`UNKNOWN_DEADLINE_TIME_LEFT`].
pub fn lambda_time_left(ctx: &lambda_runtime::Context) -> Duration {
    if ctx.deadline == 0 {
        return UNKNOWN_DEADLINE_TIME_LEFT;
    }
    ctx.deadline().duration_since(SystemTime::now()).unwrap_or(Duration::ZERO)
}

#[cfg(feature = "lambda")]
/// The invocation's deadline as an [`Instant`], for racing work against it.
pub fn lambda_deadline(ctx: &lambda_runtime::Context) -> Instant {
    Instant::now() + lambda_time_left(ctx)
}

#[cfg(all(test, feature = "lambda"))]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_the_context_deadline() {
        let mut ctx = lambda_runtime::Context::default();
        assert_eq!(lambda_time_left(&ctx), UNKNOWN_DEADLINE_TIME_LEFT);
        let now_ms =
            u64::try_from(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis()).unwrap();
        ctx.deadline = now_ms + 30_000;
        let left = lambda_time_left(&ctx);
        assert!(left > Duration::from_secs(29) && left <= Duration::from_secs(30), "{left:?}");
        ctx.deadline = now_ms - 1_000;
        assert_eq!(lambda_time_left(&ctx), Duration::ZERO);
    }
}
