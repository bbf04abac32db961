//! Plain HTTP/1.1 on the loopback interface, both sides on hyper: a minimal
//! client for the loopback services ([`send`], [`post`]) and a server the
//! harness's own loopback servers are made of ([`LoopbackServer`]).

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// A response: status code, headers and the whole body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request and reads the whole response; with a `timeout`, fails
/// when the exchange takes longer.
pub(crate) async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
    timeout: Option<Duration>,
) -> Result<Response, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().method(method.clone()).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into())).map_err(|e| format!("bad request {method} {url}: {e}"))?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| format!("{method} {url} failed: {e:?}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the response of {method} {url} failed: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Response { status, headers, body })
    };
    match timeout {
        Some(timeout) => tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("{method} {url}: no response within {timeout:?}"))?,
        None => exchange.await,
    }
}

/// `POST` with a timeout.
pub(crate) async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
    timeout: Duration,
) -> Result<Response, String> {
    send(Method::POST, url, headers, body, Some(timeout)).await
}

/// What a [`LoopbackServer`] handler answers.
pub(crate) type OutgoingResponse = hyper::Response<Full<Bytes>>;

/// One request a [`LoopbackServer`] received, its body read whole.
pub(crate) struct IncomingRequest {
    pub(crate) method: Method,
    /// The request target: path and query, e.g. `/a/b?c=d`.
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A plain-HTTP/1.1 server on `127.0.0.1:<free port>`, hyper's server side:
/// it hands every request, its body read whole, to a handler and answers with
/// the response the handler makes. Connections stay open as long as the
/// client keeps them. Stops, its connections with it, when dropped. The
/// harness's loopback servers (the CloudFormation response recorder, the
/// runtime-API deadline proxy) are handlers on it.
pub(crate) struct LoopbackServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl LoopbackServer {
    /// Binds a free loopback port and starts serving; `name` says which
    /// server it is in messages.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound.
    pub(crate) async fn start<H, F>(name: &'static str, handler: H) -> LoopbackServer
    where
        H: Fn(IncomingRequest) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = OutgoingResponse> + Send + 'static,
    {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap_or_else(|e| panic!("cannot bind the {name}: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("the {name}'s address: {e}"));
        let task = tokio::spawn(async move {
            // Dropping the set (when the server is dropped and this task
            // aborted) ends every open connection.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let path =
                            parts.uri.path_and_query().map_or_else(|| parts.uri.to_string(), ToString::to_string);
                        let request = IncomingRequest { method: parts.method, path, headers: parts.headers, body };
                        Ok::<_, hyper::Error>(handler(request).await)
                    }
                });
                connections.spawn(async move {
                    let served = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                    if let Err(e) = served
                        && crate::process::echo_enabled()
                    {
                        eprintln!("[{name}] connection failed: {e}");
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        LoopbackServer { addr, task }
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response with `status` and `body`, for a [`LoopbackServer`] handler.
pub(crate) fn respond(status: u16, body: impl Into<Bytes>) -> OutgoingResponse {
    let mut response = OutgoingResponse::new(Full::new(body.into()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers with what it read: method, target, one header and the body.
    async fn echo(request: IncomingRequest) -> OutgoingResponse {
        let header = request.headers.get("x-test").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
        let body = String::from_utf8_lossy(&request.body).into_owned();
        respond(201, format!("{} {} {header} {body}", request.method, request.path))
    }

    #[tokio::test]
    async fn a_loopback_server_hands_each_request_to_its_handler() {
        let server = LoopbackServer::start("echo server", echo).await;
        let url = format!("http://{}/a/b?c=d%2F", server.addr());
        let timeout = Some(Duration::from_secs(5));

        let first = send(Method::PUT, &url, &[("x-test", "one")], "{\"a\":1}", timeout).await.unwrap();
        assert_eq!((first.status, first.text()), (201, "PUT /a/b?c=d%2F one {\"a\":1}".to_owned()));
        let second = send(Method::GET, &url, &[], "", timeout).await.unwrap();
        assert_eq!(second.text(), "GET /a/b?c=d%2F - ");
        assert_eq!(second.headers["content-length"], second.body.len().to_string().as_str(), "hyper sets the length");

        let addr = server.addr();
        drop(server);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(send(Method::GET, &format!("http://{addr}/"), &[], "", timeout).await.is_err(), "stopped when dropped");
    }
}
