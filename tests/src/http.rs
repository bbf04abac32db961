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

/// One request read off a loopback server's connection.
pub(crate) struct IncomingRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body); `None` when the
/// connection closes cleanly before a request line. Used by the loopback
/// servers of the harness (the runtime-API proxy, the CloudFormation response
/// recorder).
pub(crate) async fn read_request<R>(reader: &mut R) -> Result<Option<IncomingRequest>, String>
where
    R: tokio::io::AsyncBufReadExt + tokio::io::AsyncReadExt + Unpin,
{
    let mut line = String::new();
    if reader.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().ok_or("empty request line")?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let path = parts.next().ok_or("no request target")?.to_owned();

    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
            return Err("connection closed inside the headers".into());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| format!("malformed header line {line:?}"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());

    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).await.map_err(|e| e.to_string())?;
            let size = size_line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16).map_err(|e| format!("chunk size: {e}"))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await.map_err(|e| e.to_string())?;
            if size == 0 {
                // No trailers are used by these clients; the final CRLF was read.
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|e| format!("content-length: {e}"))?;
        body.resize(length, 0);
        reader.read_exact(&mut body).await.map_err(|e| e.to_string())?;
    }
    Ok(Some(IncomingRequest { method, path, headers, body }))
}
