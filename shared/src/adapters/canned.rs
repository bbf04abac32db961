//! Canned HTTP answers for the SDK adapters' unit tests: the real SDK client,
//! its serializers and deserializers, talking to a table of responses instead
//! of AWS. It shows what moto cannot (custom proxy endpoints, ELB's
//! outside-the-VPC error, paging of DescribeTags) without the SDK's
//! `test-util` features, which would make the test build compile the service
//! crates a second time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// A request's form fields (`Action`, `DBClusterIdentifier`, ...), and the
/// `Service` that signed it.
pub type Form = BTreeMap<String, String>;

type Matcher = Box<dyn Fn(&Form) -> bool + Send + Sync>;

struct Route {
    action: String,
    matches: Matcher,
    status: u16,
    body: String,
}

/// The table of answers, and every request it was asked.
#[derive(Clone, Default)]
pub struct Canned {
    routes: Arc<Mutex<Vec<Route>>>,
    asked: Arc<Mutex<Vec<Form>>>,
}

impl std::fmt::Debug for Canned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Canned")
    }
}

impl Canned {
    /// Answers every `action` request with `status` and `body`.
    pub fn on(self, action: &str, status: u16, body: impl Into<String>) -> Self {
        self.on_form(action, |_| true, status, body)
    }

    /// Answers the `action` requests `matches` accepts; the first matching
    /// route wins.
    pub fn on_form(
        self,
        action: &str,
        matches: impl Fn(&Form) -> bool + Send + Sync + 'static,
        status: u16,
        body: impl Into<String>,
    ) -> Self {
        let route = Route { action: action.to_string(), matches: Box::new(matches), status, body: body.into() };
        self.routes.lock().unwrap().push(route);
        self
    }

    /// The requests made for `action`, in order.
    pub fn asked(&self, action: &str) -> Vec<Form> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.get("Action").map(String::as_str) == Some(action))
            .cloned()
            .collect()
    }

    pub fn rds(&self) -> aws_sdk_rds::Client {
        let config = aws_sdk_rds::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "canned"))
            .http_client(self.clone())
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }

    /// The `(service, action)` of every request since the last call: the
    /// signing name of its credential scope and its `Action`.
    pub fn take_actions(&self) -> std::collections::BTreeSet<(String, String)> {
        let asked = std::mem::take(&mut *self.asked.lock().unwrap());
        asked.into_iter().map(|f| (f.get("Service").cloned().unwrap_or_default(), f["Action"].clone())).collect()
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        use aws_sdk_dynamodb::config as c;
        let config = c::Config::builder()
            .behavior_version(c::BehaviorVersion::latest())
            .region(c::Region::new("us-east-1"))
            .credentials_provider(c::Credentials::new("AKIDTEST", "secret", None, None, "canned"))
            .retry_config(c::retry::RetryConfig::disabled())
            .http_client(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    pub fn elb(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::from_conf(self.elb_config().build())
    }

    /// The configuration of [`Canned::elb`], to change before building.
    pub fn elb_config(&self) -> aws_sdk_elasticloadbalancingv2::config::Builder {
        use aws_sdk_elasticloadbalancingv2::config as c;
        c::Config::builder()
            .behavior_version(c::BehaviorVersion::latest())
            .region(c::Region::new("us-east-1"))
            .credentials_provider(c::Credentials::new("AKIDTEST", "secret", None, None, "canned"))
            .retry_config(c::retry::RetryConfig::disabled())
            .http_client(self.clone())
    }

    fn respond(&self, request: &HttpRequest) -> HttpResponse {
        let mut form = request.body().bytes().map(|b| parse_form(&String::from_utf8_lossy(b))).unwrap_or_default();
        // A JSON-protocol request (DynamoDB) names its action in a header.
        if let Some((_, action)) = request.headers().get("x-amz-target").and_then(|t| t.split_once('.')) {
            form.insert("Action".into(), action.into());
        }
        // `Credential=<key>/<date>/<region>/<service>/aws4_request`
        let scope = request.headers().get("authorization").and_then(|a| a.split("Credential=").nth(1));
        if let Some(service) = scope.and_then(|s| s.split('/').nth(3)) {
            form.insert("Service".into(), service.into());
        }
        self.asked.lock().unwrap().push(form.clone());
        let action = form.get("Action").cloned().unwrap_or_default();
        let routes = self.routes.lock().unwrap();
        let (status, body) = routes
            .iter()
            .find(|r| r.action == action && (r.matches)(&form))
            .map(|r| (r.status, r.body.clone()))
            .unwrap_or_else(|| {
                (400, error_body("Sender", "NoCannedAnswer", &format!("no canned answer for {form:?}")))
            });
        let mut response = HttpResponse::new(StatusCode::try_from(status).expect("valid status"), SdkBody::from(body));
        response.headers_mut().insert("x-amzn-RequestId", "canned-request-1");
        response.headers_mut().insert("Content-Type", "text/xml");
        response
    }
}

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok(self.respond(&request)))
    }
}

impl HttpClient for Canned {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A query-protocol error document.
pub fn error_body(kind: &str, code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>canned-request-1</RequestId></ErrorResponse>"
    )
}

/// A query-protocol success document for `action` around `result`.
pub fn ok_body(action: &str, result: &str) -> String {
    format!(
        "<{action}Response><{action}Result>{result}</{action}Result>\
         <ResponseMetadata><RequestId>canned-request-1</RequestId></ResponseMetadata></{action}Response>"
    )
}

fn parse_form(body: &str) -> Form {
    body.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
