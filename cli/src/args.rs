//! The command line's grammar (clap derive); the settings flags are in
//! `settings.rs`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use nlb_target_sync::target::AddressFamilies;

use crate::settings::SettingFlags;

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
    #[command(flatten)]
    pub settings: SettingFlags,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("nlb-target-sync").chain(args.iter().copied())).unwrap()
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
