//! CloudFormation custom resources that always answer.
//!
//! CloudFormation invokes the function with a request and then waits (up to the
//! resource's `ServiceTimeout`, one hour by default) for a JSON document PUT to
//! the request's pre-signed `ResponseURL`. A function that errors, panics, runs
//! out of time or receives a request it cannot read must still answer, or the
//! stack hangs. This module does that for any resource logic:
//!
//! - [`CustomResourceRequest::parse`] reads the raw Lambda payload leniently: a
//!   payload that is not a valid request but carries a `ResponseURL` yields an
//!   [`Unparsable`] that can still be answered `FAILED`.
//! - The resource logic returns an [`Outcome`] (`Result<Success, Failure>`).
//! - [`Response::from_outcome`] applies the `PhysicalResourceId` rules and
//!   [`response_body`] renders a body that always fits CloudFormation's limits.
//! - A [`ResponseSink`] delivers it; [`HttpSink`] is the real one (HTTP PUT with
//!   retries), [`MemorySink`] records bodies for tests.
//! - [`answer`] ties it together: it runs the logic in its own task (a panic
//!   becomes `FAILED`), races it against the Lambda deadline minus a margin (a
//!   timeout becomes `FAILED`, naming what the logic was doing according to its
//!   [`Progress`]), answers, and fails the invocation only when the answer
//!   could not be delivered.
//!
//! # `PhysicalResourceId` rules
//!
//! - `SUCCESS`: the id the logic returned. It must be non-empty and at most
//!   1024 bytes; otherwise the answer becomes `FAILED` (an id cannot be
//!   shortened without changing the resource's identity). On `Update`, an id
//!   different from the request's means replacement: CloudFormation later
//!   sends `Delete` for the old one.
//! - `FAILED`: the request's `PhysicalResourceId` when it carries one (always
//!   on `Update` and `Delete`: the resource keeps its identity); else (`Create`)
//!   the id named by the [`Failure`], if any; else the stable id
//!   [`failed_create_physical_id`] derives from the request,
//!   `failed-create-<LogicalResourceId>-<RequestId>`. CloudFormation follows a
//!   failed `Create` with a `Delete` of that id: recognise it with
//!   [`is_failed_create_id`] and treat it as "nothing of mine to delete"
//!   (and, like every `Delete`, tolerate resources that do not exist).
//!
//! # Returning an error from the function
//!
//! [`answer`] returns `Ok` once an answer — `SUCCESS` or `FAILED` — has been
//! delivered, and `Err` when none could be (no `ResponseURL`, or delivery failed
//! after retries) so the invocation counts in the function's `Errors` metric.
//! CloudFormation invokes asynchronously, so Lambda retries an invocation that
//! failed (twice by default): the logic runs again and must be idempotent.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

/// Largest response body CloudFormation accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 4096;
/// Largest `PhysicalResourceId` CloudFormation accepts, in bytes.
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;
/// Appended to a `Reason` that was shortened to fit the body limit.
pub const TRUNCATION_MARKER: &str = " … (truncated)";
/// Prefix of the ids [`failed_create_physical_id`] makes up.
pub const FAILED_CREATE_ID_PREFIX: &str = "failed-create-";
/// A reasonable `margin` for [`answer`]: time kept back from the Lambda
/// deadline to build and deliver the answer.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(10);
/// What [`time_left`] assumes when the context carries no deadline (Lambda's
/// maximum timeout).
pub const UNKNOWN_DEADLINE_TIME_LEFT: Duration = Duration::from_secs(900);

/// Delivery always gets at least this long, even past the Lambda deadline.
const MIN_DELIVERY_BUDGET: Duration = Duration::from_secs(1);
/// Delivery stops this long before the Lambda deadline, so the function can
/// still return its own result.
const DELIVERY_SAFETY: Duration = Duration::from_millis(250);
/// Longest `Reason` written to the log line and the summary [`answer`] returns.
const MAX_LOGGED_REASON_BYTES: usize = 16 * 1024;
/// What [`Progress`] says before the logic sets it.
const INITIAL_PROGRESS: &str = "starting";

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// The three kinds of custom resource request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    /// The name CloudFormation uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "Create" => Some(RequestType::Create),
            "Update" => Some(RequestType::Update),
            "Delete" => Some(RequestType::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A custom resource request, as CloudFormation sends it.
///
/// `Debug` hides `response_url`: it is a pre-signed URL that lets anyone who
/// reads it answer for this resource.
#[derive(Clone, PartialEq)]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// `Custom::Something` or `AWS::CloudFormation::CustomResource`; empty
    /// when the request had none.
    pub resource_type: String,
    /// Present on `Update` and `Delete`.
    pub physical_resource_id: Option<String>,
    /// Empty when the request had none. Values are strings even when the
    /// template wrote numbers or booleans: read them with the `prop_*` helpers.
    pub resource_properties: Map<String, Value>,
    /// Present on `Update`.
    pub old_resource_properties: Option<Map<String, Value>>,
}

impl fmt::Debug for CustomResourceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomResourceRequest")
            .field("request_type", &self.request_type)
            .field("response_url", &"<pre-signed URL, hidden>")
            .field("stack_id", &self.stack_id)
            .field("request_id", &self.request_id)
            .field("logical_resource_id", &self.logical_resource_id)
            .field("resource_type", &self.resource_type)
            .field("physical_resource_id", &self.physical_resource_id)
            .field("resource_properties", &self.resource_properties)
            .field("old_resource_properties", &self.old_resource_properties)
            .finish()
    }
}

/// A payload that is not a complete custom resource request, with whatever
/// could be read from it so that it can still be answered `FAILED`.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid CloudFormation custom resource request: {why}")]
pub struct Unparsable {
    pub response_url: Option<String>,
    pub request_type: Option<String>,
    pub stack_id: Option<String>,
    pub request_id: Option<String>,
    pub logical_resource_id: Option<String>,
    pub physical_resource_id: Option<String>,
    /// Every problem found, separated by "; ".
    pub why: String,
}

impl fmt::Debug for Unparsable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unparsable")
            .field("response_url", &self.response_url.as_ref().map(|_| "<pre-signed URL, hidden>"))
            .field("request_type", &self.request_type)
            .field("stack_id", &self.stack_id)
            .field("request_id", &self.request_id)
            .field("logical_resource_id", &self.logical_resource_id)
            .field("physical_resource_id", &self.physical_resource_id)
            .field("why", &self.why)
            .finish()
    }
}

impl Unparsable {
    /// The fields an answer copies, as far as they are known.
    pub fn echo(&self) -> RequestEcho {
        RequestEcho {
            request_type: self.request_type.as_deref().and_then(RequestType::from_name),
            stack_id: self.stack_id.clone().unwrap_or_default(),
            request_id: self.request_id.clone().unwrap_or_default(),
            logical_resource_id: self.logical_resource_id.clone().unwrap_or_default(),
            physical_resource_id: self.physical_resource_id.clone(),
        }
    }
}

/// The request fields an answer needs besides the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestEcho {
    /// `None` when the request type could not be read.
    pub request_type: Option<RequestType>,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
}

