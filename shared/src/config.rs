//! Settings from the environment, and the engine wired to the real adapters.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `NLB_SYNC_DNS_SERVER` | `ip` or `ip:port` of the DNS server to query | the system resolver |
//! | `NLB_SYNC_DNS_TIMEOUT_MS` | timeout of one DNS attempt | 2000 |
//! | `NLB_SYNC_DNS_ATTEMPTS` | attempts per DNS query | 2 |
//! | `NLB_SYNC_DRY_RUN` | `true`: plan and log, change nothing | false |
//! | `NLB_SYNC_CONCURRENCY` | target groups synced at once (1-64) | 8 |
//! | `NLB_SYNC_DNS_QUERIES` | queries per `dns:` source and run, answers unioned (1-10) | 3 |
//! | `NLB_SYNC_DNS_ABSENCE_SECONDS` | how long a `dns:` source must miss an address before it is deregistered (0-3600) | 120 |
//! | `NLB_SYNC_WATCH_SECONDS` | after an RDS event, how long to keep re-checking (1-900) | 120 |
//! | `NLB_SYNC_RECHECK_MS` | interval between re-checks (100-60000) | 2000 |
//! | `NLB_SYNC_ELB_DESCRIBE_RATE` | ELB `Describe*` calls per second this process may send (1-10), in bursts of twice that; ELB's bucket (40, refilled at 10/s) is shared with every tool of the account | 6 |
//! | `NLB_SYNC_AUDIT_SECONDS` | with a lease table, a group known settled at its wanted set has its health read only once in this period, in a slot spread by its ARN (0: every run reads every group) (0, or 120-3600) | 900 |
//! | `NLB_SYNC_LEASE_TABLE` | DynamoDB table of per-target-group leases (partition key `targetGroup`, string): one run at a time changes a group | none: runs are ordered by the applied-view tag alone |
//! | `NLB_SYNC_ALLOWED_SOURCES` | space-separated patterns over source tokens (`*` matches any run, `:` included); a token that matches none is refused | every source |
//! | `NLB_SYNC_ALLOWED_CIDRS` | space-separated CIDRs; an address outside all of them is never registered | RFC 1918, 100.64.0.0/10, fc00::/7 |
//! | `NLB_SYNC_TARGET_GROUPS` | space-separated patterns over target group names or ARNs; a tagged group outside them is not read further nor changed | every tagged group |
//! | `NLB_SYNC_FAULT_INJECTION` | `panic`: `sync-on-deploy` panics in its work (a drill of the always-answer path) | unset |
//!
//! The standard AWS variables (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...) apply.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use std::sync::Arc;

use crate::adapters::{
    DescribeRate, DnsSetupError, DynamoDbLeases, ElbInspector, ElbTargetGroups, HickoryDns, NameServer, RdsApi,
    RdsInspector, load_config,
};
use crate::exposure::{AllowedAddresses, AllowedSources, ExposurePolicy, PolicyError, TargetGroupScope};
use crate::failure::RunsIn;
use crate::settled::{AuditSchedule, DEFAULT_AUDIT_PERIOD};
use crate::sync::{SyncEngine, SyncOptions};
use crate::usage::ApiMeter;

/// ELB `Describe*` calls per second by default: 60 % of ELB's refill, the
/// rest left to the console, Terraform and other tools of the account.
pub const DEFAULT_ELB_DESCRIBE_RATE: u32 = 6;

/// The engine with the real AWS and DNS adapters.
pub type AwsSyncEngine = SyncEngine<ElbTargetGroups, RdsApi, HickoryDns>;

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable}='{value}' is invalid: {expected}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    /// What is wrong, or what the variable takes.
    pub expected: Cow<'static, str>,
}

/// The engine could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Dns(#[from] DnsSetupError),
}

/// What the environment configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub name_server: NameServer,
    pub dns_timeout: Duration,
    pub dns_attempts: usize,
    /// The DynamoDB lease table; `None`: no leases.
    pub lease_table: Option<String>,
    /// ELB `Describe*` calls per second (`NLB_SYNC_ELB_DESCRIBE_RATE`).
    pub elb_describe_rate: u32,
    /// How often a settled group's health is read anyway (`NLB_SYNC_AUDIT_SECONDS`).
    pub audit_period: Duration,
    /// What the installer allows to be exposed.
    pub exposure: ExposurePolicy,
    pub options: SyncOptions,
}

