//! How a command that failed before it had a report says so: one line on
//! stderr (what failed, on which resource, and what to do) and, with
//! `--output json`, `{"failure": {"kind", "message", "fix"}}` on stdout, so
//! scripts can react to the kind.

use nlb_target_sync::FailureKind;
use serde::Serialize;

use crate::error::CliError;

/// `{"failure": {"kind", "message", "fix"}}`
#[derive(Debug, Serialize)]
pub struct FailureJson {
    failure: Failure,
}

/// `kind`: `no-credentials`, `expired-credentials`, `no-region`,
/// `access-denied`, `unreachable`, `throttled` or `other`; `message`: what
/// failed; `fix`: what to do, `null` when the message says it.
#[derive(Debug, Serialize)]
struct Failure {
    kind: &'static str,
    message: String,
    fix: Option<String>,
}

/// What a failed command shows.
#[derive(Debug)]
pub struct Shown {
    /// The line for stderr, the fix included.
    pub line: String,
    pub json: FailureJson,
}

impl Shown {
    pub fn new(mut error: CliError) -> Shown {
        let line = error.to_string();
        let (kind, fix) = match error.api_failure_mut() {
            Some(failure) => (failure.kind(), failure.take_fix()),
            None => (FailureKind::Other, None),
        };
        let message = error.to_string();
        Shown { line, json: FailureJson { failure: Failure { kind: kind.label(), message, fix } } }
    }
}

#[cfg(test)]
mod tests {
    use nlb_target_sync::{ApiFailure, Cause, GroupError, OperateError, RunsIn};
    use serde_json::json;

    use super::*;

    fn shown(error: OperateError) -> serde_json::Value {
        serde_json::to_value(Shown::new(CliError::from(error)).json).unwrap()
    }

    #[test]
    fn an_aws_failure_shows_its_kind_and_its_fix_apart() {
        let failure = ApiFailure {
            cause: Cause::NoRegion,
            runs_in: RunsIn::Terminal,
            ..ApiFailure::message("no AWS Region is configured")
        };
        let error = nlb_target_sync::ElbError { operation: "DescribeTargetGroups", resource: "tg-a".into(), failure };
        let line = Shown::new(CliError::from(OperateError::from(error.clone()))).line;
        assert!(
            line.starts_with(
                "ELB DescribeTargetGroups on tg-a failed: no AWS Region is configured. Name one: --region"
            ),
            "{line}"
        );
        let json = shown(OperateError::from(error));
        assert_eq!(json["failure"]["kind"], "no-region");
        assert_eq!(json["failure"]["message"], "ELB DescribeTargetGroups on tg-a failed: no AWS Region is configured");
        assert!(json["failure"]["fix"].as_str().unwrap().starts_with("Name one: --region"), "{json}");
    }

    #[test]
    fn any_other_error_is_of_kind_other_with_its_message() {
        let error = OperateError::from(GroupError::NotFound { target_group: "tg-x".into() });
        let message = error.to_string();
        assert_eq!(shown(error), json!({"failure": {"kind": "other", "message": message, "fix": null}}));
    }
}