impl CustomResourceRequest {
    /// Reads a raw Lambda payload. Requires `RequestType` (Create, Update or
    /// Delete), `ResponseURL`, `StackId`, `RequestId`, `LogicalResourceId` as
    /// non-empty strings, and `PhysicalResourceId` on Update and Delete.
    /// `ResourceType`, `ResourceProperties` and `OldResourceProperties` may be
    /// missing; when present the properties must be objects. Unknown fields
    /// (`ServiceToken`, ...) are ignored.
    pub fn parse(payload: &Value) -> Result<Self, Box<Unparsable>> {
        let object = payload.as_object();
        let text = |key: &str| {
            object.and_then(|o| o.get(key)).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
        };
        let mut unparsable = Unparsable {
            response_url: text("ResponseURL"),
            request_type: text("RequestType"),
            stack_id: text("StackId"),
            request_id: text("RequestId"),
            logical_resource_id: text("LogicalResourceId"),
            physical_resource_id: text("PhysicalResourceId"),
            why: String::new(),
        };
        let Some(object) = object else {
            unparsable.why = format!("the payload is {}, not a JSON object", json_kind(payload));
            return Err(Box::new(unparsable));
        };

        let mut problems = Vec::new();
        let request_type = match object.get("RequestType") {
            None | Some(Value::Null) => {
                problems.push("RequestType is missing".to_string());
                None
            }
            Some(Value::String(name)) => {
                let parsed = RequestType::from_name(name);
                if parsed.is_none() {
                    problems.push(format!("RequestType {} is not Create, Update or Delete", brief(&json!(name))));
                }
                parsed
            }
            Some(other) => {
                problems.push(format!("RequestType is {}, not a string", json_kind(other)));
                None
            }
        };
        for (key, value) in [
            ("ResponseURL", &unparsable.response_url),
            ("StackId", &unparsable.stack_id),
            ("RequestId", &unparsable.request_id),
            ("LogicalResourceId", &unparsable.logical_resource_id),
        ] {
            if value.is_none() {
                problems.push(missing_string(object, key));
            }
        }
        if matches!(request_type, Some(RequestType::Update | RequestType::Delete))
            && unparsable.physical_resource_id.is_none()
        {
            problems.push(missing_string(object, "PhysicalResourceId"));
        }
        let resource_properties = match object_field(object, "ResourceProperties") {
            Ok(map) => map.unwrap_or_default(),
            Err(problem) => {
                problems.push(problem);
                Map::new()
            }
        };
        let old_resource_properties = object_field(object, "OldResourceProperties").unwrap_or_else(|problem| {
            problems.push(problem);
            None
        });

        match (request_type, problems.is_empty()) {
            (Some(request_type), true) => Ok(CustomResourceRequest {
                request_type,
                response_url: unparsable.response_url.unwrap_or_default(),
                stack_id: unparsable.stack_id.unwrap_or_default(),
                request_id: unparsable.request_id.unwrap_or_default(),
                logical_resource_id: unparsable.logical_resource_id.unwrap_or_default(),
                resource_type: text("ResourceType").unwrap_or_default(),
                physical_resource_id: unparsable.physical_resource_id,
                resource_properties,
                old_resource_properties,
            }),
            _ => {
                unparsable.why = problems.join("; ");
                Err(Box::new(unparsable))
            }
        }
    }

    /// The fields an answer to this request copies.
    pub fn echo(&self) -> RequestEcho {
        RequestEcho {
            request_type: Some(self.request_type),
            stack_id: self.stack_id.clone(),
            request_id: self.request_id.clone(),
            logical_resource_id: self.logical_resource_id.clone(),
            physical_resource_id: self.physical_resource_id.clone(),
        }
    }
}

fn missing_string(object: &Map<String, Value>, key: &str) -> String {
    match object.get(key) {
        None | Some(Value::Null) => format!("{key} is missing"),
        Some(Value::String(_)) => format!("{key} is empty"),
        Some(other) => format!("{key} is {}, not a string", json_kind(other)),
    }
}

fn object_field(object: &Map<String, Value>, key: &str) -> Result<Option<Map<String, Value>>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(other) => Err(format!("{key} is {}, not an object", json_kind(other))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Compact JSON of `value`, cut to about 100 characters, for error messages.
fn brief(value: &Value) -> String {
    const MAX_CHARS: usize = 100;
    let text = value.to_string();
    if text.chars().count() <= MAX_CHARS {
        text
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut}…")
    }
}

// ---------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------

/// What the resource logic returns.
pub type Outcome = Result<Success, Failure>;

/// The resource is in the requested state.
#[derive(Debug, Clone, PartialEq)]
pub struct Success {
    /// Non-empty, at most [`MAX_PHYSICAL_ID_BYTES`]. Return the request's id to
    /// keep the resource; a new id on `Update` means replacement.
    pub physical_resource_id: String,
    /// Attributes for `Fn::GetAtt`.
    pub data: Map<String, Value>,
    /// Hide `data` from the console and `describe-stack-resources`.
    pub no_echo: bool,
    /// Optional message shown in the stack events.
    pub reason: Option<String>,
}

impl Success {
    pub fn new(physical_resource_id: impl Into<String>) -> Self {
        Success { physical_resource_id: physical_resource_id.into(), data: Map::new(), no_echo: false, reason: None }
    }

