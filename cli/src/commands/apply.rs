//! `apply`: a sync now, with every guard of the functions; on a terminal it
//! shows the plan and asks first.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use nlb_target_sync::Selection;
use nlb_target_sync::Settled;
use serde::Serialize;

use super::{Invocation, Outcome, TargetGroupNames, plan};
use crate::error::CliError;
use crate::output::texts;
use crate::progress::ProgressLine;
use crate::run_report::{Changes, RunJson, changes_pending, failed_before_any_group, run_text};
use crate::text::{BAD, PENDING, joined, paint};

/// Sync now, with the same guards as the functions, and print what was done.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    groups: TargetGroupNames,
    /// Do not ask for confirmation (asked only on a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Then wait up to this many seconds for the wanted targets to pass
    /// health checks, and finish replacing the ones they replace.
    #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3600))]
    wait_healthy: u64,
}

pub async fn run(invocation: &Invocation, args: ApplyArgs) -> Result<Outcome, CliError> {
    let engine = invocation.engine().await?;
    let selection = engine.select(&args.groups.target_groups).await?;
    let ask = !args.yes
        && !invocation.settings.options.dry_run
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    if ask && !confirm(invocation, &selection).await? {
        return Err(CliError::Cancelled);
    }
    let progress = ProgressLine::start("resolving the sources and syncing");
    let wait = Duration::from_secs(args.wait_healthy);
    let applied = engine.apply(&selection, wait, &|step: &str| progress.step(step)).await;
    progress.finish();
    if let Some(error) = failed_before_any_group(&applied.run) {
        return Err(error);
    }
    let waited = !wait.is_zero() && !applied.run.dry_run;
    invocation.output.write(|| AppliedJson::new(&applied, waited), || text(&applied, waited))?;
    Ok(Outcome::done_if(applied.succeeded()))
}

/// Shows the plan (a dry run) and asks before changing anything.
async fn confirm(invocation: &Invocation, selection: &Selection) -> Result<bool, CliError> {
    let engine = invocation.dry_run_engine().await?;
    let progress = ProgressLine::start("resolving the sources and planning");
    let planned = engine.sync(selection).await;
    progress.finish();
    anstream::stdout().write_all(plan::text(&planned).as_bytes()).map_err(CliError::Write)?;
    if !changes_pending(&planned) {
        return Ok(true);
    }
    print!("\nApply these changes? Only 'yes' applies: ");
    std::io::stdout().flush().map_err(CliError::Write)?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(CliError::Prompt)?;
    Ok(answer.trim() == "yes")
}

/// [`RunJson`] plus `wait` and `afterWait`: `null` or the report of the run
/// that removed the targets the healthy ones replace.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppliedJson<'a> {
    #[serde(flatten)]
    run: RunJson,
    wait: Option<WaitJson<'a>>,
    after_wait: Option<RunJson>,
}

/// `{"seconds", "unhealthy": [{"targetGroupArn", "targets": ["ip:port state"]}]}`
#[derive(Debug, Serialize)]
struct WaitJson<'a> {
    seconds: f64,
    unhealthy: Vec<UnhealthyJson<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UnhealthyJson<'a> {
    target_group_arn: &'a str,
    targets: Vec<String>,
}

impl<'a> AppliedJson<'a> {
    fn new(applied: &'a Settled, waited: bool) -> Self {
        let wait = waited.then(|| WaitJson {
            seconds: applied.waited.as_secs_f64(),
            unhealthy: applied
                .unhealthy
                .iter()
                .filter(|(_, pending)| !pending.is_empty())
                .map(|(arn, pending)| UnhealthyJson { target_group_arn: arn, targets: texts(pending) })
                .collect(),
        });
        AppliedJson { run: RunJson::from(&applied.run), wait, after_wait: applied.finish.as_ref().map(RunJson::from) }
    }
}

/// What `apply` did, the wait, and the run after it.
fn text(applied: &Settled, waited: bool) -> String {
    let mut out = String::new();
    if applied.run.dry_run {
        let _ = writeln!(out, "{}", paint(PENDING, "dry run: nothing was changed; this is what a sync would do"));
    }
    run_text(&mut out, &applied.run, Changes::Made);
    if waited {
        let _ = writeln!(out, "\nwaited {:.0?} for health checks", applied.waited);
        for (arn, pending) in applied.unhealthy.iter().filter(|(_, pending)| !pending.is_empty()) {
            let _ = writeln!(out, "  {} {arn}: {}", paint(BAD, "not healthy"), joined(pending, "-"));
        }
    }
    if let Some(finish) = &applied.finish {
        let _ = writeln!(out, "\nafter the wait:");
        run_text(&mut out, finish, Changes::Made);
    }
    out
}
