//! The functions' `NLB_SYNC_*` settings as flags over those variables (clap's
//! `env`): a flag wins over its variable, and either is checked by the
//! library's own rule for that variable ([`Settings::from_lookup`]), so the
//! ranges and their messages live once; the message names what was given.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, Args};
use nlb_target_sync::{
    AllowedAddresses, AllowedSources, ConfigError, ExposurePolicy, NameServer, Settings, SyncOptions, TargetGroupScope,
};

/// The settings flags every command takes, each over its variable.
#[derive(Debug, Args)]
pub struct SettingFlags {
    /// DNS server as ip or ip:port [default: the system resolver]
    #[arg(long, global = true, value_name = "ADDR")]
    #[arg(env = "NLB_SYNC_DNS_SERVER", value_parser = rule(|s| s.name_server))]
    dns_server: Option<NameServer>,
    /// Timeout of one DNS attempt in ms [default: 2000]
    #[arg(long = "dns-timeout-ms", global = true, value_name = "MS")]
    #[arg(env = "NLB_SYNC_DNS_TIMEOUT_MS", value_parser = rule(|s| s.dns_timeout))]
    dns_timeout: Option<Duration>,
    /// Attempts per DNS query [default: 2]
    #[arg(long, global = true, value_name = "N")]
    #[arg(env = "NLB_SYNC_DNS_ATTEMPTS", value_parser = rule(|s| s.dns_attempts))]
    dns_attempts: Option<usize>,
    /// Target groups synced at once [default: 8]
    #[arg(long, global = true, value_name = "N")]
    #[arg(env = "NLB_SYNC_CONCURRENCY", value_parser = rule(|s| s.options.concurrency))]
    concurrency: Option<usize>,
    /// Queries per dns: source, answers unioned; up to 16 while a name
    /// answers something other than before [default: 3]
    #[arg(long, global = true, value_name = "N")]
    #[arg(env = "NLB_SYNC_DNS_QUERIES", value_parser = rule(|s| s.options.dns_queries))]
    dns_queries: Option<usize>,
    /// Seconds a dns: name seen rotating must miss an address before it goes
    /// [default: 120]
    #[arg(long = "dns-absence-seconds", global = true, value_name = "S")]
    #[arg(env = "NLB_SYNC_DNS_ABSENCE_SECONDS", value_parser = rule(|s| s.options.absence_window))]
    dns_absence: Option<Duration>,
    /// DynamoDB table of per-target-group leases, so apply never overlaps a
    /// function's run on a group (the stack's LeaseTable output) [default: none]
    #[arg(long, global = true, value_name = "TABLE")]
    #[arg(env = "NLB_SYNC_LEASE_TABLE", value_parser = rule(|s| s.lease_table.clone()))]
    lease_table: Option<Option<String>>,
    /// ELB Describe* calls per second, leaving the rest of the account's
    /// budget (10/s) to other tools [default: 6]
    #[arg(long, global = true, value_name = "N")]
    #[arg(env = "NLB_SYNC_ELB_DESCRIBE_RATE", value_parser = rule(|s| s.elb_describe_rate))]
    elb_describe_rate: Option<u32>,
    /// Seconds between health reads of a group known settled (with a lease
    /// table; 0: read every group every time) [default: 900]
    #[arg(long = "audit-seconds", global = true, value_name = "S")]
    #[arg(env = "NLB_SYNC_AUDIT_SECONDS", value_parser = rule(|s| s.audit_period))]
    audit_period: Option<Duration>,
    /// Source token patterns the installation allows, space-separated, '*'
    /// matching any run [default: every source]
    #[arg(long, global = true, value_name = "PATTERNS")]
    #[arg(env = "NLB_SYNC_ALLOWED_SOURCES", value_parser = rule(|s| s.exposure.sources.clone()))]
    allowed_sources: Option<AllowedSources>,
    /// CIDRs an address must be in to be registered, space-separated
    /// [default: RFC 1918, 100.64.0.0/10, fc00::/7]
    #[arg(long, global = true, value_name = "CIDRS")]
    #[arg(env = "NLB_SYNC_ALLOWED_CIDRS", value_parser = rule(|s| s.exposure.addresses.clone()))]
    allowed_cidrs: Option<AllowedAddresses>,
    /// Target group name or ARN patterns the installation manages; others are
    /// not read further [default: every tagged target group]
    #[arg(long, global = true, value_name = "PATTERNS")]
    #[arg(env = "NLB_SYNC_TARGET_GROUPS", value_parser = rule(|s| s.exposure.target_groups.clone()))]
    allowed_target_groups: Option<TargetGroupScope>,
    /// Change nothing: apply, tag and untag only say what they would do
    #[arg(long, global = true)]
    #[arg(env = "NLB_SYNC_DRY_RUN", value_parser = rule(|s| s.options.dry_run))]
    dry_run: bool,
}

