//! One module per command, each with its arguments, its run function and
//! its output (the typed JSON shape and the text): like cargo's `commands/`.
//! Every command is a trigger of the library's engine, built from the same
//! settings as the functions, so every safety rule of the functions holds.

mod apply;
mod doctor;
mod explain;
mod plan;
mod status;
mod tag;
mod untag;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use nlb_target_sync::load_config_with;
use nlb_target_sync::{AwsSyncEngine, RunsIn, Settings, engine_with};

use crate::cli::Global;
use crate::error::CliError;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum Command {
    Status(status::StatusArgs),
    Plan(plan::PlanArgs),
    Apply(apply::ApplyArgs),
    Explain(explain::ExplainArgs),
    Tag(tag::TagArgs),
    Untag(untag::UntagArgs),
    Doctor(doctor::DoctorArgs),
}

impl Command {
    pub async fn run(self, invocation: &Invocation) -> Result<Outcome, CliError> {
        match self {
            Command::Status(args) => status::run(invocation, args).await,
            Command::Plan(args) => plan::run(invocation, args).await,
            Command::Apply(args) => apply::run(invocation, args).await,
            Command::Explain(args) => explain::run(invocation, args).await,
            Command::Tag(args) => tag::run(invocation, args).await,
            Command::Untag(args) => untag::run(invocation, args).await,
            Command::Doctor(args) => doctor::run(invocation, args).await,
        }
    }
}

/// The target groups `status`, `plan` and `apply` cover.
#[derive(Debug, Args)]
pub struct TargetGroupNames {
    /// Target group names or ARNs (default: every managed one).
    pub target_groups: Vec<String>,
}

/// How a command ended, as the exit code tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    ChangesPending,
    Failed,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done => ExitCode::SUCCESS,
            Outcome::ChangesPending => ExitCode::from(2),
            Outcome::Failed => ExitCode::from(1),
        }
    }
}

impl Outcome {
    /// `Done` when it went as asked, else `Failed`.
    fn done_if(succeeded: bool) -> Outcome {
        if succeeded { Outcome::Done } else { Outcome::Failed }
    }
}

/// What every command runs with: where AWS is, the output format and the
/// settings the flags and variables give.
pub struct Invocation {
    profile: Option<String>,
    region: Option<String>,
    pub output: Output,
    pub settings: Settings,
}

impl Invocation {
    pub fn new(global: Global) -> Result<Invocation, CliError> {
        let settings = global.settings.settings()?;
        Ok(Invocation { profile: global.profile, region: global.region, output: global.output, settings })
    }

    /// The engine with the real adapters and these settings.
    async fn engine(&self) -> Result<AwsSyncEngine, CliError> {
        self.engine_with(&self.settings).await
    }

    /// The engine in a dry run whatever the settings say: `plan` and the
    /// preview `apply` asks about change nothing (guard "plan changes nothing").
    async fn dry_run_engine(&self) -> Result<AwsSyncEngine, CliError> {
        let mut settings = self.settings.clone();
        settings.options.dry_run = true;
        self.engine_with(&settings).await
    }

    async fn engine_with(&self, settings: &Settings) -> Result<AwsSyncEngine, CliError> {
        Ok(engine_with(settings, &self.aws_config().await, RunsIn::Terminal)?)
    }

    /// The AWS configuration of `--profile` and `--region` (else the standard chain).
    async fn aws_config(&self) -> aws_config::SdkConfig {
        load_config_with(self.profile.as_deref(), self.region.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("nlb-target-sync").chain(args.iter().copied()))
    }

    #[test]
    fn commands_and_their_arguments() {
        let cli =
            parse(&["tag", "tg-a", "rds-cluster:prod", "dns:db.internal", "--port", "6432", "-o", "json"]).unwrap();
        assert_eq!(cli.global.output, Output::Json);
        let Command::Tag(tag) = cli.command else { panic!("not tag: {:?}", cli.command) };
        assert_eq!(
            format!("{tag:?}"),
            r#"TagArgs { target_group: "tg-a", sources: ["rds-cluster:prod", "dns:db.internal"], port: Some(6432) }"#
        );
        assert!(parse(&["tag", "tg-a"]).is_err(), "a source is required");
        assert!(parse(&["apply", "--wait-healthy", "4000"]).is_err());
        let Command::Status(status) = parse(&["status", "a", "b"]).unwrap().command else { panic!("not status") };
        assert!(format!("{status:?}").contains(r#"target_groups: ["a", "b"]"#), "{status:?}");
    }
}
