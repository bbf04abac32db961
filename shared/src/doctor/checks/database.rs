//! `mysql-max-connect-errors`: MySQL counts every connection that never
//! completes a login as an error of the host it came from, and after
//! `max_connect_errors` of them in a row (100 by default) refuses that host:
//! "Host '...' is blocked because of many connection errors". An NLB's TCP
//! health checks are such connections, each from a load balancer node's
//! address, so with the default the nodes get blocked and every consumer
//! behind them with them. RDS Proxy is not affected: the health checks reach
//! the proxy, and the proxy opens only whole logins to the database. One
//! check per parameter group of the MySQL-family databases the sources reach
//! directly; left out when there are none.

use std::collections::BTreeMap;

use crate::doctor::check::{Check, CheckId};
use crate::doctor::facts::{GroupFacts, Read};

/// At least this many: at one health check every 10 s from a node, over a
/// hundred days of checks without one login from that node in between.
pub const MAX_CONNECT_ERRORS_FLOOR: u64 = 1_000_000;
/// MySQL's (and RDS's) value when the parameter group sets none.
const MYSQL_DEFAULT: u64 = 100;
/// The largest value MySQL accepts: never block.
const NEVER_BLOCK: &str = "18446744073709551615";

/// Engines that block hosts after `max_connect_errors` failed connections.
pub fn is_mysql_family(engine: &str) -> bool {
    matches!(engine.to_ascii_lowercase().as_str(), "mysql" | "mariadb" | "aurora-mysql" | "aurora")
}

pub fn mysql_max_connect_errors(f: &GroupFacts) -> Vec<Check> {
    // parameter group -> (its value, the instances using it)
    let mut groups: BTreeMap<&str, (&Read<Option<String>>, Vec<&str>)> = BTreeMap::new();
    for database in f.databases.iter().flatten().filter(|d| !d.is_proxy && is_mysql_family(&d.engine)) {
        for setting in &database.connect_errors {
            let entry = groups.entry(setting.parameter_group.as_str()).or_insert((&setting.value, Vec::new()));
            if !entry.1.contains(&setting.instance.as_str()) {
                entry.1.push(&setting.instance);
            }
        }
    }
    groups.into_iter().map(|(group, (value, instances))| check_group(group, value, &instances.join(", "))).collect()
}

fn check_group(group: &str, value: &Read<Option<String>>, instances: &str) -> Check {
    let id = CheckId::MysqlMaxConnectErrors;
    let value = match value {
        Ok(value) => value,
        Err(unread) => return Check::cannot(id, group, unread),
    };
    let fix = fix(group, instances);
    let blocked_after = |n: u64| {
        format!(
            "the load balancer's TCP health checks never log in, and MySQL blocks a node's address after {n} of them \
             in a row (\"Host ... is blocked because of many connection errors\")"
        )
    };
    match value.as_deref().map(|v| (v, v.trim().parse::<u64>())) {
        None => Check::warn(
            id,
            group,
            format!(
                "parameter group {group} ({instances}) does not set max_connect_errors, so MySQL's default of \
                 {MYSQL_DEFAULT} applies: {}",
                blocked_after(MYSQL_DEFAULT)
            ),
            fix,
        ),
        Some((_, Ok(n))) if n >= MAX_CONNECT_ERRORS_FLOOR => Check::pass(
            id,
            group,
            format!(
                "parameter group {group} ({instances}) sets max_connect_errors to {n}: health checks cannot get the load balancer blocked"
            ),
        ),
        Some((_, Ok(n))) => Check::warn(
            id,
            group,
            format!("parameter group {group} ({instances}) sets max_connect_errors to {n}: {}", blocked_after(n)),
            fix,
        ),
        Some((text, Err(_))) => Check::warn(
            id,
            group,
            format!(
                "parameter group {group} ({instances}) sets max_connect_errors to '{text}', which is not a number doctor can compare"
            ),
            fix,
        ),
    }
}

