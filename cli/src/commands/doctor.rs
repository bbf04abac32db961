//! `doctor`: what stands between a consumer and the database, for each
//! managed target group (or the named ones): is it behind a listener, are
//! the wanted targets healthy and in sync, do the deregistration attributes
//! let clients of a demoted writer go, can every load balancer node reach
//! the targets' zones, do the databases' security groups admit the load
//! balancer, can MySQL's `max_connect_errors` get it blocked, and can
//! consumers connect through the endpoint service.

use std::fmt::Write as _;

use clap::Args;
use nlb_target_sync::{Check, CheckStatus, Diagnosis, Inspection, inspectors_with};
use serde::Serialize;

use super::{Invocation, Outcome, TargetGroupNames};
use crate::ec2::Ec2Network;
use crate::error::CliError;
use crate::output::TargetGroupJson;
use crate::progress::ProgressLine;
use crate::text::{BAD, GOOD, PENDING, QUIET, heading, no_managed_group, paint, table};

/// Check why consumers may not connect: listener, target health, sync,
/// deregistration attributes, zones, security groups, MySQL's
/// max_connect_errors and the endpoint service. Exit code 0: no check fails
/// (warnings allowed), 1: a check fails or the checks cannot run.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    groups: TargetGroupNames,
}

pub async fn run(invocation: &Invocation, args: DoctorArgs) -> Result<Outcome, CliError> {
    // A dry-run engine: the plan behind `in-sync` changes nothing.
    let engine = invocation.dry_run_engine().await?;
    let config = invocation.aws_config().await;
    let aws = inspectors_with(&config);
    let network = Ec2Network::new(&config);
    let inspection = Inspection { load_balancers: &aws.load_balancers, databases: &aws.databases, network: &network };
    let progress = ProgressLine::start("reading the target groups");
    let diagnosed = engine.doctor(&args.groups.target_groups, &inspection, &|step: &str| progress.step(step)).await;
    progress.finish();
    let diagnoses = diagnosed.map_err(|e| CliError::Doctor(Box::new(e)))?;
    invocation.output.write(|| DoctorJson::from(&diagnoses[..]), || text(&diagnoses))?;
    Ok(Outcome::done_if(diagnoses.iter().all(|d| d.worst() != CheckStatus::Fail)))
}

/// `{"targetGroups": [group...]}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DoctorJson<'a> {
    target_groups: Vec<GroupJson<'a>>,
}

/// `{"targetGroupArn", "targetGroupName", "checks": [check...]}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupJson<'a> {
    #[serde(flatten)]
    target_group: TargetGroupJson<'a>,
    checks: Vec<CheckJson<'a>>,
}

/// `{"id", "status": "pass" | "warn" | "fail", "resource", "message", "fix" (null when it passed)}`
#[derive(Debug, Serialize)]
struct CheckJson<'a> {
    id: &'static str,
    status: &'static str,
    resource: &'a str,
    message: &'a str,
    fix: Option<&'a str>,
}

impl<'a> From<&'a [Diagnosis]> for DoctorJson<'a> {
    fn from(diagnoses: &'a [Diagnosis]) -> Self {
        DoctorJson {
            target_groups: diagnoses
                .iter()
                .map(|d| GroupJson {
                    target_group: TargetGroupJson::new(&d.arn, &d.name),
                    checks: d.checks.iter().map(CheckJson::from).collect(),
                })
                .collect(),
        }
    }
}

impl<'a> From<&'a Check> for CheckJson<'a> {
    fn from(check: &'a Check) -> Self {
        CheckJson {
            id: check.id.as_str(),
            status: check.status.as_str(),
            resource: &check.resource,
            message: &check.message,
            fix: check.fix.as_deref(),
        }
    }
}

/// One table per target group, then each failing or warning check with its fix.
fn text(diagnoses: &[Diagnosis]) -> String {
    let mut out = String::new();
    if diagnoses.is_empty() {
        no_managed_group(&mut out);
    }
    for (i, diagnosis) in diagnoses.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        group_text(&mut out, diagnosis);
    }
    let failing = diagnoses.iter().filter(|d| d.worst() == CheckStatus::Fail).count();
    let verdict = if failing > 0 {
        paint(BAD, &format!("{failing} of {} target group(s) fail a check", diagnoses.len()))
    } else if diagnoses.iter().any(|d| d.worst() == CheckStatus::Warn) {
        paint(PENDING, "no check fails; see the warnings above")
    } else {
        paint(GOOD, "no check fails")
    };
    let _ = writeln!(out, "\n{verdict}");
    out
}

