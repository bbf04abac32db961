//! Reading a failed SDK call into an [`ApiFailure`]: which [`Cause`], decided
//! on the SDK's types (the dispatch failure's connector error, the
//! credential provider's error, the client's configured Region) and on the
//! service's error code; the service's code, message and request id; and
//! where the code runs, for the advice. The whole chain of causes (the
//! credential chain's attempts, for one) goes to the debug log
//! (`RUST_LOG=debug`), never into the message.

use std::error::Error;

use aws_credential_types::provider::error::CredentialsError;
use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::operation::RequestId;

use crate::failure::{ApiFailure, Cause, RunsIn};
use crate::permissions::IamAction;

/// Error codes that mean the identity may not make the call.
const ACCESS_DENIED_CODES: [&str; 3] = ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"];
/// Error codes that mean the session credentials ran out.
const EXPIRED_CODES: [&str; 2] = ["ExpiredToken", "ExpiredTokenException"];

/// How one client's failures are read: its API, where the code runs, and
/// whether its configuration names a Region.
#[derive(Debug, Clone)]
pub struct FailureReader {
    api: &'static str,
    runs_in: RunsIn,
    has_region: bool,
}

impl FailureReader {
    /// `api`: the API's name in messages ("Elastic Load Balancing").
    pub fn new(api: &'static str, runs_in: RunsIn, config: &aws_config::SdkConfig) -> Self {
        FailureReader { api, runs_in, has_region: config.region().is_some() }
    }

    /// A reader for canned clients, which always have a Region.
    #[cfg(test)]
    pub(crate) fn canned(api: &'static str) -> Self {
        FailureReader { api, runs_in: RunsIn::LambdaFunction, has_region: true }
    }

    /// What a person can act on from the failed call `action`.
    pub fn read<E>(&self, err: &SdkError<E>, action: IamAction) -> ApiFailure
    where
        E: ProvideErrorMetadata + Error + 'static,
    {
        tracing::debug!(api = self.api, %action, error = %full_chain(err), "AWS call failed");
        let (cause, message) = self.cause_and_message(err, action);
        let answered = matches!(err, SdkError::ServiceError(_));
        ApiFailure {
            code: err.code().filter(|_| answered).map(str::to_string),
            message,
            request_id: err.request_id().map(str::to_string),
            cause,
            runs_in: self.runs_in,
            fix_apart: false,
        }
    }

    fn cause_and_message<E>(&self, err: &SdkError<E>, action: IamAction) -> (Cause, String)
    where
        E: ProvideErrorMetadata + Error + 'static,
    {
        let unreachable = Cause::Unreachable { api: self.api };
        match err {
            SdkError::ServiceError(_) => {
                let message = err.message().unwrap_or("the service gave no message").to_string();
                (service_cause(err.code(), &message, action), message)
            }
            SdkError::TimeoutError(_) => (unreachable, "the call timed out".to_string()),
            SdkError::DispatchFailure(failure) => {
                let Some(connector) = failure.as_connector_error() else {
                    return (Cause::Other, "the request could not be sent".to_string());
                };
                if let Some(credentials) = find::<CredentialsError>(connector) {
                    return credentials_cause(credentials);
                }
                let sent = format!("the request could not be sent: {}", one_line(Some(connector)));
                if connector.is_io() || connector.is_timeout() {
                    (unreachable, sent)
                } else if !self.has_region {
                    (Cause::NoRegion, "no AWS Region is configured".to_string())
                } else {
                    (Cause::Other, sent)
                }
            }
            SdkError::ResponseError(_) => {
                (Cause::Other, format!("the answer could not be read: {}", one_line(err.source())))
            }
            _ if !self.has_region => (Cause::NoRegion, "no AWS Region is configured".to_string()),
            _ => (Cause::Other, format!("the request could not be built: {}", one_line(err.source()))),
        }
    }
}

