//! A function binary under cargo-lambda's Lambda runtime API emulator.

use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::deadline_proxy::DeadlineProxy;
use crate::process::CapturedChild;
use crate::workspace::{build_binary, tool, workspace_root};

/// Default function timeout: the deadline the function sees (see
/// [`LambdaEmulatorBuilder::timeout`]).
const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(120);
/// Default time [`LambdaEmulator::invoke`] waits for a response.
const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the emulator may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// cargo-lambda exits silently (status 0) a few tens of milliseconds after
/// starting when its port is taken; a process still alive this long after
/// logging "starting Runtime server" owns its port.
const BIND_GRACE: Duration = Duration::from_millis(400);
/// The emulator's name for a function started against the bare runtime API
/// path `/.rt` (cargo-lambda's `DEFAULT_PACKAGE_FUNCTION`).
const EMULATOR_FUNCTION: &str = "_";

/// The result of one invocation.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// HTTP status of the invoke API: 200 on success, 500 when the function
    /// returned an error or panicked. 0 if the function process exited
    /// during the invocation (then `body` has
    /// `errorType: "Runtime.ExitError"`).
    pub status: u16,
    /// The response body parsed as JSON, or the raw text as a JSON string when
    /// it is not JSON. On failure: `{"errorType": "...", "errorMessage": "..."}`.
    pub body: Value,
}

/// Requires HTTP 200 and returns the body; otherwise fails the test with the
/// answer and everything the function printed.
pub fn succeeded(invocation: &Invocation, lambda: &LambdaEmulator) -> Value {
    assert_eq!(
        invocation.status,
        200,
        "the invocation should succeed: {:#}\nfunction output:\n{}",
        invocation.body,
        lambda.logs().join("\n")
    );
    invocation.body.clone()
}

impl Invocation {
    /// `true` for HTTP 200.
    pub fn is_success(&self) -> bool {
        self.status == 200
    }

    /// `errorMessage` of a failed invocation.
    pub fn error_message(&self) -> Option<&str> {
        self.body.get("errorMessage").and_then(Value::as_str)
    }

    /// `errorType` of a failed invocation.
    pub fn error_type(&self) -> Option<&str> {
        self.body.get("errorType").and_then(Value::as_str)
    }
}

/// Which executable to run.
enum Binary {
    /// A binary of this workspace, built on start.
    Workspace(String),
    /// Any executable.
    Path(PathBuf),
}

/// Configures and starts a [`LambdaEmulator`]; see [`LambdaEmulator::builder`].
pub struct LambdaEmulatorBuilder {
    binary: Binary,
    function_name: String,
    env: Vec<(String, String)>,
    timeout: Duration,
    invoke_timeout: Duration,
}

impl LambdaEmulatorBuilder {
    /// Adds environment variables for the function (applied after, and so
    /// overriding, the harness's defaults).
    pub fn env(mut self, env: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env.extend(env);
        self
    }

