//! Output for people: tables (comfy-table) with coloured headings and
//! verdicts around them. The text is written with colour escapes; anstream
//! removes them unless stdout is a terminal without `NO_COLOR`. Table cells
//! stay plain, so column widths stay right.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use comfy_table::{Table, presets};
use nlb_target_sync::DnsData;
use nlb_target_sync::TargetHealth;
use nlb_target_sync::now_millis;
use nlb_target_sync::{Action, DeregisterReason};
use nlb_target_sync::{AddressRole, Explanation, Lookup};
use nlb_target_sync::{GroupOutcome, RunOutcome};
use nlb_target_sync::{GroupStatus, Settled, Tagged, Untagged};
use nlb_target_sync::{PORT_TAG, SOURCES_TAG};

use crate::json::family_name;
use crate::time::{age, view_time};

const HEADING: Style = Style::new().bold();
const GOOD: Style = AnsiColor::Green.on_default();
const PENDING: Style = AnsiColor::Yellow.on_default();
const BAD: Style = AnsiColor::Red.on_default().bold();
const QUIET: Style = Style::new().dimmed();

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED.with_rounded_corners()).set_header(header.iter().copied());
    table
}

fn joined<T: ToString>(items: &[T], empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
    }
}

fn heading(out: &mut String, name: &str, arn: &str) {
    let _ = writeln!(out, "{}  {}", paint(HEADING, name), paint(QUIET, arn));
}

/// Each target group: sources, port, last applied view, then a table of targets.
pub fn status(groups: &[GroupStatus]) -> String {
    let mut out = String::new();
    if groups.is_empty() {
        let _ = writeln!(out, "no target group carries the {SOURCES_TAG} tag in this account and region");
    }
    let now = now_millis();
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        heading(&mut out, &g.name, &g.arn);
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
            continue;
        }
        let mut rows = table(&["target", "state", "reason", "wanted by"]);
        for t in &g.targets {
            let reason = t.detail.as_ref().and_then(|d| d.reason.clone().or_else(|| d.description.clone()));
            rows.add_row(vec![
                t.target.to_string(),
                t.health.as_ref().map_or("not registered", TargetHealth::label).to_string(),
                reason.unwrap_or_else(|| "-".to_string()),
                joined(&t.wanted_by, "not wanted"),
            ]);
        }
        let _ = writeln!(out, "{rows}");
        let unhealthy = g.targets.iter().filter(|t| t.health.is_some() && t.health != Some(TargetHealth::Healthy));
        let (wanted, registered) = (
            g.targets.iter().filter(|t| !t.wanted_by.is_empty()).count(),
            g.targets.iter().filter(|t| t.health.is_some()).count(),
        );
        let verdict = format!("{registered} registered, {wanted} wanted, {} not healthy", unhealthy.count());
        // In sync: every target is registered exactly when some source wants it.
        let in_sync = g.targets.iter().all(|t| t.health.is_some() != t.wanted_by.is_empty());
        let style = if g.error.is_some() || !g.unresolved.is_empty() {
            BAD
        } else if in_sync {
            GOOD
        } else {
            PENDING
        };
        let _ = writeln!(out, "  {}", paint(style, &verdict));
    }
    out
}

/// One target group's changes: done (apply) or to do (plan).
fn changes(out: &mut String, group: &GroupOutcome, done: bool) {
    heading(out, group.label(), &group.arn);
    let _ = writeln!(out, "  sources  {}", joined(&group.sources, "-"));
    let (register, deregister) = if done { ("registered", "deregistered") } else { ("register", "deregister") };
    let mut rows = table(&["change", "target", "why"]);
    for target in &group.registered {
        rows.add_row(vec![register.to_string(), target.to_string(), "wanted by the sources".to_string()]);
    }
    for (target, why) in &group.deregistered {
        let why = match why {
            DeregisterReason::NotWanted => "no source wants it any more",
            DeregisterReason::RoleChanged => "its instance lost the role (RDS API)",
        };
        rows.add_row(vec![deregister.to_string(), target.to_string(), why.to_string()]);
    }
    for held in group.held_back() {
        let action = match held.action {
            Action::Register => "held back: register",
            Action::Deregister => "held back: deregister",
        };
        rows.add_row(vec![action.to_string(), held.target.to_string(), held.reason.to_string()]);
    }
    if rows.row_count() > 0 {
        let _ = writeln!(out, "{rows}");
    }
    let counts = format!(
        "{} {register}, {} {deregister}, {} held back; {} wanted",
        group.registered.len(),
        group.deregistered.len(),
        group.held_back().len(),
        group.desired().len()
    );
    match &group.error {
        Some(error) => {
            let _ = writeln!(out, "  {counts}\n  {} {error}", paint(BAD, "error"));
        }
        None if !group.changed() && group.held_back().is_empty() => {
            let _ = writeln!(out, "  {}", paint(GOOD, "in sync: nothing to change"));
        }
        None => {
            let _ = writeln!(out, "  {}", paint(if done { GOOD } else { PENDING }, &counts));
        }
    }
}

fn run_text(out: &mut String, run: &RunOutcome, done: bool) {
    if let Some(error) = &run.error {
        let _ = writeln!(out, "{} {error}", paint(BAD, "error"));
    }
    if run.groups.is_empty() && run.error.is_none() {
        let _ = writeln!(out, "no target group carries the {SOURCES_TAG} tag in this account and region");
    }
    for (i, group) in run.groups.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        changes(out, group, done);
    }
}

/// What a sync would do.
pub fn plan(run: &RunOutcome) -> String {
    let mut out = String::new();
    run_text(&mut out, run, false);
    let pending = run.groups.iter().any(GroupOutcome::changed);
    let _ = writeln!(
        out,
        "\n{}",
        if pending { paint(PENDING, "changes pending: `apply` makes them") } else { paint(GOOD, "nothing to change") }
    );
    out
}

