//! The sync spec: what a target group says it should contain, read from its tags.
//!
//! Grammar of the `nlb-target-sync:sources` tag: one or more tokens separated by
//! spaces, each one of
//!
//! | token | meaning |
//! |---|---|
//! | `rds-cluster:<id>` or `rds-cluster:<id>:writer` | the cluster's current writer instance |
//! | `rds-cluster:<id>:readers` | every current non-writer member |
//! | `rds-instance:<id>` | one DB instance |
//! | `rds-proxy:<name>` | the proxy's default endpoint (all its addresses) |
//! | `rds-proxy:<name>:<endpoint>` | a custom proxy endpoint |
//! | `dns:<hostname>` | every address the name resolves to |
//!
//! `nlb-target-sync:port` (optional) overrides the target group's port.

use std::collections::BTreeMap;
use std::fmt;

/// Tag that carries the sources. A target group without it is never touched.
pub const SOURCES_TAG: &str = "nlb-target-sync:sources";
/// Optional tag that carries the port to register.
pub const PORT_TAG: &str = "nlb-target-sync:port";
/// Written by sync runs, not by people: when (Unix milliseconds) the sources of
/// the newest change applied to the target group were resolved. A run whose own
/// view is older changes nothing (see `sync`).
pub const VIEW_TAG: &str = "nlb-target-sync:applied-view";

/// Written by sync runs, not by people, on target groups with a `dns:` source:
/// what the group remembers of each name (whether it rotates, what it answered
/// last, which addresses it stopped answering and since when; the grammar is
/// in `memory_tag`). Its key is the one earlier versions used for their
/// absence list, so the IAM policies of deployed stacks allow it.
pub const DNS_MEMORY_TAG: &str = "nlb-target-sync:absent";

/// Written by sync runs under a target group's lease: a digest of the target
/// set the group was left holding with nothing held back, so later runs that
/// want the same set may skip reading its health (see `settled.rs`).
pub const SETTLED_TAG: &str = "nlb-target-sync:settled";

/// The longest tag value ELB takes. The sources tag must fit; the tags the
/// functions write for themselves are cut to fit.
pub const MAX_TAG_VALUE: usize = 256;

/// The tags the functions write for themselves, besides the spec: removed with
/// the spec, never written by people.
pub const STATE_TAGS: [&str; 3] = [VIEW_TAG, DNS_MEMORY_TAG, SETTLED_TAG];

/// The accepted forms, quoted in every grammar error.
pub const ACCEPTED_FORMS: &str = "rds-cluster:<cluster-id>, rds-cluster:<cluster-id>:writer, \
rds-cluster:<cluster-id>:readers, rds-instance:<instance-id>, rds-proxy:<proxy-name>, \
rds-proxy:<proxy-name>:<endpoint-name>, rds-cluster-endpoint:<cluster-id>:<endpoint-name>, dns:<hostname>";

/// Which members of a cluster a source follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClusterRole {
    Writer,
    Readers,
}

/// One place addresses come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Cluster {
        id: String,
        role: ClusterRole,
    },
    Instance {
        id: String,
    },
    Proxy {
        name: String,
        endpoint: Option<String>,
    },
    /// An Aurora custom cluster endpoint: the addresses of its members now.
    ClusterEndpoint {
        cluster: String,
        endpoint: String,
    },
    Dns {
        hostname: String,
    },
}

impl Source {
    /// The RDS identifier this source depends on directly, if any
    /// (cluster id, instance id or proxy name; a custom endpoint's cluster).
    pub fn rds_identifier(&self) -> Option<&str> {
        match self {
            Source::Cluster { id, .. } | Source::Instance { id } => Some(id),
            Source::ClusterEndpoint { cluster, .. } => Some(cluster),
            Source::Proxy { name, .. } => Some(name),
            Source::Dns { .. } => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Cluster { id, role: ClusterRole::Writer } => write!(f, "rds-cluster:{id}:writer"),
            Source::Cluster { id, role: ClusterRole::Readers } => write!(f, "rds-cluster:{id}:readers"),
            Source::Instance { id } => write!(f, "rds-instance:{id}"),
            Source::Proxy { name, endpoint: None } => write!(f, "rds-proxy:{name}"),
            Source::Proxy { name, endpoint: Some(e) } => write!(f, "rds-proxy:{name}:{e}"),
            Source::ClusterEndpoint { cluster, endpoint } => write!(f, "rds-cluster-endpoint:{cluster}:{endpoint}"),
            Source::Dns { hostname } => write!(f, "dns:{hostname}"),
        }
    }
}

