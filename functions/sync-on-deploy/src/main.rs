//! `sync-on-deploy`: the function behind `Custom::NlbTargetSync`. Every request
//! gets an answer: on success, on error, on a panic in the work, before the
//! Lambda deadline, and even when the function's own configuration is broken.

use std::sync::Arc;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use nlb_target_sync::config::{AwsSyncEngine, engine_from_env};
use nlb_target_sync::custom_resource::{
    CustomResourceRequest, DEFAULT_MARGIN, Failure, HttpSink, Outcome, Progress, RequestType, Success, answer, deadline,
};
use nlb_target_sync::deploy::{DeployError, ResourceSpec, delete, deploy};
use nlb_target_sync::telemetry;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_logging();
    // A broken configuration must still be answered, so it is not fatal here.
    let engine = Arc::new(engine_from_env().await);
    let sink = HttpSink::new();
    let (engine, sink) = (&engine, &sink);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let engine = engine.clone();
        let work = move |request, progress| on_request(engine, request, progress);
        Ok::<_, Diagnostic>(answer(event.payload, deadline(&event.context), DEFAULT_MARGIN, sink, work).await?)
    }))
    .await
}

async fn on_request(
    engine: Arc<Result<AwsSyncEngine, String>>,
    request: CustomResourceRequest,
    progress: Progress,
) -> Outcome {
    let engine = engine.as_ref().as_ref().map_err(|e| Failure::new(format!("sync-on-deploy is misconfigured: {e}")))?;
    let step = |what: &str| progress.set(what);
    // Drill for the always-answer path (tests, game days): the work panics.
    if std::env::var("NLB_SYNC_FAULT_INJECTION").as_deref() == Ok("panic") {
        step("running with NLB_SYNC_FAULT_INJECTION=panic");
        panic!("fault injected by NLB_SYNC_FAULT_INJECTION=panic");
    }
    let physical_id = request.physical_resource_id.clone().unwrap_or_default();
    match request.request_type {
        RequestType::Create | RequestType::Update => {
            let spec = ResourceSpec::from_properties(&request.resource_properties)?;
            // From here on the target group may be changed: a timeout or panic
            // must still answer with its id so the following Delete cleans up.
            if request.request_type == RequestType::Create {
                progress.set_physical_resource_id(&spec.target_group_arn);
            }
            let previous = request.old_resource_properties.as_ref().and_then(|p| ResourceSpec::from_properties(p).ok());
            match deploy(engine, &spec, previous.as_ref(), &step).await {
                Ok(done) => Ok(Success::new(done.physical_id)
                    .with_data("Targets", done.targets.join(","))
                    .with_data("TargetCount", done.targets.len())),
                // A failed Create names the target group it may have tagged, so its
                // Delete cleans up; never a group that belongs to someone else.
                Err(e @ DeployError::AlreadyManaged { .. }) => Err(Failure::new(e.to_string())),
                Err(e) => Err(Failure::new(e.to_string()).with_physical_resource_id(spec.target_group_arn)),
            }
        }
        RequestType::Delete => {
            let spec = ResourceSpec::from_properties(&request.resource_properties).ok();
            match delete(engine, &physical_id, spec.as_ref(), &step).await {
                Ok(_) => Ok(Success::new(physical_id)),
                Err(e) => Err(Failure::new(e.to_string())),
            }
        }
    }
}
