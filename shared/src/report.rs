//! Results as JSON, made only here, at the edge: the decision line for each
//! target group and the line for each RDS event (both CloudWatch Embedded
//! Metric Format, so one line is searchable in Logs Insights and becomes
//! metrics without an API call), and the handlers' answers.

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::now_millis;
use crate::events::RdsEvent;
use crate::failover::{EventDecision, RecordOutcome};
use crate::plan::{Action, DeregisterReason};
use crate::sync::{GroupOutcome, RunOutcome};
use crate::target::Target;
use crate::usage::ApiUsage;

/// CloudWatch namespace of every metric this project emits.
pub const METRICS_NAMESPACE: &str = "NlbTargetSync";

/// What started a run: the `Trigger` dimension of the decision metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Failover,
    Deploy,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Failover => "failover",
            Trigger::Deploy => "deploy",
        }
    }
}

/// A change held back, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldBackEntry {
    pub target: String,
    pub action: Action,
    pub reason: String,
}

/// A wanted target that was not healthy, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotHealthyEntry {
    pub target: String,
    /// ELB's state when the run read it (`initial`, `unhealthy`, `draining`...);
    /// `null` when the target was not registered then.
    pub state: Option<String>,
}

/// What a run did to one target group, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupReport {
    pub target_group_arn: String,
    pub target_group_name: String,
    pub sources: Vec<String>,
    /// Targets the sources want (private addresses on the sync port).
    pub desired: Vec<String>,
    pub registered: Vec<String>,
    pub deregistered: Vec<String>,
    /// Deregistered because the RDS API says the instance lost its role.
    pub deregistered_role_changed: Vec<String>,
    pub held_back: Vec<HeldBackEntry>,
    /// Wanted targets not healthy when the run read the group, before its changes.
    pub not_healthy: Vec<NotHealthyEntry>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

fn texts<'a>(targets: impl IntoIterator<Item = &'a Target>) -> Vec<String> {
    targets.into_iter().map(Target::to_string).collect()
}

