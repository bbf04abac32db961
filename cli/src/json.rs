//! `--output json`: the shapes scripts read (the README documents them). Keys
//! are camelCase; a key is never dropped: absent values are `null`, empty
//! lists `[]`. New keys may be added; existing ones keep their meaning.

use nlb_target_sync::RunOutcome;
use nlb_target_sync::report::SyncReport;
use nlb_target_sync::{AddressFamilies, TargetHealth};
use nlb_target_sync::{AddressRole, Explanation, Lookup};
use nlb_target_sync::{DnsData, Endpoint};
use nlb_target_sync::{GroupStatus, Settled, Tagged, Untagged};
use serde_json::{Value, json};

use crate::time::view_time;

fn texts<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

fn error_text(error: Option<&impl ToString>) -> Value {
    error.map_or(Value::Null, |e| Value::String(e.to_string()))
}

/// `{"targetGroups": [{"targetGroupArn", "targetGroupName", "sources", "port",
/// "appliedView": {"unixMs", "time"} | null, "targets": [{"target", "state"
/// (null: not registered), "reason", "description", "wantedBy"}],
/// "unresolved": [{"source", "error"}], "error"}]}`
pub fn status(groups: &[GroupStatus]) -> Value {
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            json!({
                "targetGroupArn": g.arn,
                "targetGroupName": g.name,
                "sources": texts(&g.sources),
                "port": g.port,
                "appliedView": g.applied_view_ms.map(|ms| json!({"unixMs": ms, "time": view_time(ms)})),
                "targets": g.targets.iter().map(|t| json!({
                    "target": t.target.to_string(),
                    "state": t.health.as_ref().map(TargetHealth::label),
                    "reason": t.detail.as_ref().and_then(|d| d.reason.clone()),
                    "description": t.detail.as_ref().and_then(|d| d.description.clone()),
                    "wantedBy": texts(&t.wanted_by),
                })).collect::<Vec<_>>(),
                "unresolved": g.unresolved.iter().map(|u| json!({
                    "source": u.source.to_string(),
                    "error": u.error.as_ref().map_or_else(|| "no address".to_string(), ToString::to_string),
                })).collect::<Vec<_>>(),
                "error": error_text(g.error.as_ref()),
            })
        })
        .collect();
    json!({ "targetGroups": groups })
}

/// The functions' run report (`dryRun`, `targetGroups` with `registered`,
/// `deregistered`, `heldBack`, ..., `error`) plus `changesPending`.
pub fn run(run: &RunOutcome) -> Value {
    let mut value = serde_json::to_value(SyncReport::from(run)).unwrap_or_default();
    value["changesPending"] = json!(run.groups.iter().any(|g| g.changed()));
    value
}

/// [`run`] plus `wait`: `null` or `{"seconds", "unhealthy": [{"targetGroupArn",
/// "targets": ["ip:port state"]}]}`, and `afterWait`: `null` or the report of
/// the run that removed the targets the healthy ones replace.
pub fn applied(applied: &Settled, waited: bool) -> Value {
    let mut value = run(&applied.run);
    value["wait"] = if waited {
        json!({
            "seconds": applied.waited.as_secs_f64(),
            "unhealthy": applied.unhealthy.iter().filter(|(_, p)| !p.is_empty()).map(|(arn, pending)| json!({
                "targetGroupArn": arn,
                "targets": texts(pending),
            })).collect::<Vec<_>>(),
        })
    } else {
        Value::Null
    };
    value["afterWait"] = applied.finish.as_ref().map_or(Value::Null, run);
    value
}

pub fn family_name(families: AddressFamilies) -> &'static str {
    match families {
        AddressFamilies::V4 => "ipv4",
        AddressFamilies::V6 => "ipv6",
        AddressFamilies::Both => "dualstack",
    }
}

fn endpoint(endpoint: &Endpoint) -> Value {
    json!({"address": endpoint.address, "status": endpoint.status, "cluster": endpoint.cluster})
}

/// One step: `{"call", "resource", "error"}` plus, when it answered,
/// `members` (`[{"instance", "writer"}]`), `endpoint` (`{"address",
/// "status", "cluster"}`) or `records` (`[{"name", "type", "value", "ttl"}]`).
fn step(lookup: &Lookup) -> Value {
    let (resource, error, answer) = match lookup {
        Lookup::ClusterMembers { cluster, result } => (
            cluster.clone(),
            result.as_ref().err().map(ToString::to_string),
            result.as_ref().ok().map(|members| {
                let members: Vec<Value> =
                    members.iter().map(|m| json!({"instance": m.instance_id, "writer": m.is_writer})).collect();
                ("members", json!(members))
            }),
        ),
        Lookup::InstanceEndpoint { instance, result } => (
            instance.clone(),
            result.as_ref().err().map(ToString::to_string),
            result.as_ref().ok().map(|e| ("endpoint", endpoint(e))),
        ),
        Lookup::ProxyEndpoint { proxy, endpoint: custom, result } => (
            custom.as_ref().map_or_else(|| proxy.clone(), |c| format!("{proxy}:{c}")),
            result.as_ref().err().map(ToString::to_string),
            result.as_ref().ok().map(|e| ("endpoint", endpoint(e))),
        ),
        Lookup::Dns { name, result, .. } => (
            name.clone(),
            result.as_ref().err().map(ToString::to_string),
            result.as_ref().ok().map(|records| {
                let records: Vec<Value> = records
                    .iter()
                    .map(|r| {
                        let (kind, value) = match &r.data {
                            DnsData::Address(ip) if ip.is_ipv4() => ("A", ip.to_string()),
                            DnsData::Address(ip) => ("AAAA", ip.to_string()),
                            DnsData::Alias(target) => ("CNAME", target.clone()),
                        };
                        json!({"name": r.name, "type": kind, "value": value, "ttl": r.ttl_seconds})
                    })
                    .collect();
                ("records", json!(records))
            }),
        ),
    };
    let mut value = json!({"call": lookup.call(), "resource": resource, "error": error});
    if let Some((key, answer)) = answer {
        value[key] = answer;
    }
    value
}

/// `{"source", "families", "steps": [step...], "addresses": [{"address",
/// "role": "wanted" | "demoted", "private"}], "usable", "error"}`
pub fn explanation(explained: &Explanation) -> Value {
    json!({
        "source": explained.source.to_string(),
        "families": family_name(explained.families),
        "steps": explained.lookups.iter().map(step).collect::<Vec<_>>(),
        "addresses": explained.addresses.iter().map(|a| json!({
            "address": a.ip.to_string(),
            "role": match a.role { AddressRole::Wanted => "wanted", AddressRole::Demoted => "demoted" },
            "private": a.private,
        })).collect::<Vec<_>>(),
        "usable": explained.usable(),
        "error": error_text(explained.answer.outcome.as_ref().err()),
    })
}

/// `{"targetGroupArn", "targetGroupName", "previousSources", "sources", "port", "written"}`
pub fn tagged(tagged: &Tagged) -> Value {
    json!({
        "targetGroupArn": tagged.arn,
        "targetGroupName": tagged.name,
        "previousSources": tagged.previous,
        "sources": texts(&tagged.spec.sources),
        "port": tagged.spec.port,
        "written": tagged.written,
    })
}

/// `{"targetGroupArn", "targetGroupName", "removedTags", "written"}`
pub fn untagged(untagged: &Untagged) -> Value {
    json!({
        "targetGroupArn": untagged.arn,
        "targetGroupName": untagged.name,
        "removedTags": untagged.removed,
        "written": untagged.written,
    })
}
