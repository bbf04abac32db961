//! The operator command line `nlb-target-sync`, run as a child process
//! against a [`Sandbox`]: its AWS SDK talks to the sandbox's moto and its DNS
//! queries go to the sandbox's DNS server.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sandbox::Sandbox;
use crate::workspace::build_binary;

/// The binary's name in the workspace.
pub const CLI_BINARY: &str = "nlb-target-sync";
/// How long one command may take before the test gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// One finished command.
#[derive(Debug, Clone)]
pub struct CliRun {
    /// The exit code (-1 if it was killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl CliRun {
    /// Stdout parsed as JSON (for `--output json`).
    ///
    /// # Panics
    ///
    /// If stdout is not one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

/// Runs `nlb-target-sync` against a sandbox.
pub struct OperatorCli<'a> {
    sandbox: &'a Sandbox,
    env: Vec<(String, String)>,
}

impl<'a> OperatorCli<'a> {
    /// Builds the binary (once per test process) and points it at `sandbox`.
    pub fn new(sandbox: &'a Sandbox) -> Self {
        build_binary(CLI_BINARY);
        OperatorCli { sandbox, env: Vec::new() }
    }

    /// Adds an environment variable to every later command.
    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the command with `args`, stdin closed (so it is not a terminal and
    /// never prompts), and waits for it.
    ///
    /// # Panics
    ///
    /// If the binary cannot be started or runs longer than two minutes.
    pub async fn run(&self, args: &[&str]) -> CliRun {
        self.run_with(args, &[]).await
    }

    /// [`OperatorCli::run`] with extra environment variables for this command.
    pub async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> CliRun {
        let mut command = command(args);
        command
            .envs(self.sandbox.env())
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .envs(self.env.iter().cloned())
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        finish(command, args).await
    }

    /// Runs the command with nothing in its environment but `env`: neither
    /// the sandbox's variables nor anything this process has (no credentials,
    /// no Region, no home directory unless `env` gives them).
    pub async fn run_isolated(&self, args: &[&str], env: &[(&str, &str)]) -> CliRun {
        let mut command = command(args);
        command.env_clear().envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        finish(command, args).await
    }
}

/// The binary with `args`, stdin closed (so it is not a terminal and never prompts).
fn command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(build_binary(CLI_BINARY));
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    command
}

/// Runs `command` to its end.
///
/// # Panics
///
/// If the binary cannot be started or runs longer than two minutes.
async fn finish(mut command: tokio::process::Command, args: &[&str]) -> CliRun {
    let started = Instant::now();
    let output = tokio::time::timeout(COMMAND_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("nlb-target-sync {args:?} ran longer than {COMMAND_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("cannot run nlb-target-sync: {e}"));
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    }
}
