//! CloudFormation custom-resource stand-ins: a loopback HTTP server that plays
//! the pre-signed `ResponseURL` and records every request, and a builder for
//! the request events CloudFormation sends to the function.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};

use crate::http::{IncomingRequest, LoopbackServer, OutgoingResponse, respond};

/// The stack every request of the tests belongs to.
pub const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/db-privatelink/5f0c3e40-0000-0000-0000-000000000000";
/// The logical id of the custom resource in the tests' template.
pub const LOGICAL_RESOURCE_ID: &str = "TargetSync";
/// `ResourceType` of the custom resource.
pub const RESOURCE_TYPE: &str = "Custom::NlbTargetSync";
/// `ServiceToken` of the custom resource (the function's ARN).
pub const SERVICE_TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:sync-on-deploy";

/// One request the [`ResponseServer`] received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `PUT`, `POST`, ...
    pub method: String,
    /// The request target (path and query), e.g. `/cfn-response?X-Amz-Signature=...`.
    pub path: String,
    /// Header names (lowercase, as HTTP/1 reads them) and values, in the
    /// order sent.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
    /// When the request was complete (after its body), process clock.
    pub at: Instant,
    /// When the request was complete, wall clock.
    pub at_wall: SystemTime,
    /// The status the server answered with.
    pub answered: u16,
}

impl RecordedRequest {
    /// The value of header `name` (case-insensitive), `Some("")` when it was
    /// sent empty, `None` when it was not sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.text()))
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    /// Statuses to answer, first to last, before answering 200.
    script: Mutex<VecDeque<u16>>,
}

/// A plain-HTTP/1.1 server on `127.0.0.1:<free port>` that records every
/// request and answers `200 OK` (or, first, the statuses queued with
/// [`ResponseServer::answer_first`]). Stops when dropped.
pub struct ResponseServer {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl ResponseServer {
    /// Binds and starts serving.
    pub async fn start() -> ResponseServer {
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let server = LoopbackServer::start("response server", move |request| {
            let state = state.clone();
            async move { record(request, &state) }
        })
        .await;
        ResponseServer { server, shared }
    }

    /// `http://127.0.0.1:<port><path>`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    /// A URL shaped like a pre-signed S3 URL, on this server.
    pub fn presigned_url(&self, request_id: &str) -> String {
        self.url(&format!(
            "/cloudformation-custom-resource-response-useast1/{STACK_ID_ESCAPED}%7C{LOGICAL_RESOURCE_ID}%7C{request_id}\
             ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z&X-Amz-Expires=7200&X-Amz-Signature=0"
        ))
    }

    /// Queues statuses answered to the next requests, in order (e.g.
    /// `&[503]`: the next request gets 503, later ones 200).
    pub fn answer_first(&self, statuses: &[u16]) {
        self.shared.script.lock().unwrap().extend(statuses.iter().copied());
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Every request received so far whose body is a JSON answer to the
    /// request `request_id` (its `RequestId`), first to last.
    pub fn answers_to(&self, request_id: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| serde_json::from_slice::<Value>(&r.body).is_ok_and(|b| b["RequestId"] == request_id))
            .collect()
    }

