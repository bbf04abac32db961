//! Logs and metrics. Logs are JSON lines through `tracing`; each target group's
//! decision is one line in CloudWatch Embedded Metric Format, so the same line
//! is searchable in Logs Insights and becomes metrics without an API call.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::sync::{SyncReport, TargetGroupReport};

/// CloudWatch namespace of every metric this project emits.
pub const METRICS_NAMESPACE: &str = "NlbTargetSync";

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

/// The current time in Unix milliseconds (0 if the clock is before 1970).
pub(crate) fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(0)).unwrap_or(0)
}

/// The decision line for one target group: the report's facts plus EMF metrics
/// `TargetsRegistered`, `TargetsDeregistered`, `TargetsHeldBack`, `DesiredTargets`,
/// `SyncErrors` and `SyncDuration` (ms), with dimensions `TargetGroup` and `Trigger`.
pub fn decision_line(report: &TargetGroupReport, trigger: &str, dry_run: bool) -> Value {
    let name = if report.target_group_name.is_empty() { &report.target_group_arn } else { &report.target_group_name };
    json!({
        "_aws": {
            "Timestamp": now_millis(),
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["TargetGroup"], ["Trigger"]],
                "Metrics": [
                    {"Name": "TargetsRegistered", "Unit": "Count"},
                    {"Name": "TargetsDeregistered", "Unit": "Count"},
                    {"Name": "TargetsHeldBack", "Unit": "Count"},
                    {"Name": "DesiredTargets", "Unit": "Count"},
                    {"Name": "SyncErrors", "Unit": "Count"},
                    {"Name": "SyncDuration", "Unit": "Milliseconds"}
                ]
            }]
        },
        "message": "target group synced",
        "level": if report.error.is_some() { "ERROR" } else { "INFO" },
        "TargetGroup": name,
        "Trigger": trigger,
        "TargetsRegistered": report.registered.len(),
        "TargetsDeregistered": report.deregistered.len(),
        "TargetsHeldBack": report.held_back.len(),
        "DesiredTargets": report.desired.len(),
        "SyncErrors": u8::from(report.error.is_some()),
        "SyncDuration": report.duration_ms,
        "dryRun": dry_run,
        "targetGroupArn": report.target_group_arn,
        "sources": report.sources,
        "desired": report.desired,
        "registered": report.registered,
        "deregistered": report.deregistered,
        "deregisteredRoleChanged": report.deregistered_role_changed,
        "heldBack": report.held_back,
        "error": report.error,
    })
}

/// Writes one decision line per target group to stdout (where Lambda collects
/// EMF), plus an error line when the run could not list target groups.
pub fn emit(report: &SyncReport, trigger: &str) {
    for group in &report.target_groups {
        println!("{}", decision_line(group, trigger, report.dry_run));
    }
    if let Some(error) = &report.error {
        tracing::error!(trigger, error = error.as_str(), "sync run failed before any target group");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_line_is_valid_emf_with_the_report_facts() {
        let mut report: TargetGroupReport = serde_json::from_value(json!({
            "targetGroupArn": "arn:tg/db", "targetGroupName": "db", "sources": ["rds-proxy:p"],
            "desired": ["10.0.0.1:5432"], "registered": ["10.0.0.1:5432"], "deregistered": [],
            "deregisteredRoleChanged": [], "heldBack": [], "error": null, "durationMs": 12
        }))
        .unwrap_or_else(|_| unreachable!());
        report.error = Some("boom".into());
        let line = decision_line(&report, "schedule", false);
        let metrics = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metrics["Namespace"], METRICS_NAMESPACE);
        for metric in metrics["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "metric {name} has no value");
        }
        for dims in metrics["Dimensions"].as_array().unwrap() {
            for dim in dims.as_array().unwrap() {
                assert!(line[dim.as_str().unwrap()].is_string());
            }
        }
        assert_eq!(line["TargetsRegistered"], 1);
        assert_eq!(line["SyncErrors"], 1);
        assert_eq!(line["SyncDuration"], 12);
        assert_eq!(line["error"], "boom");
        assert_eq!(line["TargetGroup"], "db");
    }
}
