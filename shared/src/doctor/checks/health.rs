//! `target-health`: does a wanted target pass the load balancer's health
//! checks? `in-sync`: does the target group hold what the sources want, as
//! `plan` sees it?

use std::collections::BTreeSet;

use crate::doctor::check::{Check, CheckId};
use crate::doctor::facts::GroupFacts;
use crate::operate::TargetStatus;
use crate::plan::{DeregisterReason, HoldReason};
use crate::target::TargetHealth;

const EXPLAIN: &str = "`nlb-target-sync explain <source>` shows what each source resolves to and why; fix the \
                       sources tag or the database";

pub fn target_health(f: &GroupFacts) -> Check {
    let id = CheckId::TargetHealth;
    let targets = match &f.targets {
        Ok(targets) => targets,
        Err(unread) => return Check::cannot(id, &f.name, unread),
    };
    let wanted: Vec<&TargetStatus> = targets.iter().filter(|t| !t.wanted_by.is_empty()).collect();
    if wanted.is_empty() {
        let why = if f.unresolved.is_empty() {
            "the sources answer no private address".to_string()
        } else {
            f.unresolved.join("; ")
        };
        return Check::fail(id, &f.name, format!("no target is wanted, so none can be healthy: {why}"), EXPLAIN);
    }
    let unhealthy: Vec<&TargetStatus> =
        wanted.iter().copied().filter(|t| t.health != Some(TargetHealth::Healthy)).collect();
    let listed = |targets: &[&TargetStatus]| targets.iter().map(|t| describe(t)).collect::<Vec<_>>().join(", ");
    if unhealthy.is_empty() {
        return Check::pass(id, &f.name, format!("every wanted target is healthy: {}", listed(&wanted)));
    }
    let fix = fixes(&unhealthy);
    if unhealthy.len() == wanted.len() {
        Check::fail(id, &f.name, format!("no wanted target is healthy: {}", listed(&unhealthy)), fix)
    } else {
        Check::warn(
            id,
            &f.name,
            format!("{} of {} wanted targets are not healthy: {}", unhealthy.len(), wanted.len(), listed(&unhealthy)),
            fix,
        )
    }
}

/// `10.1.1.10:5432 unhealthy (Target.FailedHealthChecks)`.
fn describe(t: &TargetStatus) -> String {
    let state = t.health.as_ref().map_or("not registered", TargetHealth::label);
    match t.detail.as_ref().and_then(|d| d.reason.as_deref()) {
        Some(reason) => format!("{} {state} ({reason})", t.target),
        None => format!("{} {state}", t.target),
    }
}

/// What to do about each kind of unhealthy target, once each.
fn fixes(unhealthy: &[&TargetStatus]) -> String {
    let mut fixes = BTreeSet::new();
    for t in unhealthy {
        let reason = t.detail.as_ref().and_then(|d| d.reason.as_deref());
        fixes.insert(match (&t.health, reason) {
            (None, _) | (_, Some("Target.NotRegistered")) => {
                "register them: `nlb-target-sync apply` (the functions do within a minute)"
            }
            (Some(TargetHealth::Initial), _) => {
                "wait: a new target needs two passing health checks (about 20 s with template.yaml's 10 s interval)"
            }
            (Some(TargetHealth::Unhealthy), _) => {
                "the load balancer cannot open TCP connections to them: see security-group-path, and the network \
                 ACLs of the database's subnets"
            }
            (Some(TargetHealth::Draining), _) => {
                "a wanted target is draining: `nlb-target-sync apply` registers it again"
            }
            (Some(TargetHealth::Unused), _) => {
                "ELB does not use them: see load-balancer (a listener must forward to the group) and cross-zone \
                 (their zone must be served)"
            }
            _ => "ELB reports health checks off or an unknown state: check the target group's health check settings",
        });
    }
    fixes.into_iter().collect::<Vec<_>>().join("; ")
}

pub fn in_sync(f: &GroupFacts) -> Check {
    let id = CheckId::InSync;
    let plan = match &f.plan {
        Ok(plan) => plan,
        Err(unread) => return Check::cannot(id, &f.name, unread),
    };
    if let Some(error) = &plan.error {
        return Check::fail(id, &f.name, format!("a sync cannot complete: {error}"), EXPLAIN);
    }
    let mut changes: Vec<String> = plan.register.iter().map(|t| format!("register {t}")).collect();
    changes.extend(plan.deregister.iter().map(|(t, why)| {
        let why = match why {
            DeregisterReason::NotWanted => "no source wants it",
            DeregisterReason::RoleChanged => "its instance lost the role",
        };
        format!("deregister {t} ({why})")
    }));
    if !changes.is_empty() {
        return Check::warn(
            id,
            &f.name,
            format!("plan would {}", changes.join(", ")),
            "`nlb-target-sync apply` makes the change now, and the functions within a minute; if it stays, read \
             their errors (ScheduleErrorsAlarm) and decision lines",
        );
    }
    if !plan.held_back.is_empty() {
        let held: Vec<String> = plan.held_back.iter().map(|h| format!("{}: {}", h.target, h.reason)).collect();
        let waiting = plan.held_back.iter().all(|h| h.reason == HoldReason::AwaitingHealthyReplacement);
        let fix = if waiting {
            "wait until the new targets pass health checks (see target-health); the old ones leave then"
        } else {
            "`nlb-target-sync plan` shows each held-back change and why; fix what it names"
        };
        return Check::warn(id, &f.name, format!("changes are held back: {}", held.join("; ")), fix);
    }
    Check::pass(id, &f.name, "in sync: the target group holds exactly what the sources want")
}

