//! What the tests of several files share: sample requests and a recording
//! sink. Compiled only for tests.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::delivery::{DeliveryError, ResponseSink};
use super::request::{CustomResourceRequest, RequestEcho};

pub const URL: &str = "https://cfn-responses.example/stack/resource?X-Amz-Signature=abc";

pub fn create_payload() -> Value {
    json!({
        "RequestType": "Create",
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:sync-on-deploy",
        "ResponseURL": URL,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/db/guid",
        "RequestId": "req-1",
        "LogicalResourceId": "TargetSync",
        "ResourceType": "Custom::TargetSync",
        "ResourceProperties": {"ServiceToken": "arn", "Port": "5432"}
    })
}

pub fn update_payload() -> Value {
    let mut payload = create_payload();
    payload["RequestType"] = json!("Update");
    payload["PhysicalResourceId"] = json!("tg-sync-1");
    payload["OldResourceProperties"] = json!({"Port": "3306"});
    payload
}

pub fn delete_payload() -> Value {
    let mut payload = create_payload();
    payload["RequestType"] = json!("Delete");
    payload["PhysicalResourceId"] = json!("tg-sync-1");
    payload
}

pub fn echo_of(payload: Value) -> RequestEcho {
    CustomResourceRequest::parse(&payload).unwrap().echo()
}

pub fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

pub fn parse_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}"))
}

/// One answer recorded by [`MemorySink`].
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub url: String,
    pub body: String,
    pub budget: Duration,
    pub at: Instant,
}

impl Delivery {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Records every answer; a failing one also records, then returns an error.
#[derive(Debug, Default)]
pub struct MemorySink {
    deliveries: Mutex<Vec<Delivery>>,
    fail_with: Option<DeliveryError>,
}

impl MemorySink {
    pub fn new() -> Self {
        MemorySink::default()
    }

    /// A sink whose every delivery fails with `error`.
    pub fn failing(error: DeliveryError) -> Self {
        MemorySink { deliveries: Mutex::default(), fail_with: Some(error) }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ResponseSink for MemorySink {
    async fn deliver(&self, url: &str, body: String, budget: Duration) -> Result<(), DeliveryError> {
        self.deliveries.lock().unwrap_or_else(|e| e.into_inner()).push(Delivery {
            url: url.to_string(),
            body,
            budget,
            at: Instant::now(),
        });
        match &self.fail_with {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}
