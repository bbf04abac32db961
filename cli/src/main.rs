//! `nlb-target-sync`: the operator's command line. A trigger like the three
//! functions: it reads the same settings, builds the same engine and calls
//! its methods (`status`, `run` in a dry run for `plan`, `apply`, `explain`,
//! `tag`, `untag`, `doctor`), so every safety rule of the functions holds here
//! too. `doctor` also reads EC2 (`ec2.rs`), which only the command line links.
//! Each command is a module under `commands/`.
//!
//! Exit codes: 0 done (for `plan`: nothing to change), 2 `plan` found changes
//! pending, 1 anything failed (a usage error included), with one line on
//! stderr and no stack trace (`failure.rs`).

mod cli;
mod commands;
mod ec2;
mod error;
mod failure;
mod output;
mod progress;
mod run_report;
mod settings;
mod text;
mod time;

use std::process::ExitCode;

use clap::Parser;
use nlb_target_sync::telemetry;

use cli::Cli;
use commands::{Invocation, Outcome};
use error::CliError;
use failure::Shown;
use output::Output;

fn main() -> ExitCode {
    // A bug is reported in one line, never as a stack trace.
    std::panic::set_hook(Box::new(|info| {
        anstream::eprintln!("error: internal error ({info}); please report it with the command you ran");
    }));
    telemetry::init_terminal_logging();
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
    let output = cli.global.output;
    match runtime.block_on(run(cli)) {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            let shown = Shown::new(error);
            let style = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{style}error:{style:#} {}", shown.line);
            if output == Output::Json {
                // Best effort: the line on stderr has said it already.
                let _ = output.write(|| shown.json, String::new);
            }
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<Outcome, CliError> {
    let invocation = Invocation::new(cli.global)?;
    cli.command.run(&invocation).await
}
