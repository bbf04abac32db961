//! Getting the answer to CloudFormation: a PUT to the pre-signed
//! `ResponseURL`, retried while the Lambda deadline allows.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

/// Why an answer could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("the ResponseURL is not a usable http(s) URL: {0}")]
    InvalidUrl(String),
    #[error("the HTTP client could not be set up: {0}")]
    Client(String),
    #[error("the response URL refused the answer with HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("gave up after {attempts} attempt(s): {last}")]
    GaveUp { attempts: u32, last: String },
}

/// Where answers go. [`HttpSink`] PUTs them to the `ResponseURL`; tests use
/// one that records them.
pub trait ResponseSink: Send + Sync {
    /// Delivers `body` to `url`, retrying transient failures for at most
    /// `budget` in total.
    fn deliver(
        &self,
        url: &str,
        body: String,
        budget: Duration,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// Retry schedule of [`HttpSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub attempt_timeout: Duration,
    /// Pause after the first failure; doubles after each one.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Upper bound for all attempts and pauses, further capped by the budget
    /// each delivery gets.
    pub total: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts of at most 5 s, pauses of 0.25, 0.5, 1 and 2 s, 15 s in all.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(5),
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            total: Duration::from_secs(15),
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Delivers answers by HTTP PUT with an empty `Content-Type`, to `https://`
/// (rustls, the system's CA certificates) and `http://` URLs. Connect errors,
/// timeouts, HTTP 408, 429 and 5xx are retried; any other status below 200 or
/// from 300 up is final. Connections are not pooled.
pub struct HttpSink {
    client: Result<HttpClient, String>,
    policy: RetryPolicy,
}

impl Default for HttpSink {
    fn default() -> Self {
        HttpSink::new()
    }
}

impl fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSink")
            .field("client", &self.client.as_ref().map(|_| "ready"))
            .field("policy", &self.policy)
            .finish()
    }
}

impl HttpSink {
    /// With [`RetryPolicy::default`]. Never fails: a client that cannot be set
    /// up makes every delivery fail with [`DeliveryError::Client`].
    pub fn new() -> Self {
        HttpSink::with_policy(RetryPolicy::default())
    }

    pub fn with_policy(policy: RetryPolicy) -> Self {
        HttpSink { client: build_client(), policy }
    }

    async fn put_once(&self, client: &HttpClient, uri: &Uri, body: Bytes, timeout: Duration) -> Result<(), Attempt> {
        let request = Request::builder()
            .method(Method::PUT)
            .uri(uri.clone())
            .header(CONTENT_TYPE, "")
            .header(CONTENT_LENGTH, body.len())
            .body(Full::new(body))
            .map_err(|e| Attempt::Final(DeliveryError::InvalidUrl(e.to_string())))?;
        let exchange = async {
            let response = client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status();
            // The answer's body only matters for error messages.
            let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Ok::<_, String>((status, body))
        };
        let (status, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(Attempt::Transient(format!("no answer within {} ms", timeout.as_millis())));
            }
            Ok(Err(error)) => return Err(Attempt::Transient(error)),
            Ok(Ok(answer)) => answer,
        };
        if status.is_success() {
            return Ok(());
        }
        let text = brief_body(&body);
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
        {
            Err(Attempt::Transient(format!("HTTP {}: {text}", status.as_u16())))
        } else {
            Err(Attempt::Final(DeliveryError::Rejected { status: status.as_u16(), body: text }))
        }
    }
}

enum Attempt {
    Transient(String),
    Final(DeliveryError),
}

impl ResponseSink for HttpSink {
    async fn deliver(&self, url: &str, body: String, budget: Duration) -> Result<(), DeliveryError> {
        let client = self.client.as_ref().map_err(|e| DeliveryError::Client(e.clone()))?;
        let uri = parse_url(url)?;
        let end = Instant::now() + budget.min(self.policy.total);
        let body = Bytes::from(body);
        let mut backoff = self.policy.first_backoff;
        let mut attempts = 0;
        let mut last = "no time left to try".to_string();
        while attempts < self.policy.max_attempts.max(1) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            attempts += 1;
            match self.put_once(client, &uri, body.clone(), self.policy.attempt_timeout.min(left)).await {
                Ok(()) => return Ok(()),
                Err(Attempt::Final(error)) => return Err(error),
                Err(Attempt::Transient(why)) => {
                    tracing::warn!(
                        attempt = attempts,
                        error = why.as_str(),
                        "custom resource answer not delivered yet"
                    );
                    last = why;
                }
            }
            if end.saturating_duration_since(Instant::now()) <= backoff {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
        Err(DeliveryError::GaveUp { attempts, last })
    }
}

fn parse_url(url: &str) -> Result<Uri, DeliveryError> {
    let uri: Uri = url.parse().map_err(|e| DeliveryError::InvalidUrl(format!("{e}")))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(uri),
        (Some("http" | "https"), _) => Err(DeliveryError::InvalidUrl("no host".into())),
        (scheme, _) => {
            Err(DeliveryError::InvalidUrl(format!("scheme {} is not http or https", scheme.unwrap_or("(none)"))))
        }
    }
}