impl SettingFlags {
    /// The settings: each flag (else its variable) over the library's default.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let defaults = Settings::from_lookup(|_| None)?;
        Ok(Settings {
            name_server: self.dns_server.unwrap_or(defaults.name_server),
            dns_timeout: self.dns_timeout.unwrap_or(defaults.dns_timeout),
            dns_attempts: self.dns_attempts.unwrap_or(defaults.dns_attempts),
            lease_table: self.lease_table.clone().flatten().or(defaults.lease_table),
            elb_describe_rate: self.elb_describe_rate.unwrap_or(defaults.elb_describe_rate),
            audit_period: self.audit_period.unwrap_or(defaults.audit_period),
            exposure: ExposurePolicy {
                sources: self.allowed_sources.clone().unwrap_or(defaults.exposure.sources),
                addresses: self.allowed_cidrs.clone().unwrap_or(defaults.exposure.addresses),
                target_groups: self.allowed_target_groups.clone().unwrap_or(defaults.exposure.target_groups),
            },
            options: SyncOptions {
                dry_run: self.dry_run,
                concurrency: self.concurrency.unwrap_or(defaults.options.concurrency),
                dns_queries: self.dns_queries.unwrap_or(defaults.options.dns_queries),
                absence_window: self.dns_absence.unwrap_or(defaults.options.absence_window),
            },
        })
    }
}

/// A flag or variable the library's rule refused, named as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given} '{value}' is invalid: {expected}")]
pub struct SettingError {
    /// `--dns-server` or `environment variable NLB_SYNC_DNS_SERVER`.
    pub given: String,
    pub value: String,
    pub expected: Cow<'static, str>,
}

/// Reads a setting flag, or the variable clap took it from, by the library's
/// rule for the flag's variable, and keeps the field `read` takes.
#[derive(Clone)]
pub struct LibraryRule<T> {
    read: fn(&Settings) -> T,
}

fn rule<T>(read: fn(&Settings) -> T) -> LibraryRule<T> {
    LibraryRule { read }
}

impl<T> LibraryRule<T> {
    /// The setting `value` stands for, given as `source` to `arg`.
    fn check(&self, arg: &Arg, value: &OsStr, source: ValueSource) -> Result<T, SettingError> {
        let flag = format!("--{}", arg.get_long().unwrap_or_default());
        let Some(variable) = arg.get_env().and_then(OsStr::to_str) else {
            let expected = "a flag with its NLB_SYNC_* variable (this is a bug: please report it)".into();
            return Err(SettingError { given: flag, value: value.to_string_lossy().into_owned(), expected });
        };
        // Text that is not UTF-8 counts as unset, as `std::env::var` reads it in the functions.
        let text = value.to_str();
        let settings = Settings::from_lookup(|name| (name == variable).then_some(text).flatten().map(str::to_owned));
        settings.map(|settings| (self.read)(&settings)).map_err(|ConfigError { value, expected, .. }| {
            let given = match source {
                ValueSource::EnvVariable => format!("environment variable {variable}"),
                _ => flag,
            };
            SettingError { given, value, expected }
        })
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for LibraryRule<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&Arg>, value: &OsStr) -> Result<T, clap::Error> {
        self.parse_ref_(cmd, arg, value, ValueSource::CommandLine)
    }

