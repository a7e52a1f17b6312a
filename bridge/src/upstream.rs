//! The bridge's HTTP client for its providers. The bridge talks to them over HTTP, as it would to the real
//! ones; in the demo they are the mock providers on this same server.

use std::time::Duration;

use axum::http::{Method, StatusCode};
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
    /// No connection, a reset, or no such provider configured.
    Unreachable,
    /// No answer within 5 s.
    Timeout,
}

/// An HTTP client for one provider (reqwest, rustls). It never follows a redirect: a call carries the apiKey
/// or a refresh token, which must reach the configured origin only, and a 3xx is an answer like any other.
#[derive(Clone)]
pub struct Upstream {
    base: String,
    client: reqwest::Client,
}

impl Upstream {
    /// A client for the provider at `base` (`https://host[:port]`, no trailing slash needed).
    pub fn new(base: String) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a TLS client builds");
        Self { base: base.trim_end_matches('/').to_owned(), client }
    }

    /// Sends `body` as JSON (if any) with `headers`; returns the status and the JSON body (`Null` if none).
    /// Errors say only unreachable or timeout: the request (with its secrets) is never part of one.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), UpstreamError> {
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).map_err(|_| UpstreamError::Unreachable)?;
        let mut req = self.client.request(method, format!("{}{path}", self.base)).header("accept", "*/*");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let fail = |e: reqwest::Error| if e.is_timeout() { UpstreamError::Timeout } else { UpstreamError::Unreachable };
        let resp = req.send().await.map_err(fail)?;
        let status = StatusCode::from_u16(resp.status().as_u16()).map_err(|_| UpstreamError::Unreachable)?;
        let bytes = resp.bytes().await.map_err(fail)?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
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

#[cfg(test)]
mod redirect_tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A provider that redirects elsewhere does not get the apiKey carried there: the 3xx is the answer.
    #[tokio::test]
    async fn redirects_are_never_followed() {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        let elsewhere = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(format!("{:?}", req.headers().get("authorization")));
                "stolen"
            }
        });
        let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other_url = format!("http://{}", other.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(other, elsewhere).await });
        let target = other_url.clone();
        let redirecting = axum::Router::new().fallback(move || {
            let target = target.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", format!("{target}/steal"))]) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, redirecting).await });
        let up = Upstream::new(url);
        let (status, _) = up
            .call(Method::POST, "/users/u1/access_token", &[("authorization", "Bearer pk_secret".into())], None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        assert!(seen.lock().unwrap().is_empty(), "the redirect was followed");
    }
}
