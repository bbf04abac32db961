//! The wrapper that makes sure every request is answered: the work runs in its
//! own task against the deadline, and whatever it does becomes an answer.

use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::delivery::{DeliveryError, ResponseSink};
use super::request::{CustomResourceRequest, RequestType, Unparsable};
use super::response::{Failure, Outcome, Response, Status, floor_char_boundary, response_body};

/// A reasonable `margin` for [`answer`]: time kept back from the Lambda
/// deadline to build and deliver the answer.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(10);

/// Delivery always gets at least this long, even past the Lambda deadline.
const MIN_DELIVERY_BUDGET: Duration = Duration::from_secs(1);
/// Delivery stops this long before the Lambda deadline, so the function can
/// still return its own result.
const DELIVERY_SAFETY: Duration = Duration::from_millis(250);
/// Longest `Reason` written to the log line and the summary [`answer`] returns.
const MAX_LOGGED_REASON_BYTES: usize = 16 * 1024;
/// What [`Progress`] says before the logic sets it.
const INITIAL_PROGRESS: &str = "starting";

/// What the resource logic is doing, for the timeout message. Cheap to clone;
/// all clones share one value.
#[derive(Debug, Clone)]
pub struct Progress(Arc<Mutex<(String, Option<String>)>>);

impl Default for Progress {
    fn default() -> Self {
        Progress(Arc::new(Mutex::new((INITIAL_PROGRESS.to_string(), None))))
    }
}

impl Progress {
    pub fn new() -> Self {
        Progress::default()
    }

    /// Records what the logic does now, phrased to follow "while", e.g.
    /// `"resolving sources"`.
    pub fn set(&self, what: impl Into<String>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0 = what.into();
    }

    pub fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// Names the resource the work is about to change, so that a panic or a
    /// timeout after that point still answers with its id (a failed Create is
    /// then followed by a Delete that can clean up).
    pub fn set_physical_resource_id(&self, id: impl Into<String>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1 = Some(id.into());
    }

    pub fn physical_resource_id(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1.clone()
    }
}

/// Why [`answer`] returned an error.
#[derive(Debug, thiserror::Error)]
pub enum CustomResourceError {
    /// The payload has no `ResponseURL`: nobody can be answered.
    #[error("cannot answer CloudFormation: {0} (and it has no ResponseURL to answer to)")]
    Unanswerable(Box<Unparsable>),
    /// The answer was built but not delivered.
    #[error("the {status} answer for {logical_resource_id} was not delivered: {source}")]
    Delivery {
        status: Status,
        logical_resource_id: String,
        #[source]
        source: DeliveryError,
    },
}

impl CustomResourceError {
    /// A short name for the kind of failure, for the invocation's error type.
    pub fn kind(&self) -> &'static str {
        match self {
            CustomResourceError::Unanswerable(_) => "UnanswerableRequest",
            CustomResourceError::Delivery { .. } => "ResponseNotDelivered",
        }
    }
}

