//! A small read-only view of parsed JSON.
//!
//! The core reads token responses, JWT claims and stored entries through [`Json`] so that the wasm build can
//! parse with the engine's own `JSON.parse` (fast, and no JSON parser in the download) while native code and
//! tests use `serde_json`.

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
    /// `value` as JSON text: serde_json natively, serde-wasm-bindgen and `JSON.stringify` in wasm (serde_json's
    /// serializer would add its number formatting to the download). `None` only when serialising fails.
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
        // Bytes, not `strip_prefix('/')`: a char pattern links UTF-8 encoding and slice comparison.
        if pointer.as_bytes()[0] != b'/' {
            return None;
        }
        let rest = &pointer[1..];
        let mut current = self.clone();
        for raw in split_ascii(rest, b'/') {
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

/// `s.split(sep as char)` for an ASCII separator, as a byte loop: `str::split`'s searcher brings `memchr` and a
/// generic `Split` iterator into the wasm build.
pub fn split_ascii(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        // A plain loop, not `position`: each closure given to an iterator adapter is a function of its own.
        let mut i = 0;
        while i < r.len() && r.as_bytes()[i] != sep {
            i += 1;
        }
        if i < r.len() {
            rest = Some(&r[i + 1..]);
            Some(&r[..i])
        } else {
            rest = None;
            Some(r)
        }
    })
}

/// `~1` → `/`, `~0` → `~`; any other `~` makes the pointer invalid (RFC 6901 §3). A loop rather than
/// `str::replace`, whose substring searcher would add a kilobyte to the wasm build.
fn unescape_pointer_segment(raw: &str) -> Option<String> {
    // Bytes, not chars: both escapes and what they stand for are ASCII, everything else is copied as it is.
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let mut b = bytes[i];
        i += 1;
        if b == b'~' {
            b = match bytes.get(i)? {
                b'0' => b'~',
                b'1' => b'/',
                _ => return None,
            };
            i += 1;
        }
        out.push(b);
    }
    // SAFETY: `raw` is UTF-8, and only the ASCII pairs `~0` and `~1` were replaced, by ASCII bytes.
    Some(unsafe { String::from_utf8_unchecked(out) })
}

/// `key.parse::<usize>()` for a canonical index (digits only, no leading zero), as a loop: `str::parse` brings
/// core's generic integer parser into the wasm build.
fn parse_index(key: &str) -> Option<usize> {
    if key.is_empty() || (key.len() > 1 && key.as_bytes()[0] == b'0') {
        return None;
    }
    let mut n: usize = 0;
    for b in key.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
    }
    Some(n)
}

/// Epoch milliseconds as a JSON number in a serde type: an integer natively (serde_json), a JS number in wasm.
/// serde-wasm-bindgen's `i64` path formats an error for values beyond 2^53, which links `core::fmt` (≈ 1.7 KB of
/// wasm before compression, measured with twiggy); an epoch in milliseconds is far inside that range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(pub i64);

impl serde::Serialize for Epoch {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if cfg!(target_arch = "wasm32") {
            serializer.serialize_f64(self.0 as f64)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

/// `impl Serialize` for a struct with a lifetime, as a map of these keys in this order (`key: field`; a field of
/// type `Option<&str>` is left out when `None`). serde's derive serialises a struct through `serialize_struct`, for
/// which serde-wasm-bindgen caches every field name's JS string in a `HashMap` (hashbrown); as maps, the keys are
/// plain strings and that cache is not linked. Every such struct is serialised by one loop ([`Fields`]), not by
/// code unrolled per struct and per field type. Native serde_json writes the same JSON either way.
// Used by the wasm build only (web/).
#[cfg_attr(not(target_arch = "wasm32"), allow(unused_macros))]
macro_rules! serialize_as_map {
    ($ty:ident { $($key:literal: $field:ident),* $(,)? }) => {
        impl serde::Serialize for $ty<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use $crate::json::AsField;
                serde::Serialize::serialize(&$crate::json::Fields(&[$(($key, self.$field.as_field())),*]), serializer)
            }
        }
    };
}
#[cfg_attr(not(target_arch = "wasm32"), allow(unused_imports))]
pub(crate) use serialize_as_map;

/// A member of an object written by [`serialize_as_map!`].
pub enum Field<'a> {
    Str(&'a str),
    Epoch(Option<Epoch>),
    List(&'a [String]),
    /// Left out of the object.
    Absent,
}

/// The field types [`serialize_as_map!`] takes.
pub trait AsField {
    fn as_field(&self) -> Field<'_>;
}

impl AsField for &str {
    fn as_field(&self) -> Field<'_> {
        Field::Str(self)
    }
}

impl AsField for Option<&str> {
    fn as_field(&self) -> Field<'_> {
        self.map_or(Field::Absent, Field::Str)
    }
}

impl AsField for Option<Epoch> {
    fn as_field(&self) -> Field<'_> {
        Field::Epoch(*self)
    }
}

impl AsField for &[String] {
    fn as_field(&self) -> Field<'_> {
        Field::List(self)
    }
}

impl serde::Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Str(s) => serializer.serialize_str(s),
            Field::Epoch(e) => e.serialize(serializer),
            Field::List(l) => l.serialize(serializer),
            Field::Absent => serializer.serialize_none(),
        }
    }
}

/// An object's members in order, [`Field::Absent`] ones left out.
pub struct Fields<'a, 'b>(pub &'b [(&'static str, Field<'a>)]);

impl serde::Serialize for Fields<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0 {
            if !matches!(value, Field::Absent) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// Writes a signed integer in decimal without pulling in `core::fmt`.
pub fn push_int(value: i64, out: &mut String) {
    if value < 0 {
        out.push('-');
    }
    let mut value = value.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (value % 10) as u8;
        n += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        out.push(digits[n] as char);
    }
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

    #[test]
    fn integers_are_written_as_rust_formats_them() {
        for v in [0i64, 7, -42, 1_700_000_000_123, i64::MAX, i64::MIN] {
            let mut s = String::new();
            push_int(v, &mut s);
            assert_eq!(s, v.to_string());
        }
    }
}
