//! The command line's grammar (clap derive) and how its flags become the
//! library's [`Settings`]: a flag wins over its `NLB_SYNC_*` variable, and
//! both are checked by the same rules as in the functions.

use std::collections::BTreeMap;

use clap::{Args, Parser, Subcommand, ValueEnum};
use nlb_target_sync::AddressFamilies;
use nlb_target_sync::{ConfigError, Settings};

/// Keep NLB `ip` target groups equal to the addresses behind RDS: see what a
/// target group holds and why, plan and apply a sync, explain a source, and
/// tag target groups. Uses the standard AWS credential chain.
#[derive(Debug, Parser)]
#[command(name = "nlb-target-sync", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Named profile of the AWS config files (else AWS_PROFILE, else the default chain).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS Region (else AWS_REGION or the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// `table` for people, `json` for scripts (shapes in the README).
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// DNS server as ip or ip:port [env: NLB_SYNC_DNS_SERVER; default: the system resolver].
    #[arg(long, global = true, value_name = "ADDR")]
    pub dns_server: Option<String>,
    /// Timeout of one DNS attempt in ms [env: NLB_SYNC_DNS_TIMEOUT_MS; default: 2000].
    #[arg(long, global = true, value_name = "MS")]
    pub dns_timeout_ms: Option<String>,
    /// Attempts per DNS query [env: NLB_SYNC_DNS_ATTEMPTS; default: 2].
    #[arg(long, global = true, value_name = "N")]
    pub dns_attempts: Option<String>,
    /// Target groups synced at once [env: NLB_SYNC_CONCURRENCY; default: 8].
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<String>,
    /// Queries per dns: source, answers unioned [env: NLB_SYNC_DNS_QUERIES; default: 3].
    #[arg(long, global = true, value_name = "N")]
    pub dns_queries: Option<String>,
    /// Seconds a dns: source must miss an address before it goes [env: NLB_SYNC_DNS_ABSENCE_SECONDS; default: 120].
    #[arg(long, global = true, value_name = "S")]
    pub dns_absence_seconds: Option<String>,
    /// Change nothing: apply, tag and untag only say what they would do [env: NLB_SYNC_DRY_RUN].
    #[arg(long, global = true)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What each managed target group (or the named ones) holds: every target's
    /// health, ELB's reason, which source wants it, and the last applied view.
    Status {
        /// Target group names or ARNs (default: every managed one).
        target_groups: Vec<String>,
    },
    /// What a sync would register, deregister and hold back, and why; changes
    /// nothing. Exit code 0: nothing to change, 2: changes pending, 1: error.
    Plan {
        /// Target group names or ARNs (default: every managed one).
        target_groups: Vec<String>,
    },
    /// Sync now, with the same guards as the functions, and print what was done.
    Apply {
        /// Target group names or ARNs (default: every managed one).
        target_groups: Vec<String>,
        /// Do not ask for confirmation (asked only on a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Then wait up to this many seconds for the wanted targets to pass
        /// health checks, and finish replacing the ones they replace.
        #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3600))]
        wait_healthy: u64,
    },
    /// Resolve one source token and show each step: RDS API answers, DNS
    /// records with TTLs, and the private-address check.
    Explain {
        /// A source token, e.g. rds-cluster:prod:writer, rds-proxy:app, dns:db.internal.
        source: String,
        /// Address families to resolve, as a target group's IpAddressType.
        #[arg(long, value_enum, default_value_t = Family::Ipv4)]
        family: Family,
    },
    /// Validate source tokens with the tag grammar and write them as the
    /// target group's sync tags; prints the resulting spec.
    Tag {
        /// Target group name or ARN.
        target_group: String,
        /// One or more source tokens.
        #[arg(required = true)]
        sources: Vec<String>,
        /// Port to register (default: the target group's port).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Remove the sync tags, so no sync touches the target group again (its
    /// targets stay).
    Untag {
        /// Target group name or ARN.
        target_group: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Family {
    Ipv4,
    Ipv6,
    Dualstack,
}

impl From<Family> for AddressFamilies {
    fn from(family: Family) -> Self {
        match family {
            Family::Ipv4 => AddressFamilies::V4,
            Family::Ipv6 => AddressFamilies::V6,
            Family::Dualstack => AddressFamilies::Both,
        }
    }
}

/// A flag or variable the settings refused, named as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given} '{value}' is invalid: {expected}")]
pub struct SettingError {
    /// `--dns-server` or `environment variable NLB_SYNC_DNS_SERVER`.
    pub given: String,
    pub value: String,
    pub expected: &'static str,
}

/// Each flag and the variable it stands for.
const FLAG_VARIABLES: [(&str, &str); 7] = [
    ("--dns-server", "NLB_SYNC_DNS_SERVER"),
    ("--dns-timeout-ms", "NLB_SYNC_DNS_TIMEOUT_MS"),
    ("--dns-attempts", "NLB_SYNC_DNS_ATTEMPTS"),
    ("--concurrency", "NLB_SYNC_CONCURRENCY"),
    ("--dns-queries", "NLB_SYNC_DNS_QUERIES"),
    ("--dns-absence-seconds", "NLB_SYNC_DNS_ABSENCE_SECONDS"),
    ("--dry-run", "NLB_SYNC_DRY_RUN"),
];

impl Global {
    /// The values given as flags, by the variable each stands for.
    fn flag_values(&self) -> BTreeMap<&'static str, String> {
        let values = [
            self.dns_server.clone(),
            self.dns_timeout_ms.clone(),
            self.dns_attempts.clone(),
            self.concurrency.clone(),
            self.dns_queries.clone(),
            self.dns_absence_seconds.clone(),
            self.dry_run.then(|| "true".to_string()),
        ];
        FLAG_VARIABLES.iter().zip(values).filter_map(|((_, variable), value)| Some((*variable, value?))).collect()
    }

    /// The settings from the flags, else from `env` (the process environment).
    pub fn settings(&self, env: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingError> {
        let flags = self.flag_values();
        Settings::from_lookup(|variable| flags.get(variable).cloned().or_else(|| env(variable))).map_err(
            |ConfigError { variable, value, expected }| {
                let given = match FLAG_VARIABLES.iter().find(|(_, v)| *v == variable) {
                    Some((flag, _)) if flags.contains_key(variable) => (*flag).to_string(),
                    _ => format!("environment variable {variable}"),
                };
                SettingError { given, value, expected }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlb_target_sync::NameServer;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("nlb-target-sync").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn a_flag_wins_over_its_variable_and_errors_name_what_was_given() {
        let env = |k: &str| (k == "NLB_SYNC_DNS_SERVER").then(|| "10.0.0.2".to_string());
        let cli = parse(&["status", "--dns-server", "127.0.0.1:5353"]);
        let settings = cli.global.settings(env).unwrap();
        assert_eq!(settings.name_server, NameServer::At("127.0.0.1:5353".parse().unwrap()));

        let cli = parse(&["plan", "--concurrency", "0"]);
        let err = cli.global.settings(env).unwrap_err();
        assert_eq!(err.given, "--concurrency");
        let bad_env = |k: &str| (k == "NLB_SYNC_DNS_ATTEMPTS").then(|| "nine".to_string());
        let err = parse(&["status"]).global.settings(bad_env).unwrap_err();
        assert!(err.to_string().starts_with("environment variable NLB_SYNC_DNS_ATTEMPTS 'nine'"), "{err}");
    }

    #[test]
    fn dry_run_comes_from_the_flag_or_the_variable() {
        let none = |_: &str| None;
        assert!(parse(&["apply", "--dry-run"]).global.settings(none).unwrap().options.dry_run);
        let env = |k: &str| (k == "NLB_SYNC_DRY_RUN").then(|| "true".to_string());
        assert!(parse(&["apply"]).global.settings(env).unwrap().options.dry_run);
        assert!(!parse(&["apply"]).global.settings(none).unwrap().options.dry_run);
    }

    #[test]
    fn commands_and_their_arguments() {
        let cli = parse(&["tag", "tg-a", "rds-cluster:prod", "dns:db.internal", "--port", "6432", "-o", "json"]);
        assert_eq!(cli.global.output, Output::Json);
        let Command::Tag { target_group, sources, port } = cli.command else { panic!() };
        assert_eq!((target_group.as_str(), sources.len(), port), ("tg-a", 2, Some(6432)));
        assert!(Cli::try_parse_from(["nlb-target-sync", "tag", "tg-a"]).is_err(), "a source is required");
        assert!(Cli::try_parse_from(["nlb-target-sync", "apply", "--wait-healthy", "4000"]).is_err());
    }

    #[test]
    fn the_grammar_passes_clap_checks() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