impl std::str::FromStr for Source {
    type Err = SpecError;

    fn from_str(token: &str) -> Result<Self, SpecError> {
        let bad = |why: &str| SpecError::BadToken { token: token.to_string(), why: why.to_string() };
        let (kind, rest) = token.split_once(':').ok_or_else(|| bad("a token is <kind>:<identifier>"))?;
        let parts: Vec<&str> = rest.split(':').collect();
        match (kind, parts.as_slice()) {
            ("rds-cluster", [id]) | ("rds-cluster", [id, "writer"]) => {
                check_rds_identifier(id).map_err(|w| bad(&w))?;
                Ok(Source::Cluster { id: id.to_string(), role: ClusterRole::Writer })
            }
            ("rds-cluster", [id, "readers"]) => {
                check_rds_identifier(id).map_err(|w| bad(&w))?;
                Ok(Source::Cluster { id: id.to_string(), role: ClusterRole::Readers })
            }
            ("rds-cluster", [_, role]) => Err(bad(&format!("unknown cluster role '{role}' (use writer or readers)"))),
            ("rds-instance", [id]) => {
                check_rds_identifier(id).map_err(|w| bad(&w))?;
                Ok(Source::Instance { id: id.to_string() })
            }
            ("rds-proxy", [name]) => {
                check_rds_identifier(name).map_err(|w| bad(&w))?;
                Ok(Source::Proxy { name: name.to_string(), endpoint: None })
            }
            ("rds-proxy", [name, endpoint]) => {
                check_rds_identifier(name).map_err(|w| bad(&w))?;
                check_rds_identifier(endpoint).map_err(|w| bad(&w))?;
                Ok(Source::Proxy { name: name.to_string(), endpoint: Some(endpoint.to_string()) })
            }
            ("rds-cluster-endpoint", [cluster, endpoint]) => {
                check_rds_identifier(cluster).map_err(|w| bad(&w))?;
                check_rds_identifier(endpoint).map_err(|w| bad(&w))?;
                Ok(Source::ClusterEndpoint { cluster: cluster.to_string(), endpoint: endpoint.to_string() })
            }
            ("rds-cluster-endpoint", [_]) => Err(bad("a custom endpoint is rds-cluster-endpoint:<cluster>:<endpoint>")),
            ("dns", [hostname]) => {
                check_hostname(hostname).map_err(|w| bad(&w))?;
                Ok(Source::Dns { hostname: hostname.trim_end_matches('.').to_ascii_lowercase() })
            }
            ("rds-cluster" | "rds-instance" | "rds-proxy" | "rds-cluster-endpoint" | "dns", _) => {
                Err(bad(&format!("too many ':'-separated parts for {kind}")))
            }
            _ => Err(bad(&format!("unknown source kind '{kind}'"))),
        }
    }
}

/// What a target group should contain, as its tags say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSpec {
    /// Distinct sources, in the order first written.
    pub sources: Vec<Source>,
    /// Port to register; `None` means the target group's own port.
    pub port: Option<u16>,
}

impl SyncSpec {
    /// Reads the spec from a target group's tags. `Ok(None)` when the sources tag
    /// is absent: such a target group is not managed.
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Result<Option<SyncSpec>, SpecError> {
        let Some(sources) = tags.get(SOURCES_TAG) else {
            return Ok(None);
        };
        let port = tags.get(PORT_TAG).map(|p| parse_port(p)).transpose()?;
        Ok(Some(SyncSpec { sources: parse_sources(sources)?, port }))
    }

