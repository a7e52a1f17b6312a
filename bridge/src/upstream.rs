//! The bridge's HTTP client for its providers. The bridge talks to them over HTTP, as it would to the real
//! ones; in the demo they are the mock providers on this same server.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A URL path from segments, each percent-encoded per RFC 3986 (only unreserved characters pass), so that a
/// value taken from a request or a provider answer stays one segment: no `/`, `?`, `#` or `%` of its own.
/// `None` if a segment is empty, `.` or `..`, which servers collapse whether encoded or not.
pub fn path(segments: &[&str]) -> Option<String> {
    let mut out = String::new();
    for seg in segments {
        if seg.is_empty() || *seg == "." || *seg == ".." {
            return None;
        }
        out.push('/');
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(out)
}

/// Why a provider call failed before it produced an answer.
#[derive(Debug)]
pub enum UpstreamError {
    Unreachable,
    Timeout,
}

#[derive(Clone)]
pub struct Upstream {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Upstream {
    pub fn new(base: String) -> Self {
        Self { base, client: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// Sends `body` as JSON (if any) with `headers`; returns the status and the JSON body (`Null` if none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), UpstreamError> {
        let mut req = Request::builder().method(method).uri(format!("{}{path}", self.base)).header("accept", "*/*");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(bytes)).map_err(|_| UpstreamError::Unreachable)?;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|_| UpstreamError::Unreachable)?;
            let status = resp.status();
            let body = resp.into_body().collect().await.map_err(|_| UpstreamError::Unreachable)?.to_bytes();
            Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
        };
        tokio::time::timeout(Duration::from_secs(5), fut).await.map_err(|_| UpstreamError::Timeout)?
    }
}

#[cfg(test)]
mod tests {
    use super::path;

    #[test]
    fn paths_encode_every_segment() {
        assert_eq!(path(&["users", "u1", "access_token", "eyJ.a-b_c~"]).unwrap(), "/users/u1/access_token/eyJ.a-b_c~");
        assert_eq!(
            path(&["token", "../../uVICTIM"]).unwrap(),
            "/token/..%2F..%2FuVICTIM",
            "a slash stays inside its segment"
        );
        assert_eq!(path(&["token", "x?admin=delete-all#f"]).unwrap(), "/token/x%3Fadmin%3Ddelete-all%23f");
        assert_eq!(path(&["t", "%2e%2e", "a b\\é"]).unwrap(), "/t/%252e%252e/a%20b%5C%C3%A9");
        for bad in ["", ".", ".."] {
            assert_eq!(path(&["users", bad]), None, "{bad:?}");
        }
    }
}
