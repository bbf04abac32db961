//! Readers for `ResourceProperties`. CloudFormation passes every scalar as a
//! string, so numbers and lists are accepted in their text form too.

use serde_json::{Map, Value};

use super::request::brief;
use super::response::Failure;

/// A resource property that is missing or does not hold what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("property {property}: {problem}")]
pub struct PropertyError {
    pub property: String,
    pub problem: String,
}

/// Lets the logic use `?` on a property read.
impl From<PropertyError> for Failure {
    fn from(error: PropertyError) -> Self {
        Failure::new(error.to_string())
    }
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
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::testing::{arb_json, arb_text};
    use super::*;

    fn props(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

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
        assert!(optional(&p, "Bad", prop_u16).is_err());
    }

    #[test]
    fn property_errors_become_failures() {
        let p = props(json!({}));
        let failure: Failure = prop_u16(&p, "Port").unwrap_err().into();
        assert_eq!(failure.reason, "property Port: is required (a whole number from 0 to 65535)");
    }

    /// Every reader rejects a property with an error that names it, or returns
    /// what its documentation promises.
    fn check_readers(props: &Map<String, Value>, name: &str) -> Result<(), TestCaseError> {
        let named = |error: &PropertyError| error.property == name && error.to_string().starts_with("property ");
        match prop_str(props, name) {
            Ok(text) => prop_assert!(!text.trim().is_empty()),
            Err(error) => prop_assert!(named(&error)),
        }
        match (prop_u16(props, name), prop_u64(props, name)) {
            (Ok(small), Ok(large)) => prop_assert_eq!(u64::from(small), large),
            (Ok(small), Err(_)) => prop_assert!(false, "{} is a u16 but not a u64", small),
            (Err(error), Ok(large)) => prop_assert!(named(&error) && large > u64::from(u16::MAX)),
            (Err(small), Err(large)) => prop_assert!(named(&small) && named(&large)),
        }
        match prop_string_list(props, name) {
            Ok(items) => prop_assert!(items.iter().all(|item| !item.is_empty() && item.trim() == item)),
            Err(error) => prop_assert!(named(&error)),
        }
        let blank = match props.get(name) {
            None | Some(Value::Null) => true,
            Some(Value::String(text)) => text.trim().is_empty(),
            Some(_) => false,
        };
        if blank {
            prop_assert_eq!(optional(props, name, prop_u64), Ok(None));
        } else {
            prop_assert_eq!(optional(props, name, prop_u64), prop_u64(props, name).map(Some));
            prop_assert_eq!(optional(props, name, prop_string_list), prop_string_list(props, name).map(Some));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn readers_never_panic_on_any_value(name in arb_text(), value in arb_json()) {
            let props: Map<String, Value> = [(name.clone(), value)].into_iter().collect();
            check_readers(&props, &name)?;
        }

        #[test]
        fn readers_never_panic_on_any_properties(props in arb_json(), name in arb_text()) {
            let props = props.as_object().cloned().unwrap_or_default();
            check_readers(&props, &name)?;
            for key in props.keys() {
                check_readers(&props, key)?;
            }
        }
    }
}
