//! Following RDS event notifications (delivered through SNS): which events
//! matter, which target groups they touch, and how long to keep re-checking.
//!
//! The RDS API is the authority on roles, so an Aurora failover is applied as
//! soon as DescribeDBClusters names the new writer, whatever the cluster
//! endpoint's DNS says. Events that come before the change ("failover
//! started") or whose DNS flips minutes later (Multi-AZ instance failover) are
//! followed by re-checks every few seconds until the answer changes and is
//! applied, or the watch deadline passes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::aws::{ElbError, TargetGroups};
use crate::resolve::{DnsLookup, RdsDirectory};
use crate::spec::{Source, SyncSpec};
use crate::sync::{Selection, SyncEngine, SyncReport};
use crate::telemetry::{METRICS_NAMESPACE, now_millis};

/// The kind of RDS resource an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    DbCluster,
    DbInstance,
    DbProxy,
}

/// What to do after the first sync an event triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FollowUp {
    /// The RDS API already shows the new state: sync until settled.
    SyncNow,
    /// The change is still to come (or DNS lags): re-check until the answer
    /// changes and is applied, or the watch deadline passes.
    WatchForChange,
}

/// One RDS event this function acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRule {
    pub id: &'static str,
    pub kind: SourceKind,
    pub follow_up: FollowUp,
    pub meaning: &'static str,
}

const fn rule(id: &'static str, kind: SourceKind, follow_up: FollowUp, meaning: &'static str) -> EventRule {
    EventRule { id, kind, follow_up, meaning }
}

use FollowUp::{SyncNow, WatchForChange};
use SourceKind::{DbCluster, DbInstance, DbProxy};

/// Every event that can move addresses, in one place. Anything else is logged
/// and ignored.
pub const EVENT_RULES: &[EventRule] = &[
    rule("RDS-EVENT-0069", DbCluster, SyncNow, "cluster failover failed (the writer may not have moved)"),
    rule("RDS-EVENT-0070", DbCluster, SyncNow, "cluster failover: the promoted instance restarted"),
    rule("RDS-EVENT-0071", DbCluster, SyncNow, "cluster failover completed"),
    rule("RDS-EVENT-0072", DbCluster, WatchForChange, "cluster failover started in the same AZ"),
    rule("RDS-EVENT-0073", DbCluster, WatchForChange, "cluster failover started across AZs"),
    rule("RDS-EVENT-0013", DbInstance, WatchForChange, "Multi-AZ instance failover started"),
    rule("RDS-EVENT-0015", DbInstance, WatchForChange, "Multi-AZ failover completed; DNS may take minutes"),
    rule("RDS-EVENT-0049", DbInstance, WatchForChange, "Multi-AZ instance failover completed"),
    rule("RDS-EVENT-0050", DbInstance, WatchForChange, "Multi-AZ activation started"),
    rule("RDS-EVENT-0051", DbInstance, WatchForChange, "Multi-AZ activation completed"),
    rule("RDS-EVENT-0065", DbInstance, WatchForChange, "recovered from a partial failover"),
    rule("RDS-EVENT-0004", DbInstance, WatchForChange, "instance shut down"),
    rule("RDS-EVENT-0006", DbInstance, WatchForChange, "instance restarted"),
    rule("RDS-EVENT-0052", DbInstance, WatchForChange, "Multi-AZ instance recovery started"),
    rule("RDS-EVENT-0053", DbInstance, WatchForChange, "Multi-AZ instance recovery completed"),
    rule("RDS-EVENT-0203", DbProxy, SyncNow, "proxy created"),
    rule("RDS-EVENT-0204", DbProxy, SyncNow, "proxy modified"),
    rule("RDS-EVENT-0206", DbProxy, SyncNow, "proxy endpoint created"),
    rule("RDS-EVENT-0207", DbProxy, SyncNow, "proxy endpoint modified"),
    rule("RDS-EVENT-0243", DbProxy, SyncNow, "proxy could not scale: subnet out of IP addresses"),
];

/// An RDS event notification, as RDS publishes it to SNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsEvent {
    /// `db-cluster`, `db-instance`, `db-proxy`, ...
    pub source_type: String,
    pub source_id: String,
    /// `RDS-EVENT-0071`
    pub event_id: String,
    /// `Event Time` as Unix ms, when it could be read.
    pub event_time_ms: Option<u64>,
    pub message: String,
}