fn fix(group: &str, instances: &str) -> String {
    let set = if group.starts_with("default.") {
        format!(
            "default parameter groups cannot be changed: create a DB parameter group of the same family with \
             max_connect_errors = {NEVER_BLOCK} (or at least {MAX_CONNECT_ERRORS_FLOOR}) and attach it to {instances}"
        )
    } else {
        format!(
            "aws rds modify-db-parameter-group --db-parameter-group-name {group} --parameters \
             ParameterName=max_connect_errors,ParameterValue={NEVER_BLOCK},ApplyMethod=immediate"
        )
    };
    format!(
        "{set}; unblock the addresses already blocked with FLUSH HOSTS (mysqladmin flush-hosts); or reach the \
         database through RDS Proxy, whose connections to it are whole logins"
    )
}

#[cfg(test)]
mod tests {
    use super::super::sample::{facts, unread};
    use super::*;
    use crate::doctor::check::CheckStatus;
    use crate::doctor::facts::{ConnectErrorsSetting, Database, GroupFacts};

    fn database(f: &mut GroupFacts) -> &mut Database {
        f.databases[0].as_mut().unwrap()
    }

    fn with_value(value: Option<&str>) -> GroupFacts {
        let mut f = facts();
        database(&mut f).connect_errors[0].value = Ok(value.map(str::to_string));
        f
    }

    #[test]
    fn the_default_and_low_values_are_warnings() {
        let checks = mysql_max_connect_errors(&with_value(None));
        assert_eq!(checks.len(), 1);
        assert_eq!((checks[0].status, checks[0].resource.as_str()), (CheckStatus::Warn, "orders-params"));
        assert!(checks[0].message.contains("default of 100"), "{checks:?}");
        assert!(checks[0].message.contains("orders-1"), "{checks:?}");
        let fix = checks[0].fix.as_deref().unwrap();
        assert!(fix.contains("modify-db-parameter-group --db-parameter-group-name orders-params"), "{fix}");
        assert!(fix.contains("FLUSH HOSTS") && fix.contains("RDS Proxy"), "{fix}");

        assert_eq!(mysql_max_connect_errors(&with_value(Some("999999")))[0].status, CheckStatus::Warn);
        assert_eq!(mysql_max_connect_errors(&with_value(Some("1000000")))[0].status, CheckStatus::Pass);
        assert_eq!(mysql_max_connect_errors(&with_value(Some("{formula}")))[0].status, CheckStatus::Warn);
    }

    #[test]
    fn a_default_group_cannot_be_changed_so_the_fix_says_to_make_one() {
        let mut f = with_value(None);
        database(&mut f).connect_errors[0].parameter_group = "default.aurora-mysql8.0".into();
        let fix = mysql_max_connect_errors(&f).remove(0).fix.unwrap();
        assert!(fix.starts_with("default parameter groups cannot be changed"), "{fix}");
    }

    #[test]
    fn one_check_per_parameter_group() {
        let mut f = with_value(None);
        let db = database(&mut f);
        db.connect_errors.push(ConnectErrorsSetting {
            instance: "orders-2".into(),
            parameter_group: "orders-params".into(),
            value: Ok(None),
        });
        let checks = mysql_max_connect_errors(&f);
        assert_eq!(checks.len(), 1);
        assert!(checks[0].message.contains("(orders-1, orders-2)"), "{checks:?}");
    }

    #[test]
    fn other_engines_and_proxies_leave_the_check_out() {
        let mut f = with_value(None);
        database(&mut f).engine = "aurora-postgresql".into();
        assert!(mysql_max_connect_errors(&f).is_empty());
        let mut f = with_value(None);
        database(&mut f).is_proxy = true;
        assert!(mysql_max_connect_errors(&f).is_empty(), "the proxy takes the health checks");
        for engine in ["mysql", "MariaDB", "aurora-mysql", "aurora"] {
            assert!(is_mysql_family(engine), "{engine}");
        }
        assert!(!is_mysql_family("postgres") && !is_mysql_family("MYSQL-ish"));
    }

    #[test]
    fn an_unreadable_parameter_fails() {
        let mut f = facts();
        database(&mut f).connect_errors[0].value = Err(unread());
        assert!(mysql_max_connect_errors(&f)[0].message.starts_with("cannot check"));
    }
}
