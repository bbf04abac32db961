//! RDS events: which ones move addresses (the one event table) and which
//! sources an event concerns. Reading them from either delivery (SNS or
//! EventBridge) is the edge's job (`inbound`). Nothing here does I/O.

use serde::Serialize;

use crate::spec::Source;

/// The kind of RDS resource an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    DbCluster,
    DbInstance,
    DbProxy,
    /// A Blue/Green deployment: its Source ID is the deployment, not a database.
    BlueGreenDeployment,
}

impl SourceKind {
    /// From SNS's `Event Source` (`db-cluster`) or EventBridge's `SourceType`
    /// (`CLUSTER`), whichever the event carries.
    pub fn from_source_type(source_type: &str) -> Option<SourceKind> {
        match source_type.to_ascii_lowercase().replace('_', "-").as_str() {
            "db-cluster" | "cluster" => Some(SourceKind::DbCluster),
            "db-instance" => Some(SourceKind::DbInstance),
            "db-proxy" | "rds-proxy" => Some(SourceKind::DbProxy),
            "blue-green-deployment" => Some(SourceKind::BlueGreenDeployment),
            _ => None,
        }
    }

    /// SNS's name for the kind, the one the event lines report.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::DbCluster => "db-cluster",
            SourceKind::DbInstance => "db-instance",
            SourceKind::DbProxy => "db-proxy",
            SourceKind::BlueGreenDeployment => "blue-green-deployment",
        }
    }
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
use SourceKind::{BlueGreenDeployment, DbCluster, DbInstance, DbProxy};

/// Every event that can move addresses, in one place (IDs and meanings from
/// the RDS and Aurora user guides' event tables). Anything else is logged and
/// ignored.
pub const EVENT_RULES: &[EventRule] = &[
    // Cluster failover.
    rule("RDS-EVENT-0069", DbCluster, SyncNow, "cluster failover failed (the writer may not have moved)"),
    rule("RDS-EVENT-0070", DbCluster, SyncNow, "cluster failover: the previous primary is promoted again"),
    rule("RDS-EVENT-0071", DbCluster, SyncNow, "cluster failover completed"),
    rule("RDS-EVENT-0072", DbCluster, WatchForChange, "cluster failover started in the same AZ"),
    rule("RDS-EVENT-0073", DbCluster, WatchForChange, "cluster failover started across AZs"),
    // Aurora Global Database switchover and failover (category "global failover").
    rule("RDS-EVENT-0181", DbCluster, WatchForChange, "global switchover to this cluster started"),
    rule("RDS-EVENT-0182", DbCluster, WatchForChange, "global switchover: the old primary shut down"),
    rule("RDS-EVENT-0184", DbCluster, SyncNow, "global switchover: the new primary was promoted"),
    rule("RDS-EVENT-0185", DbCluster, SyncNow, "global switchover finished"),
    rule("RDS-EVENT-0186", DbCluster, SyncNow, "global switchover cancelled"),
    rule("RDS-EVENT-0187", DbCluster, SyncNow, "global switchover failed"),
    rule("RDS-EVENT-0238", DbCluster, SyncNow, "global failover completed"),
    rule("RDS-EVENT-0239", DbCluster, SyncNow, "global failover failed"),
    rule("RDS-EVENT-0397", DbCluster, SyncNow, "the global writer endpoint now resolves to another cluster"),
    // Cluster start and stop (addresses can change on start).
    rule("RDS-EVENT-0150", DbCluster, SyncNow, "cluster stopped"),
    rule("RDS-EVENT-0151", DbCluster, WatchForChange, "cluster started"),
    rule("RDS-EVENT-0153", DbCluster, WatchForChange, "cluster started after the longest allowed stop"),
    // Instance failover, recovery, restart.
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
    // Topology: members of a followed cluster come and go (Aurora auto scaling too).
    rule("RDS-EVENT-0005", DbInstance, WatchForChange, "instance created (a new cluster member gets its endpoint)"),
    rule("RDS-EVENT-0003", DbInstance, SyncNow, "instance deleted"),
    rule("RDS-EVENT-0385", DbInstance, SyncNow, "cluster topology updated (members added, deleted or failed over)"),
    // Instance start and stop.
    rule("RDS-EVENT-0087", DbInstance, SyncNow, "instance stopped"),
    rule("RDS-EVENT-0088", DbInstance, WatchForChange, "instance started"),
    rule("RDS-EVENT-0154", DbInstance, WatchForChange, "instance started after the longest allowed stop"),
    // RDS Proxy and its endpoints.
    rule("RDS-EVENT-0203", DbProxy, SyncNow, "proxy created"),
    rule("RDS-EVENT-0204", DbProxy, SyncNow, "proxy modified"),
    rule("RDS-EVENT-0206", DbProxy, SyncNow, "proxy endpoint created"),
    rule("RDS-EVENT-0207", DbProxy, SyncNow, "proxy endpoint modified"),
    rule("RDS-EVENT-0208", DbProxy, SyncNow, "proxy endpoint deleted"),
    rule("RDS-EVENT-0243", DbProxy, SyncNow, "proxy could not scale: subnet out of IP addresses"),
    // Blue/Green deployments (the Source ID is the deployment).
    rule("RDS-EVENT-0247", BlueGreenDeployment, WatchForChange, "switchover started"),
    rule("RDS-EVENT-0248", BlueGreenDeployment, WatchForChange, "switchover completed: the names point at green"),
    rule("RDS-EVENT-0249", BlueGreenDeployment, SyncNow, "switchover canceled"),
    rule("RDS-EVENT-0250", BlueGreenDeployment, WatchForChange, "switchover of an instance started"),
    rule("RDS-EVENT-0251", BlueGreenDeployment, WatchForChange, "switchover of an instance completed; blue renamed"),
    rule("RDS-EVENT-0252", BlueGreenDeployment, SyncNow, "switchover of an instance canceled"),
    rule("RDS-EVENT-0259", BlueGreenDeployment, WatchForChange, "switchover of a DB cluster started"),
    rule("RDS-EVENT-0260", BlueGreenDeployment, WatchForChange, "switchover of a DB cluster completed; blue renamed"),
    rule("RDS-EVENT-0261", BlueGreenDeployment, SyncNow, "switchover of a DB cluster canceled"),
];

