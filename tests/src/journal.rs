//! Which calls named which target groups, as the stand-in recorded them
//! (`GET /elb-standin/calls`, `tests/standin/journal.py`): for tests that
//! must show a function left a group alone, not only that it looks unchanged.

use hyper::Method;
use serde_json::Value;

use crate::moto::Moto;

/// The calls that look past a group's listing or change it: a function that
/// must leave a group alone makes none of these naming it.
pub const CALLS_THAT_TOUCH_A_GROUP: [&str; 5] =
    ["DescribeTargetHealth", "RegisterTargets", "DeregisterTargets", "AddTags", "RemoveTags"];

/// One recorded call: its action and the target group ARNs it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCall {
    pub action: String,
    pub target_groups: Vec<String>,
}

impl Moto {
    /// Every call so far that named a target group, in order; the tests' own
    /// fixture calls included (take a count before the part under test).
    pub async fn group_calls(&self) -> Vec<GroupCall> {
        let url = format!("{}/elb-standin/calls", self.endpoint());
        let response = crate::http::send(Method::GET, &url, &[], Vec::new(), Some(std::time::Duration::from_secs(30)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status, 200, "GET {url}: {}", response.text());
        let document: Value = serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("GET {url} answered non-JSON ({e}): {}", response.text()));
        document["calls"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {url}: no calls list in {document}"))
            .iter()
            .map(|call| GroupCall {
                action: call["action"].as_str().unwrap_or_default().to_owned(),
                target_groups: call["targetGroups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|arn| arn.as_str().map(str::to_owned))
                    .collect(),
            })
            .collect()
    }

    /// The calls of [`CALLS_THAT_TOUCH_A_GROUP`] that named `arn` after the
    /// first `since` recorded calls.
    pub async fn calls_touching(&self, arn: &str, since: usize) -> Vec<String> {
        self.group_calls()
            .await
            .into_iter()
            .skip(since)
            .filter(|call| CALLS_THAT_TOUCH_A_GROUP.contains(&call.action.as_str()))
            .filter(|call| call.target_groups.iter().any(|named| named == arn))
            .map(|call| call.action)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{IpFamily, Sandbox};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stand_in_records_the_calls_that_name_a_group() {
        let sandbox = Sandbox::start().await;
        let tg = sandbox.aws.create_ip_target_group("journal", &sandbox.network.vpc_id, IpFamily::V4).await;
        let since = sandbox.moto.group_calls().await.len();
        sandbox.aws.register_targets(&tg.arn, &["10.1.1.5:5432"]).await;
        sandbox.aws.tag(&tg.arn, &[("team", "data")]).await;
        sandbox.aws.registered_targets(&tg.arn).await;
        let touching = sandbox.moto.calls_touching(&tg.arn, since).await;
        assert_eq!(touching, vec!["RegisterTargets", "AddTags", "DescribeTargetHealth"]);
        assert!(sandbox.moto.calls_touching("arn:other", 0).await.is_empty());
    }
}
