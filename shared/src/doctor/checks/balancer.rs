//! `load-balancer`: is the target group behind a listener at all?
//! `cross-zone`: can every node of the load balancer reach the wanted
//! targets' zones? An NLB node sends traffic only to targets in its own zone
//! unless cross-zone load balancing is on, so a writer in a zone the load
//! balancer does not serve gets nothing, and the nodes of zones without a
//! wanted target have nowhere to send their consumers.

use std::collections::BTreeSet;

use crate::doctor::check::{Check, CheckId};
use crate::doctor::facts::{GroupFacts, LoadBalancer, Subnet};
use crate::listing::joined;
use crate::target::Target;

const CROSS_ZONE: &str = "load_balancing.cross_zone.enabled";

/// What attaches a target group, as `template.yaml`'s `Listener` does it.
const ATTACH: &str = "add a TCP listener on the database port to the Network Load Balancer behind the endpoint \
                      service, forwarding to this target group (template.yaml's Listener does)";

pub fn load_balancer(f: &GroupFacts) -> Check {
    let id = CheckId::LoadBalancer;
    let details = match &f.target_group {
        Ok(details) => details,
        Err(unread) => return Check::cannot(id, &f.name, unread),
    };
    if details.load_balancer_arns.is_empty() {
        return Check::fail(
            id,
            &f.name,
            "attached to no load balancer: no listener forwards to it, so its targets stay `unused` and no \
             consumer reaches them",
            ATTACH,
        );
    }
    let balancers = match &f.load_balancers {
        Ok(balancers) => balancers,
        Err(unread) => return Check::cannot(id, &f.name, unread),
    };
    let names = balancer_names(balancers);
    let forwarding: Vec<String> = balancers
        .iter()
        .flat_map(|lb| {
            lb.listeners
                .iter()
                .filter(|l| l.forwards_to.contains(&f.arn))
                .map(move |l| format!("listener {l} of {}", lb.name))
        })
        .collect();
    if forwarding.is_empty() {
        return Check::fail(
            id,
            names.clone(),
            format!("{names} lists the target group, but none of its listeners forwards to it"),
            ATTACH,
        );
    }
    Check::pass(id, names, format!("{} forwards to it", forwarding.join(", ")))
}

pub fn cross_zone(f: &GroupFacts) -> Vec<Check> {
    let id = CheckId::CrossZone;
    let (details, balancers) = match (&f.target_group, &f.load_balancers) {
        (Err(unread), _) | (_, Err(unread)) => return vec![Check::cannot(id, &f.name, unread)],
        (Ok(details), Ok(balancers)) => (details, balancers),
    };
    if balancers.is_empty() {
        return vec![Check::without_load_balancer(id, &f.name)];
    }
    let group_setting = details.attributes.get(CROSS_ZONE).map(String::as_str);
    balancers.iter().map(|lb| cross_zone_of(f, lb, group_setting)).collect()
}

fn cross_zone_of(f: &GroupFacts, lb: &LoadBalancer, group_setting: Option<&str>) -> Check {
    let id = CheckId::CrossZone;
    let (on, whose) = match group_setting {
        Some("true") => (true, "the target group turns it on"),
        Some("false") => (false, "the target group turns it off"),
        _ => (lb.attributes.get(CROSS_ZONE).map(String::as_str) == Some("true"), "the load balancer's setting"),
    };
    if on {
        return Check::pass(
            id,
            &lb.name,
            format!(
                "cross-zone load balancing is on ({whose}): every node of {} reaches targets in every zone",
                lb.name
            ),
        );
    }
    let (subnets, targets) = match (&f.subnets, &f.targets) {
        (Err(unread), _) | (_, Err(unread)) => return Check::cannot(id, &lb.name, unread),
        (Ok(subnets), Ok(targets)) => (subnets, targets),
    };
    let served: BTreeSet<&str> = lb.zones.iter().map(|z| z.zone.as_str()).collect();
    // Addresses outside every subnet are outside the VPC: registered in zone
    // `all`, every node reaches them.
    let zoned: Vec<(Target, &str)> = targets
        .iter()
        .filter(|t| !t.wanted_by.is_empty())
        .filter_map(|t| zone_of(subnets, &t.target).map(|zone| (t.target, zone)))
        .collect();
    let turn_on = format!(
        "turn cross-zone load balancing on (template.yaml does): aws elbv2 modify-load-balancer-attributes \
         --load-balancer-arn {} --attributes Key={CROSS_ZONE},Value=true",
        lb.arn
    );
    let unserved: Vec<String> =
        zoned.iter().filter(|(_, zone)| !served.contains(zone)).map(|(t, zone)| format!("{t} ({zone})")).collect();
    if !unserved.is_empty() {
        let zones: BTreeSet<&str> = zoned.iter().map(|(_, z)| *z).filter(|z| !served.contains(z)).collect();
        return Check::fail(
            id,
            &lb.name,
            format!(
                "cross-zone load balancing is off ({whose}) and wanted targets {} are in zones {} does not serve \
                 (it serves {}): no node sends them traffic",
                unserved.join(", "),
                lb.name,
                joined(&served.iter().collect::<Vec<_>>(), ", ")
            ),
            format!(
                "{turn_on}; or enable {} on the load balancer (a subnet in each)",
                joined(&zones.iter().collect::<Vec<_>>(), ", ")
            ),
        );
    }
    let with_target: BTreeSet<&str> = zoned.iter().map(|(_, z)| *z).collect();
    let empty: Vec<&str> = served.iter().copied().filter(|z| !with_target.contains(z)).collect();
    if !zoned.is_empty() && !empty.is_empty() {
        return Check::warn(
            id,
            &lb.name,
            format!(
                "cross-zone load balancing is off ({whose}): the nodes of {} in {} have no wanted target, so \
                 consumers whose endpoint uses those nodes cannot connect",
                lb.name,
                empty.join(", ")
            ),
            turn_on,
        );
    }
    Check::pass(
        id,
        &lb.name,
        format!("cross-zone load balancing is off ({whose}), but every zone {} serves has a wanted target", lb.name),
    )
}

