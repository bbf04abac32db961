//! What an AWS call's failure was, and what to do about it, phrased for
//! where the code runs: a Lambda function (its role, its VPC) or a person at
//! a terminal (profiles, `aws sso login`, `--region`). The SDK adapters
//! classify (`adapters/sdk_failure.rs`); this module only holds the result
//! and words the advice.

use std::fmt;

use crate::permissions::IamAction;

/// Where the code runs, which decides how advice is worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunsIn {
    /// One of the Lambda functions: credentials come from the function's
    /// role, the network from its VPC.
    #[default]
    LambdaFunction,
    /// The operator command line, at a terminal or in a CI job.
    Terminal,
}

/// Why an AWS call failed, as far as the SDK's error tells.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cause {
    /// No credentials could be found or loaded.
    NoCredentials,
    /// The credentials (or the SSO token behind them) ran out.
    ExpiredCredentials,
    /// No Region was configured.
    NoRegion,
    /// The identity in use may not call `action` (on `resource`, when the
    /// service's answer names it).
    AccessDenied { action: IamAction, resource: Option<String> },
    /// The API endpoint could not be reached, or did not answer in time.
    Unreachable { api: &'static str },
    /// Throttled even after the SDK's retries.
    Throttled,
    /// Anything else: the service's code and message say what.
    #[default]
    Other,
}

/// The kind of a failure, as scripts read it (`--output json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    NoCredentials,
    ExpiredCredentials,
    NoRegion,
    AccessDenied,
    Unreachable,
    Throttled,
    Other,
}

impl FailureKind {
    /// `no-credentials`, `expired-credentials`, `no-region`, `access-denied`,
    /// `unreachable`, `throttled` or `other`.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::NoCredentials => "no-credentials",
            FailureKind::ExpiredCredentials => "expired-credentials",
            FailureKind::NoRegion => "no-region",
            FailureKind::AccessDenied => "access-denied",
            FailureKind::Unreachable => "unreachable",
            FailureKind::Throttled => "throttled",
            FailureKind::Other => "other",
        }
    }
}

impl Cause {
    pub fn kind(&self) -> FailureKind {
        match self {
            Cause::NoCredentials => FailureKind::NoCredentials,
            Cause::ExpiredCredentials => FailureKind::ExpiredCredentials,
            Cause::NoRegion => FailureKind::NoRegion,
            Cause::AccessDenied { .. } => FailureKind::AccessDenied,
            Cause::Unreachable { .. } => FailureKind::Unreachable,
            Cause::Throttled => FailureKind::Throttled,
            Cause::Other => FailureKind::Other,
        }
    }

    /// What to do, in one sentence for where the code runs; `None` for
    /// [`Cause::Other`], whose message is all there is to go on.
    pub fn fix(&self, runs_in: RunsIn) -> Option<String> {
        use RunsIn::{LambdaFunction as Lambda, Terminal};
        let fix = match (self, runs_in) {
            (Cause::Other, _) => return None,
            (Cause::NoCredentials, Terminal) => NO_CREDENTIALS_AT_A_TERMINAL.to_string(),
            (Cause::NoCredentials, Lambda) => NO_CREDENTIALS_IN_A_FUNCTION.to_string(),
            (Cause::ExpiredCredentials, Terminal) => EXPIRED_AT_A_TERMINAL.to_string(),
            (Cause::ExpiredCredentials, Lambda) => EXPIRED_IN_A_FUNCTION.to_string(),
            (Cause::NoRegion, Terminal) => NO_REGION_AT_A_TERMINAL.to_string(),
            (Cause::NoRegion, Lambda) => NO_REGION_IN_A_FUNCTION.to_string(),
            (Cause::AccessDenied { action, resource }, Terminal) => format!(
                "Allow {action}{} for the identity in use (the README's \"Permissions\" has the policy each command \
                 needs), or use a profile that has it (--profile NAME).",
                on(resource)
            ),
            (Cause::AccessDenied { action, resource }, Lambda) => {
                format!(
                    "Allow {action}{} in the function role's policy (docs/deploy.md, \"Permissions\").",
                    on(resource)
                )
            }
            (Cause::Unreachable { api }, Terminal) => format!(
                "Check the network path to the {api} API: the connection, any proxy (HTTPS_PROXY), the Region, and \
                 AWS_ENDPOINT_URL if it is set."
            ),
            (Cause::Unreachable { api }, Lambda) => format!(
                "The {api} API endpoint could not be reached: a function in a VPC needs a NAT gateway or an \
                 interface VPC endpoint for {api}."
            ),
            (Cause::Throttled, Terminal) => THROTTLED_AT_A_TERMINAL.to_string(),
            (Cause::Throttled, Lambda) => THROTTLED_IN_A_FUNCTION.to_string(),
        };
        Some(fix)
    }
}

