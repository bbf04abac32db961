//! Which source tokens a target group may follow (`NLB_SYNC_ALLOWED_SOURCES`).
//!
//! A pattern matches a token in its canonical form (`rds-cluster:x` is
//! `rds-cluster:x:writer`, the form the sources tag is written in), ignoring
//! case as RDS identifiers and host names do. A pattern without `*` is read
//! as a token, so `rds-cluster:x` allows exactly `rds-cluster:x:writer`.

use std::fmt;

use super::pattern::Pattern;
use super::{PolicyError, read_items};
use crate::listing::joined;
use crate::spec::Source;

/// The kinds a source token starts with.
const KINDS: [&str; 4] = ["rds-cluster:", "rds-instance:", "rds-proxy:", "dns:"];

/// The source tokens a target group may follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedSources {
    /// Every source (the variable unset or empty).
    #[default]
    Any,
    /// Only tokens that match one of these patterns.
    Matching(Vec<Pattern>),
}

impl AllowedSources {
    /// Reads space-separated patterns; an empty value allows every source.
    pub fn parse(value: &str) -> Result<AllowedSources, PolicyError> {
        let patterns = read_items(value, source_pattern)?;
        Ok(if patterns.is_empty() { AllowedSources::Any } else { AllowedSources::Matching(patterns) })
    }

    /// True when a target group may follow `source`.
    pub fn allows(&self, source: &Source) -> bool {
        match self {
            AllowedSources::Any => true,
            AllowedSources::Matching(patterns) => {
                let token = canonical_token(source);
                patterns.iter().any(|pattern| pattern.matches(&token))
            }
        }
    }

    /// The sources of `sources` this does not allow, in order.
    pub fn refused(&self, sources: &[Source]) -> Vec<Source> {
        sources.iter().filter(|source| !self.allows(source)).cloned().collect()
    }
}

impl fmt::Display for AllowedSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedSources::Any => f.write_str("every source"),
            AllowedSources::Matching(patterns) => f.write_str(&joined(patterns, " ")),
        }
    }
}

/// The token as patterns see it: its canonical text, lower case.
fn canonical_token(source: &Source) -> String {
    source.to_string().to_ascii_lowercase()
}