    /// A spec to write as tags, from tokens given by a person or a template:
    /// the same grammar as the tag, a port from 1 to 65535, and a sources tag
    /// value that fits in a tag. Checked before any call, so nothing is written
    /// that every later run would refuse.
    pub fn from_tokens<S: AsRef<str>>(tokens: &[S], port: Option<u16>) -> Result<SyncSpec, SpecError> {
        let joined = tokens.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ");
        let sources = parse_sources(&joined)?;
        if port == Some(0) {
            return Err(SpecError::BadPort { value: "0".into() });
        }
        let spec = SyncSpec { sources, port };
        let length = spec.sources_tag_value().len();
        if length > MAX_TAG_VALUE {
            return Err(SpecError::SourcesTooLong { length });
        }
        Ok(spec)
    }

    /// The value to write in the sources tag.
    pub fn sources_tag_value(&self) -> String {
        self.sources.iter().map(Source::to_string).collect::<Vec<_>>().join(" ")
    }
}

/// Parses the value of the sources tag (space-separated tokens).
pub fn parse_sources(value: &str) -> Result<Vec<Source>, SpecError> {
    let mut sources: Vec<Source> = Vec::new();
    for token in value.split_whitespace() {
        let source: Source = token.parse()?;
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    if sources.is_empty() {
        return Err(SpecError::NoSources);
    }
    Ok(sources)
}

/// Parses a port given as text ("5432").
pub fn parse_port(value: &str) -> Result<u16, SpecError> {
    match value.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(SpecError::BadPort { value: value.to_string() }),
    }
}

fn check_rds_identifier(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("the identifier is empty".into());
    }
    if id.len() > 63 {
        return Err(format!("identifier '{id}' is longer than 63 characters"));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!("identifier '{id}' must start with a letter"));
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("identifier '{id}' may hold only letters, digits and hyphens"));
    }
    Ok(())
}

fn check_hostname(name: &str) -> Result<(), String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err("the hostname is empty".into());
    }
    if trimmed.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("'{name}' is an IP address; dns: takes a hostname"));
    }
    if trimmed.len() > 253 {
        return Err(format!("hostname '{name}' is longer than 253 characters"));
    }
    for label in trimmed.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(format!("hostname '{name}' has an invalid label '{label}'"));
        }
    }
    Ok(())
}

/// A sync spec that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("bad source token '{token}': {why}. Accepted forms: {ACCEPTED_FORMS}")]
    BadToken { token: String, why: String },
    #[error("no source given. Accepted forms: {ACCEPTED_FORMS}")]
    NoSources,
    #[error("bad port '{value}': give a whole number from 1 to 65535")]
    BadPort { value: String },
    #[error(
        "the sources take {length} characters in the {SOURCES_TAG} tag, and a tag value holds at most \
         {MAX_TAG_VALUE}; split them over several target groups"
    )]
    SourcesTooLong { length: usize },
}

