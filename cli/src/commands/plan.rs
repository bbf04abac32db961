//! `plan`: what a sync would change, from the engine's own dry run.

use std::fmt::Write as _;

use clap::Args;
use nlb_target_sync::OperateError;
use nlb_target_sync::RunOutcome;

use super::{Invocation, Outcome, TargetGroupNames};
use crate::error::CliError;
use crate::progress::ProgressLine;
use crate::run_report::{Changes, RunJson, changes_pending, failed_before_any_group, run_text};
use crate::text::{GOOD, PENDING, paint};

/// What a sync would register, deregister and hold back, and why; changes
/// nothing. Exit code 0: nothing to change, 2: changes pending, 1: error.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    groups: TargetGroupNames,
}

pub async fn run(invocation: &Invocation, args: PlanArgs) -> Result<Outcome, CliError> {
    let engine = invocation.dry_run_engine().await?;
    let progress = ProgressLine::start("resolving the sources and planning");
    let planned =
        async { Ok::<_, OperateError>(engine.sync(&engine.select(&args.groups.target_groups).await?).await) }.await;
    progress.finish();
    let run = planned?;
    if let Some(error) = failed_before_any_group(&run) {
        return Err(error);
    }
    invocation.output.write(|| RunJson::from(&run), || text(&run))?;
    Ok(if !run.errors().is_empty() {
        Outcome::Failed
    } else if changes_pending(&run) {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}

/// What a sync would do, and whether `apply` has anything to make.
pub fn text(run: &RunOutcome) -> String {
    let mut out = String::new();
    run_text(&mut out, run, Changes::Planned);
    let verdict = if changes_pending(run) {
        paint(PENDING, "changes pending: `apply` makes them")
    } else {
        paint(GOOD, "nothing to change")
    };
    let _ = writeln!(out, "\n{verdict}");
    out
}
