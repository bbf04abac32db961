//! What the resource logic returns, and the answer built from it: the
//! `PhysicalResourceId` rules and a body that always fits CloudFormation's
//! limits.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::request::RequestEcho;

/// Largest response body CloudFormation accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 4096;
/// Largest `PhysicalResourceId` CloudFormation accepts, in bytes.
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;
/// Appended to a `Reason` that was shortened to fit the body limit.
pub const TRUNCATION_MARKER: &str = " … (truncated)";
/// Prefix of the ids [`failed_create_physical_id`] makes up.
pub const FAILED_CREATE_ID_PREFIX: &str = "failed-create-";

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
}

impl Success {
    pub fn new(physical_resource_id: impl Into<String>) -> Self {
        Success { physical_resource_id: physical_resource_id.into(), data: Map::new() }
    }

    /// Adds one `Fn::GetAtt` attribute.
    pub fn with_data(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.data.insert(key.into(), value.into());
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

/// Length of the longest prefix of `s` that is at most `max` bytes and ends at
/// a char boundary.
pub(super) fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

fn valid_physical_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_PHYSICAL_ID_BYTES
}

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

/// An answer, before [`response_body`] fits it into 4096 bytes. Serializes
/// to the same keys as the body, unshortened.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: Status,
    /// [`Response::from_outcome`] sets it on `FAILED` only.
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// [`Response::from_outcome`] leaves it empty on `FAILED`.
    pub data: Map<String, Value>,
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(serializer)
    }
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
        let (status, reason, physical_resource_id, data) = match outcome {
            Ok(success) => (Status::Success, None, success.physical_resource_id, success.data),
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
                (Status::Failed, Some(reason), id, Map::new())
            }
        };
        Response {
            status,
            reason,
            physical_resource_id,
            stack_id: echo.stack_id.clone(),
            request_id: echo.request_id.clone(),
            logical_resource_id: echo.logical_resource_id.clone(),
            data,
        }
    }

    fn view(&self) -> BodyView<'_> {
        BodyView {
            status: self.status,
            reason: self.reason.as_deref(),
            physical_resource_id: &self.physical_resource_id,
            stack_id: &self.stack_id,
            request_id: &self.request_id,
            logical_resource_id: &self.logical_resource_id,
            no_echo: (),
            data: &self.data,
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
    /// Nothing here hides `Data`, but CloudFormation has always been sent the
    /// key, so it stays, always false.
    #[serde(serialize_with = "serialize_false")]
    no_echo: (),
    data: &'a Map<String, Value>,
}

