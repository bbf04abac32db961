//! Whether a target group can be synced, whoever asks (a run, the custom
//! resource, the command line): it exists, takes `ip` targets, carries a
//! readable sync spec, and has a port to register on.

use crate::spec::{SOURCES_TAG, SpecError, SyncSpec};
use crate::target::TargetGroupInfo;

/// Why a target group cannot be synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error(
        "target group '{target_group}' does not exist in this account and region; check its ARN or name, \
         and the account and region in use"
    )]
    NotFound { target_group: String },
    #[error(
        "target group {target_group} has no {SOURCES_TAG} tag, so it is not managed; tag it or leave it out of targetGroupArns"
    )]
    NotManaged { target_group: String },
    #[error("target group {target_group}: tag {tag} is invalid: {error}")]
    InvalidSpec { target_group: String, tag: &'static str, error: SpecError },
    #[error("target group {target_group} has target type '{target_type}'; only 'ip' target groups can be synced")]
    NotIp { target_group: String, target_type: String },
    #[error("target group {target_group} has no port; set the nlb-target-sync:port tag")]
    NoPort { target_group: String },
}

/// A target group that can be synced: its spec and the port its targets take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedGroup {
    pub spec: SyncSpec,
    pub port: u16,
}

impl TargetGroupInfo {
    /// The name people know the target group by (its ARN when it has none).
    pub fn label(&self) -> &str {
        if self.name.is_empty() { &self.arn } else { &self.name }
    }

    /// `Err` unless the group takes `ip` targets (the only kind sync registers).
    pub fn require_ip(&self) -> Result<(), GroupError> {
        if self.target_type == "ip" {
            return Ok(());
        }
        Err(GroupError::NotIp { target_group: self.label().to_string(), target_type: self.target_type.clone() })
    }

    /// The spec its tags hold, when it carries one (`Ok(None)`: not managed).
    pub fn spec(&self) -> Result<Option<SyncSpec>, GroupError> {
        SyncSpec::from_tags(&self.tags).map_err(|error| GroupError::InvalidSpec {
            target_group: self.label().to_string(),
            tag: error.tag(),
            error,
        })
    }

    /// The group as sync sees it: managed, readable, `ip`, with a port.
    pub fn managed(&self) -> Result<ManagedGroup, GroupError> {
        let target_group = || self.label().to_string();
        let spec = self.spec()?.ok_or_else(|| GroupError::NotManaged { target_group: target_group() })?;
        self.require_ip()?;
        let port = spec.port.or(self.port).ok_or_else(|| GroupError::NoPort { target_group: target_group() })?;
        Ok(ManagedGroup { spec, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::PORT_TAG;
    use crate::target::AddressFamilies;

    fn group(target_type: &str, port: Option<u16>, tags: &[(&str, &str)]) -> TargetGroupInfo {
        TargetGroupInfo {
            arn: "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/db/1".into(),
            name: "db".into(),
            port,
            target_type: target_type.into(),
            families: AddressFamilies::V4,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn a_group_is_managed_only_when_tagged_readable_ip_and_with_a_port() {
        let ok = group("ip", Some(5432), &[(SOURCES_TAG, "rds-proxy:p")]).managed().unwrap();
        assert_eq!((ok.port, ok.spec.sources.len()), (5432, 1));
        let tagged_port = group("ip", None, &[(SOURCES_TAG, "rds-proxy:p"), (PORT_TAG, "3306")]).managed().unwrap();
        assert_eq!(tagged_port.port, 3306);
        assert!(matches!(group("ip", Some(1), &[]).managed(), Err(GroupError::NotManaged { .. })));
        assert!(matches!(
            group("ip", Some(1), &[(SOURCES_TAG, "nope")]).managed(),
            Err(GroupError::InvalidSpec { tag: SOURCES_TAG, .. })
        ));
        let instance = group("instance", Some(1), &[(SOURCES_TAG, "rds-proxy:p")]).managed().unwrap_err();
        assert!(instance.to_string().contains("target type 'instance'"), "{instance}");
        assert!(matches!(group("ip", None, &[(SOURCES_TAG, "rds-proxy:p")]).managed(), Err(GroupError::NoPort { .. })));
    }
}
