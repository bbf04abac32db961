//! `explain`: one source resolved by the engine's own resolver, each lookup
//! with its answer, then the private-address check.

use std::fmt::Write as _;

use clap::{Args, ValueEnum};
use nlb_target_sync::AddressFamilies;
use nlb_target_sync::Source;
use nlb_target_sync::{AddressCheck, AddressRole, Explanation, Lookup};
use nlb_target_sync::{ClusterMember, CustomEndpoint, CustomEndpointKind, DnsData, DnsRecord, Endpoint};
use serde::Serialize;

use super::{Invocation, Outcome};
use crate::error::CliError;
use crate::progress::ProgressLine;
use crate::text::{BAD, GOOD, HEADING, paint, table};

/// Resolve one source token and show each step: RDS API answers, DNS
/// records with TTLs, and the private-address check.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A source token, e.g. rds-cluster:prod:writer, rds-proxy:app, dns:db.internal.
    source: String,
    /// Address families to resolve, as a target group's IpAddressType.
    #[arg(long, value_enum, default_value_t = Family::Ipv4)]
    family: Family,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Family {
    Ipv4,
    Ipv6,
    Dualstack,
}

impl From<Family> for AddressFamilies {
    fn from(family: Family) -> Self {
        match family {
            Family::Ipv4 => AddressFamilies::V4,
            Family::Ipv6 => AddressFamilies::V6,
            Family::Dualstack => AddressFamilies::Both,
        }
    }
}

/// The families as `--family` names them.
fn family_name(families: AddressFamilies) -> &'static str {
    match families {
        AddressFamilies::V4 => "ipv4",
        AddressFamilies::V6 => "ipv6",
        AddressFamilies::Both => "dualstack",
    }
}

/// Exit code 1 when the source gives sync no private address.
pub async fn run(invocation: &Invocation, args: ExplainArgs) -> Result<Outcome, CliError> {
    let source: Source = args.source.parse().map_err(CliError::BadSource)?;
    let engine = invocation.engine().await?;
    let progress = ProgressLine::start(&format!("resolving {source}"));
    let explained = engine.explain(&source, args.family.into()).await;
    progress.finish();
    invocation.output.write(|| ExplanationJson::from(&explained), || text(&explained))?;
    Ok(Outcome::done_if(explained.usable()))
}

/// `{"source", "families", "steps": [step...], "addresses": [{"address",
/// "role": "wanted" | "demoted", "private"}], "usable", "error"}`
#[derive(Debug, Serialize)]
struct ExplanationJson {
    source: String,
    families: &'static str,
    steps: Vec<Step>,
    addresses: Vec<AddressJson>,
    /// False when the installer's NLB_SYNC_ALLOWED_SOURCES does not allow it.
    allowed: bool,
    usable: bool,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct AddressJson {
    address: String,
    role: &'static str,
    private: bool,
}

/// One lookup, as both outputs show it: `{"call", "resource", "error"}` plus,
/// when it answered, `members`, `endpoint`, `customEndpoint` or `records`.
#[derive(Debug, Serialize)]
struct Step {
    call: &'static str,
    /// The cluster, instance, proxy (`proxy:endpoint` for a custom one) or name looked up.
    resource: String,
    error: Option<String>,
    #[serde(flatten)]
    answer: Option<Answer>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
enum Answer {
    /// `[{"instance", "writer"}]`
    Members(Vec<MemberJson>),
    /// `{"address", "status", "cluster"}`
    Endpoint(EndpointJson),
    /// `{"kind": "reader" | "writer" | "any", "staticMembers", "excludedMembers", "status"}`
    CustomEndpoint(CustomEndpointJson),
    /// `[{"name", "type", "value", "ttl"}]`
    Records(Vec<RecordJson>),
}

#[derive(Debug, Serialize)]
struct MemberJson {
    instance: String,
    writer: bool,
}

#[derive(Debug, Serialize)]
struct EndpointJson {
    address: Option<String>,
    status: String,
    cluster: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomEndpointJson {
    kind: &'static str,
    static_members: Vec<String>,
    excluded_members: Vec<String>,
    status: String,
}

#[derive(Debug, Serialize)]
struct RecordJson {
    name: String,
    #[serde(rename = "type")]
    kind: RecordType,
    value: String,
    ttl: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum RecordType {
    A,
    Aaaa,
    Cname,
}

impl From<&Explanation> for ExplanationJson {
    fn from(explained: &Explanation) -> Self {
        ExplanationJson {
            source: explained.source.to_string(),
            families: family_name(explained.families),
            steps: explained.lookups.iter().map(Step::from).collect(),
            addresses: explained.addresses.iter().map(AddressJson::from).collect(),
            allowed: explained.not_allowed_by.is_none(),
            usable: explained.usable(),
            error: explained.answer.outcome.as_ref().err().map(ToString::to_string),
        }
    }
}

impl From<&AddressCheck> for AddressJson {
    fn from(check: &AddressCheck) -> Self {
        AddressJson { address: check.ip.to_string(), role: role_name(check.role), private: check.private }
    }
}

fn role_name(role: AddressRole) -> &'static str {
    match role {
        AddressRole::Wanted => "wanted",
        AddressRole::Demoted => "demoted",
    }
}

impl Step {
    /// The step `lookup` made at `resource`: its error, or what `answer` makes of its result.
    fn new<T, E: ToString>(lookup: &Lookup, resource: String, result: &Result<T, E>, answer: fn(&T) -> Answer) -> Step {
        Step {
            call: lookup.call(),
            resource,
            error: result.as_ref().err().map(ToString::to_string),
            answer: result.as_ref().ok().map(answer),
        }
    }

