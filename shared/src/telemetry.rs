//! Where log lines go. Everything the functions log is a JSON line on stdout
//! (where Lambda collects EMF): `tracing` events, and the decision and event
//! lines of [`crate::report`], which are written here and nowhere else. The
//! command line logs to stderr, only when asked.

use serde_json::Value;

use crate::failover::BatchOutcome;
use crate::report::{Trigger, decision_line, record_line, run_line};
use crate::sync::RunOutcome;

/// Starts JSON logging to stdout. The level comes from `RUST_LOG`, else
/// `AWS_LAMBDA_LOG_LEVEL`, else `info`.
pub fn init_logging() {
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()))
        .unwrap_or_else(|_| "info".to_string());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()))
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .try_init();
}

/// Starts logging for the operator command line: plain lines on stderr
/// (stdout holds the results), and only when `RUST_LOG` asks for them;
/// `RUST_LOG=debug` shows, for one, every place the SDK looked for
/// credentials.
pub fn init_terminal_logging() {
    let Ok(filter) = std::env::var("RUST_LOG") else { return };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "warn".into()))
        .with_ansi(false)
        .try_init();
}

/// One decision line per target group of the run, the run's summary line (its
/// API calls), plus an error line when the run could not list target groups.
pub fn emit_run(run: &RunOutcome, trigger: Trigger) {
    for group in &run.groups {
        emit_line(&decision_line(group, trigger, run.dry_run));
    }
    emit_line(&run_line(run, trigger));
    if let Some(error) = &run.error {
        tracing::error!(trigger = trigger.as_str(), error = %error, "sync run failed before any target group");
    }
}

/// The line a function writes when it cannot start (a setting it cannot use,
/// such as a malformed allow-list), before it exits.
pub fn emit_startup_failure(error: &dyn std::fmt::Display) {
    tracing::error!(error = %error, "cannot start");
}

/// Writes one JSON line (EMF is read from stdout, not through `tracing`).
pub fn emit_line(line: &Value) {
    println!("{line}");
}

/// The lines of an RDS-event batch: the decision lines of the watch's runs
/// that changed something and of its last run, then one line per record.
pub fn emit_batch(batch: &BatchOutcome) {
    for run in batch.watch.iter().flat_map(|w| w.reported_runs()) {
        emit_run(run, Trigger::Failover);
    }
    for record in &batch.records {
        emit_line(&record_line(record));
    }
}
