//! A pass-through proxy between a function and cargo-lambda's runtime API
//! that gives each invocation a real deadline.
//!
//! cargo-lambda answers `GET .../runtime/invocation/next` with
//! `Lambda-Runtime-Deadline-Ms: 600000`, a relative value, while Lambda sends
//! the deadline as milliseconds since the Unix epoch. `lambda_runtime` takes
//! the header as epoch time, so the function would believe its deadline
//! passed in 1970. The proxy replaces the header with "now + timeout" and
//! passes everything else through unchanged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::header::HeaderValue;

use crate::http::{IncomingRequest, LoopbackServer, OutgoingResponse, respond};

const DEADLINE_HEADER: &str = "lambda-runtime-deadline-ms";

/// The running proxy; stops when dropped.
pub(crate) struct DeadlineProxy {
    server: LoopbackServer,
}

impl DeadlineProxy {
    /// Listens on a free loopback port and forwards to `upstream_port`.
    pub(crate) async fn start(upstream_port: u16, timeout: Duration) -> DeadlineProxy {
        let server =
            LoopbackServer::start("runtime-api proxy", move |request| forward(request, upstream_port, timeout)).await;
        DeadlineProxy { server }
    }

    /// The port the function should use.
    pub(crate) fn port(&self) -> u16 {
        self.server.addr().port()
    }
}

/// Passes one request from the function to the emulator and the emulator's
/// response back, with the deadline of an invocation set to "now + timeout".
async fn forward(request: IncomingRequest, upstream_port: u16, timeout: Duration) -> OutgoingResponse {
    let url = format!("http://127.0.0.1:{upstream_port}{}", request.path);
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter(|(name, _)| !is_hop_header(name.as_str()))
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let upstream = match crate::http::send(request.method.clone(), &url, &headers, request.body, None).await {
        Ok(upstream) => upstream,
        Err(e) => {
            if crate::process::echo_enabled() {
                eprintln!("[runtime-api proxy] {e}");
            }
            return respond(502, e);
        }
    };
    let is_next = request.path.ends_with("/runtime/invocation/next");
    let mut response = respond(upstream.status, upstream.body);
    for (name, value) in &upstream.headers {
        if is_hop_header(name.as_str()) {
            continue;
        }
        let value = if is_next && name.as_str() == DEADLINE_HEADER {
            let deadline = SystemTime::now()
                .checked_add(timeout)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as u64);
            HeaderValue::from(deadline)
        } else {
            value.clone()
        };
        response.headers_mut().append(name.clone(), value);
    }
    response
}

/// Headers about one connection, not the message: hyper writes its own.
fn is_hop_header(name: &str) -> bool {
    ["host", "content-length", "transfer-encoding", "connection", "keep-alive"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    /// Plays cargo-lambda: a relative deadline on `next`, a request id on
    /// every answer, and the posted body echoed.
    async fn emulator(request: IncomingRequest) -> OutgoingResponse {
        let mut response = respond(200, request.body);
        response.headers_mut().insert(DEADLINE_HEADER, HeaderValue::from_static("600000"));
        response.headers_mut().insert("lambda-runtime-aws-request-id", HeaderValue::from_static("req-1"));
        response
    }

    #[tokio::test]
    async fn the_deadline_of_an_invocation_becomes_now_plus_the_timeout() {
        let upstream = LoopbackServer::start("emulator", emulator).await;
        let proxy = DeadlineProxy::start(upstream.addr().port(), Duration::from_secs(30)).await;
        let base = format!("http://127.0.0.1:{}/.rt/2018-06-01/runtime", proxy.port());
        let timeout = Some(Duration::from_secs(5));
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;

        let next = crate::http::send(Method::GET, &format!("{base}/invocation/next"), &[], "", timeout).await.unwrap();
        let deadline: u64 = next.headers[DEADLINE_HEADER].to_str().unwrap().parse().unwrap();
        assert!((now_ms + 29_000..now_ms + 31_000).contains(&deadline), "{deadline} is not now + 30 s ({now_ms})");
        assert_eq!(next.headers["lambda-runtime-aws-request-id"], "req-1");

        // Any other call passes unchanged, its body both ways.
        let url = format!("{base}/invocation/req-1/response");
        let answer = crate::http::send(Method::POST, &url, &[], "{\"ok\":true}", timeout).await.unwrap();
        assert_eq!((answer.status, answer.text()), (200, "{\"ok\":true}".to_owned()));
        assert_eq!(answer.headers[DEADLINE_HEADER], "600000");
    }
}