fn serialize_false<S: Serializer>(_: &(), serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(false)
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
    let mut view = BodyView { reason, ..response.view() };
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::request::RequestType;
    use super::super::testing::{
        arb_json, arb_text, create_payload, delete_payload, echo_of, parse_body, update_payload,
    };
    use super::*;

    #[test]
    fn failed_create_gets_a_stable_derived_id() {
        let echo = echo_of(create_payload());
        let first = Response::from_outcome(&echo, Err(Failure::new("boom")));
        let second = Response::from_outcome(&echo, Err(Failure::new("other")));
        assert_eq!(first.status, Status::Failed);
        assert_eq!(first.physical_resource_id, "failed-create-TargetSync-req-1");
        assert_eq!(first.physical_resource_id, second.physical_resource_id);
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
        let response = Response::from_outcome(&echo, Ok(Success::new("tg-sync-2").with_data("Targets", "3")));
        let text = response_body(&response);
        // Byte for byte, key order included: what CloudFormation has always got.
        assert_eq!(
            text,
            concat!(
                r#"{"Status":"SUCCESS","PhysicalResourceId":"tg-sync-2","#,
                r#""StackId":"arn:aws:cloudformation:eu-west-1:123456789012:stack/db/guid","#,
                r#""RequestId":"req-1","LogicalResourceId":"TargetSync","NoEcho":false,"Data":{"Targets":"3"}}"#
            )
        );
        let body = parse_body(&text);
        assert_eq!(
            body,
            json!({
                "Status": "SUCCESS",
                "PhysicalResourceId": "tg-sync-2",
                "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/db/guid",
                "RequestId": "req-1",
                "LogicalResourceId": "TargetSync",
                "NoEcho": false,
                "Data": {"Targets": "3"}
            })
        );
        assert_eq!(serde_json::to_value(&response).unwrap(), body);
        let with_reason = Response { reason: Some("ok".into()), ..response };
        assert_eq!(parse_body(&response_body(&with_reason))["Reason"], "ok");
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
        let failed = Response::from_outcome(&echo, Err(Failure::new(reason.clone())));
        // Only a hand-built SUCCESS has a reason, but its body must fit too.
        let succeeded =
            Response { reason: Some(reason.clone()), ..Response::from_outcome(&echo, Ok(Success::new("id"))) };
        for response in [failed, succeeded] {
            let body = response_body(&response);
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

    /// Usually a plausible id, sometimes any text (empty and oversized too).
    fn arb_id() -> impl Strategy<Value = String> {
        prop_oneof!["[a-zA-Z0-9:/_-]{1,80}", arb_text()]
    }

    fn arb_data() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec((arb_text(), arb_json()), 0..8).prop_map(|entries| entries.into_iter().collect())
    }

    fn arb_echo() -> impl Strategy<Value = RequestEcho> {
        let request_type = prop::option::of(prop_oneof![
            Just(RequestType::Create),
            Just(RequestType::Update),
            Just(RequestType::Delete)
        ]);
        (request_type, arb_text(), arb_text(), arb_text(), prop::option::of(arb_id())).prop_map(
            |(request_type, stack_id, request_id, logical_resource_id, physical_resource_id)| RequestEcho {
                request_type,
                stack_id,
                request_id,
                logical_resource_id,
                physical_resource_id,
            },
        )
    }

    fn arb_outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            (arb_id(), arb_data()).prop_map(|(physical_resource_id, data)| Ok(Success { physical_resource_id, data })),
            (arb_text(), prop::option::of(arb_id()))
                .prop_map(|(reason, physical_resource_id)| Err(Failure { reason, physical_resource_id })),
        ]
    }

    /// Any field values, including combinations `from_outcome` never makes (a
    /// `SUCCESS` with a reason, a `FAILED` with data or without a reason).
    fn arb_response() -> impl Strategy<Value = Response> {
        let status = prop_oneof![Just(Status::Success), Just(Status::Failed)];
        (status, prop::option::of(arb_text()), [arb_text(), arb_text(), arb_text(), arb_text()], arb_data()).prop_map(
            |(status, reason, [physical_resource_id, stack_id, request_id, logical_resource_id], data)| Response {
                status,
                reason,
                physical_resource_id,
                stack_id,
                request_id,
                logical_resource_id,
                data,
            },
        )
    }

    /// What every body must be: small enough, JSON, with all the keys
    /// CloudFormation reads, and unshortened whenever the whole answer fits.
    fn check_body(response: &Response) -> Result<(), TestCaseError> {
        let body = response_body(response);
        prop_assert!(body.len() <= MAX_BODY_BYTES, "{} bytes", body.len());
        let json: Value = serde_json::from_str(&body).map_err(|e| TestCaseError::fail(format!("not JSON ({e})")))?;
        for key in ["Status", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId", "NoEcho", "Data"] {
            prop_assert!(json.get(key).is_some(), "{} is missing", key);
        }
        prop_assert_eq!(json["Status"].as_str(), Some(response.status.as_str()));
        prop_assert_eq!(&json["NoEcho"], &json!(false));
        if response.status == Status::Failed {
            prop_assert!(json["Reason"].as_str().is_some_and(|reason| !reason.is_empty()));
        }
        let reason_kept =
            response.status == Status::Success || response.reason.as_deref().is_some_and(|r| !r.is_empty());
        let full = serde_json::to_string(response).unwrap();
        if reason_kept && full.len() <= MAX_BODY_BYTES {
            prop_assert_eq!(body, full);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_outcome_gets_a_body_that_fits(echo in arb_echo(), outcome in arb_outcome()) {
            let response = Response::from_outcome(&echo, outcome);
            prop_assert!(valid_physical_id(&response.physical_resource_id));
            check_body(&response)?;
        }

        #[test]
        fn any_response_gets_a_body_that_fits(response in arb_response()) {
            check_body(&response)?;
        }

        #[test]
        fn escaped_len_matches_serde_json_on_any_text(text in arb_text()) {
            prop_assert_eq!(escaped_len(&text), serde_json::to_string(&text).unwrap().len() - 2);
        }
    }
}
