//! The client configuration the SDK adapters share (their failures are read
//! in `sdk_failure.rs`).

use std::time::Duration;

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
