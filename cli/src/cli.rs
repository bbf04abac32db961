//! The command line's grammar (clap derive): the flags every command takes;
//! each command's own arguments are in its module under `commands/`.

use clap::{Args, Parser};

use crate::commands::Command;
use crate::output::Output;
use crate::settings::SettingFlags;

/// Keep NLB `ip` target groups equal to the addresses behind RDS: see what a
/// target group holds and why, plan and apply a sync, explain a source, tag
/// target groups, and find why consumers cannot connect (doctor). Uses the
/// standard AWS credential chain.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_passes_clap_checks() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let cli = Cli::try_parse_from(["nlb-target-sync", "-o", "json", "status", "--region", "eu-west-1"]).unwrap();
        assert_eq!((cli.global.output, cli.global.region.as_deref()), (Output::Json, Some("eu-west-1")));
    }
}