    /// Adds one `Fn::GetAtt` attribute.
    pub fn with_data(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    pub fn with_no_echo(mut self, no_echo: bool) -> Self {
        self.no_echo = no_echo;
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// The resource could not be brought to the requested state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Shown in the stack events; shortened if the body would exceed 4096 bytes.
    pub reason: String,
    /// Only used on `Create` (see the module's `PhysicalResourceId` rules): the
    /// id of something the logic created before failing, so that the `Delete`
    /// that follows can clean it up.
    pub physical_resource_id: Option<String>,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Self {
        Failure { reason: reason.into(), physical_resource_id: None }
    }

    pub fn with_physical_resource_id(mut self, id: impl Into<String>) -> Self {
        self.physical_resource_id = Some(id.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::new(reason)
    }
}

impl From<&str> for Failure {
    fn from(reason: &str) -> Self {
        Failure::new(reason)
    }
}

impl From<PropertyError> for Failure {
    fn from(error: PropertyError) -> Self {
        Failure::new(error.to_string())
    }
}

/// The id answered for a failed `Create` that named none: stable for a given
/// request, non-empty, at most [`MAX_PHYSICAL_ID_BYTES`], starting with
/// [`FAILED_CREATE_ID_PREFIX`].
pub fn failed_create_physical_id(logical_resource_id: &str, request_id: &str) -> String {
    let logical = if logical_resource_id.is_empty() { "resource" } else { logical_resource_id };
    let request = if request_id.is_empty() { "unknown-request" } else { request_id };
    let id = format!("{FAILED_CREATE_ID_PREFIX}{logical}-{request}");
    let cut = floor_char_boundary(&id, MAX_PHYSICAL_ID_BYTES);
    id[..cut].to_string()
}

/// True for ids made by [`failed_create_physical_id`]: a `Delete` of such an id
/// follows a `Create` that failed before the logic named a resource.
pub fn is_failed_create_id(physical_resource_id: &str) -> bool {
    physical_resource_id.starts_with(FAILED_CREATE_ID_PREFIX)
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

fn valid_physical_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_PHYSICAL_ID_BYTES
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// `Status` of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An answer, before [`response_body`] fits it into 4096 bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    pub data: Map<String, Value>,
}

impl Response {
    /// Builds the answer to `echo`'s request, applying the module's
    /// `PhysicalResourceId` rules. A `Success` with an empty or oversized id
    /// becomes `FAILED`; a `Failure` with an empty reason gets one.
    pub fn from_outcome(echo: &RequestEcho, outcome: Outcome) -> Response {
        let outcome = outcome.and_then(|success| {
            if success.physical_resource_id.is_empty() {
                Err(Failure::new("internal error: the resource logic returned an empty PhysicalResourceId"))
            } else if success.physical_resource_id.len() > MAX_PHYSICAL_ID_BYTES {
                Err(Failure::new(format!(
                    "internal error: the resource logic returned a PhysicalResourceId of {} bytes (at most {} allowed)",
                    success.physical_resource_id.len(),
                    MAX_PHYSICAL_ID_BYTES
                )))
            } else {
                Ok(success)
            }
        });
        let (status, reason, physical_resource_id, no_echo, data) = match outcome {
            Ok(success) => (
                Status::Success,
                success.reason.filter(|r| !r.is_empty()),
                success.physical_resource_id,
                success.no_echo,
                success.data,
            ),
            Err(failure) => {
                let reason = if failure.reason.is_empty() {
                    "unknown error (the resource logic gave no reason)".to_string()
                } else {
                    failure.reason
                };
                let id = echo
                    .physical_resource_id
                    .clone()
                    .filter(|id| valid_physical_id(id))
                    .or(failure.physical_resource_id.filter(|id| valid_physical_id(id)))
                    .unwrap_or_else(|| failed_create_physical_id(&echo.logical_resource_id, &echo.request_id));
                (Status::Failed, Some(reason), id, false, Map::new())
            }
        };
        Response {
            status,
            reason,
            physical_resource_id,
            stack_id: echo.stack_id.clone(),
            request_id: echo.request_id.clone(),
            logical_resource_id: echo.logical_resource_id.clone(),
            no_echo,
            data,
        }
    }
}

/// Borrowed view of a [`Response`] with a replaceable reason and data, so the
/// shrinking loop does not copy the data on every try.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "PascalCase")]
struct BodyView<'a> {
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    physical_resource_id: &'a str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
    no_echo: bool,
    data: &'a Map<String, Value>,
}

impl BodyView<'_> {
    fn render(&self) -> String {
        // Strings, a bool and a map of JSON values: serialization cannot fail.
        serde_json::to_string(self).expect("a response body always serializes")
    }

    /// The body with `reason`, shortened (with [`TRUNCATION_MARKER`]) if needed;
    /// `None` when even the marker alone does not fit.
    fn fit_reason(&self, reason: Option<&str>) -> Option<String> {
        let Some(reason) = reason else {
            let body = BodyView { reason: None, ..*self }.render();
            return (body.len() <= MAX_BODY_BYTES).then_some(body);
        };
        let base = BodyView { reason: Some(""), ..*self }.render().len();
        if base + escaped_len(reason) <= MAX_BODY_BYTES {
            return Some(BodyView { reason: Some(reason), ..*self }.render());
        }
        let marker = escaped_len(TRUNCATION_MARKER);
        if base + marker > MAX_BODY_BYTES {
            return None;
        }
        let cut = prefix_within(reason, MAX_BODY_BYTES - base - marker);
        let shortened = format!("{}{TRUNCATION_MARKER}", &reason[..cut]);
        let body = BodyView { reason: Some(&shortened), ..*self }.render();
        (body.len() <= MAX_BODY_BYTES).then_some(body)
    }
}

/// Bytes `s` takes inside a JSON string as serde_json writes it.
fn escaped_len(s: &str) -> usize {
    s.chars().map(escaped_char_len).sum()
}

fn escaped_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{08}' | '\t' | '\n' | '\u{0c}' | '\r' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// Byte length of the longest prefix of `s` (cut at a char boundary) whose
/// escaped form takes at most `budget` bytes.
fn prefix_within(s: &str, budget: usize) -> usize {
    let mut used = 0;
    for (index, c) in s.char_indices() {
        used += escaped_char_len(c);
        if used > budget {
            return index;
        }
    }
    s.len()
}

fn cap_escaped(s: &str, budget: usize) -> &str {
    &s[..prefix_within(s, budget)]
}

/// The JSON body for `response`: always valid JSON of at most
/// [`MAX_BODY_BYTES`] bytes. When the whole answer does not fit:
/// - `FAILED`: `Data` is dropped (CloudFormation does not use it), then
///   `Reason` is shortened and ends with [`TRUNCATION_MARKER`];
/// - `SUCCESS`: `Reason` is shortened, or left out; if `Data` alone is too
///   large, its largest entries are dropped and `Reason` names them.
///
/// Strings are cut at character boundaries, measured after JSON escaping.
pub fn response_body(response: &Response) -> String {
    let failed_reason;
    let reason = match (response.status, response.reason.as_deref()) {
        (Status::Failed, None | Some("")) => {
            failed_reason = "unknown error".to_string();
            Some(failed_reason.as_str())
        }
        (_, reason) => reason,
    };
    let no_data = Map::new();
    let mut view = BodyView {
        status: response.status,
        reason,
        physical_resource_id: &response.physical_resource_id,
        stack_id: &response.stack_id,
        request_id: &response.request_id,
        logical_resource_id: &response.logical_resource_id,
        no_echo: response.no_echo,
        data: &response.data,
    };
    let full = view.render();
    if full.len() <= MAX_BODY_BYTES {
        return full;
    }
    if response.status == Status::Failed {
        view.data = &no_data;
    }
    if let Some(body) = view.fit_reason(reason) {
        return body;
    }
    if response.status == Status::Success {
        if let Some(body) = view.fit_reason(None) {
            return body;
        }
        if let Some(body) = drop_largest_data(view, &response.data, reason) {
            return body;
        }
        view.data = &no_data;
    }
    // Only an absurd request (ids of kilobytes) gets here: cap the copied fields.
    for cap in [512, 64] {
        let capped = BodyView {
            physical_resource_id: cap_escaped(view.physical_resource_id, cap),
            stack_id: cap_escaped(view.stack_id, cap),
            request_id: cap_escaped(view.request_id, cap),
            logical_resource_id: cap_escaped(view.logical_resource_id, cap),
            ..view
        };
        if let Some(body) = capped.fit_reason(reason) {
            return body;
        }
    }
    BodyView {
        reason: Some(TRUNCATION_MARKER),
        physical_resource_id: cap_escaped(view.physical_resource_id, 64),
        stack_id: "",
        request_id: "",
        logical_resource_id: "",
        data: &no_data,
        ..view
    }
    .render()
}

/// Drops `data` entries, largest first, until the body fits with a `Reason`
/// naming them (followed by `reason`).
fn drop_largest_data(view: BodyView<'_>, data: &Map<String, Value>, reason: Option<&str>) -> Option<String> {
    // Bytes each entry adds inside `{...}`: "key":value plus a comma.
    let mut entries: Vec<(&String, &Value, usize)> =
        data.iter().map(|(key, value)| (key, value, escaped_len(key) + 4 + value.to_string().len())).collect();
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.2));
    let no_data = Map::new();
    let empty = BodyView { reason: Some(""), data: &no_data, ..view }.render().len();
    let smallest_reason = escaped_len(TRUNCATION_MARKER);
    let mut kept: usize = entries.iter().map(|entry| entry.2).sum();
    for dropped in 1..=entries.len() {
        kept -= entries[dropped - 1].2;
        // `kept` counts one comma too many when entries remain: a lower bound.
        if empty + kept.saturating_sub(1) + smallest_reason > MAX_BODY_BYTES {
            continue;
        }
        let names: Vec<&str> = entries[..dropped].iter().take(10).map(|entry| entry.0.as_str()).collect();
        let more = if dropped > 10 { format!(" and {} more", dropped - 10) } else { String::new() };
        let mut note = format!(
            "Data exceeded the {MAX_BODY_BYTES}-byte response limit; dropped attribute(s): {}{more}",
            names.join(", ")
        );
        if let Some(reason) = reason {
            note.push_str(". ");
            note.push_str(reason);
        }
        let remaining: Map<String, Value> =
            entries[dropped..].iter().map(|(key, value, _)| ((*key).clone(), (*value).clone())).collect();
        if let Some(body) = (BodyView { data: &remaining, ..view }).fit_reason(Some(&note)) {
            return Some(body);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------

/// Why an answer could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("the ResponseURL is not a usable http(s) URL: {0}")]
    InvalidUrl(String),
    #[error("the HTTP client could not be set up: {0}")]
    Client(String),
    #[error("the response URL refused the answer with HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("gave up after {attempts} attempt(s): {last}")]
    GaveUp { attempts: u32, last: String },
}

/// Where answers go. [`HttpSink`] PUTs them to the `ResponseURL`;
/// [`MemorySink`] records them.
pub trait ResponseSink: Send + Sync {
    /// Delivers `body` to `url`, retrying transient failures for at most
    /// `budget` in total.
    fn deliver(
        &self,
        url: &str,
        body: String,
        budget: Duration,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// Retry schedule of [`HttpSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub attempt_timeout: Duration,
    /// Pause after the first failure; doubles after each one.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Upper bound for all attempts and pauses, further capped by the budget
    /// each delivery gets.
    pub total: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts of at most 5 s, pauses of 0.25, 0.5, 1 and 2 s, 15 s in all.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(5),
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            total: Duration::from_secs(15),
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Delivers answers by HTTP PUT with an empty `Content-Type`, to `https://`
/// (rustls, the system's CA certificates) and `http://` URLs. Connect errors,
/// timeouts, HTTP 408, 429 and 5xx are retried; any other status below 200 or
/// from 300 up is final. Connections are not pooled.
pub struct HttpSink {
    client: Result<HttpClient, String>,
    policy: RetryPolicy,
}

impl Default for HttpSink {
    fn default() -> Self {
        HttpSink::new()
    }
}

impl fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSink")
            .field("client", &self.client.as_ref().map(|_| "ready"))
            .field("policy", &self.policy)
            .finish()
    }
}

impl HttpSink {
    /// With [`RetryPolicy::default`]. Never fails: a client that cannot be set
    /// up makes every delivery fail with [`DeliveryError::Client`].
    pub fn new() -> Self {
        HttpSink::with_policy(RetryPolicy::default())
    }

    pub fn with_policy(policy: RetryPolicy) -> Self {
        HttpSink { client: build_client(), policy }
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    async fn put_once(&self, client: &HttpClient, uri: &Uri, body: Bytes, timeout: Duration) -> Result<(), Attempt> {
        let request = Request::builder()
            .method(Method::PUT)
            .uri(uri.clone())
            .header(CONTENT_TYPE, "")
            .header(CONTENT_LENGTH, body.len())
            .body(Full::new(body))
            .map_err(|e| Attempt::Final(DeliveryError::InvalidUrl(e.to_string())))?;
        let exchange = async {
            let response = client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status();
            // The answer's body only matters for error messages.
            let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Ok::<_, String>((status, body))
        };
        let (status, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(Attempt::Transient(format!("no answer within {} ms", timeout.as_millis())));
            }
            Ok(Err(error)) => return Err(Attempt::Transient(error)),
            Ok(Ok(answer)) => answer,
        };
        if status.is_success() {
            return Ok(());
        }
        let text = brief_body(&body);
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
        {
            Err(Attempt::Transient(format!("HTTP {}: {text}", status.as_u16())))
        } else {
            Err(Attempt::Final(DeliveryError::Rejected { status: status.as_u16(), body: text }))
        }
    }
}

enum Attempt {
    Transient(String),
    Final(DeliveryError),
}

impl ResponseSink for HttpSink {
    async fn deliver(&self, url: &str, body: String, budget: Duration) -> Result<(), DeliveryError> {
        let client = self.client.as_ref().map_err(|e| DeliveryError::Client(e.clone()))?;
        let uri = parse_url(url)?;
        let end = Instant::now() + budget.min(self.policy.total);
        let body = Bytes::from(body);
        let mut backoff = self.policy.first_backoff;
        let mut attempts = 0;
        let mut last = "no time left to try".to_string();
        while attempts < self.policy.max_attempts.max(1) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            attempts += 1;
            match self.put_once(client, &uri, body.clone(), self.policy.attempt_timeout.min(left)).await {
                Ok(()) => return Ok(()),
                Err(Attempt::Final(error)) => return Err(error),
                Err(Attempt::Transient(why)) => {
                    tracing::warn!(
                        attempt = attempts,
                        error = why.as_str(),
                        "custom resource answer not delivered yet"
                    );
                    last = why;
                }
            }
            if end.saturating_duration_since(Instant::now()) <= backoff {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
        Err(DeliveryError::GaveUp { attempts, last })
    }
}

/// PUTs `body` to `url` with [`HttpSink`]'s default policy (15 s at most).
pub async fn deliver(url: &str, body: String) -> Result<(), DeliveryError> {
    let sink = HttpSink::new();
    let budget = sink.policy.total;
    sink.deliver(url, body, budget).await
}

fn parse_url(url: &str) -> Result<Uri, DeliveryError> {
    let uri: Uri = url.parse().map_err(|e| DeliveryError::InvalidUrl(format!("{e}")))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(uri),
        (Some("http" | "https"), _) => Err(DeliveryError::InvalidUrl("no host".into())),
        (scheme, _) => {
            Err(DeliveryError::InvalidUrl(format!("scheme {} is not http or https", scheme.unwrap_or("(none)"))))
        }
    }
}

fn build_client() -> Result<HttpClient, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
        Ok(builder) => builder,
        Err(error) => {
            tracing::warn!(
                error = %error,
                "no usable CA certificates: custom resource answers to https URLs will fail"
            );
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup failed: {e}"))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let connector = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn brief_body(body: &[u8]) -> String {
    const MAX_CHARS: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else if text.chars().count() <= MAX_CHARS {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX_CHARS).collect::<String>())
    }
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

