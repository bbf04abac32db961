//! Child processes whose output is captured line by line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

/// A child process killed on drop. Its stdout and stderr are read by two
/// threads into a shared line buffer and echoed to the test's stderr with a
/// prefix (libtest captures that and prints it when a test fails, or always
/// with `--nocapture`).
pub(crate) struct CapturedChild {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl CapturedChild {
    /// Spawns `command` with piped stdout/stderr (stdin closed).
    pub(crate) fn spawn(mut command: Command, prefix: &str) -> std::io::Result<Self> {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        pump(stdout, format!("[{prefix}] "), lines.clone());
        pump(stderr, format!("[{prefix} stderr] "), lines.clone());
        Ok(Self { child, lines })
    }

    /// Every line the process wrote so far (stdout and stderr, in the order
    /// they were read).
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// `Some(status)` if the process has exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for CapturedChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static ECHO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether child processes' output is echoed to stderr (on by default; the
/// demo turns it off to keep its own output readable). Lines are kept either way.
pub fn echo_child_output(on: bool) {
    ECHO.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// True unless [`echo_child_output`] turned echoing off.
pub(crate) fn echo_enabled() -> bool {
    ECHO.load(std::sync::atomic::Ordering::Relaxed)
}

fn pump(stream: impl Read + Send + 'static, prefix: String, lines: Arc<Mutex<Vec<String>>>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']).to_owned();
            if echo_enabled() {
                eprintln!("{prefix}{line}");
            }
            lines.lock().unwrap().push(line);
        }
    });
}
