//! What the tests of several files share: sample requests, a recording sink
//! and proptest strategies. Compiled only for tests.

use std::sync::Mutex;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};
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

/// Any text: usually short, sometimes tens of kilobytes, with control
/// characters, quotes and multi-byte characters (which JSON escaping and
/// truncation at char boundaries must cope with) well represented.
pub fn arb_text() -> impl Strategy<Value = String> {
    let special = prop_oneof![
        Just('"'),
        Just('\\'),
        Just('\n'),
        Just('\u{1}'),
        Just('é'),
        Just('€'),
        Just('𝄞'),
        Just('\u{2028}'),
    ];
    let chars = prop_oneof![any::<char>(), special];
    let short = prop::collection::vec(chars.clone(), 0..24).prop_map(String::from_iter);
    // A short random piece repeated: cut points still land on every kind of
    // character, and generating it costs far less than as many random chars.
    let long = (prop::collection::vec(chars, 1..8), 1..3000usize)
        .prop_map(|(piece, times)| String::from_iter(piece).repeat(times));
    prop_oneof![5 => short, 1 => long]
}

/// Any JSON value, nested a few levels deep.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // NaN and the infinities have no JSON form.
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        arb_text().prop_map(Value::String),
        // Digit strings and blanks take other paths through the readers.
        "[ 0-9]{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_text(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}
