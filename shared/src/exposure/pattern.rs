//! Patterns over names: `*` matches any run of characters (`:` and `/`
//! included, none at all too); every other character matches itself.

use std::fmt;

/// One pattern, as the installer wrote it (after the owner's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// A pattern over `text`; the caller has checked its characters.
    pub(crate) fn new(text: impl Into<String>) -> Pattern {
        Pattern(text.into())
    }

    /// True when the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        wildcard_match(self.0.as_bytes(), text.as_bytes())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text before the first `*` (all of it when there is none).
    pub(crate) fn literal_prefix(&self) -> &str {
        self.0.split('*').next().unwrap_or_default()
    }

    pub(crate) fn has_wildcard(&self) -> bool {
        self.0.contains('*')
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Greedy matching that remembers only the last `*`: linear memory, no
/// recursion, at most `pattern.len() * text.len()` steps. Byte-wise, which is
/// exact for UTF-8: a literal run only matches whole characters.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last `*` seen, and where in `text` its run ends so far.
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                // Let the last `*` take one more character and try again.
                Some((star, run_end)) => {
                    p = star + 1;
                    t = run_end + 1;
                    last_star = Some((star, run_end + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).matches(text)
    }

    #[test]
    fn a_star_matches_any_run_and_nothing_else_is_special() {
        assert!(matches("*", ""));
        assert!(matches("*", "rds-cluster:prod:writer"));
        assert!(matches("rds-cluster:prod-*", "rds-cluster:prod-a:writer"), "a star crosses ':'");
        assert!(matches("*/db-*/*", "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/db-a/0f"), "and '/'");
        assert!(matches("a*b*c", "abc") && matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
        assert!(matches("**", "x") && matches("x**", "x"));
        assert!(!matches("rds-cluster:prod", "rds-cluster:prod:writer"), "no star: the whole text");
        assert!(!matches("rds-cluster:prod-*", "rds-cluster:prod:writer"));
        assert!(!matches("dns:*.internal", "dns:db.internal.example.com"));
        assert!(!matches("?", "a") && matches("?", "?"), "only '*' is special");
        assert!(!matches("", "a") && matches("", ""));
    }

    #[test]
    fn the_last_star_backtracks_far_enough() {
        assert!(matches("*ab", "aab"));
        assert!(matches("*a*ab", "xaxaab"));
        assert!(!matches("*a*ab", "xaxab_"));
        assert!(matches("é*ü", "éaü"), "UTF-8 text matches by whole characters");
    }
}