    fn parse_ref_(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
        source: ValueSource,
    ) -> Result<T, clap::Error> {
        let Some(arg) = arg else {
            return Err(clap::Error::raw(ErrorKind::ValueValidation, "a setting is always a flag\n").with_cmd(cmd));
        };
        // A one-line error like every other, without clap's usage lines.
        self.check(arg, value, source)
            .map_err(|error| clap::Error::raw(ErrorKind::ValueValidation, format!("{error}\n")).with_cmd(cmd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        settings: SettingFlags,
    }

    fn parse(args: &[&str]) -> Result<Flags, clap::Error> {
        Flags::try_parse_from(std::iter::once("nlb-target-sync").chain(args.iter().copied()))
    }

    fn arg(id: &str) -> Arg {
        Flags::command().get_arguments().find(|a| a.get_id() == id).cloned().unwrap()
    }

    #[test]
    fn flags_are_checked_by_the_library_and_errors_name_the_flag() {
        let settings = parse(&["--dns-server", "127.0.0.1:5353"]).unwrap().settings.settings().unwrap();
        assert_eq!(settings.name_server, NameServer::At("127.0.0.1:5353".parse().unwrap()));
        let settings = parse(&["--dns-server", "10.0.0.2", "--dns-absence-seconds", "0"]).unwrap().settings;
        let settings = settings.settings().unwrap();
        assert_eq!(settings.name_server, NameServer::At("10.0.0.2:53".parse().unwrap()));
        assert_eq!(settings.options.absence_window, Duration::ZERO);

        let err = parse(&["--concurrency", "0"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert_eq!(err.to_string(), "error: --concurrency '0' is invalid: a whole number from 1 to 64\n");
    }

    #[test]
    fn errors_from_a_variable_name_the_variable() {
        let rule = rule(|s| s.dns_attempts);
        let err = rule.check(&arg("dns_attempts"), OsStr::new("nine"), ValueSource::EnvVariable).unwrap_err();
        assert!(err.to_string().starts_with("environment variable NLB_SYNC_DNS_ATTEMPTS 'nine'"), "{err}");
        assert_eq!(rule.check(&arg("dns_attempts"), OsStr::new(" 4 "), ValueSource::EnvVariable), Ok(4));
        // Empty is unset to the library: its default.
        assert_eq!(rule.check(&arg("dns_attempts"), OsStr::new(""), ValueSource::EnvVariable), Ok(2));
    }

    #[test]
    fn dry_run_comes_from_the_flag_or_the_variable() {
        assert!(parse(&["--dry-run"]).unwrap().settings.settings().unwrap().options.dry_run);
        assert!(!parse(&[]).unwrap().settings.settings().unwrap().options.dry_run);
        let rule = rule(|s| s.options.dry_run);
        assert_eq!(rule.check(&arg("dry_run"), OsStr::new("yes"), ValueSource::EnvVariable), Ok(true));
        let err = rule.check(&arg("dry_run"), OsStr::new("maybe"), ValueSource::EnvVariable).unwrap_err();
        assert_eq!(err.to_string(), "environment variable NLB_SYNC_DRY_RUN 'maybe' is invalid: true or false");
    }

    #[test]
    fn the_exposure_policy_comes_from_flags_over_variables() {
        let flags = parse(&[
            "--allowed-sources",
            "rds-cluster:* rds-proxy:*",
            "--allowed-cidrs",
            "10.1.0.0/16",
            "--allowed-target-groups",
            "db-*",
        ])
        .unwrap();
        let exposure = flags.settings.settings().unwrap().exposure;
        assert_eq!(exposure.sources.to_string(), "rds-cluster:* rds-proxy:*");
        assert_eq!(exposure.addresses.to_string(), "10.1.0.0/16");
        assert_eq!(exposure.target_groups.to_string(), "db-*");
        assert_eq!(parse(&[]).unwrap().settings.settings().unwrap().exposure, ExposurePolicy::default());

        let err = parse(&["--allowed-sources", "rds-clustr:*"]).unwrap_err().to_string();
        assert!(
            err.starts_with("error: --allowed-sources 'rds-clustr:*' is invalid: 'rds-clustr:*' names no"),
            "{err}"
        );
        let rule = rule(|s| s.exposure.addresses.clone());
        let err = rule.check(&arg("allowed_cidrs"), OsStr::new("10.1.2.3/16"), ValueSource::EnvVariable).unwrap_err();
        assert!(err.to_string().starts_with("environment variable NLB_SYNC_ALLOWED_CIDRS '10.1.2.3/16'"), "{err}");
        assert!(err.to_string().contains("the network is 10.1.0.0/16"), "{err}");
    }

    #[test]
    fn every_setting_flag_has_its_variable() {
        for arg in Flags::command().get_arguments().filter(|a| a.get_long().is_some()) {
            let variable = arg.get_env().and_then(OsStr::to_str).unwrap_or_default();
            assert!(variable.starts_with("NLB_SYNC_"), "--{:?} has no NLB_SYNC_* variable", arg.get_long());
        }
    }
}