/// One pattern, checked: only characters a token can hold (and `*`), a known
/// source kind where the pattern names one, and, without `*`, a valid token
/// (kept in its canonical form).
fn source_pattern(item: &str) -> Result<Pattern, PolicyError> {
    let text = item.to_ascii_lowercase();
    if let Some(bad) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._:*".contains(*c))) {
        return Err(PolicyError::new(
            item,
            format!("holds '{bad}': a source pattern has letters, digits, '-', '.', '_', ':' and '*'"),
        ));
    }
    let pattern = Pattern::new(text);
    if !pattern.has_wildcard() {
        let source: Source = pattern.as_str().parse().map_err(|error| {
            PolicyError::new(item, format!("has no '*', so it must be a source token, and it is not: {error}"))
        })?;
        return Ok(Pattern::new(canonical_token(&source)));
    }
    let prefix = pattern.literal_prefix();
    if !KINDS.iter().any(|kind| kind.starts_with(prefix) || prefix.starts_with(kind)) {
        return Err(PolicyError::new(
            item,
            format!("names no source kind: a source pattern starts with one of {} (or '*')", KINDS.join(" ")),
        ));
    }
    Ok(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(token: &str) -> Source {
        token.parse().unwrap()
    }

    fn allows(patterns: &str, token: &str) -> bool {
        AllowedSources::parse(patterns).unwrap().allows(&source(token))
    }

    #[test]
    fn empty_allows_every_source() {
        for value in ["", "  ", "\n"] {
            assert_eq!(AllowedSources::parse(value), Ok(AllowedSources::Any));
        }
        assert!(AllowedSources::Any.allows(&source("dns:anything.example.com")));
        assert_eq!(AllowedSources::Any.to_string(), "every source");
    }

    #[test]
    fn a_star_alone_allows_every_source_and_says_so() {
        let every = AllowedSources::parse("*").unwrap();
        for token in ["rds-cluster:a", "rds-proxy:p:ro", "dns:x.y"] {
            assert!(every.allows(&source(token)), "{token}");
        }
        assert_eq!(every.to_string(), "*");
    }

    #[test]
    fn patterns_match_the_canonical_token() {
        // rds-cluster:x is rds-cluster:x:writer, whichever way either is written.
        assert!(allows("rds-cluster:prod", "rds-cluster:prod:writer"));
        assert!(allows("rds-cluster:prod:writer", "rds-cluster:prod"));
        assert!(!allows("rds-cluster:prod", "rds-cluster:prod:readers"));
        assert!(allows("rds-cluster:prod:*", "rds-cluster:prod"));
        assert!(!allows("rds-cluster:prod:readers", "rds-cluster:prod"));
        // A trailing dot and case do not matter to names, nor to patterns.
        assert!(allows("dns:DB.Example.Internal.", "dns:db.example.internal"));
        assert!(allows("rds-instance:Reporting", "rds-instance:reporting"));
        assert!(allows("rds-instance:reporting", "rds-instance:REPORTING"));
        assert_eq!(AllowedSources::parse("rds-cluster:Prod").unwrap().to_string(), "rds-cluster:prod:writer");
    }

    #[test]
    fn a_pattern_with_a_colon_and_a_star_crosses_colons() {
        let allowed = AllowedSources::parse("rds-cluster:prod-* rds-proxy:*").unwrap();
        assert!(allowed.allows(&source("rds-cluster:prod-a")));
        assert!(allowed.allows(&source("rds-cluster:prod-a:readers")));
        assert!(allowed.allows(&source("rds-proxy:app:read-only")), "':' inside the run of '*'");
        assert!(!allowed.allows(&source("rds-cluster:prod")), "prod- needs the hyphen");
        assert!(!allowed.allows(&source("rds-cluster:staging-a")));
        assert!(!allowed.allows(&source("dns:prod-a.internal")));
        assert!(!allowed.allows(&source("rds-instance:prod-a")));
        assert!(AllowedSources::parse("*:prod-*").unwrap().allows(&source("dns:prod-1.db.internal")));
        assert!(AllowedSources::parse("rds-*").unwrap().allows(&source("rds-instance:x")));
        assert!(!AllowedSources::parse("rds-*").unwrap().allows(&source("dns:rds-x.internal")));
    }

    #[test]
    fn refused_lists_the_sources_no_pattern_allows_in_order() {
        let allowed = AllowedSources::parse("rds-cluster:* rds-instance:* rds-proxy:*").unwrap();
        let sources = vec![source("dns:b.internal"), source("rds-proxy:p"), source("dns:a.internal")];
        assert_eq!(allowed.refused(&sources), vec![source("dns:b.internal"), source("dns:a.internal")]);
        assert!(AllowedSources::Any.refused(&sources).is_empty());
    }

    #[test]
    fn duplicates_collapse_and_the_list_reads_back() {
        let allowed = AllowedSources::parse("rds-proxy:* rds-proxy:* dns:*.internal").unwrap();
        assert_eq!(allowed.to_string(), "rds-proxy:* dns:*.internal");
        assert_eq!(AllowedSources::parse(&allowed.to_string()), Ok(allowed));
    }

    #[test]
    fn malformed_patterns_are_named_with_what_is_wrong() {
        for (value, item, problem) in [
            ("rds-cluster:* rds-clustr:*", "rds-clustr:*", "names no source kind"),
            ("mysql:*", "mysql:*", "names no source kind"),
            ("rds-cluster:prod,rds-proxy:*", "rds-cluster:prod,rds-proxy:*", "holds ','"),
            ("dns:db?.internal", "dns:db?.internal", "holds '?'"),
            ("rds-cluster:prod:primary", "rds-cluster:prod:primary", "unknown cluster role 'primary'"),
            ("rds-proxy", "rds-proxy", "must be a source token"),
        ] {
            let error = AllowedSources::parse(value).unwrap_err();
            assert_eq!(error.item, item, "{value}");
            assert!(error.to_string().contains(problem), "{value}: {error}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn no_pattern_value_panics_and_what_parses_reads_back(
            value in proptest::prop_oneof![
                "(rds-cluster:|rds-instance:|rds-proxy:|dns:|\\*|:|-|[a-z]{1,4}|\\.| ){0,12}",
                proptest::prelude::any::<String>(),
            ],
            token in "(rds-cluster|rds-instance|rds-proxy|dns):[a-z][a-z0-9-]{0,6}(:writer|:readers)?"
        ) {
            if let Ok(allowed) = AllowedSources::parse(&value) {
                if let AllowedSources::Matching(_) = &allowed {
                    proptest::prop_assert_eq!(AllowedSources::parse(&allowed.to_string()), Ok(allowed.clone()));
                }
                if let Ok(source) = token.parse::<Source>() {
                    let _ = allowed.allows(&source);
                }
            }
        }
    }
}