/// An RDS event, from either delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsEvent {
    /// `db-cluster`, `db-instance`, `db-proxy`, `blue-green-deployment`, ...
    pub source_type: String,
    /// The resource's identifier, lower case, without EventBridge's `rds:` prefix.
    pub source_id: String,
    /// The resource's ARN, when the event carries it.
    pub source_arn: Option<String>,
    /// `RDS-EVENT-0071`
    pub event_id: String,
    /// When the event happened, as Unix ms, when it could be read.
    pub event_time_ms: Option<u64>,
    pub message: String,
}

impl RdsEvent {
    pub fn kind(&self) -> Option<SourceKind> {
        SourceKind::from_source_type(&self.source_type)
    }

    /// The rule for this event, if it is one that moves addresses.
    pub fn rule(&self) -> Option<&'static EventRule> {
        let kind = self.kind()?;
        EVENT_RULES.iter().find(|r| r.kind == kind && r.id == self.event_id)
    }

    /// The last part of the event's ARN (`...:db-proxy:my-proxy` gives `my-proxy`).
    fn arn_name(&self) -> Option<&str> {
        self.source_arn.as_deref().and_then(|arn| arn.rsplit(':').next()).filter(|n| !n.is_empty())
    }
}

/// Why a record is not an RDS event this function can read. Logged, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnRdsEvent {
    #[error("not a JSON RDS event (for example the subscription confirmation): {preview}")]
    NotJson { preview: String },
    #[error("JSON without 'Event Source': not an RDS event")]
    NoEventSource,
    #[error("RDS event without '{field}'")]
    MissingField { field: &'static str },
    #[error("SNS record without a readable notification: {why}")]
    BadSnsRecord { why: String },
    #[error("EventBridge event from '{source_name}' ({detail_type}), not an RDS event")]
    OtherEventBridgeEvent { source_name: String, detail_type: String },
    #[error("EventBridge RDS event that cannot be read: {why}")]
    BadEventBridgeEvent { why: String },
    #[error("payload is neither an SNS batch (Records) nor an EventBridge event (detail-type); its keys: {keys}")]
    UnknownPayload { keys: String },
}

/// What the RDS API says about the resources around an event, for
/// [`depends_on`]: found by the failover trigger, used here without I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Related {
    /// Clusters the event concerns beyond its own Source ID (an instance's
    /// cluster, a Blue/Green deployment's clusters).
    pub clusters: std::collections::BTreeSet<String>,
    /// Instances the event concerns beyond its own Source ID (a Blue/Green
    /// deployment's instances).
    pub instances: std::collections::BTreeSet<String>,
    /// The event's instance no longer exists, so any cluster may have lost it.
    pub any_cluster: bool,
}

/// True when `source` depends on the event's resource.
pub fn depends_on(source: &Source, event: &RdsEvent, kind: SourceKind, related: &Related) -> bool {
    let same = |id: &str| id.eq_ignore_ascii_case(&event.source_id);
    let related_cluster = |id: &str| related.any_cluster || related.clusters.contains(&id.to_ascii_lowercase());
    match (kind, source) {
        (DbCluster, Source::Cluster { id, .. }) => same(id),
        // A custom endpoint's members follow its cluster's roles and topology.
        (DbCluster, Source::ClusterEndpoint { cluster, .. }) => same(cluster),
        (DbInstance, Source::ClusterEndpoint { cluster, .. }) => related_cluster(cluster),
        (DbInstance, Source::Instance { id }) => same(id),
        (DbInstance, Source::Cluster { id, .. }) => related_cluster(id),
        // A proxy endpoint's events may name the endpoint, not the proxy.
        (DbProxy, Source::Proxy { name, endpoint }) => {
            same(name)
                || endpoint.as_deref().is_some_and(same)
                || event.arn_name().is_some_and(|n| n.eq_ignore_ascii_case(name))
        }
        (BlueGreenDeployment, Source::Cluster { id, .. }) => related.clusters.contains(&id.to_ascii_lowercase()),
        (BlueGreenDeployment, Source::Instance { id }) => related.instances.contains(&id.to_ascii_lowercase()),
        _ => false,
    }
}

