//! `sync-on-schedule`: run by a scheduled EventBridge rule (or EventBridge
//! Scheduler). Syncs every tagged target group, or only `targetGroupArns` when
//! the payload names some, and fails the invocation if any target group failed.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use nlb_target_sync::report::{SyncReport, Trigger};
use nlb_target_sync::{engine_from_env, telemetry};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_logging();
    // A setting that cannot be used (a malformed allow-list among them) stops
    // the function here, said in its log, before any invocation.
    let engine = engine_from_env().await.inspect_err(|error| telemetry::emit_startup_failure(error))?;
    let engine = &engine;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let run = engine.on_schedule(&event.payload).await.map_err(|e| diagnostic("InvalidPayload", &e))?;
        telemetry::emit_run(&run, Trigger::Schedule);
        let run = run.into_result().map_err(|failed| diagnostic("SyncFailed", &failed))?;
        Ok::<_, Diagnostic>(serde_json::to_value(SyncReport::from(&run)).unwrap_or_default())
    }))
    .await
}

/// The invocation's error: its type and what failed.
fn diagnostic(error_type: &str, error: &dyn std::error::Error) -> Diagnostic {
    Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
}
