//! The request CloudFormation sends, read leniently enough that even a broken
//! one can usually be answered.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value, json};

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
pub(super) fn brief(value: &Value) -> String {
    const MAX_CHARS: usize = 100;
    let text = value.to_string();
    if text.chars().count() <= MAX_CHARS {
        text
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::testing::{URL, arb_json, arb_text, create_payload, delete_payload, update_payload};
    use super::*;

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

    /// Any value for a key of the request, biased towards what CloudFormation
    /// could send, so that valid requests come up as well as broken ones.
    fn field(plausible: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Option<Value>> {
        prop::option::weighted(0.85, prop_oneof![3 => plausible, 1 => arb_json()])
    }

    fn text_field() -> impl Strategy<Value = Option<Value>> {
        field(prop_oneof![Just(json!("")), arb_text().prop_map(Value::String)])
    }

    fn properties_field() -> impl Strategy<Value = Option<Value>> {
        field(
            prop::collection::vec((arb_text(), arb_json()), 0..4).prop_map(|e| Value::Object(e.into_iter().collect())),
        )
    }

    fn request_shaped() -> impl Strategy<Value = Map<String, Value>> {
        let request_type = field(prop_oneof![
            Just(json!("Create")),
            Just(json!("Update")),
            Just(json!("Delete")),
            Just(json!("")),
            arb_text().prop_map(Value::String),
        ]);
        (
            request_type,
            [text_field(), text_field(), text_field(), text_field(), text_field(), text_field()],
            properties_field(),
            properties_field(),
        )
            .prop_map(|(request_type, texts, properties, old_properties)| {
                let text_keys =
                    ["ResponseURL", "StackId", "RequestId", "LogicalResourceId", "PhysicalResourceId", "ResourceType"];
                [
                    ("RequestType", request_type),
                    ("ResourceProperties", properties),
                    ("OldResourceProperties", old_properties),
                ]
                .into_iter()
                .chain(text_keys.into_iter().zip(texts))
                .filter_map(|(key, value)| Some((key.to_string(), value?)))
                .collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parse_never_panics(payload in arb_json()) {
            match CustomResourceRequest::parse(&payload) {
                Ok(request) => {
                    prop_assert!(payload.is_object());
                    prop_assert_eq!(request.echo().request_type, Some(request.request_type));
                }
                Err(unparsable) => {
                    prop_assert!(!unparsable.why.is_empty());
                    prop_assert!(unparsable.to_string().ends_with(&unparsable.why));
                    prop_assert_eq!(unparsable.echo().request_id, unparsable.request_id.clone().unwrap_or_default());
                }
            }
        }

        /// `parse` accepts exactly what its documentation promises, and an
        /// `Unparsable` keeps every field that could answer the request.
        #[test]
        fn parse_follows_its_contract_on_request_shaped_objects(object in request_shaped()) {
            let text = |key: &str| object.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
            let request_type = object.get("RequestType").and_then(Value::as_str).and_then(RequestType::from_name);
            let object_or_absent =
                |key: &str| matches!(object.get(key), None | Some(Value::Null) | Some(Value::Object(_)));
            let valid = request_type.is_some()
                && ["ResponseURL", "StackId", "RequestId", "LogicalResourceId"].into_iter().all(|k| text(k).is_some())
                && (request_type == Some(RequestType::Create) || text("PhysicalResourceId").is_some())
                && object_or_absent("ResourceProperties")
                && object_or_absent("OldResourceProperties");

            match CustomResourceRequest::parse(&Value::Object(object.clone())) {
                Ok(request) => {
                    prop_assert!(valid);
                    prop_assert_eq!(Some(request.request_type), request_type);
                    prop_assert_eq!(Some(request.response_url.as_str()), text("ResponseURL"));
                    prop_assert_eq!(Some(request.stack_id.as_str()), text("StackId"));
                    prop_assert_eq!(Some(request.request_id.as_str()), text("RequestId"));
                    prop_assert_eq!(Some(request.logical_resource_id.as_str()), text("LogicalResourceId"));
                    prop_assert_eq!(request.physical_resource_id.as_deref(), text("PhysicalResourceId"));
                    prop_assert_eq!(request.resource_type.as_str(), text("ResourceType").unwrap_or(""));
                    let properties = object.get("ResourceProperties").and_then(Value::as_object).cloned();
                    prop_assert_eq!(request.resource_properties, properties.unwrap_or_default());
                    let old_properties = object.get("OldResourceProperties").and_then(Value::as_object);
                    prop_assert_eq!(request.old_resource_properties.as_ref(), old_properties);
                }
                Err(unparsable) => {
                    prop_assert!(!valid, "rejected a valid request: {}", unparsable.why);
                    prop_assert!(!unparsable.why.is_empty());
                    prop_assert_eq!(unparsable.response_url.as_deref(), text("ResponseURL"));
                    prop_assert_eq!(unparsable.request_type.as_deref(), text("RequestType"));
                    prop_assert_eq!(unparsable.stack_id.as_deref(), text("StackId"));
                    prop_assert_eq!(unparsable.request_id.as_deref(), text("RequestId"));
                    prop_assert_eq!(unparsable.logical_resource_id.as_deref(), text("LogicalResourceId"));
                    prop_assert_eq!(unparsable.physical_resource_id.as_deref(), text("PhysicalResourceId"));
                    prop_assert_eq!(unparsable.echo().request_type, request_type);
                }
            }
        }
    }
}
