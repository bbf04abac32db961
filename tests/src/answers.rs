//! Strict readers of the JSON the functions answer and log and the command
//! line prints: the sync report (`targetGroups`, one report per target
//! group), the failover answer's `events`, and the lists of targets and
//! sources inside them.
//!
//! Each reader fails the test, showing what it got, when the JSON does not
//! have the shape it reads: a missing list, an object where a string belongs,
//! a report that is not there. So an assertion built on one cannot pass
//! because the JSON changed shape (a reader that dropped what it did not
//! understand once made `assert!(strings(&body["targetGroups"]).is_empty())`
//! unable to fail: the reports are objects).

use serde_json::Value;

/// The items of a JSON list of strings, in order.
///
/// # Panics
///
/// If `list` is not a list, or one of its items is not a string.
pub fn strings(list: &Value) -> Vec<String> {
    let items = list.as_array().unwrap_or_else(|| panic!("expected a list of strings, got {list}"));
    items
        .iter()
        .map(|item| {
            item.as_str()
                .unwrap_or_else(|| panic!("expected a list of strings, got {list}: {item} is not a string"))
                .to_owned()
        })
        .collect()
}

/// [`strings`], sorted.
///
/// # Panics
///
/// As [`strings`].
pub fn sorted_strings(list: &Value) -> Vec<String> {
    let mut items = strings(list);
    items.sort();
    items
}

/// The per-target-group reports of a sync answer or a command line report:
/// the objects of its `targetGroups` list.
///
/// # Panics
///
/// If `answer` has no `targetGroups` list, or an item of it is not an object.
pub fn group_reports(answer: &Value) -> &[Value] {
    let reports = answer["targetGroups"]
        .as_array()
        .unwrap_or_else(|| panic!("expected a targetGroups list of reports in {answer:#}"));
    if let Some(item) = reports.iter().find(|item| !item.is_object()) {
        panic!("expected target group reports (objects) in targetGroups, got {item} in {answer:#}");
    }
    reports
}

/// The report of the target group `arn` in `answer`.
///
/// # Panics
///
/// As [`group_reports`], and if no report or more than one is for `arn`.
pub fn group_report<'a>(answer: &'a Value, arn: &str) -> &'a Value {
    let mut found = group_reports(answer).iter().filter(|report| report["targetGroupArn"] == arn);
    match (found.next(), found.next()) {
        (Some(report), None) => report,
        (None, _) => panic!("no report of {arn} in {answer:#}"),
        (Some(_), Some(_)) => panic!("more than one report of {arn} in {answer:#}"),
    }
}

/// The one report of `answer`.
///
/// # Panics
///
/// As [`group_reports`], and if there is not exactly one report.
pub fn only_group_report(answer: &Value) -> &Value {
    match group_reports(answer) {
        [report] => report,
        reports => panic!("expected exactly one target group report, got {} in {answer:#}", reports.len()),
    }
}

/// The `decision` of each line of a failover answer's `events` list, in order.
///
/// # Panics
///
/// If `answer` has no `events` list, or a line of it has no `decision` text.
pub fn event_decisions(answer: &Value) -> Vec<String> {
    let events = answer["events"].as_array().unwrap_or_else(|| panic!("expected an events list in {answer:#}"));
    events
        .iter()
        .map(|event| {
            event["decision"]
                .as_str()
                .unwrap_or_else(|| panic!("expected a decision text in the event line {event}"))
                .to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What `read` panicked with.
    fn panic_text<R>(read: impl FnOnce() -> R + std::panic::UnwindSafe) -> String {
        let payload = std::panic::catch_unwind(read).map(drop).expect_err("the reader should fail");
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    }

    #[test]
    fn strings_are_read_in_order_or_sorted() {
        let list = json!(["b:1", "a:2"]);
        assert_eq!(strings(&list), vec!["b:1", "a:2"]);
        assert_eq!(sorted_strings(&list), vec!["a:2", "b:1"]);
        assert_eq!(strings(&json!([])), Vec::<String>::new());
    }

    #[test]
    fn a_list_of_strings_with_anything_else_in_it_fails() {
        let objects = json!({"targetGroups": [{"targetGroupArn": "arn:tg"}]});
        let text = panic_text(|| strings(&objects["targetGroups"]));
        assert!(text.contains("is not a string") && text.contains("arn:tg"), "{text}");
        let text = panic_text(|| sorted_strings(&json!(["10.1.1.1:5432", 7])));
        assert!(text.contains("7 is not a string"), "{text}");
        let text = panic_text(|| strings(&Value::Null));
        assert!(text.contains("expected a list of strings, got null"), "{text}");
    }

    #[test]
    fn reports_are_found_by_arn_and_must_be_objects() {
        let answer =
            json!({"targetGroups": [{"targetGroupArn": "arn:a", "n": 1}, {"targetGroupArn": "arn:b", "n": 2}]});
        assert_eq!(group_reports(&answer).len(), 2);
        assert_eq!(group_report(&answer, "arn:b")["n"], 2);
        assert!(panic_text(|| group_report(&answer, "arn:c")).contains("no report of arn:c"));
        assert!(panic_text(|| only_group_report(&answer)).contains("exactly one"));
        let one = json!({"targetGroups": [{"targetGroupArn": "arn:a"}]});
        assert_eq!(only_group_report(&one)["targetGroupArn"], "arn:a");
        let names = json!({"targetGroups": ["arn:a"]});
        assert!(panic_text(|| group_reports(&names)).contains("got \"arn:a\""));
        let none = json!({"runs": 0});
        assert!(panic_text(|| group_reports(&none)).contains("expected a targetGroups list"));
    }

    #[test]
    fn event_decisions_must_all_be_there() {
        let answer = json!({"events": [{"decision": "ignored: x"}, {"decision": "synced: y"}]});
        assert_eq!(event_decisions(&answer), vec!["ignored: x", "synced: y"]);
        let missing = json!({"events": [{"decision": "ignored: x"}, {"EventId": "RDS-EVENT-0071"}]});
        assert!(panic_text(|| event_decisions(&missing)).contains("expected a decision text"));
        assert!(panic_text(|| event_decisions(&json!({"runs": 0}))).contains("expected an events list"));
    }
}
