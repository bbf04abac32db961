//! A sync run as `plan` and `apply` show it: the functions' run report plus
//! `changesPending` for scripts, and each target group's changes as a table
//! for people.

use std::fmt::Write as _;

use nlb_target_sync::report::SyncReport;
use nlb_target_sync::{Action, DeregisterReason, OperateError};
use nlb_target_sync::{GroupOutcome, RunOutcome};
use serde::Serialize;

use crate::error::CliError;
use crate::text::{BAD, GOOD, PENDING, heading, joined, no_managed_group, paint, table};

/// The functions' run report (`dryRun`, `targetGroups` with `registered`,
/// `deregistered`, `heldBack`, ..., `error`) plus `changesPending`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunJson {
    #[serde(flatten)]
    report: SyncReport,
    changes_pending: bool,
}

impl From<&RunOutcome> for RunJson {
    fn from(run: &RunOutcome) -> Self {
        RunJson { report: SyncReport::from(run), changes_pending: changes_pending(run) }
    }
}

/// The error of a run that failed before it reached any target group (it
/// could not list them): such a run has nothing to report, so the command
/// fails with that error (one line; `{"failure": ...}` with `--output json`).
pub fn failed_before_any_group(run: &RunOutcome) -> Option<CliError> {
    match (&run.error, run.groups.is_empty()) {
        (Some(error), true) => Some(OperateError::Run(error.clone()).into()),
        _ => None,
    }
}

/// True when the run registered or deregistered something (or, in a dry run, would have).
pub fn changes_pending(run: &RunOutcome) -> bool {
    run.groups.iter().any(GroupOutcome::changed)
}

/// Whether the changes are still to be made (`plan`) or were made (`apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changes {
    Planned,
    Made,
}

/// Every target group of the run with its changes, after the run's error if any.
pub fn run_text(out: &mut String, run: &RunOutcome, changes: Changes) {
    if let Some(error) = &run.error {
        let _ = writeln!(out, "{} {error}", paint(BAD, "error"));
    }
    if run.groups.is_empty() && run.error.is_none() {
        no_managed_group(out);
    }
    for (i, group) in run.groups.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        group_text(out, group, changes);
    }
}

/// One target group's changes: a table of what and why, then the counts.
fn group_text(out: &mut String, group: &GroupOutcome, changes: Changes) {
    heading(out, group.label(), &group.arn);
    let _ = writeln!(out, "  sources  {}", joined(&group.sources, "-"));
    let (register, deregister) = match changes {
        Changes::Planned => ("register", "deregister"),
        Changes::Made => ("registered", "deregistered"),
    };
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
            let style = if changes == Changes::Made { GOOD } else { PENDING };
            let _ = writeln!(out, "  {}", paint(style, &counts));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_functions_report_plus_changes_pending() {
        let run = RunOutcome { dry_run: true, groups: Vec::new(), error: None, api_usage: Default::default() };
        assert_eq!(
            serde_json::to_value(RunJson::from(&run)).unwrap(),
            json!({
                "dryRun": true,
                "targetGroups": [],
                "error": null,
                "changesPending": false,
                "apiCalls": {"elb": 0, "elbDescribe": 0, "rds": 0, "dynamodb": 0, "retried": 0, "budgetWaitMs": 0}
            })
        );
        let mut out = String::new();
        run_text(&mut out, &run, Changes::Planned);
        assert!(out.starts_with("no target group carries"), "{out}");
    }
}
