//! `sync-on-deploy`: the function behind `Custom::NlbTargetSync`. Every request
//! gets an answer: on success, on error, on a panic in the work, before the
//! Lambda deadline, and even when the function's own configuration is broken.

use std::sync::Arc;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use nlb_target_sync::custom_resource::{CustomResourceRequest, DEFAULT_MARGIN, Failure, HttpSink, Progress, answer};
use nlb_target_sync::report::Trigger;
use nlb_target_sync::{engine_from_env, lambda_deadline, panic_drill_from_env, telemetry};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_logging();
    // A broken configuration must still be answered, so it is not fatal here.
    let engine = Arc::new(engine_from_env().await);
    let (sink, panic_drill) = (HttpSink::new(), panic_drill_from_env());
    let (engine, sink) = (&engine, &sink);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let engine = engine.clone();
        let work = move |request: CustomResourceRequest, progress: Progress| async move {
            let engine =
                engine.as_ref().as_ref().map_err(|e| Failure::new(format!("sync-on-deploy is misconfigured: {e}")))?;
            if panic_drill {
                progress.set("running with NLB_SYNC_FAULT_INJECTION=panic");
                panic!("fault injected by NLB_SYNC_FAULT_INJECTION=panic");
            }
            let mut runs = Vec::new();
            let outcome = engine.on_resource_request(&request, &progress, &mut runs).await;
            runs.iter().for_each(|run| telemetry::emit_run(run, Trigger::Deploy));
            outcome
        };
        let deadline = lambda_deadline(&event.context);
        answer(event.payload, deadline, DEFAULT_MARGIN, sink, work)
            .await
            .map_err(|e| Diagnostic { error_type: e.kind().into(), error_message: e.to_string() })
    }))
    .await
}
