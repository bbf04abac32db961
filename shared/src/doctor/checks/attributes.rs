//! The target group's deregistration attributes. After a failover the sync
//! deregisters the demoted writer; what happens to the connections clients
//! still hold on it is up to these two:
//!
//! - `connection-termination`: with
//!   `deregistration_delay.connection_termination.enabled` off, ELB leaves
//!   them open after the delay, and clients keep talking to a read-only
//!   database until they disconnect themselves;
//! - `deregistration-delay`: `deregistration_delay.timeout_seconds` (ELB's
//!   default 300 s) is how long they keep it before that.

use crate::doctor::check::{Check, CheckId};
use crate::doctor::facts::GroupFacts;

const TERMINATION: &str = "deregistration_delay.connection_termination.enabled";
const DELAY: &str = "deregistration_delay.timeout_seconds";
/// ELB's deregistration delay when the attribute is not set.
const ELB_DEFAULT_DELAY_SECONDS: u32 = 300;

/// Longer than this is long for a database: warned about.
pub const DEREGISTRATION_DELAY_LIMIT_SECONDS: u32 = 60;
/// What `template.yaml` uses (its `DeregistrationDelaySeconds` default; the
/// template tests compare them).
pub const STACK_DEREGISTRATION_DELAY_SECONDS: u32 = 30;

pub fn connection_termination(f: &GroupFacts) -> Check {
    let id = CheckId::ConnectionTermination;
    let attributes = match &f.target_group {
        Ok(details) => &details.attributes,
        Err(unread) => return Check::cannot(id, &f.name, unread),
    };
    match attributes.get(TERMINATION).map(String::as_str) {
        Some("true") => Check::pass(
            id,
            &f.name,
            format!("{TERMINATION} is true: connections to a deregistered target close when its delay ends"),
        ),
        value => Check::warn(
            id,
            &f.name,
            format!(
                "{TERMINATION} is {}: after a failover, clients stay connected to the demoted writer (read-only) \
                 until they disconnect themselves",
                value.unwrap_or("not set (false)")
            ),
            format!(
                "set it to true, as template.yaml does: aws elbv2 modify-target-group-attributes --target-group-arn \
                 {} --attributes Key={TERMINATION},Value=true",
                f.arn
            ),
        ),
    }
}

pub fn deregistration_delay(f: &GroupFacts) -> Check {
    let id = CheckId::DeregistrationDelay;
    let attributes = match &f.target_group {
        Ok(details) => &details.attributes,
        Err(unread) => return Check::cannot(id, &f.name, unread),
    };
    let fix = format!(
        "set it to {STACK_DEREGISTRATION_DELAY_SECONDS} s, as template.yaml does (DeregistrationDelaySeconds): long \
         enough for a running statement to finish, short enough that clients of a demoted writer reconnect within \
         half a minute: aws elbv2 modify-target-group-attributes --target-group-arn {} --attributes \
         Key={DELAY},Value={STACK_DEREGISTRATION_DELAY_SECONDS}",
        f.arn
    );
    let value = attributes.get(DELAY);
    let seconds = match value.map(|v| v.trim().parse::<u32>()) {
        None => ELB_DEFAULT_DELAY_SECONDS,
        Some(Ok(seconds)) => seconds,
        Some(Err(_)) => {
            let shown = value.map_or("", String::as_str);
            return Check::warn(id, &f.name, format!("{DELAY} is '{shown}', not a number of seconds"), fix);
        }
    };
    if seconds > DEREGISTRATION_DELAY_LIMIT_SECONDS {
        let default = if value.is_none() { " (ELB's default)" } else { "" };
        return Check::warn(
            id,
            &f.name,
            format!(
                "{DELAY} is {seconds} s{default}: after a failover, the demoted writer keeps its clients' connections \
                 for {seconds} s, longer than a database client should wait (more than \
                 {DEREGISTRATION_DELAY_LIMIT_SECONDS} s)"
            ),
            fix,
        );
    }
    Check::pass(id, &f.name, format!("{DELAY} is {seconds} s: a deregistered target lets go of its clients quickly"))
}

#[cfg(test)]
mod tests {
    use super::super::sample::{facts, unread};
    use super::*;
    use crate::doctor::check::CheckStatus;

    fn with_attribute(key: &str, value: Option<&str>) -> crate::doctor::facts::GroupFacts {
        let mut f = facts();
        let attributes = &mut f.target_group.as_mut().unwrap().attributes;
        match value {
            Some(value) => attributes.insert(key.into(), value.into()),
            None => attributes.remove(key),
        };
        f
    }

    #[test]
    fn connection_termination_off_or_absent_is_a_warning_with_the_command_that_fixes_it() {
        assert_eq!(connection_termination(&facts()).status, CheckStatus::Pass);
        for value in [Some("false"), None] {
            let check = connection_termination(&with_attribute(TERMINATION, value));
            assert_eq!(check.status, CheckStatus::Warn, "{value:?}");
            assert!(check.message.contains("demoted writer"), "{check:?}");
            assert!(check.fix.unwrap().contains("Key=deregistration_delay.connection_termination.enabled,Value=true"));
        }
        let check = connection_termination(&with_attribute(TERMINATION, None));
        assert!(check.message.contains("is not set (false)"), "{check:?}");
    }

    #[test]
    fn a_long_delay_and_elbs_default_are_warnings_that_say_what_the_stack_uses() {
        assert_eq!(deregistration_delay(&facts()).status, CheckStatus::Pass);
        let at_limit = DEREGISTRATION_DELAY_LIMIT_SECONDS.to_string();
        assert_eq!(deregistration_delay(&with_attribute(DELAY, Some(&at_limit))).status, CheckStatus::Pass);
        let check = deregistration_delay(&with_attribute(DELAY, Some("61")));
        assert_eq!(check.status, CheckStatus::Warn);
        let check = deregistration_delay(&with_attribute(DELAY, None));
        assert_eq!(check.status, CheckStatus::Warn);
        assert!(check.message.contains("300 s (ELB's default)"), "{check:?}");
        let fix = check.fix.unwrap();
        assert!(fix.contains("set it to 30 s, as template.yaml does") && fix.contains("Value=30"), "{fix}");
        let check = deregistration_delay(&with_attribute(DELAY, Some("soon")));
        assert_eq!(check.status, CheckStatus::Warn);
        assert!(check.message.contains("'soon', not a number"));
    }

    #[test]
    fn unreadable_attributes_cannot_be_checked() {
        let mut f = facts();
        f.target_group = Err(unread());
        assert_eq!(connection_termination(&f).status, CheckStatus::Fail);
        assert!(deregistration_delay(&f).message.starts_with("cannot check"));
    }
}