/// The zone of the subnet holding the target's address.
fn zone_of<'a>(subnets: &'a [Subnet], target: &Target) -> Option<&'a str> {
    subnets.iter().find(|s| s.cidrs.iter().any(|c| c.contains(&target.ip))).map(|s| s.zone.as_str())
}

/// The load balancers by name, for a check's resource.
pub(super) fn balancer_names(balancers: &[LoadBalancer]) -> String {
    balancers.iter().map(|lb| lb.name.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::sample::{self, facts, wanted};
    use super::*;
    use crate::doctor::check::CheckStatus;
    use crate::target::TargetHealth;

    fn cross_zone_off(f: &mut GroupFacts) {
        f.load_balancers.as_mut().unwrap()[0].attributes.insert(CROSS_ZONE.into(), "false".into());
    }

    #[test]
    fn a_group_no_listener_forwards_to_fails() {
        let mut f = facts();
        f.target_group.as_mut().unwrap().load_balancer_arns.clear();
        let check = load_balancer(&f);
        assert_eq!((check.status, check.resource.as_str()), (CheckStatus::Fail, "orders"));
        assert!(check.message.contains("attached to no load balancer"), "{check:?}");
        assert!(check.fix.unwrap().contains("listener"));

        let mut f = facts();
        f.load_balancers.as_mut().unwrap()[0].listeners[0].forwards_to = vec!["arn:other".into()];
        let check = load_balancer(&f);
        assert_eq!(check.status, CheckStatus::Fail);
        assert!(check.message.contains("none of its listeners forwards"), "{check:?}");
    }

    #[test]
    fn the_forwarding_listener_is_named() {
        let check = load_balancer(&facts());
        assert_eq!(check.status, CheckStatus::Pass);
        assert_eq!(check.message, "listener TCP:3306 of orders-nlb forwards to it");
        assert_eq!(check.resource, "orders-nlb");
    }

    #[test]
    fn unreadable_load_balancers_cannot_be_checked() {
        let mut f = facts();
        f.load_balancers = Err(sample::unread());
        for check in [load_balancer(&f), cross_zone(&f).remove(0)] {
            assert_eq!(check.status, CheckStatus::Fail);
            assert!(check.message.starts_with("cannot check: EC2 DescribeThings"), "{check:?}");
        }
    }

    #[test]
    fn a_target_in_a_zone_the_load_balancer_does_not_serve_fails_while_cross_zone_is_off() {
        let mut f = facts();
        f.targets = Ok(vec![wanted("10.1.3.5", Some(TargetHealth::Unused)), wanted("10.1.1.10", None)]);
        assert_eq!(cross_zone(&f)[0].status, CheckStatus::Pass, "cross-zone on: every node reaches it");
        cross_zone_off(&mut f);
        let check = cross_zone(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Fail, "{check:?}");
        assert!(check.message.contains("10.1.3.5:3306 (us-east-1c)"), "{check:?}");
        assert!(check.message.contains("serves us-east-1a, us-east-1b"), "{check:?}");
        let fix = check.fix.unwrap();
        assert!(fix.contains("Key=load_balancing.cross_zone.enabled,Value=true") && fix.contains("us-east-1c"));
    }

    #[test]
    fn the_target_groups_own_setting_wins_over_the_load_balancers() {
        let mut f = facts();
        f.targets = Ok(vec![wanted("10.1.3.5", None)]);
        let tg = f.target_group.as_mut().unwrap();
        tg.attributes.insert(CROSS_ZONE.into(), "false".into());
        let check = cross_zone(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Fail);
        assert!(check.message.contains("the target group turns it off"), "{check:?}");
    }

    #[test]
    fn with_cross_zone_off_a_served_zone_without_a_wanted_target_is_a_warning() {
        let mut f = facts();
        cross_zone_off(&mut f);
        let check = cross_zone(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Warn, "{check:?}");
        assert!(check.message.contains("in us-east-1b have no wanted target"), "{check:?}");
        f.targets = Ok(vec![wanted("10.1.1.10", None), wanted("10.1.2.20", None)]);
        assert_eq!(cross_zone(&f)[0].status, CheckStatus::Pass);
    }

    #[test]
    fn addresses_outside_the_vpc_are_reached_from_every_zone() {
        let mut f = facts();
        cross_zone_off(&mut f);
        f.targets = Ok(vec![wanted("172.31.9.9", None)]);
        assert_eq!(cross_zone(&f)[0].status, CheckStatus::Pass);
    }

    #[test]
    fn without_a_load_balancer_cross_zone_is_not_checked() {
        let mut f = facts();
        f.load_balancers = Ok(vec![]);
        let check = cross_zone(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Warn);
        assert!(check.message.starts_with("not checked"), "{check:?}");
    }
}