    /// Adds one environment variable for the function.
    pub fn var(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// Adds environment variables for the function, in order (a later one
    /// overrides an earlier one of the same name).
    pub fn vars(mut self, vars: &[(&str, &str)]) -> Self {
        self.env.extend(vars.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())));
        self
    }

    /// The function timeout: each invocation's deadline is "now + timeout"
    /// (default 120 s). It sets only the deadline the function sees; nothing
    /// kills a function that overruns it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long [`LambdaEmulator::invoke`] waits for a response before
    /// panicking (default 180 s).
    pub fn invoke_timeout(mut self, timeout: Duration) -> Self {
        self.invoke_timeout = timeout;
        self
    }

    /// The value of `AWS_LAMBDA_FUNCTION_NAME` (default: the binary's name).
    pub fn function_name(mut self, name: &str) -> Self {
        self.function_name = name.to_owned();
        self
    }

    /// Starts the emulator, the deadline proxy and the function process.
    ///
    /// # Panics
    ///
    /// If `cargo-lambda` cannot be started or never listens, or the function
    /// binary cannot be started.
    pub async fn start(self) -> LambdaEmulator {
        let binary = match &self.binary {
            Binary::Workspace(name) => {
                let name = name.clone();
                tokio::task::spawn_blocking(move || build_binary(&name))
                    .await
                    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
            }
            Binary::Path(path) => path.clone(),
        };
        let (emulator, port) = start_emulator().await;
        let proxy = DeadlineProxy::start(port, self.timeout).await;
        let runtime_api = format!("http://127.0.0.1:{}/.rt", proxy.port());

        let mut command = Command::new(&binary);
        command.current_dir(workspace_root());
        // Nothing from the developer's AWS setup may leak into the function.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("AWS_") || key.starts_with("LAMBDA_") || key == "_HANDLER" {
                command.env_remove(key.as_ref());
            }
        }
        let log_group = format!("/aws/lambda/{}", self.function_name);
        let defaults = [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.function_name.as_str()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", log_group.as_str()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123456789abcdef"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_rust"),
            ("RUST_BACKTRACE", "1"),
        ];
        for (key, value) in defaults {
            command.env(key, value);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let function = CapturedChild::spawn(command, &self.function_name)
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));

        LambdaEmulator {
            port,
            function: Mutex::new(function),
            emulator,
            _proxy: proxy,
            invoke_timeout: self.invoke_timeout,
        }
    }
}

/// A function binary running under cargo-lambda's Lambda runtime API
/// emulator (`cargo lambda watch --only-lambda-apis`).
///
/// * The emulator listens on its own free port (`--invoke-port`; cargo-lambda
///   cannot pick one itself: port 0 means its default 9000), so emulators of
///   parallel tests do not meet.
/// * The function process gets `AWS_LAMBDA_RUNTIME_API` pointing at the
///   emulator, the usual `AWS_LAMBDA_*` variables (function name, memory
///   128, version `$LATEST`, JSON log format), and the test's variables. All
///   other `AWS_*` variables of the test environment are removed.
/// * cargo-lambda hands every invocation a deadline header of `600000`
///   (relative, while Lambda sends an absolute epoch time), which puts the
///   deadline in 1970. A small proxy between function and emulator rewrites
///   it to "now + timeout" so code that budgets time against the deadline
///   behaves as in Lambda.
/// * [`LambdaEmulator::invoke`] posts to
///   `/2015-03-31/functions/_/invocations`: the emulator's name for a function
///   using the bare runtime path `/.rt` (any name works for the function
///   itself; `AWS_LAMBDA_FUNCTION_NAME` is what the code sees).
/// * The function's stdout and stderr lines are kept ([`LambdaEmulator::logs`])
///   and echoed to the test's stderr.
///
/// Both processes are killed on drop.
pub struct LambdaEmulator {
    port: u16,
    function: Mutex<CapturedChild>,
    emulator: CapturedChild,
    _proxy: DeadlineProxy,
    invoke_timeout: Duration,
}

impl LambdaEmulator {
    /// Builds (see [`crate::build_binary`]) and starts the workspace binary
    /// `binary_name` with the given extra environment, e.g. [`crate::Moto::env`]
    /// plus the function's own settings.
    pub async fn start(binary_name: &str, env: Vec<(String, String)>) -> LambdaEmulator {
        Self::builder(binary_name).env(env).start().await
    }

    /// A builder for the workspace binary `binary_name` (built on
    /// [`LambdaEmulatorBuilder::start`]).
    pub fn builder(binary_name: &str) -> LambdaEmulatorBuilder {
        LambdaEmulatorBuilder {
            binary: Binary::Workspace(binary_name.to_owned()),
            function_name: binary_name.to_owned(),
            env: Vec::new(),
            timeout: DEFAULT_FUNCTION_TIMEOUT,
            invoke_timeout: DEFAULT_INVOKE_TIMEOUT,
        }
    }

    /// A builder for any executable that runs a `lambda_runtime` loop.
    pub fn builder_for_path(binary: &Path, function_name: &str) -> LambdaEmulatorBuilder {
        LambdaEmulatorBuilder {
            binary: Binary::Path(binary.to_path_buf()),
            function_name: function_name.to_owned(),
            env: Vec::new(),
            timeout: DEFAULT_FUNCTION_TIMEOUT,
            invoke_timeout: DEFAULT_INVOKE_TIMEOUT,
        }
    }