fn group_text(out: &mut String, diagnosis: &Diagnosis) {
    heading(out, &diagnosis.name, &diagnosis.arn);
    let mut rows = table(&["check", "status", "resource", "finding"]);
    for check in &diagnosis.checks {
        rows.add_row(vec![
            check.id.as_str().to_string(),
            check.status.as_str().to_string(),
            check.resource.clone(),
            check.message.clone(),
        ]);
    }
    let _ = writeln!(out, "{rows}");
    // The findings are in the table; what to do about each one that did not pass follows it.
    for check in diagnosis.checks.iter().filter(|c| c.status != CheckStatus::Pass) {
        let style = if check.status == CheckStatus::Fail { BAD } else { PENDING };
        let _ = writeln!(out, "  {} {} ({})", paint(style, check.status.as_str()), check.id, check.resource);
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "    {} {fix}", paint(QUIET, "fix:"));
        }
    }
    let count = |status: CheckStatus| diagnosis.checks.iter().filter(|c| c.status == status).count();
    let counts = format!(
        "{} failing, {} warning, {} passing",
        count(CheckStatus::Fail),
        count(CheckStatus::Warn),
        count(CheckStatus::Pass)
    );
    let style = match diagnosis.worst() {
        CheckStatus::Fail => BAD,
        CheckStatus::Warn => PENDING,
        CheckStatus::Pass => GOOD,
    };
    let _ = writeln!(out, "  {}", paint(style, &counts));
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlb_target_sync::CheckId;
    use serde_json::json;

    fn diagnosis() -> Diagnosis {
        Diagnosis {
            arn: "arn:tg".into(),
            name: "orders".into(),
            checks: vec![
                Check {
                    id: CheckId::LoadBalancer,
                    status: CheckStatus::Pass,
                    resource: "nlb".into(),
                    message: "listener TCP:5432 of nlb forwards to it".into(),
                    fix: None,
                },
                Check {
                    id: CheckId::DeregistrationDelay,
                    status: CheckStatus::Warn,
                    resource: "orders".into(),
                    message: "deregistration_delay.timeout_seconds is 300 s".into(),
                    fix: Some("set it to 30 s".into()),
                },
            ],
        }
    }

    #[test]
    fn the_json_shape_is_the_documented_one() {
        let diagnoses = [diagnosis()];
        assert_eq!(
            serde_json::to_value(DoctorJson::from(&diagnoses[..])).unwrap(),
            json!({"targetGroups": [{"targetGroupArn": "arn:tg", "targetGroupName": "orders", "checks": [
                {"id": "load-balancer", "status": "pass", "resource": "nlb",
                 "message": "listener TCP:5432 of nlb forwards to it", "fix": null},
                {"id": "deregistration-delay", "status": "warn", "resource": "orders",
                 "message": "deregistration_delay.timeout_seconds is 300 s", "fix": "set it to 30 s"}
            ]}]})
        );
    }

    #[test]
    fn the_text_is_a_table_then_each_warning_with_its_fix() {
        let out = anstream::adapter::strip_str(&text(&[diagnosis()])).to_string();
        assert!(
            out.contains(
                "│ load-balancer        ┆ pass   ┆ nlb      ┆ listener TCP:5432 of nlb forwards to it       │"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "│ deregistration-delay ┆ warn   ┆ orders   ┆ deregistration_delay.timeout_seconds is 300 s │"
            ),
            "{out}"
        );
        assert!(out.contains("\n  warn deregistration-delay (orders)\n    fix: set it to 30 s\n"), "{out}");
        assert!(out.contains("0 failing, 1 warning, 1 passing"), "{out}");
        assert!(out.ends_with("\nno check fails; see the warnings above\n"), "{out}");
        assert!(text(&[]).starts_with("no target group carries"));
    }
}