fn build_client() -> Result<HttpClient, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
        Ok(builder) => builder,
        Err(error) => {
            tracing::warn!(
                error = %error,
                "no usable CA certificates: custom resource answers to https URLs will fail"
            );
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup failed: {e}"))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let connector = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    crate::causes::chain(Some(error)).unwrap_or_default()
}

fn brief_body(body: &[u8]) -> String {
    const MAX_CHARS: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else if text.chars().count() <= MAX_CHARS {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX_CHARS).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{HeaderMap, StatusCode};
    use hyper_util::rt::TokioIo;
    use serde_json::json;
    use tokio::net::TcpListener;

    use super::super::answer::{DEFAULT_MARGIN, answer};
    use super::super::response::{Response, Success, response_body};
    use super::super::testing::{create_payload, echo_of, far_deadline, parse_body};
    use super::*;

    #[derive(Debug, Clone)]
    struct Received {
        method: String,
        target: String,
        headers: HeaderMap,
        body: String,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(|value| value.to_str().expect("a text header"))
        }
    }

    /// A loopback HTTP/1.1 server (hyper's) that records every request and
    /// answers `statuses` in turn, then 200, each with the body `status body`.
    /// Returns a pre-signed-looking URL on it and the requests it received.
    async fn serve(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(statuses)));
        let log = received.clone();
        let service = service_fn(move |request: hyper::Request<Incoming>| {
            let (log, script) = (log.clone(), script.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = body.collect().await?.to_bytes();
                log.lock().unwrap().push(Received {
                    method: parts.method.to_string(),
                    target: parts.uri.to_string(),
                    headers: parts.headers,
                    body: String::from_utf8(body.to_vec()).unwrap(),
                });
                let status = script.lock().unwrap().pop_front().unwrap_or(200);
                let mut reply = hyper::Response::new(Full::new(Bytes::from_static(b"status body")));
                *reply.status_mut() = StatusCode::from_u16(status).unwrap();
                Ok::<_, hyper::Error>(reply)
            }
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service.clone()));
            }
        });
        (format!("http://{address}/bucket/stack%7Cres?X-Amz-Signature=a%2Fb"), received)
    }

    fn quick_policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            attempt_timeout: Duration::from_secs(2),
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            total: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn http_delivery_puts_the_body_with_an_empty_content_type() {
        let (url, received) = serve(vec![200]).await;
        let body = response_body(&Response::from_outcome(&echo_of(create_payload()), Ok(Success::new("tg-sync-1"))));
        let sink = HttpSink::new();
        sink.deliver(&url, body.clone(), RetryPolicy::default().total).await.unwrap();
        let received = received.lock().unwrap().clone();
        assert_eq!(received.len(), 1);
        let request = &received[0];
        assert_eq!(request.method, "PUT");
        assert_eq!(request.target, "/bucket/stack%7Cres?X-Amz-Signature=a%2Fb");
        assert_eq!(request.header("content-type"), Some(""));
        assert_eq!(request.header("content-length"), Some(body.len().to_string().as_str()));
        assert_eq!(parse_body(&request.body)["PhysicalResourceId"], "tg-sync-1");
        assert_eq!(request.body, body);
    }

    #[tokio::test]
    async fn http_delivery_retries_transient_errors() {
        let (url, received) = serve(vec![503, 200]).await;
        let sink = HttpSink::with_policy(quick_policy());
        sink.deliver(&url, "{}".into(), Duration::from_secs(5)).await.unwrap();
        assert_eq!(received.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn http_delivery_gives_up_and_stops_on_client_errors() {
        let (url, received) = serve(vec![503, 500, 429, 200]).await;
        let sink = HttpSink::with_policy(quick_policy());
        let error = sink.deliver(&url, "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(error, DeliveryError::GaveUp { attempts: 3, last: "HTTP 429: status body".into() });
        assert_eq!(received.lock().unwrap().len(), 3);

        let (url, received) = serve(vec![403, 200]).await;
        let error = sink.deliver(&url, "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(error, DeliveryError::Rejected { status: 403, body: "status body".into() });
        assert_eq!(received.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn http_delivery_retries_refused_connections_and_rejects_bad_urls() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let sink = HttpSink::with_policy(quick_policy());
        let error =
            sink.deliver(&format!("http://127.0.0.1:{port}/x"), "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, DeliveryError::GaveUp { attempts: 3, .. }), "{error}");
        let error = sink.deliver("ftp://127.0.0.1/x", "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, DeliveryError::InvalidUrl(_)), "{error}");
        let error = sink.deliver("not a url", "{}".into(), Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, DeliveryError::InvalidUrl(_)), "{error}");
    }

    #[tokio::test]
    async fn answer_delivers_over_http() {
        let (url, received) = serve(vec![200]).await;
        let mut payload = create_payload();
        payload["ResponseURL"] = json!(url);
        let sink = HttpSink::with_policy(quick_policy());
        answer(payload, far_deadline(), DEFAULT_MARGIN, &sink, |_, _| async move { Ok(Success::new("tg-sync-1")) })
            .await
            .unwrap();
        let body = parse_body(&received.lock().unwrap()[0].body);
        assert_eq!(body["Status"], "SUCCESS");
    }
}