    /// The invoke URL.
    pub fn invoke_url(&self) -> String {
        format!("http://127.0.0.1:{}/2015-03-31/functions/{EMULATOR_FUNCTION}/invocations", self.port)
    }

    /// Invokes the function synchronously with `payload` and returns the
    /// status and body. Does not panic on function errors (status 500).
    ///
    /// # Panics
    ///
    /// If no response arrives within the invoke timeout.
    pub async fn invoke(&self, payload: Value) -> Invocation {
        let url = self.invoke_url();
        let body = serde_json::to_vec(&payload).expect("payload serializes");
        let request = crate::http::post(&url, &[("content-type", "application/json")], body, self.invoke_timeout);
        tokio::pin!(request);
        let response = loop {
            tokio::select! {
                response = &mut request => break response,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    if let Some(status) = self.function.lock().unwrap().exited() {
                        return Invocation {
                            status: 0,
                            body: serde_json::json!({
                                "errorType": "Runtime.ExitError",
                                "errorMessage": format!("the function process exited: {status}"),
                            }),
                        };
                    }
                }
            }
        };
        let response =
            response.unwrap_or_else(|e| panic!("invoke failed: {e}\nfunction output:\n{}", self.logs().join("\n")));
        let body = serde_json::from_slice(&response.body).unwrap_or_else(|_| Value::String(response.text()));
        Invocation { status: response.status, body }
    }

    /// Every line the function wrote to stdout or stderr so far.
    pub fn logs(&self) -> Vec<String> {
        self.function.lock().unwrap().lines()
    }

    /// The lines of [`LambdaEmulator::logs`] that are JSON objects, parsed
    /// (structured log lines and CloudWatch EMF documents).
    pub fn json_logs(&self) -> Vec<Value> {
        self.logs()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(Value::is_object)
            .collect()
    }

    /// The CloudWatch embedded-metric-format documents among the JSON log
    /// lines (objects with an `_aws` key).
    pub fn emf_documents(&self) -> Vec<Value> {
        self.json_logs().into_iter().filter(|doc| doc.get("_aws").is_some()).collect()
    }

    /// The decision lines the function printed, one per target group and run
    /// (EMF documents with `"message": "target group synced"`), in order.
    pub fn decision_lines(&self) -> Vec<Value> {
        self.emf_documents().into_iter().filter(|doc| doc["message"] == "target group synced").collect()
    }

    /// The summary lines of the function's runs (EMF documents with
    /// `"message": "sync run finished"`: API calls per service, budget wait),
    /// in order.
    pub fn run_lines(&self) -> Vec<Value> {
        self.emf_documents().into_iter().filter(|doc| doc["message"] == "sync run finished").collect()
    }

    /// The targets the decision lines say were removed for a role or
    /// identity change (not by make before break), in order.
    pub fn deregistered_role_changed(&self) -> Vec<String> {
        self.decision_lines()
            .iter()
            .flat_map(|line| crate::answers::strings(&line["deregisteredRoleChanged"]))
            .collect()
    }

    /// Waits until a log line satisfies `predicate` (output is read by a
    /// background thread and may lag the invoke response slightly) and
    /// returns it, or `None` after `timeout`.
    pub async fn wait_for_log(&self, predicate: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let started = Instant::now();
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| predicate(l)) {
                return Some(line);
            }
            if started.elapsed() > timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every line cargo-lambda logged so far.
    pub fn emulator_logs(&self) -> Vec<String> {
        self.emulator.lines()
    }
}