/// Answers one custom resource request, whatever happens.
///
/// Parses `payload`; runs `work` in its own task with a [`Progress`] handle,
/// until `deadline - margin`; answers `SUCCESS` or `FAILED` through `sink`;
/// logs one line (`RequestType`, `LogicalResourceId`, `PhysicalResourceId`,
/// `Status`, `Reason`). Answers `FAILED` when the payload is not a valid
/// request but has a `ResponseURL` ("invalid request: ..."), when `work`
/// fails, panics ("internal error: panic: ...") or runs out of time ("timed
/// out after N s while `<progress>`"; the task is then aborted). Delivery gets
/// the time left until `deadline` (at least 1 s).
///
/// Returns the logged summary once the answer is delivered, and an error when
/// there is nobody to answer or delivery failed.
pub async fn answer<S, F, Fut>(
    payload: Value,
    deadline: Instant,
    margin: Duration,
    sink: &S,
    work: F,
) -> Result<Value, CustomResourceError>
where
    S: ResponseSink,
    F: FnOnce(CustomResourceRequest, Progress) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let (url, echo, outcome) = match CustomResourceRequest::parse(&payload) {
        Ok(request) => {
            let url = request.response_url.clone();
            let echo = request.echo();
            let outcome = run_work(request, deadline, margin, work).await;
            (url, echo, outcome)
        }
        Err(unparsable) => {
            let echo = unparsable.echo();
            match unparsable.response_url.clone() {
                Some(url) => (url, echo, Err(Failure::new(format!("invalid request: {}", unparsable.why)))),
                None => {
                    let keys: Vec<&str> =
                        payload.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
                    tracing::error!(
                        "RequestType" = unparsable.request_type.as_deref().unwrap_or(""),
                        "LogicalResourceId" = unparsable.logical_resource_id.as_deref().unwrap_or(""),
                        "Status" = "UNANSWERED",
                        "Reason" = unparsable.why.as_str(),
                        "PayloadKeys" = ?keys,
                        "custom resource request without ResponseURL: cannot answer CloudFormation"
                    );
                    return Err(CustomResourceError::Unanswerable(unparsable));
                }
            }
        }
    };

    let response = Response::from_outcome(&echo, outcome);
    let body = response_body(&response);
    let budget =
        deadline.saturating_duration_since(Instant::now()).saturating_sub(DELIVERY_SAFETY).max(MIN_DELIVERY_BUDGET);
    let delivered = sink.deliver(&url, body, budget).await;

    let request_type = echo.request_type.map(RequestType::as_str).unwrap_or("");
    // The full reason (a log line and the function's result have room for
    // more than the body), within reason.
    let logged_reason = response.reason.as_deref().map(|r| &r[..floor_char_boundary(r, MAX_LOGGED_REASON_BYTES)]);
    let reason = logged_reason.unwrap_or("");
    let summary = json!({
        "RequestType": echo.request_type.map(RequestType::as_str),
        "LogicalResourceId": response.logical_resource_id,
        "PhysicalResourceId": response.physical_resource_id,
        "Status": response.status,
        "Reason": logged_reason,
    });
    match delivered {
        Ok(()) => {
            if response.status == Status::Success {
                tracing::info!(
                    "RequestType" = request_type,
                    "LogicalResourceId" = response.logical_resource_id.as_str(),
                    "PhysicalResourceId" = response.physical_resource_id.as_str(),
                    "Status" = response.status.as_str(),
                    "Reason" = reason,
                    "custom resource answered"
                );
            } else {
                tracing::error!(
                    "RequestType" = request_type,
                    "LogicalResourceId" = response.logical_resource_id.as_str(),
                    "PhysicalResourceId" = response.physical_resource_id.as_str(),
                    "Status" = response.status.as_str(),
                    "Reason" = reason,
                    "custom resource answered"
                );
            }
            Ok(summary)
        }
        Err(source) => {
            tracing::error!(
                "RequestType" = request_type,
                "LogicalResourceId" = response.logical_resource_id.as_str(),
                "PhysicalResourceId" = response.physical_resource_id.as_str(),
                "Status" = response.status.as_str(),
                "Reason" = reason,
                "DeliveryError" = %source,
                "custom resource answer NOT delivered"
            );
            Err(CustomResourceError::Delivery {
                status: response.status,
                logical_resource_id: response.logical_resource_id,
                source,
            })
        }
    }
}