#[cfg(test)]
mod tests {
    use super::super::sample::{facts, target, unread, wanted};
    use super::*;
    use crate::doctor::check::CheckStatus;
    use crate::plan::{Action, HeldBack};
    use crate::target::HealthDetail;

    #[test]
    fn every_wanted_target_healthy_passes_and_unwanted_ones_do_not_count() {
        let mut f = facts();
        let mut stray = wanted("10.1.2.99", Some(TargetHealth::Unhealthy));
        stray.wanted_by.clear();
        f.targets.as_mut().unwrap().push(stray);
        let check = target_health(&f);
        assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
        assert_eq!(check.message, "every wanted target is healthy: 10.1.1.10:3306 healthy");
    }

    #[test]
    fn no_healthy_wanted_target_fails_with_each_reason_and_its_fix() {
        let mut f = facts();
        let mut failing = wanted("10.1.1.10", Some(TargetHealth::Unhealthy));
        failing.detail = Some(HealthDetail { reason: Some("Target.Timeout".into()), description: None });
        f.targets = Ok(vec![failing, wanted("10.1.2.20", None)]);
        let check = target_health(&f);
        assert_eq!(check.status, CheckStatus::Fail);
        assert_eq!(
            check.message,
            "no wanted target is healthy: 10.1.1.10:3306 unhealthy (Target.Timeout), 10.1.2.20:3306 not registered"
        );
        let fix = check.fix.unwrap();
        assert!(fix.contains("security-group-path") && fix.contains("nlb-target-sync apply"), "{fix}");
    }

    #[test]
    fn some_wanted_target_not_healthy_is_a_warning() {
        let mut f = facts();
        f.targets.as_mut().unwrap().push(wanted("10.1.2.20", Some(TargetHealth::Initial)));
        let check = target_health(&f);
        assert_eq!(check.status, CheckStatus::Warn);
        assert!(check.message.starts_with("1 of 2 wanted targets are not healthy: 10.1.2.20:3306 initial"));
        assert!(check.fix.unwrap().starts_with("wait"));
    }

    #[test]
    fn nothing_wanted_fails_naming_the_unresolved_sources() {
        let mut f = facts();
        f.targets = Ok(vec![]);
        f.unresolved = vec!["rds-cluster:orders:writer (DB cluster 'orders' does not exist)".into()];
        let check = target_health(&f);
        assert_eq!(check.status, CheckStatus::Fail);
        assert!(check.message.contains("no target is wanted") && check.message.contains("does not exist"));
        f.targets = Err(unread());
        assert!(target_health(&f).message.starts_with("cannot check"));
    }

    #[test]
    fn pending_changes_are_a_warning_that_says_what() {
        let mut f = facts();
        let plan = f.plan.as_mut().unwrap();
        plan.register = vec![target("10.1.2.20")];
        plan.deregister = vec![(target("10.1.1.10"), DeregisterReason::RoleChanged)];
        let check = in_sync(&f);
        assert_eq!(check.status, CheckStatus::Warn);
        assert_eq!(
            check.message,
            "plan would register 10.1.2.20:3306, deregister 10.1.1.10:3306 (its instance lost the role)"
        );
        assert!(check.fix.unwrap().contains("nlb-target-sync apply"));
    }

    #[test]
    fn held_back_changes_are_a_warning_and_a_plan_error_a_failure() {
        let mut f = facts();
        f.plan.as_mut().unwrap().held_back = vec![HeldBack {
            target: target("10.1.1.10"),
            action: Action::Deregister,
            reason: HoldReason::AwaitingHealthyReplacement,
        }];
        let check = in_sync(&f);
        assert_eq!(check.status, CheckStatus::Warn);
        assert!(check.fix.unwrap().starts_with("wait until the new targets"));
        f.plan.as_mut().unwrap().error = Some("target group orders: 1 source(s) did not resolve".into());
        let check = in_sync(&f);
        assert_eq!(check.status, CheckStatus::Fail);
        assert!(check.message.contains("did not resolve"), "{check:?}");
        assert_eq!(in_sync(&facts()).status, CheckStatus::Pass);
    }
}
