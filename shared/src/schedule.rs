//! The scheduled trigger: which target groups a schedule's payload selects.
//! Any JSON is accepted (the EventBridge envelope, a Scheduler input, `{}`);
//! `targetGroupArns`, at the top level or in `detail`, restricts the run.

use serde_json::Value;

use crate::ports::{DnsLookup, RdsDirectory, TargetGroups};
use crate::sync::{RunOutcome, Selection, SyncEngine};

/// A payload whose `targetGroupArns` is not a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("targetGroupArns must be a list of target group ARNs, got {got}")]
    NotAList { got: String },
    #[error("targetGroupArns holds {item}, which is not a string")]
    NotAString { item: String },
}

/// The target groups a payload selects.
pub fn selection(payload: &Value) -> Result<Selection, PayloadError> {
    let arns = payload.get("targetGroupArns").or_else(|| payload.get("detail").and_then(|d| d.get("targetGroupArns")));
    match arns {
        None | Some(Value::Null) => Ok(Selection::AllManaged),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| PayloadError::NotAString { item: v.to_string() }))
            .collect::<Result<Vec<_>, _>>()
            .map(Selection::Only),
        Some(other) => Err(PayloadError::NotAList { got: other.to_string() }),
    }
}

impl<T: TargetGroups, R: RdsDirectory, D: DnsLookup> SyncEngine<T, R, D> {
    /// One scheduled run over what `payload` selects. The handler fails the
    /// invocation when any target group failed ([`RunOutcome::into_result`]),
    /// so the function's Errors metric and alarms see it.
    pub async fn on_schedule(&self, payload: &Value) -> Result<RunOutcome, PayloadError> {
        Ok(self.sync(&selection(payload)?).await)
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
        assert!(selection(&json!({"targetGroupArns": "a"})).unwrap_err().to_string().contains("must be a list"));
        assert!(selection(&json!({"targetGroupArns": [1]})).unwrap_err().to_string().contains("not a string"));
    }
}