impl RdsEvent {
    /// The rule for this event, if it is one that moves addresses.
    pub fn rule(&self) -> Option<&'static EventRule> {
        let kind = match self.source_type.as_str() {
            "db-cluster" => DbCluster,
            "db-instance" => DbInstance,
            t if t.contains("proxy") => DbProxy,
            _ => return None,
        };
        EVENT_RULES.iter().find(|r| r.kind == kind && r.id == self.event_id)
    }
}

/// Reads an SNS message as an RDS event notification. The plain-text message
/// RDS sends when a subscription is created, or any other text, is an `Err`
/// that says what it was (to be logged, never fatal).
pub fn parse_notification(message: &str) -> Result<RdsEvent, String> {
    let value: Value = serde_json::from_str(message).map_err(|_| {
        let preview: String = message.chars().take(120).collect();
        format!("not a JSON RDS event (for example the subscription confirmation): {preview}")
    })?;
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let source_type = field("Event Source").ok_or("JSON without 'Event Source': not an RDS event")?;
    let source_id = field("Source ID").ok_or("RDS event without 'Source ID'")?;
    let event_id = field("Event ID").ok_or("RDS event without 'Event ID'")?;
    // The Event ID is a documentation URL ending in '#RDS-EVENT-0071'.
    let event_id = event_id.rsplit('#').next().unwrap_or(event_id).to_ascii_uppercase();
    Ok(RdsEvent {
        source_type: source_type.to_ascii_lowercase(),
        source_id: source_id.to_ascii_lowercase(),
        event_id,
        event_time_ms: field("Event Time").and_then(parse_event_time),
        message: field("Event Message").unwrap_or("").to_string(),
    })
}

/// Parses `2026-11-23 10:00:00.123` (RDS's format, UTC) or the same with `T`
/// and `Z`, into Unix milliseconds.
pub fn parse_event_time(text: &str) -> Option<u64> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let millis: i64 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    // Days from the civil date (proleptic Gregorian), after H. Hinnant's method.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis;
    u64::try_from(ms).ok()
}

/// True when `source` depends on the event's resource. `instance_cluster` is the
/// cluster the event's instance belongs to (for instance events).
pub fn depends_on(source: &Source, event: &RdsEvent, kind: SourceKind, instance_cluster: Option<&str>) -> bool {
    let same = |id: &str| id.eq_ignore_ascii_case(&event.source_id);
    match (kind, source) {
        (DbCluster, Source::Cluster { id, .. }) => same(id),
        (DbInstance, Source::Instance { id }) => same(id),
        (DbInstance, Source::Cluster { id, .. }) => instance_cluster.is_some_and(|c| c.eq_ignore_ascii_case(id)),
        (DbProxy, Source::Proxy { name, .. }) => same(name),
        _ => false,
    }
}

/// The managed target groups with a source that depends on the event's resource.
pub async fn affected_target_groups<T: TargetGroups, R: RdsDirectory, D: DnsLookup>(
    engine: &SyncEngine<T, R, D>,
    event: &RdsEvent,
    kind: SourceKind,
) -> Result<Vec<String>, ElbError> {
    let instance_cluster = if kind == DbInstance {
        engine.rds.instance_endpoint(&event.source_id).await.ok().and_then(|e| e.cluster)
    } else {
        None
    };
    let groups = engine.target_groups.list_managed().await?;
    Ok(groups
        .into_iter()
        .filter(|g| match SyncSpec::from_tags(&g.tags) {
            Ok(Some(spec)) => spec.sources.iter().any(|s| depends_on(s, event, kind, instance_cluster.as_deref())),
            // An unreadable spec is the scheduled run's to report.
            _ => false,
        })
        .map(|g| g.arn)
        .collect())
}

/// How long and how often to re-check after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub recheck: Duration,
    pub deadline: Instant,
}