impl SpecError {
    /// The tag whose value is wrong.
    pub fn tag(&self) -> &'static str {
        match self {
            SpecError::BadToken { .. } | SpecError::NoSources | SpecError::SourcesTooLong { .. } => SOURCES_TAG,
            SpecError::BadPort { .. } => PORT_TAG,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_every_form_and_round_trips() {
        let value = "rds-cluster:prod rds-cluster:prod:readers rds-instance:db1 rds-proxy:p1 \
                     rds-proxy:p1:ro rds-cluster-endpoint:prod:analytics dns:db.example.internal.";
        let sources = parse_sources(value).unwrap();
        assert_eq!(
            sources,
            vec![
                Source::Cluster { id: "prod".into(), role: ClusterRole::Writer },
                Source::Cluster { id: "prod".into(), role: ClusterRole::Readers },
                Source::Instance { id: "db1".into() },
                Source::Proxy { name: "p1".into(), endpoint: None },
                Source::Proxy { name: "p1".into(), endpoint: Some("ro".into()) },
                Source::ClusterEndpoint { cluster: "prod".into(), endpoint: "analytics".into() },
                Source::Dns { hostname: "db.example.internal".into() },
            ]
        );
        let spec = SyncSpec { sources, port: None };
        assert_eq!(
            spec.sources_tag_value(),
            "rds-cluster:prod:writer rds-cluster:prod:readers rds-instance:db1 rds-proxy:p1 \
             rds-proxy:p1:ro rds-cluster-endpoint:prod:analytics dns:db.example.internal"
        );
    }

    #[test]
    fn writer_is_the_default_role_and_duplicates_collapse() {
        let sources = parse_sources("rds-cluster:a  rds-cluster:a:writer").unwrap();
        assert_eq!(sources, vec![Source::Cluster { id: "a".into(), role: ClusterRole::Writer }]);
    }

    #[test]
    fn bad_tokens_name_the_token_and_the_accepted_forms() {
        for (value, needle) in [
            ("rds-clustr:x", "unknown source kind 'rds-clustr'"),
            ("rds-cluster:x:leader", "unknown cluster role 'leader'"),
            ("rds-instance:1db", "must start with a letter"),
            ("rds-instance:db_1", "only letters, digits and hyphens"),
            ("rds-proxy:a:b:c", "too many"),
            ("rds-cluster-endpoint:prod", "rds-cluster-endpoint:<cluster>:<endpoint>"),
            ("rds-cluster-endpoint:prod:2x", "must start with a letter"),
            ("dns:10.0.0.1", "is an IP address"),
            ("dns:bad..name", "invalid label"),
            ("justaword", "<kind>:<identifier>"),
            ("rds-cluster:", "empty"),
        ] {
            let err = parse_sources(value).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(needle), "{value}: {text}");
            assert!(text.contains(ACCEPTED_FORMS), "{value}: {text}");
            assert_eq!(err.tag(), SOURCES_TAG);
        }
    }

    #[test]
    fn empty_sources_are_an_error_not_an_empty_spec() {
        assert_eq!(parse_sources("   "), Err(SpecError::NoSources));
        let err = SyncSpec::from_tags(&tags(&[(SOURCES_TAG, "")])).unwrap_err();
        assert_eq!(err, SpecError::NoSources);
    }

    #[test]
    fn untagged_target_group_has_no_spec() {
        assert_eq!(SyncSpec::from_tags(&tags(&[("Name", "x")])), Ok(None));
    }

    #[test]
    fn port_tag_is_optional_and_validated() {
        let spec = SyncSpec::from_tags(&tags(&[(SOURCES_TAG, "dns:a.b"), (PORT_TAG, "6432")])).unwrap().unwrap();
        assert_eq!(spec.port, Some(6432));
        for bad in ["0", "70000", "x", "-1"] {
            let err = SyncSpec::from_tags(&tags(&[(SOURCES_TAG, "dns:a.b"), (PORT_TAG, bad)])).unwrap_err();
            assert_eq!(err.tag(), PORT_TAG);
            assert!(err.to_string().contains(bad));
        }
    }

    /// Text near the grammar: its kinds, roles and separators, and any character.
    fn token_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        proptest::collection::vec(
            prop_oneof![
                Just("rds-cluster:".to_string()),
                Just("rds-instance:".to_string()),
                Just("rds-proxy:".to_string()),
                Just("dns:".to_string()),
                Just(":writer".to_string()),
                Just(":readers".to_string()),
                Just(":".to_string()),
                Just(".".to_string()),
                Just(" ".to_string()),
                Just("-".to_string()),
                "[a-z][a-z0-9-]{0,8}",
                any::<char>().prop_map(String::from),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn no_sources_value_panics_and_what_parses_round_trips(
            value in proptest::prop_oneof![token_like(), proptest::prelude::any::<String>()]
        ) {
            if let Ok(sources) = parse_sources(&value) {
                let spec = SyncSpec { sources: sources.clone(), port: None };
                proptest::prop_assert_eq!(parse_sources(&spec.sources_tag_value()), Ok(sources));
            }
        }

        #[test]
        fn no_port_value_panics(value in proptest::prelude::any::<String>()) {
            let spec = SyncSpec::from_tags(&tags(&[(SOURCES_TAG, "dns:a.b"), (PORT_TAG, &value)]));
            if let Ok(Some(SyncSpec { port: Some(port), .. })) = spec {
                proptest::prop_assert!(port > 0);
            }
        }
    }
}