/// Picks a port below the kernel's ephemeral range (32768+, where moto and
/// the DNS servers get theirs), distinct within this process, and free at the
/// moment of the check.
fn pick_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ =
        NEXT.compare_exchange(0, 20_000 + (std::process::id() % 500) as u16 * 20, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 20_000 + (port - 20_000) % 12_000;
        if StdTcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// Starts `cargo lambda watch --only-lambda-apis` on a free port and returns
/// it once it listens and owns that port.
async fn start_emulator() -> (CapturedChild, u16) {
    let exe = tool("CARGO_LAMBDA", "cargo-lambda");
    let manifest = workspace_root().join("Cargo.toml");
    let mut last_output = Vec::new();
    for _attempt in 0..10 {
        let port = pick_port();
        let mut command = Command::new(&exe);
        command
            .current_dir(workspace_root())
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .arg("--manifest-path")
            .arg(&manifest)
            .args(["--color", "never"]);
        let mut child = CapturedChild::spawn(command, &format!("cargo-lambda :{port}"))
            .unwrap_or_else(|e| panic!("cannot start {}: {e} (is the venv installed?)", exe.display()));
        let started = Instant::now();
        let mut listening_since: Option<Instant> = None;
        loop {
            if child.exited().is_some() {
                // Port taken (cargo-lambda then exits 0 without a word) or
                // another start-up failure: try another port.
                last_output = child.lines();
                break;
            }
            if listening_since.is_none() && child.lines().iter().any(|l| l.contains("starting Runtime server")) {
                listening_since = Some(Instant::now());
            }
            if let Some(since) = listening_since
                && since.elapsed() >= BIND_GRACE
                && tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.is_ok()
                && child.exited().is_none()
            {
                return (child, port);
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "cargo-lambda did not start within {START_TIMEOUT:?}:\n{}",
                child.lines().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("cargo-lambda's emulator failed to start 10 times; last output:\n{}", last_output.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moto::Moto;
    use serde_json::json;

    /// The emulator plumbing with a real function of the workspace:
    /// `sync-on-schedule` against a fresh moto holding no target group. Two
    /// emulators side by side get their own ports; a run succeeds with an
    /// empty report, a bad payload fails the invocation (HTTP 500) and the
    /// function keeps serving afterwards; its output is captured. The
    /// deadline the proxy gives the function is covered by
    /// `tests/sync_on_deploy.rs`, whose short-deadline scenario needs a real
    /// one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn emulator_runs_a_function() {
        let moto = Moto::start().await;
        let started = Instant::now();
        let (a, b) = tokio::join!(
            LambdaEmulator::builder("sync-on-schedule")
                .env(moto.env())
                .function_name("schedule-a")
                .timeout(Duration::from_secs(30))
                .start(),
            LambdaEmulator::builder("sync-on-schedule").env(moto.env()).function_name("schedule-b").start(),
        );
        eprintln!("two emulators up after {:?}", started.elapsed());
        assert_ne!(a.invoke_url(), b.invoke_url());

        let started = Instant::now();
        let ok = a.invoke(json!({})).await;
        eprintln!("first invocation took {:?}", started.elapsed());
        assert_eq!(ok.status, 200, "{:?}", ok.body);
        let answer = ok.body.as_object().expect("an object");
        assert_eq!(answer.keys().collect::<Vec<_>>(), ["apiCalls", "dryRun", "error", "targetGroups"]);
        assert_eq!(
            (&ok.body["dryRun"], &ok.body["targetGroups"], &ok.body["error"]),
            (&json!(false), &json!([]), &json!(null))
        );

        let other = b.invoke(json!({"detail": {}})).await;
        assert_eq!(other.status, 200, "{:?}", other.body);
        assert_eq!(other.body["targetGroups"], json!([]));

        let failed = a.invoke(json!({"targetGroupArns": "not-a-list"})).await;
        assert_eq!(failed.status, 500, "{:?}", failed.body);
        assert!(failed.error_message().unwrap().contains("must be a list"), "{:?}", failed.body);
        assert!(failed.error_type().is_some(), "{:?}", failed.body);

        // The function keeps serving after an error, and its (JSON) log
        // lines are captured, the error's among them.
        assert!(a.invoke(json!({})).await.is_success());
        let line = a
            .wait_for_log(|l| l.contains("must be a list"), Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("the error is logged: {:?}", a.logs()));
        assert!(serde_json::from_str::<Value>(&line).is_ok_and(|v| v.is_object()), "{line}");
        assert!(!a.json_logs().is_empty());
        assert!(a.emulator_logs().iter().any(|l| l.contains("starting Runtime server")));
    }
}