const NO_CREDENTIALS_AT_A_TERMINAL: &str = "Configure credentials: --profile NAME or AWS_PROFILE for a profile of \
    ~/.aws/config (`aws configure list-profiles` lists them; run `aws sso login --profile NAME` first for an SSO \
    profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; RUST_LOG=debug shows where it looked.";
const NO_CREDENTIALS_IN_A_FUNCTION: &str = "A function gets its credentials from its execution role: check that \
    the function has one and that no AWS_ACCESS_KEY_ID or AWS_PROFILE variable is set on it.";
const EXPIRED_AT_A_TERMINAL: &str = "Log in again (`aws sso login --profile NAME` for an SSO profile) or get new \
    session credentials, then run the command again.";
const EXPIRED_IN_A_FUNCTION: &str = "The execution role's session ran out; Lambda renews it, so if this repeats, \
    check that no AWS_SESSION_TOKEN or AWS_PROFILE variable is set on the function.";
const NO_REGION_AT_A_TERMINAL: &str =
    "Name one: --region REGION (e.g. --region eu-west-1), AWS_REGION, or a region in the profile.";
const NO_REGION_IN_A_FUNCTION: &str =
    "Lambda sets AWS_REGION: check that the function's configuration does not override it.";
const THROTTLED_AT_A_TERMINAL: &str =
    "Throttled even after the SDK's retries: wait a minute, or sync fewer target groups at once (--concurrency).";
const THROTTLED_IN_A_FUNCTION: &str =
    "Throttled even after the SDK's retries; sync fewer target groups at once (NLB_SYNC_CONCURRENCY).";

fn on(resource: &Option<String>) -> String {
    resource.as_ref().map(|r| format!(" on {r}")).unwrap_or_default()
}

/// What an AWS API answered when a call failed: the parts a person can act
/// on (never the raw HTTP exchange), what kind of failure it was and, in its
/// text, what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiFailure {
    /// The service's error code (`AccessDenied`, `ValidationError`, ...),
    /// absent when no answer came back.
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
    pub cause: Cause,
    pub runs_in: RunsIn,
    /// When set, the text leaves the fix out: it is shown apart (the command
    /// line's `--output json`).
    pub fix_apart: bool,
}

impl ApiFailure {
    /// A failure known only by its message (unit tests, fakes).
    pub fn message(message: impl Into<String>) -> Self {
        ApiFailure { message: message.into(), ..Default::default() }
    }

    pub fn kind(&self) -> FailureKind {
        self.cause.kind()
    }

    /// What to do, phrased for where the code runs.
    pub fn fix(&self) -> Option<String> {
        self.cause.fix(self.runs_in)
    }

