//! Token storage: the store abstraction and the stored-entry format.
//!
//! Only `{token, expiresAt, header, client}` is ever written: the entry is built from a [`TokenRecord`], which
//! has no field for a refresh token, a password or the raw bridge response. Stored entries are read as untrusted
//! input (anything on the page can write to Web Storage). `client` is the [`client_id`] of the client that wrote
//! it: a client never restores or adopts an entry written for another bridge or other API origins (two clients
//! on one page would otherwise swap tokens and send each one to the other's API).

use crate::json::{Json, Kind};
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

/// A client's identity: a digest of what decides where its token may go and where it comes from (the bridge's
/// token URL, the API origins in any order, the header and the format). Entries and peer messages carry it; the
/// default storage key and channel name derive from it. Not a secret and not a defence against scripts of the
/// same origin (they can compute it): it keeps honest clients of different APIs apart.
pub fn client_id(token_url: &str, api_origins: &[String], header: Option<&str>, format: &str) -> String {
    // FNV-1a over length-prefixed fields, so that no two different inputs share a byte stream.
    fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |field: &str| hash = fnv(fnv(hash, &(field.len() as u32).to_le_bytes()), field.as_bytes());
    feed(token_url);
    // The origins as a set, in order: their order and repetitions in the options do not matter.
    let mut origins = std::collections::BTreeSet::new();
    for origin in api_origins {
        origins.insert(origin.as_str());
    }
    for origin in origins {
        feed(origin);
    }
    feed(header.unwrap_or(""));
    feed(format);
    format!("{hash:016x}")
}

/// A stored entry as it is written: exactly these four members, nothing else can be serialised into storage.
#[derive(serde::Serialize)]
struct EntryText<'a> {
    token: &'a str,
    #[serde(rename = "expiresAt")]
    expires_at: Option<Millis>,
    header: &'a str,
    client: &'a str,
}

/// Serialises an entry as `{"token":…,"expiresAt":…,"header":…,"client":…}`.
pub fn encode<J: Json>(token: &AccessToken, expires_at: Option<Millis>, header: &str, client: &str) -> String {
    let entry = EntryText { token: token.secret(), expires_at, header, client };
    J::to_text(&entry).unwrap_or_default()
}

/// The string member `key` of `v`.
fn string<J: Json>(v: &J, key: &str) -> Option<String> {
    v.get(key)?.as_str()
}

/// Parses a stored entry or a peer's message; `None` for anything malformed or written for another client.
/// `header` must be one authbridge would itself use (`Authorization`, `X-Auth-Token` or the configured one), so a
/// planted entry cannot pick a header.
pub fn decode<J: Json>(text: &str, configured_header: Option<&str>, client: &str) -> Option<StoredEntry> {
    let v = J::parse(text)?;
    if v.kind() != Kind::Object || string(&v, "client")? != client {
        return None;
    }
    let token = AccessToken::new(string(&v, "token")?)?;
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
    let header = string(&v, "header")?;
    let header: Cow<'static, str> = match header.as_str() {
        AUTHORIZATION => AUTHORIZATION.into(),
        X_AUTH_TOKEN => X_AUTH_TOKEN.into(),
        name if configured_header == Some(name) => header.into(),
        _ => return None,
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
        let text = encode::<Value>(&tok("abc.def.ghi"), Some(1_700_000_000_000), "Authorization", "c1");
        assert_eq!(text, r#"{"token":"abc.def.ghi","expiresAt":1700000000000,"header":"Authorization","client":"c1"}"#);
        let e = decode::<Value>(&text, None, "c1").unwrap();
        assert_eq!(
            (e.token.secret(), e.expires_at, &*e.header),
            ("abc.def.ghi", Some(1_700_000_000_000), "Authorization")
        );
        let text = encode::<Value>(&tok("t"), None, "X-Auth-Token", "c1");
        assert_eq!(decode::<Value>(&text, None, "c1").unwrap().expires_at, None);
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
            let bad = bad.replacen('{', r#"{"client":"c1","#, 1);
            assert_eq!(decode::<Value>(&bad, None, "c1"), None, "{bad}");
        }
        let custom = r#"{"token":"t","expiresAt":1,"header":"X-Api","client":"c1"}"#;
        assert!(decode::<Value>(custom, Some("X-Api"), "c1").is_some());
    }

    #[test]
    fn entries_of_another_client_are_refused() {
        let text = encode::<Value>(&tok("t"), Some(1), "Authorization", "client-a");
        assert!(decode::<Value>(&text, None, "client-a").is_some());
        assert_eq!(decode::<Value>(&text, None, "client-b"), None);
        // Entries from before identities existed, or with a forged non-string client, are refused too.
        assert_eq!(decode::<Value>(r#"{"token":"t","expiresAt":1,"header":"Authorization"}"#, None, "a"), None);
        assert_eq!(
            decode::<Value>(r#"{"token":"t","expiresAt":1,"header":"Authorization","client":1}"#, None, "1"),
            None
        );
    }

    #[test]
    fn client_ids_separate_bridges_origins_headers_and_formats() {
        let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let base =
            client_id("https://app.example/auth/token", &o(&["https://a.example", "https://b.example"]), None, "auto");
        assert_eq!(base.len(), 16);
        // Order and duplicates of the origins do not matter.
        let same = client_id(
            "https://app.example/auth/token",
            &o(&["https://b.example", "https://a.example", "https://a.example"]),
            None,
            "auto",
        );
        assert_eq!(base, same);
        for other in [
            client_id("https://app.example/auth/other", &o(&["https://a.example", "https://b.example"]), None, "auto"),
            client_id("https://app.example/auth/token", &o(&["https://a.example"]), None, "auto"),
            client_id(
                "https://app.example/auth/token",
                &o(&["https://a.example", "https://b.example"]),
                Some("X-Key"),
                "auto",
            ),
            client_id("https://app.example/auth/token", &o(&["https://a.example", "https://b.example"]), None, "wazo"),
            // Field boundaries count: moving bytes from one field to the next changes the identity.
            client_id("https://app.example/auth/toke", &o(&["nhttps://a.example", "https://b.example"]), None, "auto"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn client_ids_are_stable_across_versions() {
        // They key stored entries and name storage keys and channels: a change would sign every user out.
        let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = [
            (
                "https://app.example/auth/token",
                o(&["https://a.example", "https://b.example"]),
                None,
                "auto",
                "46ff6bcff5cfac08",
            ),
            ("/auth/point/token", o(&["http://127.0.0.1:8080"]), Some("X-Api-Key"), "point", "682ebd359618bd53"),
            ("", o(&[]), None, "", "5467b0da1d106495"),
            (
                "https://bridge.example/t",
                o(&["https://api.example", "https://API.example", "https://api.example:443"]),
                Some(""),
                "custom\n/t\n/e\n",
                "554bda94c6043602",
            ),
        ];
        for (url, origins, header, format, id) in cases {
            assert_eq!(client_id(url, &origins, header, format), id, "{url} {origins:?}");
        }
    }
}
