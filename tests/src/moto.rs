//! The AWS stand-in, one per test: moto's server (the moto project's AWS API
//! emulator) extended with what ELB and RDS do that moto does not
//! (`tests/standin/`, see [`crate::HealthChecks`]).

use std::process::Command;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_elasticloadbalancingv2::config::Credentials;

use crate::aws::Aws;
use crate::process::CapturedChild;
use crate::workspace::{tool, workspace_root};

/// The region every fixture and every function under test uses.
pub(crate) const REGION: &str = "us-east-1";
/// moto accepts any credentials; these are the ones the harness uses.
pub(crate) const ACCESS_KEY_ID: &str = "testing";
pub(crate) const SECRET_ACCESS_KEY: &str = "testing";

/// How long to wait for the stand-in to come up. Python startup is slow on a
/// busy two-core machine with several tests starting servers at once.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The stand-in's program, relative to the workspace root.
const STANDIN_SCRIPT: &str = "tests/standin/elb_standin.py";

/// A running AWS stand-in (a fresh, empty AWS account), killed when dropped:
/// `python tests/standin/elb_standin.py -H 127.0.0.1 -p 0`, which is moto's
/// server with ELB target health, draining, availability-zone checks and RDS
/// Proxy custom endpoints added (`tests/standin/README.md`).
///
/// The Python is `$STANDIN_PYTHON` if set, else `<workspace>/.venv/bin/python`
/// (where `./dev.sh setup` installs the pinned moto), else `python3` from
/// `PATH`. The server picks a free port itself and logs it (`Running on
/// http://127.0.0.1:<port>`); [`Moto::start`] reads it from there, so any
/// number of servers can run side by side.
pub struct Moto {
    port: u16,
    process: CapturedChild,
}

impl Moto {
    /// Starts a server and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If the executable cannot be started, exits, or does not report its
    /// port within 90 seconds.
    pub async fn start() -> Moto {
        let exe = python();
        let mut command = Command::new(&exe);
        command.arg(workspace_root().join(STANDIN_SCRIPT)).args(["-H", "127.0.0.1", "-p", "0"]);
        let mut process = CapturedChild::spawn(command, "moto").unwrap_or_else(|e| {
            panic!("cannot start {} {STANDIN_SCRIPT}: {e} (is the venv installed? ./dev.sh setup)", exe.display())
        });
        let started = Instant::now();
        let port = loop {
            if let Some(port) = process.lines().iter().find_map(|line| parse_port(line)) {
                break port;
            }
            if let Some(status) = process.exited() {
                panic!("{} exited ({status}) before listening:\n{}", exe.display(), process.lines().join("\n"));
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "{} did not report its port within {START_TIMEOUT:?}:\n{}",
                exe.display(),
                process.lines().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // It logs the port after binding; still, make sure it accepts.
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < START_TIMEOUT, "moto on port {port} does not accept connections");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Moto { port, process }
    }

    /// The server's base URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every line the server logged so far (one access-log line per request).
    pub fn logs(&self) -> Vec<String> {
        self.process.lines()
    }

    /// An SDK configuration for this server: region `us-east-1`, static dummy
    /// credentials, endpoint URL of the server. Nothing is read from the
    /// environment or the AWS config files.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "moto"))
            .endpoint_url(self.endpoint())
            .load()
            .await
    }

    /// SDK clients for this server and the fixture helpers built on them.
    pub async fn aws(&self) -> Aws {
        Aws::new(&self.sdk_config().await, self.endpoint())
    }

    /// Environment variables that point an AWS SDK in a child process at this
    /// server: `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and
    /// settings that keep the SDK away from the instance metadata service and
    /// from the user's AWS config files.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Wipes all state of the server (`POST /moto-api/reset`), the
    /// stand-in's health-check settings included.
    pub async fn reset(&self) {
        let url = format!("{}/moto-api/reset", self.endpoint());
        let response =
            crate::http::post(&url, &[], "", Duration::from_secs(30)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status, 200, "moto reset: {}", response.text());
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

/// The Python that runs the stand-in: `$STANDIN_PYTHON`, else the venv's, else
/// `python3` from `PATH`.
pub(crate) fn python() -> std::path::PathBuf {
    let found = tool("STANDIN_PYTHON", "python");
    // `tool` falls back to the bare name; outside a venv that is `python3`.
    if found.as_os_str() == "python" { "python3".into() } else { found }
}

/// Extracts the port from werkzeug's ` * Running on http://127.0.0.1:PORT`.
fn parse_port(line: &str) -> Option<u16> {
    let rest = line.split("Running on http://127.0.0.1:").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_werkzeug_banner() {
        assert_eq!(parse_port(" * Running on http://127.0.0.1:45471"), Some(45471));
        assert_eq!(parse_port("\u{1b}[33mPress CTRL+C to quit\u{1b}[0m"), None);
    }

    #[tokio::test]
    async fn starts_and_answers() {
        let moto = Moto::start().await;
        let aws = moto.aws().await;
        let vpc = aws.create_vpc("10.7.0.0/16").await;
        assert!(vpc.starts_with("vpc-"), "{vpc}");
        let other = Moto::start().await;
        assert_ne!(moto.port(), other.port());
    }
}