impl From<&GroupOutcome> for TargetGroupReport {
    fn from(group: &GroupOutcome) -> Self {
        TargetGroupReport {
            target_group_arn: group.arn.clone(),
            target_group_name: group.name.clone(),
            sources: group.sources.iter().map(ToString::to_string).collect(),
            desired: texts(&group.desired()),
            registered: texts(&group.registered),
            deregistered: texts(group.deregistered.iter().map(|(t, _)| t)),
            deregistered_role_changed: texts(
                group.deregistered.iter().filter(|(_, why)| *why == DeregisterReason::RoleChanged).map(|(t, _)| t),
            ),
            held_back: group
                .held_back()
                .iter()
                .map(|h| HeldBackEntry { target: h.target.to_string(), action: h.action, reason: h.reason.to_string() })
                .collect(),
            not_healthy: group
                .not_healthy
                .iter()
                .map(|p| NotHealthyEntry {
                    target: p.target.to_string(),
                    state: p.health.as_ref().map(|h| h.label().to_string()),
                })
                .collect(),
            error: group.error.as_ref().map(ToString::to_string),
            duration_ms: u64::try_from(group.duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// What one run did, as reported (the scheduled function's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub dry_run: bool,
    pub target_groups: Vec<TargetGroupReport>,
    /// Set when the run could not even list the target groups.
    pub error: Option<String>,
    /// The API calls the run made.
    pub api_calls: ApiCallsReport,
}

/// A run's API calls per service and its wait for ELB's `Describe*` budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiCallsReport {
    pub elb: u64,
    pub elb_describe: u64,
    pub rds: u64,
    pub dynamodb: u64,
    /// Attempts the SDK sent again (throttled or failed).
    pub retried: u64,
    pub budget_wait_ms: u64,
}

impl From<&ApiUsage> for ApiCallsReport {
    fn from(usage: &ApiUsage) -> Self {
        ApiCallsReport {
            elb: usage.elb_calls,
            elb_describe: usage.elb_describe_calls,
            rds: usage.rds_calls,
            dynamodb: usage.dynamodb_calls,
            retried: usage.retried_calls,
            budget_wait_ms: u64::try_from(usage.budget_wait.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl From<&RunOutcome> for SyncReport {
    fn from(run: &RunOutcome) -> Self {
        SyncReport {
            dry_run: run.dry_run,
            target_groups: run.groups.iter().map(TargetGroupReport::from).collect(),
            error: run.error.as_ref().map(ToString::to_string),
            api_calls: ApiCallsReport::from(&run.api_usage),
        }
    }
}

/// The summary line of one run: how many target groups it synced, changed
/// and failed, and its API calls, with EMF metrics `ElbCalls`,
/// `ElbDescribeCalls`, `RdsCalls`, `DynamoDbCalls`, `RetriedCalls` and
/// `BudgetWait` (ms), dimension `Trigger`.
pub fn run_line(run: &RunOutcome, trigger: Trigger) -> Value {
    let calls = ApiCallsReport::from(&run.api_usage);
    json!({
        "_aws": emf(&["Trigger"], &[
            ("ElbCalls", "Count"),
            ("ElbDescribeCalls", "Count"),
            ("RdsCalls", "Count"),
            ("DynamoDbCalls", "Count"),
            ("RetriedCalls", "Count"),
            ("BudgetWait", "Milliseconds"),
        ]),
        "message": "sync run finished",
        "level": if run.errors().is_empty() { "INFO" } else { "ERROR" },
        "Trigger": trigger.as_str(),
        "ElbCalls": calls.elb,
        "ElbDescribeCalls": calls.elb_describe,
        "RdsCalls": calls.rds,
        "DynamoDbCalls": calls.dynamodb,
        "RetriedCalls": calls.retried,
        "BudgetWait": calls.budget_wait_ms,
        "dryRun": run.dry_run,
        "targetGroups": run.groups.len(),
        "changed": run.groups.iter().filter(|g| g.changed()).count(),
        "failed": run.groups.iter().filter(|g| g.error.is_some()).count(),
    })
}

/// The `_aws` member of an EMF line: every metric in the namespace, with
/// each dimension set on its own.
fn emf(dimensions: &[&str], metrics: &[(&str, &str)]) -> Value {
    let dimensions: Vec<Vec<&str>> = dimensions.iter().map(|d| vec![*d]).collect();
    let metrics: Vec<Value> = metrics.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect();
    json!({
        "Timestamp": now_millis(),
        "CloudWatchMetrics": [{"Namespace": METRICS_NAMESPACE, "Dimensions": dimensions, "Metrics": metrics}]
    })
}

/// The decision line for one target group: the report's facts plus EMF metrics
/// `TargetsRegistered`, `TargetsDeregistered`, `TargetsHeldBack`, `DesiredTargets`,
/// `SyncErrors`, `SyncDuration` (ms), and the installer's policy at work:
/// `SourcesRefused` (tokens of the sources tag it refused) and
/// `AddressesRefused` (answered addresses it would not register), with
/// dimensions `TargetGroup` and `Trigger`.
pub fn decision_line(group: &GroupOutcome, trigger: Trigger, dry_run: bool) -> Value {
    let report = TargetGroupReport::from(group);
    let addresses_refused = group.plan.as_ref().map_or(0, |plan| plan.refused_addresses().len());
    json!({
        "_aws": emf(&["TargetGroup", "Trigger"], &[
            ("TargetsRegistered", "Count"),
            ("TargetsDeregistered", "Count"),
            ("TargetsHeldBack", "Count"),
            ("DesiredTargets", "Count"),
            ("SyncErrors", "Count"),
            ("SyncDuration", "Milliseconds"),
            ("SourcesRefused", "Count"),
            ("AddressesRefused", "Count"),
        ]),
        "message": "target group synced",
        "level": if report.error.is_some() { "ERROR" } else { "INFO" },
        "TargetGroup": group.label(),
        "Trigger": trigger.as_str(),
        "TargetsRegistered": report.registered.len(),
        "TargetsDeregistered": report.deregistered.len(),
        "TargetsHeldBack": report.held_back.len(),
        "DesiredTargets": report.desired.len(),
        "SyncErrors": u8::from(report.error.is_some()),
        "SyncDuration": report.duration_ms,
        "SourcesRefused": group.refused_sources().len(),
        "AddressesRefused": addresses_refused,
        "dryRun": dry_run,
        "targetGroupArn": report.target_group_arn,
        "sources": report.sources,
        "desired": report.desired,
        "registered": report.registered,
        "deregistered": report.deregistered,
        "deregisteredRoleChanged": report.deregistered_role_changed,
        "heldBack": report.held_back,
        "notHealthy": report.not_healthy,
        "error": report.error,
    })
}

/// What an event line says was done.
fn decision_text(decision: &EventDecision, event: &RdsEvent) -> String {
    match decision {
        EventDecision::NotAddressMoving => "ignored: not an event that moves addresses".into(),
        EventDecision::NoFollower => format!("ignored: no managed target group follows {}", event.source_id),
        EventDecision::FollowersUnknown => {
            format!("failed: cannot list the target groups to find those following {}", event.source_id)
        }
        EventDecision::Followed(f) => match (f.settled, f.changed) {
            (true, true) => "synced: target groups changed and are correct".into(),
            (true, false) => "synced: no change seen before the watch ended".into(),
            (false, _) => "not settled when the watch ended".into(),
        },
    }
}

/// One line per event: the decision, and EMF metrics `EventsHandled` and,
/// once the target groups were correct again, `EventToTargetsCorrect` (ms from
/// the event's time to the moment the target groups matched).
pub fn event_line(event: &RdsEvent, decision: &EventDecision) -> Value {
    let followed = match decision {
        EventDecision::Followed(f) => Some(f),
        _ => None,
    };
    let convergence_ms =
        followed.and_then(|f| f.converged_at_ms).zip(event.event_time_ms).map(|(done, at)| done.saturating_sub(at));
    let mut metrics = vec![("EventsHandled", "Count")];
    if convergence_ms.is_some() {
        metrics.push(("EventToTargetsCorrect", "Milliseconds"));
    }
    json!({
        "_aws": emf(&["EventId"], &metrics),
        "message": "rds event handled",
        "EventId": event.event_id,
        "EventsHandled": 1,
        "EventToTargetsCorrect": convergence_ms,
        "sourceType": event.source_type,
        "sourceId": event.source_id,
        "eventMessage": event.message,
        "decision": decision_text(decision, event),
        "targetGroups": followed.map_or(&[][..], |f| &f.target_groups[..]),
        "runs": followed.map(|f| f.runs),
        "settled": followed.map(|f| f.settled),
        "changed": followed.map(|f| f.changed),
    })
}

/// The line for one message: [`event_line`] for an RDS event, else a plain
/// line saying why it was ignored.
pub fn record_line(record: &RecordOutcome) -> Value {
    match record {
        RecordOutcome::Event { event, decision } => event_line(event, decision),
        RecordOutcome::NotAnRdsEvent(why) => {
            json!({"message": "sns message ignored", "decision": format!("ignored: {why}"), "targetGroups": []})
        }
    }
}

/// The failover function's answer: each message's line, how many runs the
/// watch made, and the target groups as the last run left them.
pub fn batch_answer(records: &[RecordOutcome], runs: usize, last_run: Option<&RunOutcome>) -> Value {
    let groups: Vec<TargetGroupReport> =
        last_run.map(|r| r.groups.iter().map(TargetGroupReport::from).collect()).unwrap_or_default();
    json!({
        "events": records.iter().map(record_line).collect::<Vec<_>>(),
        "runs": runs,
        "targetGroups": groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{HeldBack, HoldReason, Plan};
    use crate::target::{PendingTarget, TargetHealth};
    use std::time::Duration;

    fn target(text: &str) -> Target {
        let addr: std::net::SocketAddr = text.parse().unwrap();
        Target { ip: addr.ip(), port: addr.port() }
    }

    #[test]
    fn decision_line_is_valid_emf_with_the_outcome_facts() {
        let plan = Plan {
            desired: [target("10.0.0.1:5432")].into(),
            register: vec![target("10.0.0.1:5432")],
            held_back: vec![HeldBack {
                target: target("10.0.0.9:5432"),
                action: Action::Deregister,
                reason: HoldReason::AwaitingHealthyReplacement,
            }],
            ..Plan::default()
        };
        let group = GroupOutcome {
            arn: "arn:tg/db".into(),
            name: "db".into(),
            sources: vec!["rds-proxy:p".parse().unwrap()],
            registered: plan.register.clone(),
            deregistered: vec![(target("10.0.0.7:5432"), DeregisterReason::RoleChanged)],
            not_healthy: vec![
                PendingTarget { target: target("10.0.0.1:5432"), health: None },
                PendingTarget { target: target("10.0.0.2:5432"), health: Some(TargetHealth::Initial) },
            ],
            plan: Some(plan),
            view_ms: Some(1),
            error: Some(crate::managed::GroupError::NoPort { target_group: "db".into() }.into()),
            duration: Duration::from_millis(12),
        };
        let line = decision_line(&group, Trigger::Schedule, false);
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
        assert_eq!(line["TargetsHeldBack"], 1);
        assert_eq!(line["SyncErrors"], 1);
        assert_eq!(line["SyncDuration"], 12);
        assert_eq!(line["Trigger"], "schedule");
        assert_eq!(line["deregisteredRoleChanged"], json!(["10.0.0.7:5432"]));
        assert_eq!(line["heldBack"][0]["action"], "deregister");
        assert!(line["heldBack"][0]["reason"].as_str().unwrap().contains("no wanted target is healthy yet"));
        assert_eq!(
            line["notHealthy"],
            json!([{"target": "10.0.0.1:5432", "state": null}, {"target": "10.0.0.2:5432", "state": "initial"}])
        );
        assert!(line["error"].as_str().unwrap().contains("has no port"));
        assert_eq!(line["TargetGroup"], "db");
        assert_eq!((line["SourcesRefused"].as_u64(), line["AddressesRefused"].as_u64()), (Some(0), Some(0)));
    }

    #[test]
    fn refusals_are_counted() {
        use crate::exposure::{AllowedAddresses, AllowedSources, Refusal};
        let allowed = AllowedAddresses::parse("10.0.0.0/16").unwrap();
        let refused_address = HeldBack {
            target: target("10.9.0.1:5432"),
            action: Action::Register,
            reason: HoldReason::AddressNotAllowed { allowed },
        };
        let refusal = Refusal::SourcesNotAllowed {
            target_group: "db".into(),
            refused: vec!["dns:a.internal".parse().unwrap(), "dns:b.internal".parse().unwrap()],
            allowed: AllowedSources::parse("rds-proxy:*").unwrap(),
        };
        let group = GroupOutcome {
            arn: "arn:tg/db".into(),
            name: "db".into(),
            sources: Vec::new(),
            plan: Some(Plan { held_back: vec![refused_address], ..Plan::default() }),
            registered: Vec::new(),
            deregistered: Vec::new(),
            not_healthy: Vec::new(),
            view_ms: None,
            error: Some(refusal.into()),
            duration: Duration::ZERO,
        };
        let line = decision_line(&group, Trigger::Failover, false);
        assert_eq!(line["SourcesRefused"], 2);
        assert_eq!(line["AddressesRefused"], 1);
        assert!(line["error"].as_str().unwrap().contains("NLB_SYNC_ALLOWED_SOURCES (rds-proxy:*)"));
    }

    #[test]
    fn event_line_reports_convergence_time_from_the_event_time() {
        let event = RdsEvent {
            source_type: "db-cluster".into(),
            source_id: "prod".into(),
            source_arn: None,
            event_id: "RDS-EVENT-0071".into(),
            event_time_ms: Some(1_000),
            message: "Completed failover".into(),
        };
        let followed = crate::failover::Followed {
            target_groups: vec!["tg".into()],
            runs: 1,
            settled: true,
            changed: true,
            converged_at_ms: Some(2_500),
        };
        let line = event_line(&event, &EventDecision::Followed(followed));
        assert_eq!(line["EventToTargetsCorrect"], 1_500);
        assert_eq!(line["decision"], "synced: target groups changed and are correct");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"], "EventToTargetsCorrect");
        let ignored = event_line(&event, &EventDecision::NoFollower);
        assert!(ignored["EventToTargetsCorrect"].is_null());
        assert_eq!(ignored["decision"], "ignored: no managed target group follows prod");
        assert_eq!(ignored["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(), 1);
    }
}