/// What `apply` did, the wait, and the run after it.
pub fn applied(applied: &Settled, waited: bool) -> String {
    let mut out = String::new();
    if applied.run.dry_run {
        let _ = writeln!(out, "{}", paint(PENDING, "dry run: nothing was changed; this is what a sync would do"));
    }
    run_text(&mut out, &applied.run, true);
    if waited {
        let _ = writeln!(out, "\nwaited {:.0?} for health checks", applied.waited);
        for (arn, pending) in applied.unhealthy.iter().filter(|(_, p)| !p.is_empty()) {
            let _ = writeln!(out, "  {} {arn}: {}", paint(BAD, "not healthy"), joined(pending, ", "));
        }
    }
    if let Some(finish) = &applied.finish {
        let _ = writeln!(out, "\nafter the wait:");
        run_text(&mut out, finish, true);
    }
    out
}

fn lookup_answer(lookup: &Lookup) -> (String, String) {
    let failed = |e: &dyn std::fmt::Display| format!("failed: {e}");
    match lookup {
        Lookup::ClusterMembers { cluster, result } => (
            cluster.clone(),
            match result {
                Ok(members) => members
                    .iter()
                    .map(|m| format!("{} {}", m.instance_id, if m.is_writer { "(writer)" } else { "(reader)" }))
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(e) => failed(e),
            },
        ),
        Lookup::InstanceEndpoint { instance: id, result } | Lookup::ProxyEndpoint { proxy: id, result, .. } => {
            let resource = match lookup {
                Lookup::ProxyEndpoint { endpoint: Some(custom), .. } => format!("{id}:{custom}"),
                _ => id.clone(),
            };
            let answer = match result {
                Ok(endpoint) => format!(
                    "{} (status {}{})",
                    endpoint.address.as_deref().unwrap_or("no endpoint yet"),
                    endpoint.status,
                    endpoint.cluster.as_ref().map_or_else(String::new, |c| format!(", cluster {c}"))
                ),
                Err(e) => failed(e),
            };
            (resource, answer)
        }
        Lookup::Dns { name, result, .. } => (
            name.clone(),
            match result {
                Ok(records) => records
                    .iter()
                    .map(|r| {
                        let ttl = r.ttl_seconds.map_or_else(|| "TTL unknown".to_string(), |t| format!("TTL {t} s"));
                        match &r.data {
                            DnsData::Address(ip) => format!("{ip} ({ttl})"),
                            DnsData::Alias(target) => format!("CNAME {target} ({ttl})"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Err(e) => failed(e),
            },
        ),
    }
}

/// Each lookup in order, then the addresses and the private check.
pub fn explanation(explained: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", paint(HEADING, &explained.source.to_string()), family_name(explained.families));
    let mut steps = table(&["#", "lookup", "of", "answer"]);
    for (i, lookup) in explained.lookups.iter().enumerate() {
        let (resource, answer) = lookup_answer(lookup);
        steps.add_row(vec![(i + 1).to_string(), lookup.call().to_string(), resource, answer]);
    }
    let _ = writeln!(out, "{steps}");
    if !explained.addresses.is_empty() {
        let mut rows = table(&["address", "role", "private", "sync"]);
        for a in &explained.addresses {
            let (role, sync) = match (a.role, a.private) {
                (AddressRole::Wanted, true) => ("wanted", "registers it"),
                (AddressRole::Wanted, false) => ("wanted", "refuses it: not a private address"),
                (AddressRole::Demoted, _) => ("demoted", "deregisters it at once (lost the role)"),
            };
            rows.add_row(vec![
                a.ip.to_string(),
                role.to_string(),
                if a.private { "yes" } else { "no" }.to_string(),
                sync.to_string(),
            ]);
        }
        let _ = writeln!(out, "{rows}");
    }
    let verdict = match &explained.answer.outcome {
        Err(error) => paint(BAD, &format!("does not resolve: {error}; sync deregisters nothing while it fails")),
        Ok(_) if !explained.usable() => {
            paint(BAD, "no private address: sync registers nothing and deregisters nothing for this source")
        }
        Ok(_) => paint(GOOD, "resolves: sync uses the wanted private addresses above"),
    };
    let _ = writeln!(out, "{verdict}");
    out
}

pub fn tagged(tagged: &Tagged) -> String {
    let mut out = String::new();
    heading(&mut out, &tagged.name, &tagged.arn);
    let verb = if tagged.written { "now" } else { "would be (dry run)" };
    let _ = writeln!(out, "  {SOURCES_TAG} {verb} '{}'", tagged.spec.sources_tag_value());
    let port = tagged.spec.port.map_or_else(|| "absent: the target group's port".to_string(), |p| p.to_string());
    let _ = writeln!(out, "  {PORT_TAG} {port}");
    if let Some(previous) = &tagged.previous {
        let _ = writeln!(out, "  {}", paint(QUIET, &format!("was '{previous}'")));
    }
    let _ = writeln!(out, "  {}", paint(GOOD, "the next sync (or `apply`) fills the target group"));
    out
}

pub fn untagged(untagged: &Untagged) -> String {
    let mut out = String::new();
    heading(&mut out, &untagged.name, &untagged.arn);
    if untagged.removed.is_empty() {
        let _ = writeln!(out, "  it has no sync tags: nothing to remove");
    } else {
        let verb = if untagged.written { "removed" } else { "would remove (dry run)" };
        let _ = writeln!(out, "  {verb} {}", untagged.removed.join(", "));
        let _ = writeln!(out, "  {}", paint(GOOD, "no sync touches it any more; its targets stay as they are"));
    }
    out
}
