//! A pass-through proxy between a function and cargo-lambda's runtime API
//! that gives each invocation a real deadline.
//!
//! cargo-lambda answers `GET .../runtime/invocation/next` with
//! `Lambda-Runtime-Deadline-Ms: 600000`, a relative value, while Lambda sends
//! the deadline as milliseconds since the Unix epoch. `lambda_runtime` takes
//! the header as epoch time, so the function would believe its deadline
//! passed in 1970. The proxy replaces the header with "now + timeout" and
//! passes everything else through unchanged.

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const DEADLINE_HEADER: &str = "lambda-runtime-deadline-ms";

/// The running proxy; stops when dropped.
pub(crate) struct DeadlineProxy {
    port: u16,
    task: JoinHandle<()>,
}

impl DeadlineProxy {
    /// Listens on a free loopback port and forwards to `upstream_port`.
    pub(crate) async fn start(upstream_port: u16, timeout: Duration) -> DeadlineProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind the runtime API proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(stream, upstream_port, timeout));
                while connections.try_join_next().is_some() {}
            }
        });
        DeadlineProxy { port, task }
    }

    /// The port the function should use.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for DeadlineProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one keep-alive connection from the function.
async fn serve(stream: TcpStream, upstream_port: u16, timeout: Duration) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let request = match crate::http::read_request(&mut reader).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                if crate::process::echo_enabled() {
                    eprintln!("[runtime-api proxy] bad request from the function: {e}");
                }
                return;
            }
        };
        let url = format!("http://127.0.0.1:{upstream_port}{}", request.path);
        let headers: Vec<(&str, &str)> =
            request.headers.iter().filter(|(k, _)| !is_hop_header(k)).map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = match crate::http::send(request.method.clone(), &url, &headers, request.body, None).await {
            Ok(response) => response,
            Err(e) => {
                if crate::process::echo_enabled() {
                    eprintln!("[runtime-api proxy] {e}");
                }
                return;
            }
        };
        let is_next = request.path.ends_with("/runtime/invocation/next");
        let mut head = format!("HTTP/1.1 {} X\r\n", response.status);
        for (name, value) in &response.headers {
            let name = name.as_str();
            if is_hop_header(name) {
                continue;
            }
            if is_next && name.eq_ignore_ascii_case(DEADLINE_HEADER) {
                let deadline = SystemTime::now()
                    .checked_add(timeout)
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis());
                head.push_str(&format!("{name}: {deadline}\r\n"));
                continue;
            }
            head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or_default()));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", response.body.len()));
        if write.write_all(head.as_bytes()).await.is_err()
            || write.write_all(&response.body).await.is_err()
            || write.flush().await.is_err()
        {
            return;
        }
    }
}

fn is_hop_header(name: &str) -> bool {
    ["host", "content-length", "transfer-encoding", "connection", "keep-alive"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}