    /// The answer column of the text: the answer, or why there is none.
    fn answer_text(&self) -> String {
        match (&self.answer, &self.error) {
            (_, Some(error)) => format!("failed: {error}"),
            (None, None) => String::new(),
            (Some(Answer::Members(members)), None) => members
                .iter()
                .map(|m| format!("{} {}", m.instance, if m.writer { "(writer)" } else { "(reader)" }))
                .collect::<Vec<_>>()
                .join(", "),
            (Some(Answer::Endpoint(endpoint)), None) => format!(
                "{} (status {}{})",
                endpoint.address.as_deref().unwrap_or("no endpoint yet"),
                endpoint.status,
                endpoint.cluster.as_ref().map_or_else(String::new, |c| format!(", cluster {c}"))
            ),
            (Some(Answer::CustomEndpoint(custom)), None) => {
                let members = if custom.static_members.is_empty() {
                    match custom.excluded_members.as_slice() {
                        [] => "every member".to_string(),
                        excluded => format!("every member but {}", excluded.join(", ")),
                    }
                } else {
                    format!("only {}", custom.static_members.join(", "))
                };
                format!("{} endpoint: {members} (status {})", custom.kind, custom.status)
            }
            (Some(Answer::Records(records)), None) => records
                .iter()
                .map(|r| {
                    let ttl = r.ttl.map_or_else(|| "TTL unknown".to_string(), |t| format!("TTL {t} s"));
                    match r.kind {
                        RecordType::Cname => format!("CNAME {} ({ttl})", r.value),
                        RecordType::A | RecordType::Aaaa => format!("{} ({ttl})", r.value),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

impl From<&Lookup> for Step {
    fn from(lookup: &Lookup) -> Self {
        match lookup {
            Lookup::ClusterMembers { cluster, result } => Step::new(lookup, cluster.clone(), result, |members| {
                Answer::Members(members.iter().map(MemberJson::from).collect())
            }),
            Lookup::InstanceEndpoint { instance, result } => {
                Step::new(lookup, instance.clone(), result, |e| Answer::Endpoint(EndpointJson::from(e)))
            }
            Lookup::ProxyEndpoint { proxy, endpoint, result } => {
                let resource = endpoint.as_ref().map_or_else(|| proxy.clone(), |custom| format!("{proxy}:{custom}"));
                Step::new(lookup, resource, result, |e| Answer::Endpoint(EndpointJson::from(e)))
            }
            Lookup::CustomEndpoint { cluster, endpoint, result } => {
                Step::new(lookup, format!("{cluster}:{endpoint}"), result, |e| {
                    Answer::CustomEndpoint(CustomEndpointJson::from(e))
                })
            }
            Lookup::Dns { name, result, .. } => Step::new(lookup, name.clone(), result, |records| {
                Answer::Records(records.iter().map(RecordJson::from).collect())
            }),
        }
    }
}

impl From<&ClusterMember> for MemberJson {
    fn from(member: &ClusterMember) -> Self {
        MemberJson { instance: member.instance_id.clone(), writer: member.is_writer }
    }
}

impl From<&CustomEndpoint> for CustomEndpointJson {
    fn from(endpoint: &CustomEndpoint) -> Self {
        CustomEndpointJson {
            kind: match endpoint.kind {
                CustomEndpointKind::Reader => "reader",
                CustomEndpointKind::Writer => "writer",
                CustomEndpointKind::Any => "any",
            },
            static_members: endpoint.static_members.clone(),
            excluded_members: endpoint.excluded_members.clone(),
            status: endpoint.status.clone(),
        }
    }
}

impl From<&Endpoint> for EndpointJson {
    fn from(endpoint: &Endpoint) -> Self {
        EndpointJson {
            address: endpoint.address.clone(),
            status: endpoint.status.clone(),
            cluster: endpoint.cluster.clone(),
        }
    }
}

impl From<&DnsRecord> for RecordJson {
    fn from(record: &DnsRecord) -> Self {
        let (kind, value) = match &record.data {
            DnsData::Address(ip) if ip.is_ipv4() => (RecordType::A, ip.to_string()),
            DnsData::Address(ip) => (RecordType::Aaaa, ip.to_string()),
            DnsData::Alias(target) => (RecordType::Cname, target.clone()),
        };
        RecordJson { name: record.name.clone(), kind, value, ttl: record.ttl_seconds }
    }
}

/// Each lookup in order, then the addresses and the private check.
fn text(explained: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", paint(HEADING, &explained.source.to_string()), family_name(explained.families));
    let mut steps = table(&["#", "lookup", "of", "answer"]);
    for (i, step) in explained.lookups.iter().map(Step::from).enumerate() {
        let answer = step.answer_text();
        steps.add_row(vec![(i + 1).to_string(), step.call.to_string(), step.resource, answer]);
    }
    let _ = writeln!(out, "{steps}");
    if !explained.addresses.is_empty() {
        let mut rows = table(&["address", "role", "private", "sync"]);
        for check in &explained.addresses {
            let sync = match (check.role, check.private) {
                (AddressRole::Wanted, true) => "registers it",
                (AddressRole::Wanted, false) => "refuses it: not a private address",
                (AddressRole::Demoted, _) => "deregisters it at once (lost the role)",
            };
            let private = if check.private { "yes" } else { "no" };
            rows.add_row(vec![
                check.ip.to_string(),
                role_name(check.role).to_string(),
                private.to_string(),
                sync.to_string(),
            ]);
        }
        let _ = writeln!(out, "{rows}");
    }
    let verdict = match &explained.answer.outcome {
        _ if explained.not_allowed_by.is_some() => paint(
            BAD,
            &format!(
                "not allowed by NLB_SYNC_ALLOWED_SOURCES ({}): a target group that follows it is left as it is",
                explained.not_allowed_by.as_deref().unwrap_or_default()
            ),
        ),
        Err(error) => paint(BAD, &format!("does not resolve: {error}; sync deregisters nothing while it fails")),
        Ok(_) if !explained.usable() => {
            paint(BAD, "no private address: sync registers nothing and deregisters nothing for this source")
        }
        Ok(_) => paint(GOOD, "resolves: sync uses the wanted private addresses above"),
    };
    let _ = writeln!(out, "{verdict}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlb_target_sync::RdsError;
    use serde_json::json;

    fn step(lookup: &Lookup) -> (serde_json::Value, String) {
        let step = Step::from(lookup);
        (serde_json::to_value(&step).unwrap(), step.answer_text())
    }

    #[test]
    fn a_step_has_its_answer_under_its_kind_or_an_error() {
        let members = Lookup::ClusterMembers {
            cluster: "prod".into(),
            result: Ok(vec![ClusterMember { instance_id: "prod-1".into(), is_writer: true }]),
        };
        assert_eq!(
            step(&members),
            (
                json!({"call": "DescribeDBClusters", "resource": "prod", "error": null,
                       "members": [{"instance": "prod-1", "writer": true}]}),
                "prod-1 (writer)".to_string()
            )
        );

        let custom = Lookup::CustomEndpoint {
            cluster: "prod".into(),
            endpoint: "reporting".into(),
            result: Ok(CustomEndpoint {
                kind: CustomEndpointKind::Reader,
                static_members: vec![],
                excluded_members: vec!["prod-3".into()],
                status: "available".into(),
            }),
        };
        assert_eq!(
            step(&custom),
            (
                json!({"call": "DescribeDBClusterEndpoints", "resource": "prod:reporting", "error": null,
                       "customEndpoint": {"kind": "reader", "staticMembers": [], "excludedMembers": ["prod-3"],
                                          "status": "available"}}),
                "reader endpoint: every member but prod-3 (status available)".to_string()
            )
        );

        let missing = RdsError::NotFound { kind: "DB proxy endpoint", id: "ro".into() };
        let proxy =
            Lookup::ProxyEndpoint { proxy: "app".into(), endpoint: Some("ro".into()), result: Err(missing.clone()) };
        let (value, text) = step(&proxy);
        assert_eq!(
            value,
            json!({"call": "DescribeDBProxyEndpoints", "resource": "app:ro", "error": missing.to_string()})
        );
        assert_eq!(text, format!("failed: {missing}"));

        let records = vec![
            DnsRecord {
                name: "db.internal".into(),
                data: DnsData::Alias("primary.internal".into()),
                ttl_seconds: Some(30),
            },
            DnsRecord {
                name: "primary.internal".into(),
                data: DnsData::Address("fd00::1".parse().unwrap()),
                ttl_seconds: None,
            },
        ];
        let dns = Lookup::Dns { name: "db.internal".into(), families: AddressFamilies::Both, result: Ok(records) };
        let (value, text) = step(&dns);
        assert_eq!(
            value["records"],
            json!([{"name": "db.internal", "type": "CNAME", "value": "primary.internal", "ttl": 30},
                   {"name": "primary.internal", "type": "AAAA", "value": "fd00::1", "ttl": null}])
        );
        assert_eq!(text, "CNAME primary.internal (TTL 30 s)\nfd00::1 (TTL unknown)");
    }
}
