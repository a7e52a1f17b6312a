//! A small read-only view of parsed JSON.
//!
//! The core reads token responses, JWT claims and stored entries through [`Json`], so that each build can use the
//! JSON implementation at hand: the JavaScript engine's own `JSON.parse` and `JSON.stringify` in wasm (`web/`),
//! `serde_json` natively and in the tests.

/// The JSON type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// Read access to a parsed JSON value.
pub trait Json: Sized {
    /// Parses JSON text; `None` when the text is not valid JSON.
    fn parse(text: &str) -> Option<Self>;
    /// The value's JSON type.
    fn kind(&self) -> Kind;
    /// The member `key` of an object; `None` for other kinds or a missing member.
    fn get(&self, key: &str) -> Option<Self>;
    /// The element `index` of an array; `None` for other kinds or out of range.
    fn index(&self, index: usize) -> Option<Self>;
    /// The value of a string.
    fn as_str(&self) -> Option<String>;
    /// The value of a number.
    fn as_f64(&self) -> Option<f64>;
    /// `value` as JSON text: serde_json natively, serde-wasm-bindgen and `JSON.stringify` in wasm. `None` only when
    /// serialising fails.
    fn to_text<T: serde::Serialize>(value: &T) -> Option<String>;

    /// `true` for JSON `null`.
    fn is_null(&self) -> bool {
        self.kind() == Kind::Null
    }

    /// Follows an RFC 6901 JSON pointer (`""` is the whole document, `/data/token` a member of a member).
    fn pointer(&self, pointer: &str) -> Option<Self>
    where
        Self: Clone,
    {
        if pointer.is_empty() {
            return Some(self.clone());
        }
        let mut current = self.clone();
        for raw in pointer.strip_prefix('/')?.split('/') {
            let key = unescape_pointer_segment(raw)?;
            // A member of an object, else an element of an array: `get` is `None` for anything but an object,
            // `index` for anything but an array.
            current = match current.get(&key) {
                Some(member) => member,
                None => current.index(parse_index(&key)?)?,
            };
        }
        Some(current)
    }
}

/// `~1` → `/`, `~0` → `~`; any other `~` makes the pointer invalid (RFC 6901 §3).
fn unescape_pointer_segment(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next()? {
                '0' => out.push('~'),
                '1' => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// An array index as RFC 6901 writes it: digits only, no sign, no leading zero.
fn parse_index(key: &str) -> Option<usize> {
    let digits_only = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    key.parse().ok()
}

#[cfg(not(target_arch = "wasm32"))]
impl Json for serde_json::Value {
    fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
    fn to_text<T: serde::Serialize>(value: &T) -> Option<String> {
        serde_json::to_string(value).ok()
    }
    fn kind(&self) -> Kind {
        match self {
            Self::Null => Kind::Null,
            Self::Bool(_) => Kind::Bool,
            Self::Number(_) => Kind::Number,
            Self::String(_) => Kind::String,
            Self::Array(_) => Kind::Array,
            Self::Object(_) => Kind::Object,
        }
    }
    fn get(&self, key: &str) -> Option<Self> {
        self.as_object()?.get(key).cloned()
    }
    fn index(&self, index: usize) -> Option<Self> {
        self.as_array()?.get(index).cloned()
    }
    fn as_str(&self) -> Option<String> {
        serde_json::Value::as_str(self).map(str::to_owned)
    }
    fn as_f64(&self) -> Option<f64> {
        serde_json::Value::as_f64(self)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn pointer_follows_rfc6901() {
        let doc = json!({"data": {"token": "t", "a/b": 1, "m~n": 2, "list": [10, 20]}});
        assert_eq!(Json::pointer(&doc, "/data/token").and_then(|v| Json::as_str(&v)), Some("t".into()));
        assert_eq!(Json::pointer(&doc, "/data/a~1b"), Some(json!(1)));
        assert_eq!(Json::pointer(&doc, "/data/m~0n"), Some(json!(2)));
        // `~01` is `~1` (a tilde, then a one), not a slash; a bare or unknown escape is invalid.
        assert_eq!(Json::pointer(&json!({"~1": 3}), "/~01"), Some(json!(3)));
        assert_eq!(Json::pointer(&doc, "/data/m~2n"), None);
        assert_eq!(Json::pointer(&doc, "/data/m~"), None);
        assert_eq!(Json::pointer(&doc, "/data/list/1"), Some(json!(20)));
        assert_eq!(Json::pointer(&doc, "/data/list/01"), None);
        assert_eq!(Json::pointer(&doc, "/data/list/9"), None);
        assert_eq!(Json::pointer(&doc, "data"), None);
        assert_eq!(Json::pointer(&doc, ""), Some(doc.clone()));
        assert_eq!(Json::pointer(&doc, "/data/token/x"), None::<Value>);
    }
}
