//! `sync-on-failover`: RDS events, delivered by an RDS event subscription
//! through SNS or by EventBridge (`source: aws.rds`). Syncs the target groups
//! that follow the event's cluster, instance, proxy or Blue/Green deployment at
//! once, re-checks until the change is applied, and fails the invocation if
//! any of them could not be synced.

use std::time::Duration;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use nlb_target_sync::report::batch_answer;
use nlb_target_sync::{engine_from_env, lambda_deadline, rds_events, telemetry, watch_from_env};
use serde_json::Value;
use tokio::time::Instant;

/// Time kept back from the Lambda deadline to finish and report.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_logging();
    // A setting that cannot be used (a malformed allow-list among them) stops
    // the function here, said in its log, before any invocation.
    let engine = engine_from_env().await.inspect_err(|error| telemetry::emit_startup_failure(error))?;
    let (watch, recheck) = watch_from_env()?;
    let engine = &engine;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let latest = lambda_deadline(&event.context).checked_sub(DEADLINE_MARGIN).unwrap_or_else(Instant::now);
        let deadline = (Instant::now() + watch).min(latest);
        let batch = engine.follow_events(&rds_events(&event.payload), recheck, deadline).await;
        telemetry::emit_batch(&batch);
        let batch = batch
            .into_result()
            .map_err(|failed| Diagnostic { error_type: "SyncFailed".into(), error_message: failed.to_string() })?;
        Ok::<_, Diagnostic>(batch_answer(&batch.records, batch.watch.as_ref().map_or(0, |w| w.runs), batch.last_run()))
    }))
    .await
}