    /// Waits until at least `count` requests arrived and returns them all.
    ///
    /// # Panics
    ///
    /// If they do not arrive within `timeout`.
    pub async fn wait_for_requests(&self, count: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let started = Instant::now();
        loop {
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                started.elapsed() < timeout,
                "expected {count} request(s) within {timeout:?}, got {}: {:?}",
                requests.len(),
                requests.iter().map(RecordedRequest::text).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `STACK_ID` as it appears, percent-encoded, in the S3 key of a response URL.
const STACK_ID_ESCAPED: &str =
    "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/db-privatelink/5f0c3e40-0000-0000-0000-000000000000";

/// Records `request` and makes its answer: the next scripted status, else 200.
fn record(request: IncomingRequest, shared: &Shared) -> OutgoingResponse {
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let status = shared.script.lock().unwrap().pop_front().unwrap_or(200);
    let recorded = RecordedRequest {
        method: request.method.to_string(),
        path: request.path,
        headers,
        body: request.body.to_vec(),
        at: Instant::now(),
        at_wall: SystemTime::now(),
        answered: status,
    };
    eprintln!(
        "[response server] {} {} ({} bytes) -> {status}",
        recorded.method,
        recorded.path.split('?').next().unwrap_or_default(),
        recorded.body.len()
    );
    shared.requests.lock().unwrap().push(recorded);
    respond(status, if status == 200 { "" } else { "<Error><Code>SlowDown</Code></Error>" })
}

/// A CloudFormation custom-resource request event for `Custom::NlbTargetSync`
/// (see `events/deploy-*.json`), built step by step.
#[derive(Clone, Debug)]
pub struct CfnRequest {
    event: Map<String, Value>,
}

impl CfnRequest {
    fn new(request_type: &str, response_url: &str, request_id: &str, properties: Value) -> CfnRequest {
        let mut properties = properties.as_object().cloned().expect("properties are a JSON object");
        properties.insert("ServiceToken".into(), json!(SERVICE_TOKEN));
        let event = json!({
            "RequestType": request_type,
            "ServiceToken": SERVICE_TOKEN,
            "ResponseURL": response_url,
            "StackId": STACK_ID,
            "RequestId": request_id,
            "LogicalResourceId": LOGICAL_RESOURCE_ID,
            "ResourceType": RESOURCE_TYPE,
            "ResourceProperties": properties,
        });
        CfnRequest { event: event.as_object().cloned().expect("an object") }
    }

    /// A `Create` request with these `ResourceProperties` (`ServiceToken` is added).
    pub fn create(response_url: &str, request_id: &str, properties: Value) -> CfnRequest {
        CfnRequest::new("Create", response_url, request_id, properties)
    }

    /// An `Update` of the resource `physical_id` from `old` to `new` properties.
    pub fn update(response_url: &str, request_id: &str, physical_id: &str, new: Value, old: Value) -> CfnRequest {
        let mut request = CfnRequest::new("Update", response_url, request_id, new);
        let mut old = old.as_object().cloned().expect("old properties are a JSON object");
        old.insert("ServiceToken".into(), json!(SERVICE_TOKEN));
        request.event.insert("PhysicalResourceId".into(), json!(physical_id));
        request.event.insert("OldResourceProperties".into(), Value::Object(old));
        request
    }

    /// A `Delete` of the resource `physical_id` with its last properties.
    pub fn delete(response_url: &str, request_id: &str, physical_id: &str, properties: Value) -> CfnRequest {
        let mut request = CfnRequest::new("Delete", response_url, request_id, properties);
        request.event.insert("PhysicalResourceId".into(), json!(physical_id));
        request
    }

    /// Removes a top-level field (e.g. `ResponseURL`).
    pub fn without(mut self, field: &str) -> CfnRequest {
        self.event.remove(field);
        self
    }

    /// The event as JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(self.event.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_requests_and_follows_its_script() {
        let server = ResponseServer::start().await;
        server.answer_first(&[503]);
        let url = server.presigned_url("req-1");
        let headers = [("content-type", "")];
        let first = crate::http::send(hyper::Method::PUT, &url, &headers, "{\"a\":1}", Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(first.status, 503);
        let second = crate::http::send(hyper::Method::PUT, &url, &headers, "{\"a\":2}", Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(second.status, 200);

        let requests = server.wait_for_requests(2, Duration::from_secs(1)).await;
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method, "PUT");
        assert!(requests[0].path.starts_with("/cloudformation-custom-resource-response-useast1/"));
        assert_eq!(requests[0].header("Content-Type"), Some(""));
        assert_eq!(requests[0].header("x-missing"), None);
        assert_eq!(requests[0].json(), json!({"a": 1}));
        assert_eq!((requests[0].answered, requests[1].answered), (503, 200));
    }

    #[test]
    fn builds_requests_like_cloudformation() {
        let update = CfnRequest::update(
            "http://127.0.0.1:1/r",
            "id-2",
            "arn:tg",
            json!({"Sources": "rds-proxy:b"}),
            json!({"Sources": "rds-proxy:a"}),
        )
        .to_json();
        assert_eq!(update["RequestType"], "Update");
        assert_eq!(update["PhysicalResourceId"], "arn:tg");
        assert_eq!(update["ResourceProperties"]["ServiceToken"], SERVICE_TOKEN);
        assert_eq!(update["OldResourceProperties"]["Sources"], "rds-proxy:a");
        let bare = CfnRequest::create("u", "id-1", json!({})).without("ResponseURL").to_json();
        assert!(bare.get("ResponseURL").is_none());
        assert_eq!(bare["LogicalResourceId"], LOGICAL_RESOURCE_ID);
    }
}
