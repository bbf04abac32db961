//! What the two SDK adapters share: the client configuration, and turning an
//! SDK error into an [`ApiFailure`] a person can act on.

use std::error::Error;
use std::time::Duration;

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::operation::RequestId;

use crate::ports::{ApiFailure, Hint};

/// Loads the AWS configuration from the environment, with short connect and
/// attempt timeouts so a VPC without a route to an API fails fast, and the
/// standard retry with backoff for up to 5 attempts (ELB's Describe* token
/// bucket is small: 40, refilled at 10 per second).
pub async fn load_config() -> aws_config::SdkConfig {
    load_config_with(None, None).await
}

/// [`load_config`] with a named profile of the shared config files and an
/// explicit region (the operator command line's `--profile` and `--region`);
/// `None` leaves each to the standard chain.
pub async fn load_config_with(profile: Option<&str>, region: Option<&str>) -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5));
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    loader.load().await
}

/// The service's code, message and request id of a failed call, or what kept
/// the call from being answered, with a hint where one applies. The raw HTTP
/// response (headers and all) stays out: it fills log lines and
/// CloudFormation reasons without telling anyone what to do. Public for the
/// command line's EC2 adapter: every SDK crate's `SdkError` is this one type.
pub fn api_failure<E>(err: &SdkError<E>, api: &'static str) -> ApiFailure
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let unreachable = Some(Hint::Unreachable { api });
    match err {
        SdkError::ServiceError(_) => {
            let code = err.code().map(str::to_string);
            let hint = match code.as_deref() {
                Some(c) if c.contains("AccessDenied") || c.contains("UnauthorizedOperation") => Some(Hint::Permissions),
                Some(c) if c.contains("Throttl") => Some(Hint::Throttled),
                _ => None,
            };
            ApiFailure {
                message: err.message().unwrap_or("the service gave no message").to_string(),
                code,
                request_id: err.request_id().map(str::to_string),
                hint,
            }
        }
        SdkError::TimeoutError(_) => ApiFailure { hint: unreachable, ..ApiFailure::message("the call timed out") },
        SdkError::DispatchFailure(failure) => ApiFailure {
            hint: unreachable,
            ..ApiFailure::message(format!(
                "the request could not be sent: {}",
                causes(failure.as_connector_error().map(|c| c as &(dyn Error + 'static)))
            ))
        },
        SdkError::ResponseError(_) => ApiFailure {
            request_id: err.request_id().map(str::to_string),
            ..ApiFailure::message(format!("the answer could not be read: {}", causes(err.source())))
        },
        _ => ApiFailure::message(format!("the request could not be built: {}", causes(err.source()))),
    }
}

/// An error's chain of causes on one line, outermost first.
fn causes(error: Option<&(dyn Error + 'static)>) -> String {
    crate::causes::chain(error).unwrap_or_else(|| "no detail given".to_string())
}
