//! `sync-on-failover`: subscribed to the SNS topic an RDS event subscription
//! publishes to. Syncs the target groups that follow the event's cluster,
//! instance or proxy at once, re-checks until the change is applied, and fails
//! the invocation if any of them could not be synced.

use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use nlb_target_sync::config::{AwsSyncEngine, engine_from_env, watch_from_env};
use nlb_target_sync::failover::handle_messages;
use nlb_target_sync::sync::RunFailed;
use nlb_target_sync::telemetry;
use serde_json::{Value, json};

/// Time kept back from the Lambda deadline to finish and report.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_logging();
    let engine = engine_from_env().await?;
    let (watch, recheck) = watch_from_env()?;
    let engine = &engine;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        let left = event.context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
        let deadline = Instant::now() + watch.min(left.saturating_sub(DEADLINE_MARGIN));
        handle(engine, event.payload, recheck, deadline).await
    }))
    .await
}

async fn handle(
    engine: &AwsSyncEngine,
    event: SnsEvent,
    recheck: Duration,
    deadline: Instant,
) -> Result<Value, Diagnostic> {
    let messages: Vec<String> = event.records.into_iter().map(|r| r.sns.message).collect();
    let batch = handle_messages(engine, &messages, recheck, deadline).await;
    if !batch.errors.is_empty() {
        let total = batch.watch.as_ref().and_then(|w| w.reports.last()).map_or(1, |r| r.target_groups.len().max(1));
        return Err(RunFailed { errors: batch.errors, total }.into());
    }
    Ok(json!({
        "events": batch.events,
        "runs": batch.watch.as_ref().map_or(0, |w| w.runs),
        "targetGroups": batch.watch.as_ref().and_then(|w| w.reports.last()).map_or(&[][..], |r| &r.target_groups[..]),
    }))
}