/// A service's answer, by its error code.
fn service_cause(code: Option<&str>, message: &str, action: IamAction) -> Cause {
    match code {
        Some(code) if ACCESS_DENIED_CODES.contains(&code) => {
            Cause::AccessDenied { action, resource: denied_resource(message) }
        }
        Some(code) if EXPIRED_CODES.contains(&code) => Cause::ExpiredCredentials,
        Some(code) if THROTTLING_ERRORS.contains(&code) => Cause::Throttled,
        _ => Cause::Other,
    }
}

/// The resource an access-denied message names: IAM writes "... is not
/// authorized to perform: <action> on resource: <arn> because ..." (the
/// error has no field for it; Describe calls on `*` name none).
fn denied_resource(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("on resource: ")?;
    let resource = rest.split_whitespace().next()?.trim_end_matches(['.', ',', ';']);
    (!resource.is_empty()).then(|| resource.to_string())
}

/// The credential provider's failure. Whether it ran out is text: the SDK
/// keeps the SSO and login token errors that say so private
/// (`SsoTokenProviderError::ExpiredToken`, "the SSO token has expired").
fn credentials_cause(error: &CredentialsError) -> (Cause, String) {
    let detail = || one_line(error.source());
    match error {
        CredentialsError::CredentialsNotLoaded(_) => (Cause::NoCredentials, "no AWS credentials were found".into()),
        CredentialsError::ProviderTimedOut(timeout) => {
            (Cause::NoCredentials, format!("loading AWS credentials timed out after {:?}", timeout.timeout_duration()))
        }
        CredentialsError::InvalidConfiguration(_) => {
            (Cause::NoCredentials, format!("the AWS credentials configuration cannot be used: {}", detail()))
        }
        CredentialsError::ProviderError(_) if detail().to_lowercase().contains("expired") => {
            (Cause::ExpiredCredentials, format!("the AWS credentials have expired: {}", detail()))
        }
        CredentialsError::ProviderError(_) => {
            (Cause::NoCredentials, format!("loading AWS credentials failed: {}", detail()))
        }
        _ => (Cause::Other, format!("loading AWS credentials failed: {}", detail())),
    }
}