async fn run_work<F, Fut>(request: CustomResourceRequest, deadline: Instant, margin: Duration, work: F) -> Outcome
where
    F: FnOnce(CustomResourceRequest, Progress) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let started = Instant::now();
    let work_deadline = match deadline.checked_sub(margin) {
        Some(at) if at > started => at,
        _ => {
            return Err(Failure::new(format!(
                "not enough time before the Lambda deadline: {:.1} s left, {:.1} s kept to answer",
                deadline.saturating_duration_since(started).as_secs_f64(),
                margin.as_secs_f64()
            )));
        }
    };
    let progress = Progress::new();
    let shared = progress.clone();
    let mut task = tokio::spawn(async move { work(request, shared).await });
    let failure = |reason: String| match progress.physical_resource_id() {
        Some(id) => Failure::new(reason).with_physical_resource_id(id),
        None => Failure::new(reason),
    };
    match tokio::time::timeout_at(work_deadline, &mut task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) if error.is_panic() => {
            let message = panic_message(&*error.into_panic());
            Err(failure(format!("internal error: panic: {message} (while {})", progress.get())))
        }
        Ok(Err(error)) => {
            Err(failure(format!("internal error: the work was cancelled ({error}) while {}", progress.get())))
        }
        Err(_elapsed) => {
            task.abort();
            Err(failure(format!("timed out after {:.1} s while {}", started.elapsed().as_secs_f64(), progress.get())))
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::properties::{prop_str, prop_u16};
    use super::super::response::Success;
    use super::super::testing::{MemorySink, URL, create_payload, delete_payload, far_deadline, update_payload};
    use super::*;

    fn panics_with_a_number() -> Outcome {
        std::panic::panic_any(7_u8)
    }

    fn must_not_run() -> Outcome {
        panic!("the work must not run")
    }

    #[tokio::test]
    async fn success_is_delivered_and_summarised() {
        let sink = MemorySink::new();
        let summary = answer(create_payload(), far_deadline(), DEFAULT_MARGIN, &sink, |request, progress| async move {
            progress.set("registering targets");
            let port = prop_u16(&request.resource_properties, "Port")?;
            Ok(Success::new("tg-sync-1").with_data("Port", port))
        })
        .await
        .unwrap();
        assert_eq!(
            summary,
            json!({"RequestType": "Create", "LogicalResourceId": "TargetSync",
                   "PhysicalResourceId": "tg-sync-1", "Status": "SUCCESS", "Reason": null})
        );
        let deliveries = sink.deliveries();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].url, URL);
        let body = deliveries[0].json();
        assert_eq!(body["Status"], "SUCCESS");
        assert_eq!(body["Data"], json!({"Port": 5432}));
    }

    #[tokio::test]
    async fn failure_is_delivered_as_failed() {
        let sink = MemorySink::new();
        let summary = answer(update_payload(), far_deadline(), DEFAULT_MARGIN, &sink, |request, _| async move {
            prop_str(&request.resource_properties, "TargetGroupArn")?;
            Ok(Success::new("unreachable"))
        })
        .await
        .unwrap();
        assert_eq!(summary["Status"], "FAILED");
        let body = sink.deliveries()[0].json();
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["PhysicalResourceId"], "tg-sync-1");
        assert_eq!(body["Reason"], "property TargetGroupArn: is required (a non-empty string)");
    }

    #[tokio::test]
    async fn panic_is_delivered_as_failed_with_its_message() {
        let sink = MemorySink::new();
        let summary = answer(create_payload(), far_deadline(), DEFAULT_MARGIN, &sink, |_, progress| async move {
            progress.set("reading the target group");
            let id: Option<&str> = std::hint::black_box(None);
            Ok(Success::new(id.unwrap_or_else(|| panic!("no target group {}", 42))))
        })
        .await
        .unwrap();
        assert_eq!(summary["Status"], "FAILED");
        let body = sink.deliveries()[0].json();
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["Reason"], "internal error: panic: no target group 42 (while reading the target group)");
        assert_eq!(body["PhysicalResourceId"], "failed-create-TargetSync-req-1");

        let sink = MemorySink::new();
        answer(delete_payload(), far_deadline(), DEFAULT_MARGIN, &sink, |_, _| async move { panics_with_a_number() })
            .await
            .unwrap();
        let body = sink.deliveries()[0].json();
        assert_eq!(body["Reason"], "internal error: panic: (no message) (while starting)");
        assert_eq!(body["PhysicalResourceId"], "tg-sync-1");
    }

    #[tokio::test]
    async fn slow_work_is_answered_before_the_deadline() {
        let sink = MemorySink::new();
        let deadline = Instant::now() + Duration::from_millis(800);
        let finished = Arc::new(Mutex::new(false));
        let flag = finished.clone();
        let summary =
            answer(delete_payload(), deadline, Duration::from_millis(500), &sink, move |_, progress| async move {
                progress.set("deregistering 10.0.0.1");
                tokio::time::sleep(Duration::from_secs(30)).await;
                *flag.lock().unwrap() = true;
                Ok(Success::new("tg-sync-1"))
            })
            .await
            .unwrap();
        let deliveries = sink.deliveries();
        assert_eq!(deliveries.len(), 1);
        assert!(deliveries[0].at < deadline, "delivered after the deadline");
        assert!(deliveries[0].budget >= MIN_DELIVERY_BUDGET);
        let body = deliveries[0].json();
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["PhysicalResourceId"], "tg-sync-1");
        let reason = body["Reason"].as_str().unwrap();
        assert!(reason.starts_with("timed out after 0."), "{reason}");
        assert!(reason.ends_with(" s while deregistering 10.0.0.1"), "{reason}");
        assert_eq!(summary["Reason"], reason);
        assert!(!*finished.lock().unwrap());
    }

    #[tokio::test]
    async fn create_that_times_out_after_naming_its_resource_answers_with_that_id() {
        let sink = MemorySink::new();
        let deadline = Instant::now() + Duration::from_millis(600);
        answer(create_payload(), deadline, Duration::from_millis(400), &sink, move |_, progress| async move {
            progress.set_physical_resource_id("arn:tg/db");
            progress.set("syncing");
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(Success::new("arn:tg/db"))
        })
        .await
        .unwrap();
        let body = sink.deliveries()[0].json();
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["PhysicalResourceId"], "arn:tg/db");
    }

    #[tokio::test]
    async fn no_time_left_answers_at_once() {
        let sink = MemorySink::new();
        let deadline = Instant::now() + Duration::from_millis(100);
        answer(
            create_payload(),
            deadline,
            Duration::from_secs(1),
            &sink,
            |_, _| async move { Ok(Success::new("never")) },
        )
        .await
        .unwrap();
        let body = sink.deliveries()[0].json();
        assert_eq!(body["Status"], "FAILED");
        assert!(body["Reason"].as_str().unwrap().starts_with("not enough time before the Lambda deadline"));
    }

    #[tokio::test]
    async fn unparsable_payload_with_url_is_answered_failed() {
        let sink = MemorySink::new();
        let mut payload = create_payload();
        payload["RequestType"] = json!(5);
        let summary =
            answer(payload, far_deadline(), DEFAULT_MARGIN, &sink, |_, _| async move { must_not_run() }).await.unwrap();
        assert_eq!(summary["Status"], "FAILED");
        assert_eq!(summary["RequestType"], Value::Null);
        let body = sink.deliveries()[0].json();
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["Reason"], "invalid request: RequestType is a number, not a string");
        assert_eq!(body["RequestId"], "req-1");
        assert_eq!(body["PhysicalResourceId"], "failed-create-TargetSync-req-1");
    }

    #[tokio::test]
    async fn payload_without_url_is_an_error() {
        let sink = MemorySink::new();
        let mut payload = create_payload();
        payload.as_object_mut().unwrap().remove("ResponseURL");
        let error =
            answer(payload, far_deadline(), DEFAULT_MARGIN, &sink, |_, _| async move { Ok(Success::new("never")) })
                .await
                .unwrap_err();
        assert!(matches!(error, CustomResourceError::Unanswerable(_)));
        assert!(error.to_string().contains("ResponseURL is missing"), "{error}");
        assert!(sink.deliveries().is_empty());
    }

    #[tokio::test]
    async fn failed_delivery_is_an_error() {
        let sink = MemorySink::failing(DeliveryError::GaveUp { attempts: 5, last: "HTTP 503".into() });
        let error = answer(create_payload(), far_deadline(), DEFAULT_MARGIN, &sink, |_, _| async move {
            Ok(Success::new("tg-sync-1"))
        })
        .await
        .unwrap_err();
        match &error {
            CustomResourceError::Delivery { status, source, .. } => {
                assert_eq!(*status, Status::Success);
                assert!(matches!(source, DeliveryError::GaveUp { attempts: 5, .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(sink.deliveries().len(), 1);
    }
}
