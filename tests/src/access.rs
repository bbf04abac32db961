//! The stand-in's access rules, set through its control endpoint
//! (`POST /elb-standin/access`, `tests/standin/access.py`): the actions it
//! answers with AccessDenied, worded as IAM words it, instead of passing
//! them to moto. `POST /moto-api/reset` lifts them.

use hyper::Method;
use serde_json::json;

use crate::moto::Moto;
use crate::standin::control_request;

/// The access rules of one stand-in. Obtain it with [`Moto::access_rules`].
#[derive(Clone, Debug)]
pub struct AccessRules {
    endpoint: String,
}

impl Moto {
    /// The stand-in's access rules (at the start: every call allowed).
    pub fn access_rules(&self) -> AccessRules {
        AccessRules { endpoint: self.endpoint() }
    }
}

impl AccessRules {
    /// From now on, answers each of `actions` (`elasticloadbalancing:AddTags`,
    /// `rds:DescribeDBClusters`, `dynamodb:PutItem`, ...) with AccessDenied;
    /// replaces the earlier list, and `&[]` allows everything again. Returns
    /// the denied actions as the stand-in holds them.
    ///
    /// # Panics
    ///
    /// If the stand-in refuses the request (an action not shaped
    /// `service:Operation`).
    pub async fn deny(&self, actions: &[&str]) -> Vec<String> {
        let body = json!({ "deny": actions }).to_string();
        let (status, answer) = control_request(&self.endpoint, Method::POST, "access", &body).await;
        assert_eq!(status, 200, "POST /elb-standin/access {body}: {answer}");
        let denied = answer["deny"].as_array().unwrap_or_else(|| panic!("no deny list in {answer}"));
        denied.iter().map(|a| a.as_str().unwrap_or_default().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    //! The rules through the SDK, as the command line meets them.
    use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
    use aws_sdk_elasticloadbalancingv2::operation::RequestId;

    use super::*;
    use crate::IpFamily;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_denied_action_is_answered_access_denied_naming_it_and_its_resource() {
        let moto = Moto::start().await;
        let aws = moto.aws().await;
        let net = aws.create_network("10.8.0.0/16").await;
        let tg = aws.create_ip_target_group("tg-denied", &net.vpc_id, IpFamily::V4).await;
        let rules = moto.access_rules();
        assert_eq!(rules.deny(&["elasticloadbalancing:AddTags"]).await, vec!["elasticloadbalancing:AddTags"]);

        let refused = aws.elb.add_tags().resource_arns(&tg.arn).tags(tag()).send().await.expect_err("denied");
        let refused = refused.into_service_error();
        assert_eq!(refused.code(), Some("AccessDenied"));
        let message = refused.message().unwrap_or_default();
        assert!(
            message
                .contains(&format!("not authorized to perform: elasticloadbalancing:AddTags on resource: {}", tg.arn)),
            "{message}"
        );
        assert!(refused.request_id().is_some(), "a request id, as AWS gives one");
        // Other actions still reach moto; a Describe on every resource names none.
        assert!(aws.tags(&tg.arn).await.is_empty());
        rules.deny(&["elasticloadbalancing:DescribeTargetGroups"]).await;
        let refused = aws.elb.describe_target_groups().send().await.expect_err("denied").into_service_error();
        let message = refused.message().unwrap_or_default();
        assert!(
            message.ends_with(
                "DescribeTargetGroups because no identity-based policy allows the \
                                   elasticloadbalancing:DescribeTargetGroups action"
            ),
            "{message}"
        );
        aws.elb.add_tags().resource_arns(&tg.arn).tags(tag()).send().await.expect("AddTags allowed again");

        // A reset lifts the rules; a malformed one is refused, saying why.
        moto.reset().await;
        assert!(rules.deny(&[]).await.is_empty());
        let (status, answer) =
            control_request(&moto.endpoint(), Method::POST, "access", r#"{"deny": ["AddTags"]}"#).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains("elasticloadbalancing:AddTags"), "{answer}");
    }

    fn tag() -> aws_sdk_elasticloadbalancingv2::types::Tag {
        aws_sdk_elasticloadbalancingv2::types::Tag::builder().key("k").value("v").build()
    }
}
