//! Who may expose what: the installer's policy over the sources a target
//! group may follow (`NLB_SYNC_ALLOWED_SOURCES`), the addresses that may be
//! registered (`NLB_SYNC_ALLOWED_CIDRS`) and the target groups this
//! installation manages at all (`NLB_SYNC_TARGET_GROUPS`).
//!
//! Whoever may write the `nlb-target-sync:sources` tag decides what a target
//! group follows; this policy bounds what it may follow. It is pure: parsed
//! once at start-up (a malformed pattern or CIDR is an error naming it, never
//! a silent allow) and consulted by the engine before it reads a group
//! further or writes anything. Unset or empty, each part allows what the
//! functions did without it: every source, the private ranges, every tagged
//! target group.
//!
//! Patterns: `*` matches any run of characters, `:` and `/` included; every
//! other character matches itself (`pattern.rs`).

mod addresses;
mod pattern;
mod scope;
mod sources;

pub use addresses::AllowedAddresses;
pub use pattern::Pattern;
pub use scope::TargetGroupScope;
pub use sources::AllowedSources;

use crate::listing::joined;
use crate::spec::Source;
use crate::target::TargetGroupInfo;

/// A pattern or CIDR of the policy that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{item}' {problem}")]
pub struct PolicyError {
    /// The pattern or CIDR as given.
    pub item: String,
    /// What is wrong with it, and what is expected.
    pub problem: String,
}

impl PolicyError {
    fn new(item: &str, problem: impl Into<String>) -> PolicyError {
        PolicyError { item: item.to_string(), problem: problem.into() }
    }
}

/// The space-separated items of `value`, each read by `read`, in the order
/// given without repeats; the first item that cannot be read is the error.
fn read_items<T: PartialEq>(value: &str, read: impl Fn(&str) -> Result<T, PolicyError>) -> Result<Vec<T>, PolicyError> {
    let mut items: Vec<T> = Vec::new();
    for text in value.split_whitespace() {
        let item = read(text)?;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

/// What the installer allows this installation to expose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExposurePolicy {
    pub sources: AllowedSources,
    pub addresses: AllowedAddresses,
    pub target_groups: TargetGroupScope,
}

/// Something the policy does not allow, and the allow-list that refuses it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "target group {target_group} is outside NLB_SYNC_TARGET_GROUPS ({scope}): this installation does not \
         manage it and left it as it is; the installer can widen the list (template parameter AllowedTargetGroups)"
    )]
    OutOfScope { target_group: String, scope: TargetGroupScope },
    #[error(
        "target group {target_group}: {} not allowed by NLB_SYNC_ALLOWED_SOURCES ({allowed}), so the target group \
         was left as it is; follow only allowed sources, or have the installer allow these (template parameter \
         AllowedSources)",
        refused_text(refused)
    )]
    SourcesNotAllowed { target_group: String, refused: Vec<Source>, allowed: AllowedSources },
}

fn refused_text(refused: &[Source]) -> String {
    match refused {
        [one] => format!("source {one} is"),
        many => format!("sources {} are", joined(many, ", ")),
    }
}

impl ExposurePolicy {
    /// True when this installation manages `group` (its name or ARN is in
    /// [`TargetGroupScope`]); a group outside is not read further.
    pub fn covers(&self, group: &TargetGroupInfo) -> bool {
        self.target_groups.covers(&group.name, &group.arn)
    }

    /// `Ok` when `group` is in scope and may follow every one of `sources`.
    pub fn admit(&self, group: &TargetGroupInfo, sources: &[Source]) -> Result<(), Refusal> {
        let target_group = group.label().to_string();
        if !self.covers(group) {
            return Err(Refusal::OutOfScope { target_group, scope: self.target_groups.clone() });
        }
        let refused = self.sources.refused(sources);
        if refused.is_empty() {
            return Ok(());
        }
        Err(Refusal::SourcesNotAllowed { target_group, refused, allowed: self.sources.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::AddressFamilies;

    fn group(name: &str) -> TargetGroupInfo {
        TargetGroupInfo {
            arn: format!("arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/{name}/1"),
            name: name.into(),
            port: Some(5432),
            target_type: "ip".into(),
            families: AddressFamilies::V4,
            tags: Default::default(),
        }
    }

    fn sources(tokens: &str) -> Vec<Source> {
        crate::spec::parse_sources(tokens).unwrap()
    }

    #[test]
    fn the_default_policy_admits_what_the_functions_did_without_one() {
        let policy = ExposurePolicy::default();
        assert_eq!(policy.admit(&group("any"), &sources("dns:x.example.com rds-proxy:p")), Ok(()));
        assert!(policy.addresses.admits(&"10.0.0.1".parse().unwrap()));
        assert!(!policy.addresses.admits(&"203.0.113.1".parse().unwrap()));
    }

    #[test]
    fn a_refusal_names_the_group_the_tokens_and_the_allow_list() {
        let policy = ExposurePolicy {
            sources: AllowedSources::parse("rds-cluster:* rds-proxy:*").unwrap(),
            target_groups: TargetGroupScope::parse("db-*").unwrap(),
            ..ExposurePolicy::default()
        };
        let refusal = policy.admit(&group("db-a"), &sources("rds-proxy:p dns:files.internal")).unwrap_err();
        assert!(
            matches!(&refusal, Refusal::SourcesNotAllowed { refused, .. } if refused == &sources("dns:files.internal"))
        );
        let text = refusal.to_string();
        for needle in
            ["target group db-a", "source dns:files.internal is", "(rds-cluster:* rds-proxy:*)", "AllowedSources"]
        {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        let two = policy.admit(&group("db-a"), &sources("dns:a.internal dns:b.internal")).unwrap_err().to_string();
        assert!(two.contains("sources dns:a.internal, dns:b.internal are"), "{two}");

        // Scope first: a group outside is refused whatever it follows.
        let outside = policy.admit(&group("web"), &sources("rds-proxy:p")).unwrap_err();
        assert!(matches!(outside, Refusal::OutOfScope { .. }));
        assert!(outside.to_string().contains("target group web is outside NLB_SYNC_TARGET_GROUPS (db-*)"), "{outside}");
        assert!(!policy.covers(&group("web")) && policy.covers(&group("db-b")));
    }
}