/// What following an event achieved.
#[derive(Debug, Clone)]
pub struct WatchOutcome {
    /// Sync runs made (1 = the first run settled it).
    pub runs: usize,
    /// The target groups match the sources and nothing is held back.
    pub settled: bool,
    /// Some run changed a target group, or the desired set changed while watching.
    pub changed: bool,
    /// Unix ms when the target groups were last seen correct after a change.
    pub converged_at_ms: Option<u64>,
    /// Every run's report, first to last.
    pub reports: Vec<SyncReport>,
}

fn desired_sets(report: &SyncReport) -> BTreeSet<(String, Vec<String>)> {
    report.target_groups.iter().map(|g| (g.target_group_arn.clone(), g.desired.clone())).collect()
}

/// Syncs `arns` until settled (and, for [`FollowUp::WatchForChange`], until a
/// change was seen and applied), re-checking every `watch.recheck` until
/// `watch.deadline`.
pub async fn sync_until_settled<T: TargetGroups, R: RdsDirectory, D: DnsLookup>(
    engine: &SyncEngine<T, R, D>,
    arns: &[String],
    follow_up: FollowUp,
    watch: Watch,
) -> WatchOutcome {
    let selection = Selection::Only(arns.to_vec());
    let mut outcome =
        WatchOutcome { runs: 0, settled: false, changed: false, converged_at_ms: None, reports: Vec::new() };
    let mut first_desired = None;
    loop {
        let report = engine.run(&selection).await;
        outcome.runs += 1;
        let applied = report.target_groups.iter().any(|g| !g.registered.is_empty() || !g.deregistered.is_empty());
        let desired = desired_sets(&report);
        let first = first_desired.get_or_insert_with(|| desired.clone());
        outcome.changed |= applied || *first != desired;
        outcome.settled = report.errors().is_empty() && report.target_groups.iter().all(|g| g.held_back.is_empty());
        if outcome.settled && outcome.changed && outcome.converged_at_ms.is_none() {
            outcome.converged_at_ms = Some(now_millis());
        }
        outcome.reports.push(report);
        let done = outcome.settled && (follow_up == SyncNow || outcome.changed);
        if done || Instant::now() + watch.recheck >= watch.deadline || engine.options.dry_run {
            return outcome;
        }
        tokio::time::sleep(watch.recheck).await;
    }
}

/// One log line per event: the decision, and EMF metrics `EventsHandled` and,
/// once the target groups were correct again, `EventToTargetsCorrect` (ms from
/// the event's time to the moment the target groups matched).
pub fn event_line(event: &RdsEvent, decision: &str, target_groups: &[String], outcome: Option<&WatchOutcome>) -> Value {
    let convergence_ms =
        outcome.and_then(|o| o.converged_at_ms).zip(event.event_time_ms).map(|(done, at)| done.saturating_sub(at));
    let mut metrics = vec![json!({"Name": "EventsHandled", "Unit": "Count"})];
    if convergence_ms.is_some() {
        metrics.push(json!({"Name": "EventToTargetsCorrect", "Unit": "Milliseconds"}));
    }
    json!({
        "_aws": {
            "Timestamp": now_millis(),
            "CloudWatchMetrics": [{"Namespace": METRICS_NAMESPACE, "Dimensions": [["EventId"]], "Metrics": metrics}]
        },
        "message": "rds event handled",
        "EventId": event.event_id,
        "EventsHandled": 1,
        "EventToTargetsCorrect": convergence_ms,
        "sourceType": event.source_type,
        "sourceId": event.source_id,
        "eventMessage": event.message,
        "decision": decision,
        "targetGroups": target_groups,
        "runs": outcome.map(|o| o.runs),
        "settled": outcome.map(|o| o.settled),
        "changed": outcome.map(|o| o.changed),
    })
}

/// What one SNS batch led to.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// One line per record (also printed), with the decision taken.
    pub events: Vec<Value>,
    pub watch: Option<WatchOutcome>,
    /// Failures that must fail the invocation.
    pub errors: Vec<String>,
}

