//! `security-group-path`: do the databases' VPC security groups let the
//! load balancer in on the target port? An NLB with security groups comes
//! from them; one without comes from the private addresses of its subnets.
//! Without that path every health check times out and every target is
//! unhealthy. One check per database the sources name; left out when no
//! source names an RDS resource (`dns:` sources only).

use std::collections::BTreeSet;

use super::balancer::balancer_names;
use crate::doctor::check::{Check, CheckId};
use crate::doctor::facts::{Cidr, Database, GroupFacts, IngressRule, LoadBalancer, SecurityGroup, Subnet};

pub fn security_group_path(f: &GroupFacts) -> Vec<Check> {
    let id = CheckId::SecurityGroupPath;
    if f.databases.is_empty() {
        return Vec::new();
    }
    let balancers = match &f.load_balancers {
        Ok(balancers) if balancers.is_empty() => return vec![Check::without_load_balancer(id, &f.name)],
        Ok(balancers) => balancers,
        Err(unread) => return vec![Check::cannot(id, &f.name, unread)],
    };
    let Some(port) = f.port else {
        return vec![Check::fail(
            id,
            &f.name,
            "the target group has no port to check",
            "give the target group a port, or the nlb-target-sync:port tag",
        )];
    };
    let mut seen = BTreeSet::new();
    let mut checks = Vec::new();
    for database in &f.databases {
        let database = match database {
            Ok(database) => database,
            Err(unread) => {
                checks.push(Check::cannot(id, &f.name, unread));
                continue;
            }
        };
        if !seen.insert(&database.label) {
            continue;
        }
        checks.push(match (&f.security_groups, &f.subnets) {
            (Err(unread), _) | (_, Err(unread)) => Check::cannot(id, groups_resource(database), unread),
            (Ok(groups), Ok(subnets)) => path_to(database, balancers, groups, subnets, port),
        });
    }
    checks
}

fn groups_resource(database: &Database) -> String {
    if database.security_groups.is_empty() { database.label.clone() } else { database.security_groups.join(", ") }
}

/// Whether the database's groups admit every load balancer on `port`.
fn path_to(
    database: &Database,
    balancers: &[LoadBalancer],
    groups: &[SecurityGroup],
    subnets: &[Subnet],
    port: u16,
) -> Check {
    let id = CheckId::SecurityGroupPath;
    let own: Vec<&SecurityGroup> = groups.iter().filter(|g| database.security_groups.contains(&g.id)).collect();
    let named = own.iter().map(|g| format!("{} ({})", g.id, g.name)).collect::<Vec<_>>().join(", ");
    let named = if named.is_empty() { "none".to_string() } else { named };
    let rules: Vec<&IngressRule> =
        own.iter().flat_map(|g| g.ingress.iter()).filter(|r| r.admits_tcp_port(port)).collect();
    let mut admitted = Vec::new();
    for lb in balancers {
        let by_group = lb.security_groups.iter().find(|sg| rules.iter().any(|r| r.groups.iter().any(|g| g == *sg)));
        if let Some(group) = by_group {
            admitted.push(format!("{} from its security group {group}", lb.name));
            continue;
        }
        let blocks = subnet_blocks(lb, subnets);
        let uncovered: Vec<&Cidr> =
            blocks.iter().filter(|b| !rules.iter().any(|r| r.cidrs.iter().any(|c| c.covers(b)))).collect();
        if !blocks.is_empty() && uncovered.is_empty() {
            admitted.push(format!("{} from its subnets {}", lb.name, listed(&blocks)));
            continue;
        }
        let target = database.security_groups.first().map_or("<the database's security group>", String::as_str);
        let (from, fix) = match lb.security_groups.first() {
            Some(lb_group) => (
                format!("its security group {}", lb.security_groups.join(", ")),
                format!(
                    "add an inbound rule for TCP {port} from the load balancer's security group to {target}: aws ec2 \
                     authorize-security-group-ingress --group-id {target} --protocol tcp --port {port} --source-group \
                     {lb_group} (a full-producer stack's output LoadBalancerSecurityGroupId)"
                ),
            ),
            None => (
                format!("its subnets {}", if blocks.is_empty() { "(unknown)".to_string() } else { listed(&blocks) }),
                cidr_fix(target, port, &uncovered),
            ),
        };
        return Check::fail(
            id,
            groups_resource(database),
            format!(
                "the security groups of {} ({named}) do not admit {} on TCP {port} from {from}: its health checks \
                 time out and every target is unhealthy",
                database.label, lb.name
            ),
            fix,
        );
    }
    Check::pass(
        id,
        groups_resource(database),
        format!(
            "the security groups of {} ({named}) admit {} on TCP {port}",
            database.label,
            if admitted.is_empty() { balancer_names(balancers) } else { admitted.join("; ") }
        ),
    )
}