impl Settings {
    /// Reads the settings through `get` (the process environment in production).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let read = |variable: &'static str| get(variable).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let name_server = match read("NLB_SYNC_DNS_SERVER") {
            None => NameServer::System,
            Some(value) => NameServer::At(
                value
                    .parse::<SocketAddr>()
                    .or_else(|_| value.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| ConfigError {
                        variable: "NLB_SYNC_DNS_SERVER",
                        value,
                        expected: "an IP address with an optional port, e.g. 10.0.0.2 or 127.0.0.1:5353".into(),
                    })?,
            ),
        };
        let number = |variable: &'static str, default: u64, min: u64, max: u64, expected: &'static str| {
            number_var(&get, variable, default, min, max, expected)
        };
        let dry_run = match read("NLB_SYNC_DRY_RUN").map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no"].contains(&v.as_str()) => false,
            Some(value) => {
                return Err(ConfigError { variable: "NLB_SYNC_DRY_RUN", value, expected: "true or false".into() });
            }
        };
        Ok(Settings {
            name_server,
            dns_timeout: Duration::from_millis(number(
                "NLB_SYNC_DNS_TIMEOUT_MS",
                2000,
                50,
                30_000,
                "milliseconds from 50 to 30000",
            )?),
            dns_attempts: number("NLB_SYNC_DNS_ATTEMPTS", 2, 1, 5, "a whole number from 1 to 5")? as usize,
            lease_table: match read("NLB_SYNC_LEASE_TABLE") {
                Some(value) if !valid_table_name(&value) => {
                    return Err(ConfigError {
                        variable: "NLB_SYNC_LEASE_TABLE",
                        value,
                        expected: "a DynamoDB table name: 3 to 255 letters, digits, '_', '-' and '.'".into(),
                    });
                }
                table => table,
            },
            elb_describe_rate: number(
                "NLB_SYNC_ELB_DESCRIBE_RATE",
                u64::from(DEFAULT_ELB_DESCRIBE_RATE),
                1,
                10,
                "calls per second, a whole number from 1 to 10",
            )? as u32,
            audit_period: Duration::from_secs(
                match number(
                    "NLB_SYNC_AUDIT_SECONDS",
                    DEFAULT_AUDIT_PERIOD.as_secs(),
                    0,
                    3600,
                    "seconds: 0 (read every group every run) or 120 to 3600",
                )? {
                    1..120 => {
                        return Err(ConfigError {
                            variable: "NLB_SYNC_AUDIT_SECONDS",
                            value: get("NLB_SYNC_AUDIT_SECONDS").unwrap_or_default(),
                            expected: "seconds: 0 (read every group every run) or 120 to 3600".into(),
                        });
                    }
                    seconds => seconds,
                },
            ),
            exposure: ExposurePolicy {
                sources: policy_var(&get, "NLB_SYNC_ALLOWED_SOURCES", AllowedSources::parse)?,
                addresses: policy_var(&get, "NLB_SYNC_ALLOWED_CIDRS", AllowedAddresses::parse)?,
                target_groups: policy_var(&get, "NLB_SYNC_TARGET_GROUPS", TargetGroupScope::parse)?,
            },
            options: SyncOptions {
                dry_run,
                concurrency: number("NLB_SYNC_CONCURRENCY", 8, 1, 64, "a whole number from 1 to 64")? as usize,
                dns_queries: number("NLB_SYNC_DNS_QUERIES", 3, 1, 10, "a whole number from 1 to 10")? as usize,
                absence_window: Duration::from_secs(number(
                    "NLB_SYNC_DNS_ABSENCE_SECONDS",
                    120,
                    0,
                    3600,
                    "seconds from 0 to 3600",
                )?),
            },
        })
    }

    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|k| std::env::var(k).ok())
    }
}

/// True when `NLB_SYNC_FAULT_INJECTION=panic` asks `sync-on-deploy` to panic
/// in its work, to drill the always-answer path (tests, game days).
pub fn panic_drill_from_env() -> bool {
    std::env::var("NLB_SYNC_FAULT_INJECTION").as_deref() == Ok("panic")
}