/// Handles the messages of one SNS batch: ignores what is not a relevant RDS
/// event (logged, never fatal), syncs every target group that depends on the
/// relevant ones together, and watches as the most demanding event requires.
pub async fn handle_messages<T: TargetGroups, R: RdsDirectory, D: DnsLookup>(
    engine: &SyncEngine<T, R, D>,
    messages: &[String],
    recheck: Duration,
    deadline: Instant,
) -> BatchOutcome {
    let mut batch = BatchOutcome { events: Vec::new(), watch: None, errors: Vec::new() };
    let mut followed: Vec<(RdsEvent, Vec<String>)> = Vec::new();
    let mut arns: BTreeSet<String> = BTreeSet::new();
    let mut follow_up = SyncNow;
    for message in messages {
        let event = match parse_notification(message) {
            Ok(event) => event,
            Err(why) => {
                batch.events.push(json!({
                    "message": "sns message ignored",
                    "decision": format!("ignored: {why}"),
                    "targetGroups": [],
                }));
                continue;
            }
        };
        let Some(rule) = event.rule() else {
            batch.events.push(event_line(&event, "ignored: not an event that moves addresses", &[], None));
            continue;
        };
        match affected_target_groups(engine, &event, rule.kind).await {
            Ok(found) if found.is_empty() => {
                let decision = format!("ignored: no managed target group follows {}", event.source_id);
                batch.events.push(event_line(&event, &decision, &[], None));
            }
            Ok(found) => {
                arns.extend(found.iter().cloned());
                follow_up = follow_up.max(rule.follow_up);
                followed.push((event, found));
            }
            Err(e) => batch.errors.push(format!("cannot find the target groups following {}: {e}", event.source_id)),
        }
    }
    if !arns.is_empty() {
        let arns: Vec<String> = arns.into_iter().collect();
        let watch = sync_until_settled(engine, &arns, follow_up, Watch { recheck, deadline }).await;
        for (i, report) in watch.reports.iter().enumerate() {
            let last = i + 1 == watch.reports.len();
            let eventful = report.target_groups.iter().any(|g| !g.registered.is_empty() || !g.deregistered.is_empty());
            if last || eventful {
                crate::telemetry::emit(report, "failover");
            }
        }
        if let Some(last) = watch.reports.last() {
            batch.errors.extend(last.errors());
        }
        for (event, groups) in &followed {
            let decision = match (watch.settled, watch.changed) {
                (true, true) => "synced: target groups changed and are correct",
                (true, false) => "synced: no change seen before the watch ended",
                (false, _) => "not settled when the watch ended",
            };
            batch.events.push(event_line(event, decision, groups, Some(&watch)));
        }
        batch.watch = Some(watch);
    }
    for line in &batch.events {
        println!("{line}");
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeDns, FakeElb, FakeRds};
    use crate::sync::SyncOptions;

    fn notification(source_type: &str, id: &str, event: &str) -> String {
        json!({
            "Event Source": source_type,
            "Event Time": "2026-11-23 10:00:00.250",
            "Identifier Link": "https://console.aws.amazon.com/rds/home",
            "Source ID": id,
            "Source ARN": format!("arn:aws:rds:us-east-1:123456789012:cluster:{id}"),
            "Event ID": format!("http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{event}"),
            "Event Message": "Completed failover to DB instance: prod-2",
        })
        .to_string()
    }

    #[test]
    fn parses_rds_notifications_and_rejects_anything_else() {
        let e = parse_notification(&notification("db-cluster", "Prod", "RDS-EVENT-0071")).unwrap();
        assert_eq!(
            (e.source_type.as_str(), e.source_id.as_str(), e.event_id.as_str()),
            ("db-cluster", "prod", "RDS-EVENT-0071")
        );
        assert_eq!(e.event_time_ms, Some(1_795_428_000_250));
        assert_eq!(e.rule().unwrap().follow_up, SyncNow);

        let confirmation = "This is a confirmation that you have subscribed to RDS event notifications.";
        assert!(parse_notification(confirmation).unwrap_err().contains("not a JSON RDS event"));
        assert!(parse_notification("{\"Records\": 1}").unwrap_err().contains("Event Source"));
        assert!(parse_notification("{\"Event Source\": \"db-cluster\"").is_err());
    }

    #[test]
    fn event_table_picks_relevant_events_by_kind() {
        let event = |t: &str, id: &str| parse_notification(&notification(t, "x", id)).unwrap();
        assert_eq!(event("db-cluster", "RDS-EVENT-0073").rule().unwrap().follow_up, WatchForChange);
        assert_eq!(event("db-instance", "RDS-EVENT-0049").rule().unwrap().follow_up, WatchForChange);
        assert_eq!(event("db-proxy", "RDS-EVENT-0207").rule().unwrap().follow_up, SyncNow);
        assert!(event("db-instance", "RDS-EVENT-0071").rule().is_none(), "0071 is a cluster event");
        assert!(event("db-snapshot", "RDS-EVENT-0169").rule().is_none());
        assert!(event("db-instance", "RDS-EVENT-0169").rule().is_none());
        let ids: BTreeSet<(&str, String)> = EVENT_RULES.iter().map(|r| (r.id, format!("{:?}", r.kind))).collect();
        assert_eq!(ids.len(), EVENT_RULES.len(), "no rule listed twice");
    }

    #[test]
    fn event_time_formats() {
        assert_eq!(parse_event_time("1970-01-01 00:00:00.000"), Some(0));
        assert_eq!(parse_event_time("2000-03-01T00:00:01Z"), Some(951_868_801_000));
        assert_eq!(parse_event_time("2026-11-23 10:00:00.5"), Some(1_795_428_000_500));
        assert_eq!(parse_event_time("yesterday"), None);
        assert_eq!(parse_event_time("2026-13-01 00:00:00"), None);
    }

    fn fixture() -> SyncEngine<FakeElb, FakeRds, FakeDns> {
        let rds = FakeRds::default();
        rds.cluster("prod", &[("prod-1", true), ("prod-2", false)]);
        rds.member("prod-1", "prod-1.test", "prod");
        rds.member("prod-2", "prod-2.test", "prod");
        rds.instance("solo", Some("solo.test"));
        let dns = FakeDns::default();
        dns.set("prod-1.test", &["10.0.1.1"]);
        dns.set("prod-2.test", &["10.0.2.2"]);
        dns.set("solo.test", &["10.0.3.3"]);
        SyncEngine::new(FakeElb::default(), rds, dns, SyncOptions::default())
    }

    #[tokio::test]
    async fn affected_groups_follow_the_cluster_its_members_instances_and_proxies() {
        let e = fixture();
        let writer = e.target_groups.group("writer", Some("rds-cluster:prod"));
        let readers = e.target_groups.group("readers", Some("rds-cluster:prod:readers"));
        let solo = e.target_groups.group("solo", Some("rds-instance:solo"));
        let proxy = e.target_groups.group("proxy", Some("rds-proxy:px dns:other.test"));
        e.target_groups.group("broken", Some("rds-clustr:prod"));
        let affected = |t: &'static str, id: &'static str, k| {
            let e = &e;
            async move {
                let ev = parse_notification(&notification(t, id, "RDS-EVENT-0071")).unwrap();
                affected_target_groups(e, &ev, k).await.unwrap()
            }
        };
        assert_eq!(affected("db-cluster", "prod", DbCluster).await, vec![writer.clone(), readers.clone()]);
        assert_eq!(affected("db-instance", "prod-2", DbInstance).await, vec![writer, readers]);
        assert_eq!(affected("db-instance", "solo", DbInstance).await, vec![solo]);
        assert_eq!(affected("db-proxy", "PX", DbProxy).await, vec![proxy]);
        assert!(affected("db-cluster", "other", DbCluster).await.is_empty());
    }

    #[tokio::test]
    async fn completed_failover_settles_in_one_run_from_the_rds_api() {
        let e = fixture();
        let tg = e.target_groups.group("writer", Some("rds-cluster:prod"));
        e.run(&Selection::AllManaged).await;
        e.rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let watch = Watch { recheck: Duration::from_millis(10), deadline: Instant::now() + Duration::from_secs(5) };
        let outcome = sync_until_settled(&e, std::slice::from_ref(&tg), SyncNow, watch).await;
        assert_eq!(outcome.runs, 1);
        assert!(outcome.settled && outcome.changed && outcome.converged_at_ms.is_some());
        assert_eq!(e.target_groups.held(&tg), vec!["10.0.2.2"]);
    }

    #[tokio::test]
    async fn started_failover_keeps_checking_until_the_change_is_applied() {
        let e = std::sync::Arc::new(fixture());
        let tg = e.target_groups.group("writer", Some("rds-cluster:prod"));
        e.run(&Selection::AllManaged).await;
        let flip = {
            let e = e.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(120)).await;
                e.rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
            })
        };
        let watch = Watch { recheck: Duration::from_millis(20), deadline: Instant::now() + Duration::from_secs(5) };
        let outcome = sync_until_settled(&e, std::slice::from_ref(&tg), WatchForChange, watch).await;
        flip.await.unwrap();
        assert!(outcome.runs > 2, "it waited: {} runs", outcome.runs);
        assert!(outcome.settled && outcome.changed);
        assert_eq!(e.target_groups.held(&tg), vec!["10.0.2.2"]);
    }

    #[tokio::test]
    async fn a_watch_without_change_ends_at_the_deadline_without_a_change() {
        let e = fixture();
        let tg = e.target_groups.group("writer", Some("rds-cluster:prod"));
        e.run(&Selection::AllManaged).await;
        let started = Instant::now();
        let watch = Watch { recheck: Duration::from_millis(20), deadline: started + Duration::from_millis(150) };
        let outcome = sync_until_settled(&e, std::slice::from_ref(&tg), WatchForChange, watch).await;
        assert!(!outcome.changed && outcome.settled && outcome.converged_at_ms.is_none());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(outcome.runs >= 2);
    }

    #[test]
    fn event_line_reports_convergence_time_from_the_event_time() {
        let event = parse_notification(&notification("db-cluster", "prod", "RDS-EVENT-0071")).unwrap();
        let outcome = WatchOutcome {
            runs: 1,
            settled: true,
            changed: true,
            converged_at_ms: Some(event.event_time_ms.unwrap() + 1_500),
            reports: vec![],
        };
        let line = event_line(&event, "synced", &["tg".into()], Some(&outcome));
        assert_eq!(line["EventToTargetsCorrect"], 1_500);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"], "EventToTargetsCorrect");
        let ignored = event_line(&event, "no target group follows prod", &[], None);
        assert!(ignored["EventToTargetsCorrect"].is_null());
        assert_eq!(ignored["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_batch_with_good_and_bad_records_handles_the_good_ones() {
        let e = fixture();
        let tg = e.target_groups.group("writer", Some("rds-cluster:prod"));
        e.run(&Selection::AllManaged).await;
        e.rds.cluster("prod", &[("prod-1", false), ("prod-2", true)]);
        let messages = vec![
            "This is a confirmation that you have subscribed.".to_string(),
            "{not json".to_string(),
            notification("db-cluster", "elsewhere", "RDS-EVENT-0071"),
            notification("db-instance", "prod-1", "RDS-EVENT-0169"),
            notification("db-cluster", "prod", "RDS-EVENT-0071"),
        ];
        let batch =
            handle_messages(&e, &messages, Duration::from_millis(10), Instant::now() + Duration::from_secs(5)).await;
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(e.target_groups.held(&tg), vec!["10.0.2.2"]);
        let decisions: Vec<&str> = batch.events.iter().map(|l| l["decision"].as_str().unwrap()).collect();
        assert_eq!(decisions.len(), 5, "one line per record: {decisions:?}");
        assert!(decisions[0].contains("ignored: not a JSON RDS event"));
        assert!(decisions[1].contains("ignored: not a JSON RDS event"));
        assert!(decisions[2].contains("no managed target group follows elsewhere"));
        assert!(decisions[3].contains("not an event that moves addresses"));
        assert!(decisions[4].contains("changed and are correct"));
    }

    #[tokio::test]
    async fn a_failing_sync_is_an_error_of_the_batch() {
        let e = fixture();
        e.target_groups.group("writer", Some("rds-cluster:prod"));
        e.dns.fail("prod-1.test");
        let messages = vec![notification("db-cluster", "prod", "RDS-EVENT-0071")];
        let deadline = Instant::now() + Duration::from_millis(100);
        let batch = handle_messages(&e, &messages, Duration::from_millis(20), deadline).await;
        assert_eq!(batch.errors.len(), 1);
        assert!(batch.errors[0].contains("prod-1.test"), "{:?}", batch.errors);
        assert!(batch.watch.unwrap().runs >= 2, "kept retrying until the deadline");
    }
}