/// A [`ResponseSink`] for tests: records every answer; a failing one also
/// records, then returns an error.
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

// ---------------------------------------------------------------------------
// The wrapper
// ---------------------------------------------------------------------------

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

impl From<CustomResourceError> for lambda_runtime::Diagnostic {
    fn from(error: CustomResourceError) -> Self {
        let error_type = match &error {
            CustomResourceError::Unanswerable(_) => "UnanswerableRequest",
            CustomResourceError::Delivery { .. } => "ResponseNotDelivered",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Time until the Lambda deadline in `ctx` (zero if past); when the context has
/// no deadline (`0`), [`UNKNOWN_DEADLINE_TIME_LEFT`].
pub fn time_left(ctx: &lambda_runtime::Context) -> Duration {
    if ctx.deadline == 0 {
        return UNKNOWN_DEADLINE_TIME_LEFT;
    }
    ctx.deadline().duration_since(SystemTime::now()).unwrap_or(Duration::ZERO)
}

/// The Lambda deadline in `ctx` as an [`Instant`], for [`answer`].
pub fn deadline(ctx: &lambda_runtime::Context) -> Instant {
    Instant::now() + time_left(ctx)
}

/// Answers one custom resource request, whatever happens.
///
/// Parses `payload`; runs `work` in its own task with a [`Progress`] handle,
/// until `deadline - margin`; answers `SUCCESS` or `FAILED` through `sink`;
/// logs one line (`RequestType`, `LogicalResourceId`, `PhysicalResourceId`,
/// `Status`, `Reason`). Answers `FAILED` when the payload is not a valid
/// request but has a `ResponseURL` ("invalid request: ..."), when `work`
/// fails, panics ("internal error: panic: ...") or runs out of time ("timed
/// out after N s while <progress>"; the task is then aborted). Delivery gets
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

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// A resource property that is missing or does not hold what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("property {property}: {problem}")]
pub struct PropertyError {
    pub property: String,
    pub problem: String,
}

fn property_error(name: &str, problem: impl Into<String>) -> PropertyError {
    PropertyError { property: name.to_string(), problem: problem.into() }
}

fn required<'a>(props: &'a Map<String, Value>, name: &str, expected: &str) -> Result<&'a Value, PropertyError> {
    match props.get(name) {
        None | Some(Value::Null) => Err(property_error(name, format!("is required ({expected})"))),
        Some(value) => Ok(value),
    }
}

fn unexpected(name: &str, expected: &str, got: &Value) -> PropertyError {
    property_error(name, format!("expected {expected}, got {}", brief(got)))
}

/// A required, non-empty string. Numbers and booleans are taken as their text.
pub fn prop_str(props: &Map<String, Value>, name: &str) -> Result<String, PropertyError> {
    const EXPECTED: &str = "a non-empty string";
    match required(props, name, EXPECTED)? {
        Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
        Value::String(_) => Err(property_error(name, format!("is empty (expected {EXPECTED})"))),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        other => Err(unexpected(name, EXPECTED, other)),
    }
}

fn prop_unsigned(props: &Map<String, Value>, name: &str, max: u64) -> Result<u64, PropertyError> {
    let expected = format!("a whole number from 0 to {max}");
    let value = required(props, name, &expected)?;
    let number = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    number.filter(|n| *n <= max).ok_or_else(|| unexpected(name, &expected, value))
}

/// A required port or other 16-bit number: `5432` or `"5432"`.
pub fn prop_u16(props: &Map<String, Value>, name: &str) -> Result<u16, PropertyError> {
    prop_unsigned(props, name, u64::from(u16::MAX)).map(|n| u16::try_from(n).expect("prop_unsigned checked the range"))
}

/// A required unsigned number: `300` or `"300"`.
pub fn prop_u64(props: &Map<String, Value>, name: &str) -> Result<u64, PropertyError> {
    prop_unsigned(props, name, u64::MAX)
}

/// A required boolean: `true`, `"true"`, `"False"`, ...
pub fn prop_bool(props: &Map<String, Value>, name: &str) -> Result<bool, PropertyError> {
    const EXPECTED: &str = "true or false";
    let value = required(props, name, EXPECTED)?;
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Ok(false),
        other => Err(unexpected(name, EXPECTED, other)),
    }
}