/// After an RDS event: how long to watch, and how often to re-check.
pub fn watch_from_env() -> Result<(Duration, Duration), ConfigError> {
    watch_from_lookup(|k| std::env::var(k).ok())
}

fn watch_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<(Duration, Duration), ConfigError> {
    let watch = number_var(&get, "NLB_SYNC_WATCH_SECONDS", 120, 1, 900, "seconds from 1 to 900")?;
    let recheck = number_var(&get, "NLB_SYNC_RECHECK_MS", 2000, 100, 60_000, "milliseconds from 100 to 60000")?;
    Ok((Duration::from_secs(watch), Duration::from_millis(recheck)))
}

/// DynamoDB's rule for table names.
fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

fn number_var(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
    min: u64,
    max: u64,
    expected: &'static str,
) -> Result<u64, ConfigError> {
    match get(variable).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(value) => match value.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError { variable, value, expected: expected.into() }),
        },
    }
}

/// Reads one part of the exposure policy; unset and empty read as `""`
/// (each part's default). A malformed item is named in the error.
fn policy_var<T>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    parse: fn(&str) -> Result<T, PolicyError>,
) -> Result<T, ConfigError> {
    let value = get(variable).unwrap_or_default();
    parse(&value).map_err(|error| ConfigError {
        variable,
        value: value.trim().to_string(),
        expected: error.to_string().into(),
    })
}

/// Builds a Lambda function's engine from the environment: AWS clients and
/// the DNS resolver.
pub async fn engine_from_env() -> Result<AwsSyncEngine, SetupError> {
    let settings = Settings::from_env()?;
    engine_with(&settings, &load_config().await, RunsIn::LambdaFunction)
}

/// Builds the engine from settings and an AWS configuration (the command
/// line reads both from its flags and the environment); `runs_in` words the
/// advice of failed AWS calls for where it runs.
pub fn engine_with(
    settings: &Settings,
    config: &aws_config::SdkConfig,
    runs_in: RunsIn,
) -> Result<AwsSyncEngine, SetupError> {
    let dns = HickoryDns::new(settings.name_server, settings.dns_timeout, settings.dns_attempts)?;
    let meter = Arc::new(ApiMeter::default());
    let rate = DescribeRate::per_second(f64::from(settings.elb_describe_rate));
    let elb = ElbTargetGroups::new(config, runs_in, rate, meter.clone());
    let rds = RdsApi::new(config, runs_in, meter.clone());
    let engine = SyncEngine::new(elb, rds, dns, settings.options.clone())
        .with_exposure(settings.exposure.clone())
        .with_meter(meter.clone())
        .with_audit(AuditSchedule { period: settings.audit_period });
    Ok(match &settings.lease_table {
        Some(table) => engine.with_leases(Arc::new(DynamoDbLeases::new(config, table, runs_in, meter))),
        None => engine,
    })
}

/// The read-only ELB and RDS ports `doctor` needs besides the engine's.
pub struct AwsInspectors {
    pub load_balancers: ElbInspector,
    pub databases: RdsInspector,
}

