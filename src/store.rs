//! Token storage: the store abstraction and the stored-entry format.
//!
//! Only `{token, expiresAt, header}` is ever written: the entry is built from a [`TokenRecord`], which has no
//! field for a refresh token, a password or the raw bridge response. Stored entries are read as untrusted
//! input (anything on the page can write to Web Storage).

use crate::json::{push_int, quote, Json, Kind};
use crate::time::Millis;
use crate::token::{AccessToken, AUTHORIZATION, X_AUTH_TOKEN};
use std::borrow::Cow;

/// Where the current access token is kept between page loads.
pub trait TokenStore {
    /// The stored entry, if any.
    fn load(&self) -> Option<String>;
    /// Writes the entry; `false` when the store refused (quota, private mode…). The session then keeps the
    /// token in memory only.
    fn save(&mut self, entry: &str) -> bool;
    /// Deletes the entry.
    fn remove(&mut self);
}

/// A store that lives as long as the session: the default on edge runtimes and the fallback everywhere.
#[derive(Default)]
pub struct MemoryStore(Option<String>);

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The entry holds the token.
        f.write_str(if self.0.is_some() { "MemoryStore([redacted])" } else { "MemoryStore(None)" })
    }
}

impl MemoryStore {
    /// What the store holds now (for tests and debugging).
    pub fn peek(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl TokenStore for MemoryStore {
    fn load(&self) -> Option<String> {
        self.0.clone()
    }
    fn save(&mut self, entry: &str) -> bool {
        self.0 = Some(entry.to_owned());
        true
    }
    fn remove(&mut self) {
        self.0 = None;
    }
}

/// The stored form of the current token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub token: AccessToken,
    pub expires_at: Option<Millis>,
    pub header: Cow<'static, str>,
}

/// Serialises an entry as `{"token":…,"expiresAt":…,"header":…}`.
pub fn encode(token: &AccessToken, expires_at: Option<Millis>, header: &str) -> String {
    let mut out = String::with_capacity(token.secret().len() + header.len() + 48);
    out.push_str("{\"token\":");
    quote(token.secret(), &mut out);
    out.push_str(",\"expiresAt\":");
    match expires_at {
        Some(at) => push_int(at, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"header\":");
    quote(header, &mut out);
    out.push('}');
    out
}

/// Parses a stored entry; `None` for anything malformed. `header` must be one authbridge would itself use
/// (`Authorization`, `X-Auth-Token` or the configured one), so a planted entry cannot pick a header.
pub fn decode<J: Json>(text: &str, configured_header: Option<&str>) -> Option<StoredEntry> {
    let v = J::parse(text)?;
    if v.kind() != Kind::Object {
        return None;
    }
    let token = AccessToken::new(v.get("token")?.as_str()?)?;
    let expires_at = match v.get("expiresAt") {
        None => return None,
        Some(e) if e.is_null() => None,
        Some(e) => {
            let at = e.as_f64()?;
            if !(at.is_finite() && at > 0.0 && at < 1e14 && at.fract() == 0.0) {
                return None;
            }
            Some(at as Millis)
        }
    };
    let header = v.get("header")?.as_str()?;
    let header: Cow<'static, str> = if header == AUTHORIZATION {
        AUTHORIZATION.into()
    } else if header == X_AUTH_TOKEN {
        X_AUTH_TOKEN.into()
    } else if configured_header == Some(header.as_str()) {
        header.into()
    } else {
        return None;
    };
    Some(StoredEntry { token, expires_at, header })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::Value;

    fn tok(s: &str) -> AccessToken {
        AccessToken::new(s.into()).unwrap()
    }

    #[test]
    fn round_trip() {
        let text = encode(&tok("abc.def.ghi"), Some(1_700_000_000_000), "Authorization");
        assert_eq!(text, r#"{"token":"abc.def.ghi","expiresAt":1700000000000,"header":"Authorization"}"#);
        let e = decode::<Value>(&text, None).unwrap();
        assert_eq!(
            (e.token.secret(), e.expires_at, &*e.header),
            ("abc.def.ghi", Some(1_700_000_000_000), "Authorization")
        );
        let text = encode(&tok("t"), None, "X-Auth-Token");
        assert_eq!(decode::<Value>(&text, None).unwrap().expires_at, None);
    }

    #[test]
    fn rejects_malformed_and_planted_entries() {
        for bad in [
            "",
            "null",
            "[]",
            "\"t\"",
            "{not json",
            r#"{"token":"t","header":"Authorization"}"#,
            r#"{"token":"","expiresAt":1,"header":"Authorization"}"#,
            r#"{"token":"a b","expiresAt":1,"header":"Authorization"}"#,
            r#"{"token":5,"expiresAt":1,"header":"Authorization"}"#,
            r#"{"token":"t","expiresAt":"1","header":"Authorization"}"#,
            r#"{"token":"t","expiresAt":-1,"header":"Authorization"}"#,
            r#"{"token":"t","expiresAt":1.5,"header":"Authorization"}"#,
            r#"{"token":"t","expiresAt":1e300,"header":"Authorization"}"#,
            r#"{"token":"t","expiresAt":1,"header":"Cookie"}"#,
            r#"{"token":"t","expiresAt":1}"#,
        ] {
            assert_eq!(decode::<Value>(bad, None), None, "{bad}");
        }
        assert!(decode::<Value>(r#"{"token":"t","expiresAt":1,"header":"X-Api"}"#, Some("X-Api")).is_some());
    }
}