/// The rules that admit each block not admitted yet.
fn cidr_fix(target: &str, port: u16, uncovered: &[&Cidr]) -> String {
    let command = |block: &str| {
        format!(
            "aws ec2 authorize-security-group-ingress --group-id {target} --protocol tcp --port {port} --cidr {block}"
        )
    };
    match uncovered {
        [] => format!(
            "add an inbound rule for TCP {port} from each of the load balancer's subnets to {target}: {}",
            command("<subnet block>")
        ),
        [first, rest @ ..] => {
            let mut fix = format!(
                "add an inbound rule for TCP {port} from each of the load balancer's subnets to {target}: {}",
                command(&first.to_string())
            );
            if !rest.is_empty() {
                fix.push_str(&format!(", and the same with --cidr {}", listed_refs(rest)));
            }
            fix
        }
    }
}

/// The blocks the load balancer's addresses come from: its subnets' IPv4
/// blocks (IPv6 ones only for an IPv6-only subnet).
fn subnet_blocks(lb: &LoadBalancer, subnets: &[Subnet]) -> Vec<Cidr> {
    lb.zones
        .iter()
        .filter_map(|z| subnets.iter().find(|s| Some(&s.id) == z.subnet_id.as_ref()))
        .flat_map(|s| {
            let v4: Vec<Cidr> = s.cidrs.iter().copied().filter(Cidr::is_ipv4).collect();
            if v4.is_empty() { s.cidrs.clone() } else { v4 }
        })
        .collect()
}

fn listed(blocks: &[Cidr]) -> String {
    blocks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn listed_refs(blocks: &[&Cidr]) -> String {
    blocks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::sample::{cidr, facts, unread};
    use super::*;
    use crate::doctor::check::CheckStatus;
    use crate::spec::Source;

    fn rule(f: &mut GroupFacts) -> &mut IngressRule {
        &mut f.security_groups.as_mut().unwrap()[0].ingress[0]
    }

    #[test]
    fn a_rule_from_the_load_balancers_security_group_passes() {
        let checks = security_group_path(&facts());
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status, CheckStatus::Pass, "{checks:?}");
        assert_eq!(checks[0].resource, "sg-db");
        assert!(checks[0].message.contains("orders-nlb from its security group sg-nlb"), "{checks:?}");
    }

    #[test]
    fn no_rule_for_the_load_balancer_fails_naming_the_group_and_the_command() {
        let mut f = facts();
        rule(&mut f).groups = vec!["sg-other".into()];
        let check = security_group_path(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Fail);
        assert_eq!(check.resource, "sg-db");
        assert!(check.message.contains("DB cluster orders (sg-db (orders-db)) do not admit orders-nlb on TCP 3306"));
        let fix = check.fix.unwrap();
        assert!(fix.contains("--group-id sg-db --protocol tcp --port 3306 --source-group sg-nlb"), "{fix}");
    }

    #[test]
    fn the_wrong_port_fails() {
        let mut f = facts();
        let r = rule(&mut f);
        (r.from_port, r.to_port) = (Some(5432), Some(5432));
        assert_eq!(security_group_path(&f)[0].status, CheckStatus::Fail);
    }

    #[test]
    fn without_security_groups_on_the_load_balancer_every_subnet_must_be_admitted() {
        let mut f = facts();
        f.load_balancers.as_mut().unwrap()[0].security_groups.clear();
        let check = security_group_path(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Fail, "the rule names a group the load balancer does not have");
        assert!(check.message.contains("from its subnets 10.1.1.0/24, 10.1.2.0/24"), "{check:?}");

        *rule(&mut f) = IngressRule {
            protocol: "tcp".into(),
            from_port: Some(3306),
            to_port: Some(3306),
            cidrs: vec![cidr("10.1.1.0/24")],
            groups: vec![],
        };
        let check = security_group_path(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Fail, "one subnet is not admitted");
        assert!(check.fix.unwrap().ends_with("--group-id sg-db --protocol tcp --port 3306 --cidr 10.1.2.0/24"));

        rule(&mut f).cidrs = vec![cidr("10.1.0.0/16")];
        let check = security_group_path(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
        assert!(check.message.contains("from its subnets 10.1.1.0/24, 10.1.2.0/24"));
    }

    #[test]
    fn only_dns_sources_leave_the_check_out_and_unreadable_facts_fail_it() {
        let mut f = facts();
        f.sources = vec![Source::Dns { hostname: "db.internal".into() }];
        f.databases.clear();
        assert!(security_group_path(&f).is_empty());

        let mut f = facts();
        f.security_groups = Err(unread());
        let check = security_group_path(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Fail);
        assert!(check.message.starts_with("cannot check"));

        let mut f = facts();
        f.databases = vec![Err(unread())];
        assert!(security_group_path(&f)[0].message.starts_with("cannot check"));
    }
}
