//! `sync-on-schedule`: run by a scheduled EventBridge rule (or EventBridge
//! Scheduler). Syncs every tagged target group, or only `targetGroupArns` when
//! the payload names some, and fails the invocation if any target group failed.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use nlb_target_sync::config::engine_from_env;
use nlb_target_sync::telemetry;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_logging();
    let engine = engine_from_env().await?;
    let engine = &engine;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let report = engine.on_schedule(&event.payload).await.map_err(Diagnostic::from)?;
        Ok::<_, Diagnostic>(serde_json::to_value(report).unwrap_or_default())
    }))
    .await
}