    /// Takes the fix out of the failure's text, to show it apart; the text
    /// then says only what failed.
    pub fn take_fix(&mut self) -> Option<String> {
        self.fix_apart = true;
        self.fix()
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        if let Some(fix) = self.fix().filter(|_| !self.fix_apart) {
            let ended = self.request_id.is_none() && self.message.ends_with('.');
            write!(f, "{}{fix}", if ended { " " } else { ". " })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{ADD_TAGS, DESCRIBE_TARGET_GROUPS};

    fn failure(cause: Cause, runs_in: RunsIn) -> ApiFailure {
        ApiFailure { cause, runs_in, ..ApiFailure::message("it failed") }
    }

    fn every_cause() -> Vec<Cause> {
        vec![
            Cause::NoCredentials,
            Cause::ExpiredCredentials,
            Cause::NoRegion,
            Cause::AccessDenied { action: ADD_TAGS, resource: Some("arn:tg".into()) },
            Cause::Unreachable { api: "Elastic Load Balancing" },
            Cause::Throttled,
            Cause::Other,
        ]
    }

    #[test]
    fn the_text_keeps_code_message_request_id_and_the_fix() {
        let failure = ApiFailure {
            code: Some("AccessDenied".into()),
            request_id: Some("req-1".into()),
            ..failure(Cause::AccessDenied { action: ADD_TAGS, resource: None }, RunsIn::LambdaFunction)
        };
        assert_eq!(
            failure.to_string(),
            "AccessDenied: it failed (request id req-1). Allow elasticloadbalancing:AddTags in the function role's \
             policy (docs/deploy.md, \"Permissions\")."
        );
        assert_eq!(ApiFailure::message("boom").to_string(), "boom", "no fix for a failure of kind other");
    }

    #[test]
    fn a_terminal_is_told_about_profiles_and_flags_never_about_functions() {
        for cause in every_cause() {
            let Some(fix) = cause.fix(RunsIn::Terminal) else { continue };
            for lambda_only in ["function", "NAT gateway", "NLB_SYNC_"] {
                assert!(!fix.contains(lambda_only), "{cause:?}: {fix}");
            }
        }
        let fix = |cause: Cause| cause.fix(RunsIn::Terminal).unwrap();
        assert!(
            fix(Cause::NoCredentials).contains("--profile NAME") && fix(Cause::NoCredentials).contains("AWS_PROFILE")
        );
        assert!(fix(Cause::ExpiredCredentials).contains("aws sso login"));
        assert!(fix(Cause::NoRegion).contains("--region"));
        let denied = fix(Cause::AccessDenied { action: DESCRIBE_TARGET_GROUPS, resource: None });
        assert!(denied.starts_with("Allow elasticloadbalancing:DescribeTargetGroups for"), "{denied}");
        assert!(fix(Cause::Unreachable { api: "RDS" }).contains("AWS_ENDPOINT_URL"));
        assert!(fix(Cause::Throttled).contains("--concurrency"));
    }

    #[test]
    fn a_function_is_told_about_its_role_and_its_vpc() {
        let fix = |cause: Cause| cause.fix(RunsIn::LambdaFunction).unwrap();
        assert!(fix(Cause::NoCredentials).contains("execution role"));
        assert!(fix(Cause::ExpiredCredentials).contains("execution role"));
        assert!(fix(Cause::NoRegion).contains("AWS_REGION"));
        assert_eq!(
            fix(Cause::AccessDenied { action: ADD_TAGS, resource: Some("arn:tg".into()) }),
            "Allow elasticloadbalancing:AddTags on arn:tg in the function role's policy (docs/deploy.md, \
             \"Permissions\")."
        );
        assert_eq!(
            fix(Cause::Unreachable { api: "RDS" }),
            "The RDS API endpoint could not be reached: a function in a VPC needs a NAT gateway or an interface VPC \
             endpoint for RDS."
        );
        assert!(fix(Cause::Throttled).contains("NLB_SYNC_CONCURRENCY"));
        for cause in every_cause() {
            let Some(fix) = cause.fix(RunsIn::LambdaFunction) else { continue };
            for terminal_only in ["--profile", "--region", "aws sso login", "--concurrency"] {
                assert!(!fix.contains(terminal_only), "{cause:?}: {fix}");
            }
        }
    }

    #[test]
    fn a_fix_taken_apart_leaves_the_text() {
        let mut failure = failure(Cause::NoRegion, RunsIn::Terminal);
        assert!(failure.to_string().contains("--region"));
        let fix = failure.take_fix().unwrap();
        assert!(fix.contains("--region"));
        assert_eq!(failure.to_string(), "it failed");
        assert_eq!(failure.kind().label(), "no-region");
        let ended = ApiFailure { cause: Cause::NoRegion, ..ApiFailure::message("the profile has none.") };
        assert!(ended.to_string().starts_with("the profile has none. Lambda sets"), "one period: {ended}");
    }

    #[test]
    fn kinds_are_the_documented_labels() {
        let labels: Vec<&str> = every_cause().iter().map(|c| c.kind().label()).collect();
        assert_eq!(
            labels,
            [
                "no-credentials",
                "expired-credentials",
                "no-region",
                "access-denied",
                "unreachable",
                "throttled",
                "other"
            ]
        );
    }
}
