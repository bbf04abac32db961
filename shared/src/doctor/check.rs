//! A check's verdict: its stable id, pass, warn or fail, the resource it
//! concerns, what it found and, unless it passed, what to do.

use std::fmt;

use super::facts::Unread;

/// The checks, in the order `doctor` reports them. Their ids are a contract:
/// scripts and monitors select checks by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckId {
    LoadBalancer,
    TargetHealth,
    InSync,
    ConnectionTermination,
    DeregistrationDelay,
    CrossZone,
    SecurityGroupPath,
    MysqlMaxConnectErrors,
    EndpointService,
}

impl CheckId {
    pub const ALL: [CheckId; 9] = [
        CheckId::LoadBalancer,
        CheckId::TargetHealth,
        CheckId::InSync,
        CheckId::ConnectionTermination,
        CheckId::DeregistrationDelay,
        CheckId::CrossZone,
        CheckId::SecurityGroupPath,
        CheckId::MysqlMaxConnectErrors,
        CheckId::EndpointService,
    ];

    /// The stable id.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::LoadBalancer => "load-balancer",
            CheckId::TargetHealth => "target-health",
            CheckId::InSync => "in-sync",
            CheckId::ConnectionTermination => "connection-termination",
            CheckId::DeregistrationDelay => "deregistration-delay",
            CheckId::CrossZone => "cross-zone",
            CheckId::SecurityGroupPath => "security-group-path",
            CheckId::MysqlMaxConnectErrors => "mysql-max-connect-errors",
            CheckId::EndpointService => "endpoint-service",
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A check's verdict. Ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckStatus {
    Pass,
    /// Consumers can connect, but something will hurt them (after a failover, later).
    Warn,
    /// Something stands between consumers and the database now, or the check could not run.
    Fail,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub id: CheckId,
    pub status: CheckStatus,
    /// What the finding is about: a target group, load balancer, security
    /// group, parameter group or endpoint service.
    pub resource: String,
    pub message: String,
    /// What to do; `None` when the check passed.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(id: CheckId, resource: impl Into<String>, message: impl Into<String>) -> Check {
        Check { id, status: CheckStatus::Pass, resource: resource.into(), message: message.into(), fix: None }
    }

    pub fn warn(id: CheckId, resource: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: CheckStatus::Warn,
            resource: resource.into(),
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(id: CheckId, resource: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: CheckStatus::Fail,
            resource: resource.into(),
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// The check could not run because a fact it needs could not be read: a failure.
    pub fn cannot(id: CheckId, resource: impl Into<String>, unread: &Unread) -> Check {
        Check::fail(id, resource, format!("cannot check: {}", unread.reason), unread.fix.clone())
    }

    /// There is nothing to check because the target group has no load
    /// balancer (the `load-balancer` check fails for it).
    pub fn without_load_balancer(id: CheckId, resource: impl Into<String>) -> Check {
        Check::warn(
            id,
            resource,
            "not checked: the target group is attached to no load balancer (see load-balancer)",
            "attach the target group to a load balancer's listener, then run doctor again",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_documented_ones_in_order() {
        let ids: Vec<&str> = CheckId::ALL.iter().map(|id| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "load-balancer",
                "target-health",
                "in-sync",
                "connection-termination",
                "deregistration-delay",
                "cross-zone",
                "security-group-path",
                "mysql-max-connect-errors",
                "endpoint-service"
            ]
        );
        assert!(CheckId::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn statuses_order_from_best_to_worst() {
        assert!(CheckStatus::Pass < CheckStatus::Warn && CheckStatus::Warn < CheckStatus::Fail);
        let unread = Unread::new("EC2 DescribeSubnets on vpc-1 failed: AccessDenied", "allow it");
        let check = Check::cannot(CheckId::CrossZone, "tg", &unread);
        assert_eq!(check.status, CheckStatus::Fail);
        assert_eq!(check.message, "cannot check: EC2 DescribeSubnets on vpc-1 failed: AccessDenied");
        assert_eq!(check.fix.as_deref(), Some("allow it"));
    }
}
