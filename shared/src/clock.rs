//! Time as the functions need it: wall-clock milliseconds for view times and
//! event latencies, and the invocation's deadline as a `tokio` [`Instant`] (the
//! one way every function computes it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The current time in Unix milliseconds (0 if the clock is before 1970).
pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(0)).unwrap_or(0)
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
