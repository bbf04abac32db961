//! Which target groups this installation manages (`NLB_SYNC_TARGET_GROUPS`).
//! A pattern matches a target group's name or its full ARN, exactly (ELB
//! names are case-sensitive).

use std::fmt;

use super::pattern::Pattern;
use super::{PolicyError, read_items};
use crate::listing::joined;

/// The target groups this installation may read further and change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TargetGroupScope {
    /// Every target group carrying the sources tag (the variable unset or empty).
    #[default]
    Every,
    /// Only groups whose name or ARN matches one of these patterns.
    Matching(Vec<Pattern>),
}

impl TargetGroupScope {
    /// Reads space-separated patterns over names or ARNs; an empty value
    /// means every target group.
    pub fn parse(value: &str) -> Result<TargetGroupScope, PolicyError> {
        let patterns = read_items(value, scope_pattern)?;
        Ok(if patterns.is_empty() { TargetGroupScope::Every } else { TargetGroupScope::Matching(patterns) })
    }

    /// True when the target group named `name` with `arn` is in scope.
    pub fn covers(&self, name: &str, arn: &str) -> bool {
        match self {
            TargetGroupScope::Every => true,
            TargetGroupScope::Matching(patterns) => {
                patterns.iter().any(|pattern| pattern.matches(name) || pattern.matches(arn))
            }
        }
    }
}

impl fmt::Display for TargetGroupScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetGroupScope::Every => f.write_str("every target group"),
            TargetGroupScope::Matching(patterns) => f.write_str(&joined(patterns, " ")),
        }
    }
}

/// One pattern: names hold letters, digits and '-'; ARNs add ':' and '/'.
fn scope_pattern(item: &str) -> Result<Pattern, PolicyError> {
    match item.chars().find(|c| !(c.is_ascii_alphanumeric() || "-:/*".contains(*c))) {
        Some(bad) => Err(PolicyError::new(
            item,
            format!(
                "holds '{bad}': a target group pattern is a name or an ARN (letters, digits, '-', ':', '/') with '*'"
            ),
        )),
        None => Ok(Pattern::new(item)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orders-db/0123456789abcdef";

    fn covers(value: &str, name: &str) -> bool {
        TargetGroupScope::parse(value).unwrap().covers(name, ARN)
    }

    #[test]
    fn empty_and_star_cover_every_group() {
        assert_eq!(TargetGroupScope::parse(" "), Ok(TargetGroupScope::Every));
        assert!(TargetGroupScope::Every.covers("x", ARN));
        assert!(covers("*", "orders-db"));
    }

    #[test]
    fn a_pattern_matches_the_name_or_the_whole_arn() {
        assert!(covers("orders-*", "orders-db"));
        assert!(covers("orders-db", "orders-db"));
        assert!(!covers("orders", "orders-db"), "no star: the whole name");
        assert!(!covers("Orders-*", "orders-db"), "names are case-sensitive");
        assert!(covers(ARN, "other-name"), "the full ARN");
        assert!(covers("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/*", "x"));
        assert!(!covers("arn:aws:elasticloadbalancing:us-east-1:*", "orders-db"), "another Region");
        assert!(!covers("targetgroup/orders-db/*", "x"), "a part of the ARN is not the ARN");
        assert!(covers("*:targetgroup/orders-*", "x"), "a star crosses ':' and '/'");
    }

    #[test]
    fn the_list_reads_back_and_malformed_patterns_are_named() {
        let scope = TargetGroupScope::parse("db-* db-* arn:aws:*").unwrap();
        assert_eq!(scope.to_string(), "db-* arn:aws:*");
        assert_eq!(TargetGroupScope::Every.to_string(), "every target group");
        for (value, item, bad) in
            [("db-a,db-b", "db-a,db-b", "','"), ("db-* db_a", "db_a", "'_'"), ("db?", "db?", "'?'")]
        {
            let error = TargetGroupScope::parse(value).unwrap_err();
            assert_eq!(error.item, item);
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn no_scope_value_panics(
            value in proptest::prop_oneof!["[a-z0-9:/* -]{0,40}", proptest::prelude::any::<String>()],
            name in proptest::prelude::any::<String>(),
        ) {
            if let Ok(scope) = TargetGroupScope::parse(&value) {
                let _ = scope.covers(&name, ARN);
                if let TargetGroupScope::Matching(_) = &scope {
                    proptest::prop_assert_eq!(TargetGroupScope::parse(&scope.to_string()), Ok(scope.clone()));
                }
            }
        }
    }
}