/// A required list of strings: a JSON list (numbers taken as text), or one
/// string of values separated by spaces and/or commas. Items are trimmed and
/// empty items dropped, so the list may be empty.
pub fn prop_string_list(props: &Map<String, Value>, name: &str) -> Result<Vec<String>, PropertyError> {
    const EXPECTED: &str = "a list of strings, or a string of values separated by spaces or commas";
    match required(props, name, EXPECTED)? {
        Value::String(text) => Ok(text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect()),
        Value::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::String(text) if text.trim().is_empty() => {}
                    Value::String(text) => list.push(text.trim().to_string()),
                    Value::Number(number) => list.push(number.to_string()),
                    other => {
                        return Err(property_error(
                            name,
                            format!("item {index} is {}, expected a string", brief(other)),
                        ));
                    }
                }
            }
            Ok(list)
        }
        other => Err(unexpected(name, EXPECTED, other)),
    }
}

/// Makes any `prop_*` helper optional: `Ok(None)` when the property is
/// missing, `null`, or a blank string (what `!If [Cond, Value, ""]` leaves).
///
/// ```
/// # use nlb_target_sync::custom_resource::{optional, prop_u16};
/// let props = serde_json::json!({"Port": ""}).as_object().unwrap().clone();
/// assert_eq!(optional(&props, "Port", prop_u16), Ok(None));
/// ```
pub fn optional<T>(
    props: &Map<String, Value>,
    name: &str,
    read: impl FnOnce(&Map<String, Value>, &str) -> Result<T, PropertyError>,
) -> Result<Option<T>, PropertyError> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(_) => read(props, name).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const URL: &str = "https://cfn-responses.example/stack/resource?X-Amz-Signature=abc";

    fn create_payload() -> Value {
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

    fn update_payload() -> Value {
        let mut payload = create_payload();
        payload["RequestType"] = json!("Update");
        payload["PhysicalResourceId"] = json!("tg-sync-1");
        payload["OldResourceProperties"] = json!({"Port": "3306"});
        payload
    }

    fn delete_payload() -> Value {
        let mut payload = create_payload();
        payload["RequestType"] = json!("Delete");
        payload["PhysicalResourceId"] = json!("tg-sync-1");
        payload
    }

    fn props(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn far_deadline() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    fn panics_with_a_number() -> Outcome {
        std::panic::panic_any(7_u8)
    }

    fn must_not_run() -> Outcome {
        panic!("the work must not run")
    }

    fn parse_body(body: &str) -> Value {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}"))
    }

    // ---- parsing ----

    #[test]
    fn parses_a_create_request() {
        let request = CustomResourceRequest::parse(&create_payload()).unwrap();
        assert_eq!(request.request_type, RequestType::Create);
        assert_eq!(request.response_url, URL);
        assert_eq!(request.request_id, "req-1");
        assert_eq!(request.logical_resource_id, "TargetSync");
        assert_eq!(request.resource_type, "Custom::TargetSync");
        assert_eq!(request.physical_resource_id, None);
        assert_eq!(request.resource_properties["Port"], "5432");
        assert_eq!(request.old_resource_properties, None);
        assert!(!format!("{request:?}").contains("X-Amz-Signature"));
    }

    #[test]
    fn parses_update_and_delete_requests() {
        let update = CustomResourceRequest::parse(&update_payload()).unwrap();
        assert_eq!(update.request_type, RequestType::Update);
        assert_eq!(update.physical_resource_id.as_deref(), Some("tg-sync-1"));
        assert_eq!(update.old_resource_properties.unwrap()["Port"], "3306");
        let delete = CustomResourceRequest::parse(&delete_payload()).unwrap();
        assert_eq!(delete.request_type, RequestType::Delete);
        assert_eq!(delete.echo().physical_resource_id.as_deref(), Some("tg-sync-1"));
    }

    #[test]
    fn missing_properties_are_empty() {
        let mut payload = create_payload();
        payload.as_object_mut().unwrap().remove("ResourceProperties");
        payload.as_object_mut().unwrap().remove("ResourceType");
        let request = CustomResourceRequest::parse(&payload).unwrap();
        assert!(request.resource_properties.is_empty());
        assert_eq!(request.resource_type, "");
    }

    #[test]
    fn incomplete_request_keeps_what_can_answer_it() {
        let mut payload = update_payload();
        let object = payload.as_object_mut().unwrap();
        object.remove("PhysicalResourceId");
        object.remove("StackId");
        object.insert("ResourceProperties".into(), json!("Port=5432"));
        let error = CustomResourceRequest::parse(&payload).unwrap_err();
        assert_eq!(error.response_url.as_deref(), Some(URL));
        assert_eq!(error.request_id.as_deref(), Some("req-1"));
        assert_eq!(error.logical_resource_id.as_deref(), Some("TargetSync"));
        assert!(error.why.contains("StackId is missing"), "{}", error.why);
        assert!(error.why.contains("PhysicalResourceId is missing"), "{}", error.why);
        assert!(error.why.contains("ResourceProperties is a string"), "{}", error.why);
        assert_eq!(error.echo().request_type, Some(RequestType::Update));
        assert!(!format!("{error:?}").contains("X-Amz-Signature"));
    }

    #[test]
    fn unknown_request_type_and_non_objects_are_unparsable() {
        let mut payload = create_payload();
        payload["RequestType"] = json!("Replace");
        let error = CustomResourceRequest::parse(&payload).unwrap_err();
        assert!(error.why.contains("RequestType \"Replace\" is not Create, Update or Delete"));
        assert_eq!(error.echo().request_type, None);

        let error = CustomResourceRequest::parse(&json!([1, 2])).unwrap_err();
        assert_eq!(error.response_url, None);
        assert!(error.why.contains("a list, not a JSON object"), "{}", error.why);
    }

    // ---- physical ids and responses ----

    fn echo_of(payload: Value) -> RequestEcho {
        CustomResourceRequest::parse(&payload).unwrap().echo()
    }

    #[test]
    fn failed_create_gets_a_stable_derived_id() {
        let echo = echo_of(create_payload());
        let first = Response::from_outcome(&echo, Err(Failure::new("boom")));
        let second = Response::from_outcome(&echo, Err(Failure::new("other")));
        assert_eq!(first.status, Status::Failed);
        assert_eq!(first.physical_resource_id, "failed-create-TargetSync-req-1");
        assert_eq!(first.physical_resource_id, second.physical_resource_id);
        assert!(is_failed_create_id(&first.physical_resource_id));
        assert!(!is_failed_create_id("tg-sync-1"));
        assert_eq!(failed_create_physical_id("", ""), "failed-create-resource-unknown-request");
        let long = failed_create_physical_id(&"é".repeat(2000), "r");
        assert!(long.len() <= MAX_PHYSICAL_ID_BYTES && long.starts_with(FAILED_CREATE_ID_PREFIX));
    }

    #[test]
    fn failed_create_may_name_its_id() {
        let echo = echo_of(create_payload());
        let response = Response::from_outcome(&echo, Err(Failure::new("half done").with_physical_resource_id("tg-7")));
        assert_eq!(response.physical_resource_id, "tg-7");
        let response = Response::from_outcome(&echo, Err(Failure::new("x").with_physical_resource_id("")));
        assert_eq!(response.physical_resource_id, "failed-create-TargetSync-req-1");
    }

    #[test]
    fn failed_update_and_delete_keep_the_request_id() {
        for payload in [update_payload(), delete_payload()] {
            let echo = echo_of(payload);
            let response = Response::from_outcome(&echo, Err(Failure::new("boom").with_physical_resource_id("new")));
            assert_eq!(response.physical_resource_id, "tg-sync-1");
            assert_eq!(response.reason.as_deref(), Some("boom"));
        }
    }

    #[test]
    fn success_with_an_invalid_id_becomes_failed() {
        let echo = echo_of(create_payload());
        let response = Response::from_outcome(&echo, Ok(Success::new("")));
        assert_eq!(response.status, Status::Failed);
        assert!(response.reason.unwrap().contains("empty PhysicalResourceId"));
        let response = Response::from_outcome(&echo, Ok(Success::new("x".repeat(1025))));
        assert_eq!(response.status, Status::Failed);
        assert!(response.reason.unwrap().contains("1025 bytes"));
        let response = Response::from_outcome(&echo, Err(Failure::new("")));
        assert!(response.reason.unwrap().starts_with("unknown error"));
    }

    #[test]
    fn normal_body_has_exactly_the_contract_fields() {
        let echo = echo_of(update_payload());
        let success = Success::new("tg-sync-2").with_data("Targets", "3").with_no_echo(true).with_reason("ok");
        let body = parse_body(&response_body(&Response::from_outcome(&echo, Ok(success))));
        assert_eq!(
            body,
            json!({
                "Status": "SUCCESS",
                "Reason": "ok",
                "PhysicalResourceId": "tg-sync-2",
                "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/db/guid",
                "RequestId": "req-1",
                "LogicalResourceId": "TargetSync",
                "NoEcho": true,
                "Data": {"Targets": "3"}
            })
        );
        let failed = parse_body(&response_body(&Response::from_outcome(&echo, Err("boom".into()))));
        assert_eq!(failed["Status"], "FAILED");
        assert_eq!(failed["Reason"], "boom");
        assert_eq!(failed["PhysicalResourceId"], "tg-sync-1");
        assert_eq!(failed["NoEcho"], false);
        assert_eq!(failed["Data"], json!({}));
        let plain = parse_body(&response_body(&Response::from_outcome(&echo, Ok(Success::new("a")))));
        assert!(plain.get("Reason").is_none());
    }

    #[test]
    fn escaped_len_matches_serde_json() {
        let mut samples: Vec<String> = (0u32..0x80).filter_map(char::from_u32).map(String::from).collect();
        samples.extend(["é", "€", "𝄞", "\u{2028}", "a\"b\\c\n\u{1}"].map(String::from));
        for sample in samples {
            let serialized = serde_json::to_string(&sample).unwrap();
            assert_eq!(escaped_len(&sample), serialized.len() - 2, "{sample:?}");
        }
    }

    #[test]
    fn huge_reason_is_truncated_to_valid_json() {
        let echo = echo_of(create_payload());
        let unit = "é\"\\\u{1}\n€𝄞 ";
        let mut reason = String::new();
        while reason.len() < 100_000 {
            reason.push_str(unit);
        }
        for status_reason in [Err(Failure::new(reason.clone())), Ok(Success::new("id").with_reason(reason.clone()))] {
            let body = response_body(&Response::from_outcome(&echo, status_reason));
            assert!(body.len() <= MAX_BODY_BYTES, "{} bytes", body.len());
            assert!(body.len() > MAX_BODY_BYTES - 20, "wasted space: {} bytes", body.len());
            let json = parse_body(&body);
            let text = json["Reason"].as_str().unwrap();
            assert!(text.ends_with(TRUNCATION_MARKER));
            assert!(reason.starts_with(text.trim_end_matches(TRUNCATION_MARKER)));
            assert_eq!(json["RequestId"], "req-1");
        }
    }

    #[test]
    fn huge_data_is_trimmed_on_success_and_dropped_on_failure() {
        let echo = echo_of(create_payload());
        let success = Success::new("id")
            .with_data("Small", "1")
            .with_data("Big", "x".repeat(10_000))
            .with_data("Medium", "\u{1}".repeat(300));
        let body = response_body(&Response::from_outcome(&echo, Ok(success)));
        assert!(body.len() <= MAX_BODY_BYTES);
        let json = parse_body(&body);
        assert_eq!(json["Status"], "SUCCESS");
        assert_eq!(json["Data"], json!({"Small": "1", "Medium": "\u{1}".repeat(300)}));
        assert!(json["Reason"].as_str().unwrap().contains("dropped attribute(s): Big"));

        let many = (0..2000).fold(Success::new("id"), |s, i| s.with_data(format!("Key{i}"), "v".repeat(i % 50)));
        let json = parse_body(&response_body(&Response::from_outcome(&echo, Ok(many))));
        assert!(!json["Data"].as_object().unwrap().is_empty());

        let mut response = Response::from_outcome(&echo, Err(Failure::new("boom")));
        response.data.insert("Big".into(), json!("x".repeat(10_000)));
        let json = parse_body(&response_body(&response));
        assert_eq!(json["Data"], json!({}));
        assert_eq!(json["Reason"], "boom");
    }

    #[test]
    fn absurd_request_fields_still_fit() {
        let echo = RequestEcho {
            request_type: Some(RequestType::Update),
            stack_id: "\u{1}".repeat(5000),
            request_id: "\"".repeat(5000),
            logical_resource_id: "é".repeat(5000),
            physical_resource_id: Some("x".repeat(1024)),
        };
        let body = response_body(&Response::from_outcome(&echo, Err(Failure::new("r".repeat(9000)))));
        assert!(body.len() <= MAX_BODY_BYTES);
        assert_eq!(parse_body(&body)["Status"], "FAILED");
    }

    // ---- the wrapper ----

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
            prop_bool(&request.resource_properties, "DryRun")?;
            Ok(Success::new("unreachable"))
        })
        .await
        .unwrap();
        assert_eq!(summary["Status"], "FAILED");
        let body = sink.deliveries()[0].json();
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["PhysicalResourceId"], "tg-sync-1");
        assert_eq!(body["Reason"], "property DryRun: is required (true or false)");
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

    #[test]
    fn time_left_reads_the_context_deadline() {
        let mut ctx = lambda_runtime::Context::default();
        assert_eq!(time_left(&ctx), UNKNOWN_DEADLINE_TIME_LEFT);
        let now_ms =
            u64::try_from(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis()).unwrap();
        ctx.deadline = now_ms + 30_000;
        let left = time_left(&ctx);
        assert!(left > Duration::from_secs(29) && left <= Duration::from_secs(30), "{left:?}");
        ctx.deadline = now_ms - 1_000;
        assert_eq!(time_left(&ctx), Duration::ZERO);
    }

    // ---- HTTP delivery ----

    #[derive(Debug, Clone)]
    struct Received {
        method: String,
        target: String,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
        }
    }

    /// A loopback HTTP server answering one request per connection with the
    /// given statuses in turn.
    async fn serve(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            for status in statuses {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut data = Vec::new();
                let mut buffer = [0u8; 4096];
                let head_end = loop {
                    if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at;
                    }
                    let n = socket.read(&mut buffer).await.unwrap();
                    assert!(n > 0, "connection closed before the headers ended");
                    data.extend_from_slice(&buffer[..n]);
                };
                let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
                let mut lines = head.split("\r\n");
                let mut request_line = lines.next().unwrap().split(' ');
                let method = request_line.next().unwrap().to_string();
                let target = request_line.next().unwrap().to_string();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|line| line.split_once(':'))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap_or(0);
                let mut body = data[head_end + 4..].to_vec();
                while body.len() < length {
                    let n = socket.read(&mut buffer).await.unwrap();
                    assert!(n > 0, "connection closed before the body ended");
                    body.extend_from_slice(&buffer[..n]);
                }
                log.lock().unwrap().push(Received { method, target, headers, body: String::from_utf8(body).unwrap() });
                let reply =
                    format!("HTTP/1.1 {status} Status\r\ncontent-length: 11\r\nconnection: close\r\n\r\nstatus body");
                socket.write_all(reply.as_bytes()).await.unwrap();
                socket.shutdown().await.ok();
            }
        });
        (format!("http://{address}/bucket/stack%7Cres?X-Amz-Signature=a%2Fb"), received)
    }

    fn quick_policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            attempt_timeout: Duration::from_secs(2),
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            total: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn http_delivery_puts_the_body_with_an_empty_content_type() {
        let (url, received) = serve(vec![200]).await;
        let body = response_body(&Response::from_outcome(&echo_of(create_payload()), Ok(Success::new("tg-sync-1"))));
        deliver(&url, body.clone()).await.unwrap();
        let received = received.lock().unwrap().clone();
        assert_eq!(received.len(), 1);
        let request = &received[0];
        assert_eq!(request.method, "PUT");
        assert_eq!(request.target, "/bucket/stack%7Cres?X-Amz-Signature=a%2Fb");
        assert_eq!(request.header("content-type"), Some(""));
        assert_eq!(request.header("content-length"), Some(body.len().to_string().as_str()));
        assert_eq!(parse_body(&request.body)["PhysicalResourceId"], "tg-sync-1");
        assert_eq!(request.body, body);
    }

    #[tokio::test]
    async fn http_delivery_retries_transient_errors() {
        let (url, received) = serve(vec![503, 200]).await;
        let sink = HttpSink::with_policy(quick_policy());
        sink.deliver(&url, "{}".into(), Duration::from_secs(5)).await.unwrap();
        assert_eq!(received.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn http_delivery_gives_up_and_stops_on_client_errors() {
        let (url, received) = serve(vec![503, 500, 429, 200]).await;
        let sink = HttpSink::with_policy(quick_policy());
        let error = sink.deliver(&url, "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(error, DeliveryError::GaveUp { attempts: 3, last: "HTTP 429: status body".into() });
        assert_eq!(received.lock().unwrap().len(), 3);

        let (url, received) = serve(vec![403, 200]).await;
        let error = sink.deliver(&url, "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(error, DeliveryError::Rejected { status: 403, body: "status body".into() });
        assert_eq!(received.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn http_delivery_retries_refused_connections_and_rejects_bad_urls() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let sink = HttpSink::with_policy(quick_policy());
        let error =
            sink.deliver(&format!("http://127.0.0.1:{port}/x"), "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, DeliveryError::GaveUp { attempts: 3, .. }), "{error}");
        let error = sink.deliver("ftp://127.0.0.1/x", "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, DeliveryError::InvalidUrl(_)), "{error}");
        let error = sink.deliver("not a url", "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, DeliveryError::InvalidUrl(_)), "{error}");
    }

    #[tokio::test]
    async fn answer_delivers_over_http() {
        let (url, received) = serve(vec![200]).await;
        let mut payload = create_payload();
        payload["ResponseURL"] = json!(url);
        let sink = HttpSink::with_policy(quick_policy());
        answer(payload, far_deadline(), DEFAULT_MARGIN, &sink, |_, _| async move { Ok(Success::new("tg-sync-1")) })
            .await
            .unwrap();
        let body = parse_body(&received.lock().unwrap()[0].body);
        assert_eq!(body["Status"], "SUCCESS");
    }

    // ---- properties ----

    #[test]
    fn prop_str_reads_strings_and_scalars() {
        let p = props(json!({"Name": "db", "Num": 5, "Flag": true, "Blank": " ", "List": []}));
        assert_eq!(prop_str(&p, "Name").unwrap(), "db");
        assert_eq!(prop_str(&p, "Num").unwrap(), "5");
        assert_eq!(prop_str(&p, "Flag").unwrap(), "true");
        assert_eq!(
            prop_str(&p, "Missing").unwrap_err().to_string(),
            "property Missing: is required (a non-empty string)"
        );
        assert_eq!(
            prop_str(&p, "Blank").unwrap_err().to_string(),
            "property Blank: is empty (expected a non-empty string)"
        );
        assert_eq!(prop_str(&p, "List").unwrap_err().to_string(), "property List: expected a non-empty string, got []");
    }

    #[test]
    fn prop_u16_and_u64_read_numbers_and_digit_strings() {
        let p = props(json!({"A": "5432", "B": 5432, "C": " 80 ", "Big": "70000", "Neg": -1, "Word": "abc",
                             "Float": 1.5, "Huge": "18446744073709551615"}));
        assert_eq!(prop_u16(&p, "A").unwrap(), 5432);
        assert_eq!(prop_u16(&p, "B").unwrap(), 5432);
        assert_eq!(prop_u16(&p, "C").unwrap(), 80);
        assert_eq!(
            prop_u16(&p, "Big").unwrap_err().to_string(),
            "property Big: expected a whole number from 0 to 65535, got \"70000\""
        );
        assert!(prop_u16(&p, "Neg").is_err());
        assert!(prop_u16(&p, "Float").is_err());
        assert_eq!(
            prop_u16(&p, "Word").unwrap_err().to_string(),
            "property Word: expected a whole number from 0 to 65535, got \"abc\""
        );
        assert_eq!(prop_u64(&p, "Big").unwrap(), 70_000);
        assert_eq!(prop_u64(&p, "Huge").unwrap(), u64::MAX);
        assert!(prop_u64(&p, "Neg").is_err());
        assert_eq!(
            prop_u64(&p, "Nope").unwrap_err().to_string(),
            format!("property Nope: is required (a whole number from 0 to {})", u64::MAX)
        );
    }

    #[test]
    fn prop_bool_reads_booleans_and_their_text() {
        let p = props(json!({"A": "true", "B": "False", "C": true, "D": false, "E": "yes", "F": 1}));
        assert!(prop_bool(&p, "A").unwrap());
        assert!(!prop_bool(&p, "B").unwrap());
        assert!(prop_bool(&p, "C").unwrap());
        assert!(!prop_bool(&p, "D").unwrap());
        assert_eq!(prop_bool(&p, "E").unwrap_err().to_string(), "property E: expected true or false, got \"yes\"");
        assert!(prop_bool(&p, "F").is_err());
        assert!(prop_bool(&p, "G").unwrap_err().to_string().contains("is required"));
    }

    #[test]
    fn prop_string_list_reads_lists_and_separated_strings() {
        let p = props(json!({
            "List": ["rds-proxy:p", " cluster:c ", "", 5],
            "Spaced": "rds-proxy:p  cluster:c\tinstance:i",
            "Commas": "a,b, c",
            "Empty": "",
            "Bad": [["nested"]],
            "Obj": {"a": 1}
        }));
        assert_eq!(prop_string_list(&p, "List").unwrap(), ["rds-proxy:p", "cluster:c", "5"]);
        assert_eq!(prop_string_list(&p, "Spaced").unwrap(), ["rds-proxy:p", "cluster:c", "instance:i"]);
        assert_eq!(prop_string_list(&p, "Commas").unwrap(), ["a", "b", "c"]);
        assert!(prop_string_list(&p, "Empty").unwrap().is_empty());
        assert_eq!(
            prop_string_list(&p, "Bad").unwrap_err().to_string(),
            "property Bad: item 0 is [\"nested\"], expected a string"
        );
        assert!(prop_string_list(&p, "Obj").unwrap_err().to_string().contains("expected a list of strings"));
        assert!(prop_string_list(&p, "Missing").unwrap_err().to_string().contains("is required"));
    }

    #[test]
    fn optional_skips_missing_null_and_blank() {
        let p = props(json!({"Port": "", "Null": null, "Set": "80", "Bad": "x"}));
        assert_eq!(optional(&p, "Port", prop_u16), Ok(None));
        assert_eq!(optional(&p, "Null", prop_u16), Ok(None));
        assert_eq!(optional(&p, "Absent", prop_string_list), Ok(None));
        assert_eq!(optional(&p, "Set", prop_u16), Ok(Some(80)));
        assert!(optional(&p, "Bad", prop_bool).is_err());
    }

    #[test]
    fn property_errors_become_failures() {
        let p = props(json!({}));
        let failure: Failure = prop_u16(&p, "Port").unwrap_err().into();
        assert_eq!(failure.reason, "property Port: is required (a whole number from 0 to 65535)");
    }
}