/// The ELB and RDS ports of `doctor`, over an AWS configuration.
pub fn inspectors_with(config: &aws_config::SdkConfig) -> AwsInspectors {
    AwsInspectors { load_balancers: ElbInspector::new(config), databases: RdsInspector::new(config) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.name_server, NameServer::System);
        assert_eq!(s.options, SyncOptions::default());
        assert_eq!((s.options.dns_queries, s.options.absence_window), (3, Duration::from_secs(120)));
        assert_eq!(s.dns_timeout, Duration::from_secs(2));
        assert_eq!(s.lease_table, None);
        assert_eq!(s.exposure, ExposurePolicy::default());
        let leased = settings(&[("NLB_SYNC_LEASE_TABLE", "stack-Leases-1A2B")]).unwrap();
        assert_eq!(leased.lease_table.as_deref(), Some("stack-Leases-1A2B"));
        assert_eq!((s.elb_describe_rate, s.audit_period), (6, Duration::from_secs(900)));
    }

    #[test]
    fn the_describe_rate_and_audit_period_stay_within_their_ranges() {
        assert_eq!(settings(&[("NLB_SYNC_ELB_DESCRIBE_RATE", "3")]).unwrap().elb_describe_rate, 3);
        for bad in ["0", "11", "2.5"] {
            let error = settings(&[("NLB_SYNC_ELB_DESCRIBE_RATE", bad)]).unwrap_err();
            assert_eq!(error.variable, "NLB_SYNC_ELB_DESCRIBE_RATE");
        }
        assert_eq!(settings(&[("NLB_SYNC_AUDIT_SECONDS", "0")]).unwrap().audit_period, Duration::ZERO);
        assert_eq!(settings(&[("NLB_SYNC_AUDIT_SECONDS", "300")]).unwrap().audit_period, Duration::from_secs(300));
        for bad in ["60", "3601", "-1"] {
            let error = settings(&[("NLB_SYNC_AUDIT_SECONDS", bad)]).unwrap_err();
            assert_eq!((error.variable, error.value.as_str()), ("NLB_SYNC_AUDIT_SECONDS", bad));
        }
    }

    #[test]
    fn dns_server_with_and_without_port() {
        assert_eq!(
            settings(&[("NLB_SYNC_DNS_SERVER", "127.0.0.1:5353")]).unwrap().name_server,
            NameServer::At("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(
            settings(&[("NLB_SYNC_DNS_SERVER", "10.0.0.2")]).unwrap().name_server,
            NameServer::At("10.0.0.2:53".parse().unwrap())
        );
        assert_eq!(
            settings(&[("NLB_SYNC_DNS_SERVER", "[::1]:53")]).unwrap().name_server,
            NameServer::At("[::1]:53".parse().unwrap())
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_what_is_expected() {
        for (var, value) in [
            ("NLB_SYNC_DNS_SERVER", "dns.local"),
            ("NLB_SYNC_DRY_RUN", "maybe"),
            ("NLB_SYNC_CONCURRENCY", "0"),
            ("NLB_SYNC_DNS_TIMEOUT_MS", "x"),
            ("NLB_SYNC_LEASE_TABLE", "no spaces"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var) && err.contains(value), "{err}");
        }
        assert!(settings(&[("NLB_SYNC_DRY_RUN", "TRUE")]).unwrap().options.dry_run);
    }

    #[test]
    fn the_exposure_policy_comes_from_its_three_variables() {
        let s = settings(&[
            ("NLB_SYNC_ALLOWED_SOURCES", " rds-cluster:prod-* rds-proxy:* "),
            ("NLB_SYNC_ALLOWED_CIDRS", "10.1.0.0/16"),
            ("NLB_SYNC_TARGET_GROUPS", "db-*"),
        ])
        .unwrap();
        assert_eq!(s.exposure.sources.to_string(), "rds-cluster:prod-* rds-proxy:*");
        assert_eq!(s.exposure.addresses.to_string(), "10.1.0.0/16");
        assert_eq!(s.exposure.target_groups.to_string(), "db-*");
        let empty = settings(&[
            ("NLB_SYNC_ALLOWED_SOURCES", ""),
            ("NLB_SYNC_ALLOWED_CIDRS", "  "),
            ("NLB_SYNC_TARGET_GROUPS", ""),
        ]);
        assert_eq!(empty.unwrap().exposure, ExposurePolicy::default(), "empty is unset");
    }

    #[test]
    fn a_malformed_pattern_or_cidr_names_the_variable_and_the_item() {
        for (variable, value, item) in [
            ("NLB_SYNC_ALLOWED_SOURCES", "rds-cluster:* rds-clustr:*", "'rds-clustr:*' names no source kind"),
            ("NLB_SYNC_ALLOWED_CIDRS", "10.0.0.0/8 10.1.2.3/16", "'10.1.2.3/16' has bits set"),
            ("NLB_SYNC_TARGET_GROUPS", "db-a,db-b", "'db-a,db-b' holds ','"),
        ] {
            let err = settings(&[(variable, value)]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("environment variable {variable}='{value}' is invalid: ")), "{err}");
            assert!(err.contains(item), "{err}");
        }
    }

    #[test]
    fn watch_settings() {
        let none = |_: &str| None;
        assert_eq!(watch_from_lookup(none).unwrap(), (Duration::from_secs(120), Duration::from_millis(2000)));
        let bad = |k: &str| (k == "NLB_SYNC_RECHECK_MS").then(|| "5".to_string());
        assert!(watch_from_lookup(bad).unwrap_err().to_string().contains("NLB_SYNC_RECHECK_MS"));
    }
}