/// The first error of type `T` in `error`'s chain of causes, `error` included.
fn find<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// An error's chain of causes on one line, outermost first (some causes
/// span lines).
fn one_line(error: Option<&(dyn Error + 'static)>) -> String {
    let chain = crate::causes::chain(error).unwrap_or_else(|| "no detail given".to_string());
    chain.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn full_chain(error: &(dyn Error + 'static)) -> String {
    crate::causes::chain(Some(error)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! The real ELB client against canned answers (and, for an unreachable
    //! endpoint, a closed port on the loopback), so the errors are the SDK's own.
    use aws_credential_types::credential_fn::provide_credentials_fn;
    use aws_sdk_elasticloadbalancingv2 as elb;
    use elb::operation::describe_target_groups::DescribeTargetGroupsError;

    use super::super::canned::{Canned, error_body};
    use super::*;
    use crate::failure::FailureKind;
    use crate::permissions::{ADD_TAGS, DESCRIBE_TARGET_GROUPS};

    const API: &str = "Elastic Load Balancing";

    fn reader(runs_in: RunsIn) -> FailureReader {
        FailureReader { api: API, runs_in, has_region: true }
    }

    async fn describe(client: &elb::Client) -> SdkError<DescribeTargetGroupsError> {
        client.describe_target_groups().send().await.expect_err("the call fails")
    }

    /// DescribeTargetGroups through a canned client whose credentials provider answers `credentials`.
    async fn with_credentials(credentials: fn() -> CredentialsError) -> SdkError<DescribeTargetGroupsError> {
        let provider = provide_credentials_fn(move || async move { Err(credentials()) });
        let client = elb::Client::from_conf(Canned::default().elb_config().credentials_provider(provider).build());
        describe(&client).await
    }

    /// DescribeTargetGroups answered with `code` and `message`.
    async fn answered(code: &str, message: &str) -> SdkError<DescribeTargetGroupsError> {
        let canned = Canned::default().on("DescribeTargetGroups", 400, error_body("Sender", code, message));
        describe(&canned.elb()).await
    }

    #[tokio::test]
    async fn access_denied_names_the_action_and_the_resource_the_answer_names() {
        let message = "User: arn:aws:sts::1:assumed-role/ops/me is not authorized to perform: \
                       elasticloadbalancing:AddTags on resource: arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/1 \
                       because no identity-based policy allows the elasticloadbalancing:AddTags action";
        let canned = Canned::default().on("AddTags", 403, error_body("Sender", "AccessDenied", message));
        let err = canned.elb().add_tags().resource_arns("arn:tg").send().await.expect_err("denied");
        let failure = reader(RunsIn::Terminal).read(&err, ADD_TAGS);
        let resource = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/1";
        assert_eq!(failure.cause, Cause::AccessDenied { action: ADD_TAGS, resource: Some(resource.into()) });
        assert_eq!(failure.request_id.as_deref(), Some("canned-request-1"));
        let text = failure.to_string();
        assert!(text.starts_with(&format!("AccessDenied: {message} (request id canned-request-1). ")), "{text}");
        assert!(text.ends_with(&format!("Allow elasticloadbalancing:AddTags on {resource} for the identity in use (the README's \"Permissions\" has the policy each command needs), or use a profile that has it (--profile NAME).")), "{text}");
        let lambda = reader(RunsIn::LambdaFunction).read(&err, ADD_TAGS).to_string();
        assert!(lambda.ends_with(&format!("Allow elasticloadbalancing:AddTags on {resource} in the function role's policy (docs/deploy.md, \"Permissions\").")), "{lambda}");
    }

    #[tokio::test]
    async fn a_denied_describe_on_every_resource_names_the_action_only() {
        let message = "User: arn:aws:iam::1:user/ops is not authorized to perform: \
                       elasticloadbalancing:DescribeTargetGroups because no identity-based policy allows it";
        let failure = reader(RunsIn::Terminal).read(&answered("AccessDenied", message).await, DESCRIBE_TARGET_GROUPS);
        assert_eq!(failure.cause, Cause::AccessDenied { action: DESCRIBE_TARGET_GROUPS, resource: None });
        assert!(failure.fix().unwrap().starts_with("Allow elasticloadbalancing:DescribeTargetGroups for the identity"));
        assert_eq!(
            denied_resource("... on resource: arn:aws:dynamodb:us-east-1:1:table/leases."),
            Some("arn:aws:dynamodb:us-east-1:1:table/leases".into())
        );
    }

    #[tokio::test]
    async fn service_codes_for_throttling_expiry_and_the_rest() {
        let read = |err| reader(RunsIn::Terminal).read(&err, DESCRIBE_TARGET_GROUPS);
        assert_eq!(read(answered("Throttling", "Rate exceeded").await).cause, Cause::Throttled);
        let expired = read(answered("ExpiredToken", "The security token included in the request is expired").await);
        assert_eq!(expired.cause, Cause::ExpiredCredentials);
        assert!(expired.to_string().contains("aws sso login"), "{expired}");
        let other = read(answered("ValidationError", "bad name").await);
        assert_eq!(
            (other.kind(), other.to_string()),
            (FailureKind::Other, "ValidationError: bad name (request id canned-request-1)".to_string())
        );
    }

    #[tokio::test]
    async fn no_credentials_is_one_line_without_the_chain_s_attempts() {
        let err = with_credentials(|| {
            CredentialsError::not_loaded(
                "no credentials found in chain. Attempted:\n  Environment: not set\n  Profile: none",
            )
        })
        .await;
        assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
        let failure = reader(RunsIn::Terminal).read(&err, DESCRIBE_TARGET_GROUPS);
        assert_eq!(failure.cause, Cause::NoCredentials);
        let text = failure.to_string();
        assert!(text.starts_with("no AWS credentials were found. Configure credentials: --profile NAME"), "{text}");
        for detail in ["Attempted", "Environment", "\n", "could not be reached", "function"] {
            assert!(!text.contains(detail), "{detail:?} in {text}");
        }
        let lambda = reader(RunsIn::LambdaFunction).read(&err, DESCRIBE_TARGET_GROUPS).to_string();
        assert!(lambda.contains("execution role") && !lambda.contains("--profile"), "{lambda}");
    }

    #[tokio::test]
    async fn an_expired_sso_token_and_other_provider_failures() {
        let expired =
            with_credentials(|| CredentialsError::provider_error("the SSO token has expired and cannot be refreshed"))
                .await;
        let failure = reader(RunsIn::Terminal).read(&expired, DESCRIBE_TARGET_GROUPS);
        assert_eq!(failure.cause, Cause::ExpiredCredentials);
        assert!(failure.message.contains("the SSO token has expired"), "{}", failure.message);
        let timed_out =
            with_credentials(|| CredentialsError::provider_timed_out(std::time::Duration::from_secs(5))).await;
        assert_eq!(reader(RunsIn::Terminal).read(&timed_out, DESCRIBE_TARGET_GROUPS).cause, Cause::NoCredentials);
        let refused =
            with_credentials(|| CredentialsError::provider_error("AccessDenied: not allowed to assume role ops")).await;
        let failure = reader(RunsIn::Terminal).read(&refused, DESCRIBE_TARGET_GROUPS);
        assert_eq!(failure.cause, Cause::NoCredentials);
        assert!(failure.message.contains("not allowed to assume role ops"), "{}", failure.message);
    }

    #[tokio::test]
    async fn no_region_with_or_without_an_endpoint_url() {
        let no_region = Canned::default().elb_config().region(None::<elb::config::Region>);
        let without_endpoint = describe(&elb::Client::from_conf(no_region.clone().build())).await;
        let with_endpoint =
            describe(&elb::Client::from_conf(no_region.endpoint_url("http://127.0.0.1:9").build())).await;
        let reader = FailureReader { api: API, runs_in: RunsIn::Terminal, has_region: false };
        for err in [without_endpoint, with_endpoint] {
            let failure = reader.read(&err, DESCRIBE_TARGET_GROUPS);
            assert_eq!(failure.cause, Cause::NoRegion, "{err:?}");
            assert!(
                failure.to_string().starts_with("no AWS Region is configured. Name one: --region REGION"),
                "{failure}"
            );
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = elb::Config::builder()
            .behavior_version(elb::config::BehaviorVersion::latest())
            .region(elb::config::Region::new("us-east-1"))
            .credentials_provider(elb::config::Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .retry_config(elb::config::retry::RetryConfig::disabled())
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .build();
        let err = describe(&elb::Client::from_conf(config)).await;
        let failure = reader(RunsIn::Terminal).read(&err, DESCRIBE_TARGET_GROUPS);
        assert_eq!(failure.cause, Cause::Unreachable { api: API });
        let text = failure.to_string();
        assert!(
            text.starts_with("the request could not be sent: io error") && text.contains("AWS_ENDPOINT_URL"),
            "{text}"
        );
        let lambda = reader(RunsIn::LambdaFunction).read(&err, DESCRIBE_TARGET_GROUPS).to_string();
        assert!(
            lambda.contains("needs a NAT gateway or an interface VPC endpoint for Elastic Load Balancing"),
            "{lambda}"
        );
        let timed_out = SdkError::<DescribeTargetGroupsError, _>::timeout_error("attempt timeout");
        assert_eq!(
            reader(RunsIn::Terminal).read(&timed_out, DESCRIBE_TARGET_GROUPS).cause,
            Cause::Unreachable { api: API }
        );
    }
}
