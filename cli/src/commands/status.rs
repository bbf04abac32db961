//! `status`: what each managed target group (or the named ones) holds, what
//! its sources want, and the last applied view.

use std::fmt::Write as _;

use clap::Args;
use nlb_target_sync::TargetHealth;
use nlb_target_sync::now_millis;
use nlb_target_sync::{GroupStatus, TargetStatus};
use serde::Serialize;

use super::{Invocation, Outcome, TargetGroupNames};
use crate::error::CliError;
use crate::output::{TargetGroupJson, texts};
use crate::progress::ProgressLine;
use crate::text::{BAD, GOOD, PENDING, heading, joined, no_managed_group, paint, table};
use crate::time::{age, view_time};

/// What each managed target group (or the named ones) holds: every target's
/// health, ELB's reason, which source wants it, and the last applied view.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    groups: TargetGroupNames,
}

/// Exit code 1 when a group cannot be read or one of its sources does not resolve.
pub async fn run(invocation: &Invocation, args: StatusArgs) -> Result<Outcome, CliError> {
    let engine = invocation.engine().await?;
    let progress = ProgressLine::start("resolving the sources and reading target health");
    let groups = engine.status(&args.groups.target_groups).await;
    progress.finish();
    let groups = groups?;
    invocation.output.write(|| StatusJson::from(&groups[..]), || text(&groups))?;
    Ok(Outcome::done_if(groups.iter().all(|group| !failed(group))))
}

fn failed(group: &GroupStatus) -> bool {
    group.error.is_some() || !group.unresolved.is_empty()
}

/// `{"targetGroups": [group...]}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusJson<'a> {
    target_groups: Vec<GroupJson<'a>>,
}

/// `{"targetGroupArn", "targetGroupName", "sources", "port", "appliedView":
/// {"unixMs", "time"} | null, "targets": [target...], "unresolved":
/// [{"source", "error"}], "error"}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupJson<'a> {
    #[serde(flatten)]
    target_group: TargetGroupJson<'a>,
    sources: Vec<String>,
    port: Option<u16>,
    applied_view: Option<ViewJson>,
    targets: Vec<TargetJson<'a>>,
    unresolved: Vec<UnresolvedJson>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ViewJson {
    unix_ms: u64,
    time: String,
}

/// `{"target", "state" (null: not registered), "reason", "description", "wantedBy"}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetJson<'a> {
    target: String,
    state: Option<&'a str>,
    reason: Option<&'a str>,
    description: Option<&'a str>,
    wanted_by: Vec<String>,
}

#[derive(Debug, Serialize)]
struct UnresolvedJson {
    source: String,
    error: String,
}

impl<'a> From<&'a [GroupStatus]> for StatusJson<'a> {
    fn from(groups: &'a [GroupStatus]) -> Self {
        StatusJson { target_groups: groups.iter().map(GroupJson::from).collect() }
    }
}

impl<'a> From<&'a GroupStatus> for GroupJson<'a> {
    fn from(group: &'a GroupStatus) -> Self {
        GroupJson {
            target_group: TargetGroupJson::new(&group.arn, &group.name),
            sources: texts(&group.sources),
            port: group.port,
            applied_view: group.applied_view_ms.map(|ms| ViewJson { unix_ms: ms, time: view_time(ms) }),
            targets: group.targets.iter().map(TargetJson::from).collect(),
            unresolved: group
                .unresolved
                .iter()
                .map(|u| UnresolvedJson {
                    source: u.source.to_string(),
                    error: u.error.as_ref().map_or_else(|| "no address".to_string(), ToString::to_string),
                })
                .collect(),
            error: group.error.as_ref().map(ToString::to_string),
        }
    }
}

impl<'a> From<&'a TargetStatus> for TargetJson<'a> {
    fn from(target: &'a TargetStatus) -> Self {
        TargetJson {
            target: target.target.to_string(),
            state: target.health.as_ref().map(TargetHealth::label),
            reason: target.detail.as_ref().and_then(|d| d.reason.as_deref()),
            description: target.detail.as_ref().and_then(|d| d.description.as_deref()),
            wanted_by: texts(&target.wanted_by),
        }
    }
}

/// Each target group: sources, port, last applied view, then a table of targets.
fn text(groups: &[GroupStatus]) -> String {
    let mut out = String::new();
    if groups.is_empty() {
        no_managed_group(&mut out);
    }
    let now = now_millis();
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        group_text(&mut out, group, now);
    }
    out
}

fn group_text(out: &mut String, g: &GroupStatus, now: u64) {
    heading(out, &g.name, &g.arn);
    let _ = writeln!(out, "  sources       {}", joined(&g.sources, "-"));
    let _ = writeln!(out, "  port          {}", g.port.map_or_else(|| "-".to_string(), |p| p.to_string()));
    let view = g.applied_view_ms.map_or_else(
        || "never (no sync has changed this target group)".to_string(),
        |ms| format!("{} ({})", view_time(ms), age(ms, now)),
    );
    let _ = writeln!(out, "  applied view  {view}");
    for u in &g.unresolved {
        let _ = writeln!(out, "  {} {u}", paint(BAD, "unresolved"));
    }
    if let Some(error) = &g.error {
        let _ = writeln!(out, "  {} {error}", paint(BAD, "error"));
    }
    if g.targets.is_empty() {
        let _ = writeln!(out, "  {}", paint(PENDING, "no target registered, none wanted"));
        return;
    }
    let mut rows = table(&["target", "state", "reason", "wanted by"]);
    for t in &g.targets {
        let reason = t.detail.as_ref().and_then(|d| d.reason.as_deref().or(d.description.as_deref()));
        rows.add_row(vec![
            t.target.to_string(),
            t.health.as_ref().map_or("not registered", TargetHealth::label).to_string(),
            reason.unwrap_or("-").to_string(),
            joined(&t.wanted_by, "not wanted"),
        ]);
    }
    let _ = writeln!(out, "{rows}");
    let registered = g.targets.iter().filter(|t| t.health.is_some()).count();
    let wanted = g.targets.iter().filter(|t| !t.wanted_by.is_empty()).count();
    let unhealthy = g.targets.iter().filter(|t| t.health.is_some() && t.health != Some(TargetHealth::Healthy)).count();
    let verdict = format!("{registered} registered, {wanted} wanted, {unhealthy} not healthy");
    // In sync: every target is registered exactly when some source wants it.
    let in_sync = g.targets.iter().all(|t| t.health.is_some() != t.wanted_by.is_empty());
    let style = if failed(g) {
        BAD
    } else if in_sync {
        GOOD
    } else {
        PENDING
    };
    let _ = writeln!(out, "  {}", paint(style, &verdict));
}
