//! `nlb-target-sync`: the operator's command line. A trigger like the three
//! functions: it reads the same settings, builds the same engine and calls
//! its methods (`status`, `run` in a dry run for `plan`, `apply`, `explain`,
//! `tag`, `untag`), so every safety rule of the functions holds here too.
//!
//! Exit codes: 0 done (for `plan`: nothing to change), 2 `plan` found changes
//! pending, 1 anything failed (a usage error included).

mod args;
mod json;
mod progress;
mod settings;
mod text;
mod time;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nlb_target_sync::adapters::load_config_with;
use nlb_target_sync::config::{AwsSyncEngine, ConfigError, Settings, SetupError, engine_with};
use nlb_target_sync::operate::{OperateError, spec_from_tokens};
use nlb_target_sync::spec::{Source, SpecError};
use nlb_target_sync::sync::GroupOutcome;
use serde_json::Value;

use args::{Cli, Command, Global, Output};
use progress::Progress;

/// How a command ended, as the exit code tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
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

/// Why a command could not run at all.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// Boxed: the engine's errors carry whole API failures.
    #[error(transparent)]
    Operate(Box<OperateError>),
    #[error("{0}")]
    BadSource(SpecError),
    #[error("cannot read the answer to the confirmation prompt: {0}; pass --yes to apply without asking")]
    Prompt(std::io::Error),
    #[error("apply cancelled: nothing was changed")]
    Cancelled,
    #[error("cannot write the output: {0}")]
    Write(std::io::Error),
}

impl From<OperateError> for CliError {
    fn from(error: OperateError) -> Self {
        CliError::Operate(Box::new(error))
    }
}

fn main() -> ExitCode {
    // A bug is reported in one line, never as a stack trace.
    std::panic::set_hook(Box::new(|info| {
        anstream::eprintln!("error: internal error ({info}); please report it with the command you ran");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // Exit code 2 means "changes pending"; usage errors are failures.
            return if error.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            anstream::eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            let style = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{style}error:{style:#} {error}");
            ExitCode::from(1)
        }
    }
}

async fn engine(global: &Global, settings: &Settings) -> Result<AwsSyncEngine, CliError> {
    let config = load_config_with(global.profile.as_deref(), global.region.as_deref()).await;
    Ok(engine_with(settings, &config)?)
}

/// Writes the result: JSON for scripts, else the text for people.
fn emit(output: Output, json: impl FnOnce() -> Value, text: impl FnOnce() -> String) -> Result<(), CliError> {
    match output {
        Output::Json => {
            let mut stdout = std::io::stdout().lock();
            let body = serde_json::to_string_pretty(&json()).unwrap_or_default();
            writeln!(stdout, "{body}").map_err(CliError::Write)
        }
        Output::Table => anstream::stdout().write_all(text().as_bytes()).map_err(CliError::Write),
    }
}

fn pending(groups: &[GroupOutcome]) -> bool {
    groups.iter().any(GroupOutcome::changed)
}

async fn run(cli: Cli) -> Result<Outcome, CliError> {
    let global = &cli.global;
    let output = global.output;
    let mut settings = global.settings.settings()?;
    match cli.command {
        Command::Status { target_groups } => {
            let engine = engine(global, &settings).await?;
            let progress = Progress::start("resolving the sources and reading target health");
            let groups = engine.status(&target_groups).await;
            progress.finish();
            let groups = groups?;
            emit(output, || json::status(&groups), || text::status(&groups))?;
            let failed = groups.iter().any(|g| g.error.is_some() || !g.unresolved.is_empty());
            Ok(if failed { Outcome::Failed } else { Outcome::Done })
        }
        Command::Plan { target_groups } => {
            settings.options.dry_run = true;
            let engine = engine(global, &settings).await?;
            let progress = Progress::start("resolving the sources and planning");
            let planned =
                async { Ok::<_, OperateError>(engine.run(&engine.select(&target_groups).await?).await) }.await;
            progress.finish();
            let run = planned?;
            emit(output, || json::run(&run), || text::plan(&run))?;
            Ok(if !run.errors().is_empty() {
                Outcome::Failed
            } else if pending(&run.groups) {
                Outcome::ChangesPending
            } else {
                Outcome::Done
            })
        }
        Command::Apply { target_groups, yes, wait_healthy } => {
            let engine = engine(global, &settings).await?;
            let selection = engine.select(&target_groups).await?;
            let ask =
                !yes && !settings.options.dry_run && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
            if ask && !confirm(global, &settings, &selection).await? {
                return Err(CliError::Cancelled);
            }
            let progress = Progress::start("resolving the sources and syncing");
            let wait = Duration::from_secs(wait_healthy);
            let applied = engine.apply(&selection, wait, &|step: &str| progress.step(step)).await;
            progress.finish();
            let waited = !wait.is_zero() && !applied.run.dry_run;
            emit(output, || json::applied(&applied, waited), || text::applied(&applied, waited))?;
            Ok(if applied.succeeded() { Outcome::Done } else { Outcome::Failed })
        }
        Command::Explain { source, family } => {
            let source: Source = source.parse().map_err(CliError::BadSource)?;
            let engine = engine(global, &settings).await?;
            let progress = Progress::start(&format!("resolving {source}"));
            let explained = engine.explain(&source, family.into()).await;
            progress.finish();
            emit(output, || json::explanation(&explained), || text::explanation(&explained))?;
            Ok(if explained.usable() { Outcome::Done } else { Outcome::Failed })
        }
        Command::Tag { target_group, sources, port } => {
            // The tokens are checked before anything is asked of AWS.
            let spec = spec_from_tokens(&sources, port).map_err(OperateError::from)?;
            let engine = engine(global, &settings).await?;
            let tagged = engine.tag(&target_group, spec).await?;
            emit(output, || json::tagged(&tagged), || text::tagged(&tagged))?;
            Ok(Outcome::Done)
        }
        Command::Untag { target_group } => {
            let engine = engine(global, &settings).await?;
            let untagged = engine.untag(&target_group).await?;
            emit(output, || json::untagged(&untagged), || text::untagged(&untagged))?;
            Ok(Outcome::Done)
        }
    }
}

/// On a terminal: shows the plan (a dry run) and asks before changing anything.
async fn confirm(
    global: &Global,
    settings: &Settings,
    selection: &nlb_target_sync::sync::Selection,
) -> Result<bool, CliError> {
    let mut preview = settings.clone();
    preview.options.dry_run = true;
    let engine = engine(global, &preview).await?;
    let progress = Progress::start("resolving the sources and planning");
    let plan = engine.run(selection).await;
    progress.finish();
    anstream::stdout().write_all(text::plan(&plan).as_bytes()).map_err(CliError::Write)?;
    if !pending(&plan.groups) {
        return Ok(true);
    }
    print!("\nApply these changes? Only 'yes' applies: ");
    std::io::stdout().flush().map_err(CliError::Write)?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(CliError::Prompt)?;
    Ok(answer.trim() == "yes")
}
