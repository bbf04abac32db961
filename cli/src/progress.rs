//! A progress line on stderr, never on stdout: nothing shows for the first
//! second; after that a spinner with the current step and the time waited on
//! a terminal, or one plain line per step otherwise (CI logs).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a command may wait before the line appears.
const QUIET_FOR: Duration = Duration::from_secs(1);
const FRAME: Duration = Duration::from_millis(120);
const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

#[derive(Default)]
struct Line {
    step: String,
    /// The step last written as a plain line (not on a terminal).
    written: Option<String>,
    drawn: bool,
}

/// The current step of a command, drawn on stderr while it waits.
pub struct ProgressLine {
    line: Arc<Mutex<Line>>,
    task: Option<tokio::task::JoinHandle<()>>,
    terminal: bool,
}

impl ProgressLine {
    /// Starts drawing `step` once the command has waited a second.
    pub fn start(step: &str) -> ProgressLine {
        let terminal = std::io::stderr().is_terminal();
        let line = Arc::new(Mutex::new(Line { step: step.to_string(), ..Line::default() }));
        let drawing = line.clone();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            tokio::time::sleep(QUIET_FOR).await;
            for frame in 0usize.. {
                draw(&drawing, terminal, SPINNER[frame % SPINNER.len()], started.elapsed());
                tokio::time::sleep(FRAME).await;
            }
        });
        ProgressLine { line, task: Some(task), terminal }
    }

    /// Sets the step shown from now on.
    pub fn step(&self, step: &str) {
        lock(&self.line).step = step.to_string();
    }

    /// Stops drawing and clears the spinner's line.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if self.terminal && lock(&self.line).drawn {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(line: &Mutex<Line>) -> std::sync::MutexGuard<'_, Line> {
    line.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn draw(line: &Mutex<Line>, terminal: bool, frame: char, waited: Duration) {
    let mut line = lock(line);
    let mut stderr = std::io::stderr().lock();
    if terminal {
        let _ = write!(stderr, "\r\x1b[2K{frame} {} ({} s)", line.step, waited.as_secs());
        line.drawn = true;
    } else if line.written.as_deref() != Some(line.step.as_str()) {
        let _ = writeln!(stderr, "... {}", line.step);
        line.written = Some(line.step.clone());
    }
    let _ = stderr.flush();
}