/// A database an ARN names: `arn:aws:rds:<region>:<account>:cluster:<id>` or `...:db:<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdsResource {
    Cluster(String),
    Instance(String),
}

impl RdsResource {
    pub fn from_arn(arn: &str) -> Option<RdsResource> {
        let mut parts = arn.splitn(7, ':');
        let (prefix, _, service) = (parts.next()?, parts.next()?, parts.next()?);
        let (_region, _account, kind, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if prefix != "arn" || service != "rds" || id.is_empty() {
            return None;
        }
        let id = id.to_ascii_lowercase();
        match kind {
            "cluster" => Some(RdsResource::Cluster(id)),
            "db" => Some(RdsResource::Instance(id)),
            _ => None,
        }
    }
}

/// The name a Blue/Green member is known by to the sources that follow it:
/// the switchover renames blue to `<name>-old<n>`, and green is created as
/// `<name>-green-<suffix>` before it takes the blue name.
pub fn production_name(id: &str) -> &str {
    if let Some((base, n)) = id.rsplit_once("-old")
        && !base.is_empty()
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        return base;
    }
    if let Some((base, suffix)) = id.rsplit_once("-green-")
        && !base.is_empty()
        && !suffix.is_empty()
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return base;
    }
    id
}

/// The clusters and instances a Blue/Green deployment's ARNs concern, under
/// their current and their production names.
pub fn deployment_related<'a>(arns: impl IntoIterator<Item = &'a str>) -> Related {
    let mut related = Related::default();
    for arn in arns {
        match RdsResource::from_arn(arn) {
            Some(RdsResource::Cluster(id)) => {
                related.clusters.insert(production_name(&id).to_string());
                related.clusters.insert(id);
            }
            Some(RdsResource::Instance(id)) => {
                related.instances.insert(production_name(&id).to_string());
                related.instances.insert(id);
            }
            None => {}
        }
    }
    related
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::inbound::parse_notification;
    use crate::inbound::tests::notification;
    use std::collections::BTreeSet;

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
    fn proxy_events_match_the_proxy_or_its_endpoint() {
        let proxy: Source = "rds-proxy:app".parse().unwrap();
        let custom: Source = "rds-proxy:app:readonly".parse().unwrap();
        let other: Source = "rds-proxy:other:readonly".parse().unwrap();
        let mut event = parse_notification(&notification("db-proxy", "readonly", "RDS-EVENT-0207")).unwrap();
        event.source_arn = Some("arn:aws:rds:us-east-1:123456789012:db-proxy:app".into());
        let none = Related::default();
        assert!(depends_on(&custom, &event, DbProxy, &none));
        assert!(depends_on(&proxy, &event, DbProxy, &none), "the ARN names the proxy");
        event.source_arn = None;
        assert!(!depends_on(&proxy, &event, DbProxy, &none));
        assert!(depends_on(&other, &event, DbProxy, &none), "endpoint names are only unique per proxy");
    }

    #[test]
    fn blue_green_members_are_known_by_their_production_names() {
        assert_eq!(production_name("orders-old1"), "orders");
        assert_eq!(production_name("orders-old12"), "orders");
        assert_eq!(production_name("orders-green-abcdef"), "orders");
        assert_eq!(production_name("orders-older"), "orders-older");
        assert_eq!(production_name("-old1"), "-old1");
        let related = deployment_related([
            "arn:aws:rds:us-east-1:123456789012:cluster:prod-old1",
            "arn:aws:rds:us-east-1:123456789012:cluster:prod",
            "arn:aws:rds:us-east-1:123456789012:db:prod-1-old1",
            "arn:aws:rds:us-east-1:123456789012:cluster-endpoint:reader-old1",
            "not an arn",
        ]);
        assert_eq!(related.clusters.iter().map(String::as_str).collect::<Vec<_>>(), vec!["prod", "prod-old1"]);
        assert_eq!(related.instances.iter().map(String::as_str).collect::<Vec<_>>(), vec!["prod-1", "prod-1-old1"]);
        let event = RdsEvent { source_type: "blue-green-deployment".into(), source_id: "bgd-1".into(), ..sample() };
        assert!(depends_on(&"rds-cluster:prod:readers".parse().unwrap(), &event, BlueGreenDeployment, &related));
        assert!(depends_on(&"rds-instance:prod-1".parse().unwrap(), &event, BlueGreenDeployment, &related));
        assert!(!depends_on(&"rds-cluster:other".parse().unwrap(), &event, BlueGreenDeployment, &related));
    }

    fn sample() -> RdsEvent {
        parse_notification(&notification("db-cluster", "x", "RDS-EVENT-0071")).unwrap()
    }
}
