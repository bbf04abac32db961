//! A minimal plain-HTTP/1.1 client (hyper) for the loopback services.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

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
