//! `sync-on-schedule`: run by a scheduled EventBridge rule (or EventBridge
//! Scheduler). Syncs every tagged target group, or only `targetGroupArns` when
//! the payload names some, and fails the invocation if any target group failed.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use nlb_target_sync::config::{AwsSyncEngine, engine_from_env};
use nlb_target_sync::sync::Selection;
use nlb_target_sync::telemetry;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_logging();
    let engine = engine_from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(&engine, event.payload))).await
}

async fn handle(engine: &AwsSyncEngine, payload: Value) -> Result<Value, Diagnostic> {
    let selection =
        selection(&payload).map_err(|e| Diagnostic { error_type: "InvalidPayload".into(), error_message: e })?;
    let report = engine.run(&selection).await;
    telemetry::emit(&report, "schedule");
    Ok(serde_json::to_value(report.into_result()?).unwrap_or_default())
}

/// Any JSON is accepted: the EventBridge envelope, a Scheduler input, `{}`.
/// `targetGroupArns` (top level, or in `detail`) restricts the run.
fn selection(payload: &Value) -> Result<Selection, String> {
    let arns = payload.get("targetGroupArns").or_else(|| payload.get("detail").and_then(|d| d.get("targetGroupArns")));
    match arns {
        None | Some(Value::Null) => Ok(Selection::AllManaged),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("targetGroupArns holds {v}, which is not a string"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Selection::Only),
        Some(other) => Err(format!("targetGroupArns must be a list of target group ARNs, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn any_payload_selects_all_and_arns_restrict() {
        assert_eq!(selection(&json!({"detail-type": "Scheduled Event", "detail": {}})), Ok(Selection::AllManaged));
        assert_eq!(selection(&json!(null)), Ok(Selection::AllManaged));
        assert_eq!(selection(&json!({"targetGroupArns": ["a"]})), Ok(Selection::Only(vec!["a".into()])));
        assert_eq!(selection(&json!({"detail": {"targetGroupArns": ["b"]}})), Ok(Selection::Only(vec!["b".into()])));
        assert!(selection(&json!({"targetGroupArns": "a"})).unwrap_err().contains("must be a list"));
        assert!(selection(&json!({"targetGroupArns": [1]})).unwrap_err().contains("not a string"));
    }
}
