//! Token responses of the seed providers, turned into one [`TokenRecord`].
//!
//! A bridging backend may pass its provider's response through unchanged, so authbridge reads each shape as
//! the provider documents it. Refresh tokens in a response are never read into the record: the type has no
//! place for them.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Problem, ResponseError};
use crate::json::{Json, Kind};
use crate::time::{parse_iso8601, Millis, MAX_LIFETIME_MS};

/// The `Authorization` header, sent as `Bearer <token>`.
pub const AUTHORIZATION: &str = "Authorization";
/// Wazo's header, sent as the bare token.
pub const X_AUTH_TOKEN: &str = "X-Auth-Token";

/// A short-lived access token. `Debug` prints `[redacted]`; reading it takes a call to [`AccessToken::secret`].
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token after checking that it can travel in an HTTP header.
    pub fn new(token: String) -> Option<Self> {
        (!token.is_empty() && token.bytes().all(|b| (0x21..=0x7e).contains(&b))).then_some(Self(token))
    }
    /// The token itself.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl Drop for AccessToken {
    fn drop(&mut self) {
        // A dropped token leaves no copy behind in freed memory.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// A response format with JSON pointers (RFC 6901) to its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomFormat {
    /// Pointer to the token string, e.g. `/result/jwt`.
    pub token: String,
    /// Pointer to a lifetime in seconds.
    pub expires_in: Option<String>,
    /// Pointer to an absolute expiry: an ISO 8601 string or epoch seconds.
    pub expires_at: Option<String>,
}

/// How to read a bridge response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Recognise any of the formats below by its fields.
    #[default]
    Auto,
    /// RFC 6749 §5.1 (pointservices): `access_token`, `expires_in`, `token_type`, `scope`.
    OAuth2,
    /// Point Database: `{"accessToken": {"token": "Bearer …", "expiresIn": 86400}}`.
    Point,
    /// Wazo: `{"data": {"token": "…", "expires_at": "2022-01-01T00:00:00.000000"}}`.
    Wazo,
    /// A static personal access token (airfocus): `{"token": "…"}` or a bare JSON string; no expiry.
    Static,
    /// Fields named by JSON pointers.
    Custom(CustomFormat),
}

impl Format {
    /// Parses a format name as given in JavaScript options.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "auto" => Self::Auto,
            "oauth2" => Self::OAuth2,
            "point" => Self::Point,
            "wazo" => Self::Wazo,
            "static" => Self::Static,
            _ => return None,
        })
    }

    /// The format as part of a client's identity: its name, or its pointers for a custom format.
    pub fn identity(&self) -> Cow<'static, str> {
        match self {
            Self::Auto => "auto".into(),
            Self::OAuth2 => "oauth2".into(),
            Self::Point => "point".into(),
            Self::Wazo => "wazo".into(),
            Self::Static => "static".into(),
            Self::Custom(c) => format!(
                "custom\n{}\n{}\n{}",
                c.token,
                c.expires_in.as_deref().unwrap_or(""),
                c.expires_at.as_deref().unwrap_or("")
            )
            .into(),
        }
    }
}

/// The format a response was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    OAuth2,
    Point,
    Wazo,
    Static,
    Custom,
}

impl Detected {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OAuth2 => "oauth2",
            Self::Point => "point",
            Self::Wazo => "wazo",
            Self::Static => "static",
            Self::Custom => "custom",
        }
    }
    /// The header this provider expects the token in.
    pub fn header(self) -> &'static str {
        match self {
            Self::Wazo => X_AUTH_TOKEN,
            _ => AUTHORIZATION,
        }
    }
}

/// One access token and what authbridge needs to know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub token: AccessToken,
    /// Epoch milliseconds; `None` for tokens that do not expire.
    pub expires_at: Option<Millis>,
    pub scopes: Vec<String>,
    /// The header the token goes in (see [`header_value`]).
    pub header: Cow<'static, str>,
    pub format: Detected,
}

/// The header value for `token` in `header`: `Bearer <token>` for `Authorization`, the bare token otherwise.
pub fn header_value(header: &str, token: &str) -> String {
    if header.eq_ignore_ascii_case(AUTHORIZATION) {
        format!("Bearer {token}")
    } else {
        token.to_owned()
    }
}

type Result<T> = std::result::Result<T, ResponseError>;

fn field_error(field: &str, problem: Problem) -> ResponseError {
    ResponseError::Field { field: field.to_owned().into(), problem }
}

/// Reads an optional member: absent and `null` are both "not given".
fn member<J: Json>(obj: &J, key: &str) -> Option<J> {
    obj.get(key).filter(|v| !v.is_null())
}

fn object<J: Json>(obj: &J, key: &str) -> Result<J> {
    match member(obj, key) {
        None => Err(field_error(key, Problem::Missing)),
        Some(v) if v.kind() == Kind::Object => Ok(v),
        Some(_) => Err(field_error(key, Problem::WrongType)),
    }
}

fn string_at<J: Json>(value: Option<J>, field: &str) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| field_error(field, Problem::WrongType)),
    }
}

fn required_string<J: Json>(value: Option<J>, field: &str) -> Result<String> {
    string_at(value, field)?.ok_or_else(|| field_error(field, Problem::Missing))
}

fn lifetime_at<J: Json>(value: Option<J>, field: &str, received: Millis) -> Result<Option<Millis>> {
    let Some(v) = value else { return Ok(None) };
    let seconds = v.as_f64().ok_or_else(|| field_error(field, Problem::WrongType))?;
    let ms = seconds * 1000.0;
    if !(ms >= 1.0 && ms <= MAX_LIFETIME_MS as f64) {
        return Err(field_error(field, Problem::BadLifetime));
    }
    Ok(Some(received + ms as Millis))
}

fn timestamp_at<J: Json>(value: Option<J>, field: &str, received: Millis) -> Result<Option<Millis>> {
    let Some(v) = value else { return Ok(None) };
    let at = match v.kind() {
        Kind::String => v.as_str().as_deref().and_then(parse_iso8601),
        Kind::Number => v.as_f64().filter(|s| s.is_finite() && s.abs() < 1e14).map(|s| (s * 1000.0) as Millis),
        _ => return Err(field_error(field, Problem::WrongType)),
    };
    match at {
        Some(at) if at > 0 && at <= received + MAX_LIFETIME_MS => Ok(Some(at)),
        _ => Err(field_error(field, Problem::BadTimestamp)),
    }
}

/// Scopes as a space-separated string (OAuth 2) or an array of strings; none when the member is absent.
fn scopes_from<J: Json>(obj: &J, field: &str) -> Result<Vec<String>> {
    let Some(v) = member(obj, field) else {
        return Ok(Vec::new());
    };
    match v.kind() {
        Kind::String => Ok(v.as_str().unwrap_or_default().split_ascii_whitespace().map(str::to_owned).collect()),
        Kind::Array => {
            let mut out = Vec::new();
            while let Some(item) = v.index(out.len()) {
                out.push(item.as_str().ok_or_else(|| field_error(field, Problem::WrongType))?);
            }
            Ok(out)
        }
        _ => Err(field_error(field, Problem::WrongType)),
    }
}

fn earlier(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `exp` of a JWT access token, if the token is a JWT with a plausible `exp`.
fn jwt_exp<J: Json>(token: &str, received: Millis) -> Option<Millis> {
    let claims = crate::jwt::decode_claims_unverified::<J>(token).ok()?;
    crate::jwt::numeric_date_ms(&claims, "exp").filter(|&exp| exp <= received + MAX_LIFETIME_MS)
}

/// The fields of a response, before the token is checked.
struct Read<'a> {
    token: String,
    /// The field the token was read from, named if the token cannot go in a header.
    token_field: &'a str,
    expires_at: Option<Millis>,
    scopes: Vec<String>,
    format: Detected,
}

// A bare JSON string is accepted only when the format is explicitly `static`: guessing would turn an error
// string from a misconfigured bridge into a "token".
fn detect<J: Json>(body: &J) -> Option<Detected> {
    if body.kind() != Kind::Object {
        return None;
    }
    // The first of these members present decides.
    if member(body, "accessToken").is_some() {
        Some(Detected::Point)
    } else if member(body, "data").is_some() {
        Some(Detected::Wazo)
    } else if member(body, "access_token").is_some() {
        Some(Detected::OAuth2)
    } else if member(body, "token").is_some() {
        Some(Detected::Static)
    } else {
        None
    }
}

/// Reads `body` in `format`. Fields are read in a fixed order per format, so the first one at fault is reported.
fn read<'a, J: Json + Clone>(body: &J, format: &'a Format, received: Millis) -> Result<Read<'a>> {
    let detected = match format {
        Format::Custom(custom) => return read_custom(body, custom, received),
        Format::Auto => detect(body).ok_or(ResponseError::Unrecognized)?,
        Format::OAuth2 => Detected::OAuth2,
        Format::Point => Detected::Point,
        Format::Wazo => Detected::Wazo,
        Format::Static => Detected::Static,
    };
    match detected {
        Detected::OAuth2 => read_oauth2(body, received),
        Detected::Point => read_point(body, received),
        Detected::Wazo => read_wazo(body, received),
        Detected::Static | Detected::Custom => read_static(body),
    }
}

fn read_oauth2<J: Json>(body: &J, received: Millis) -> Result<Read<'static>> {
    if let Some(kind) = string_at(member(body, "token_type"), "token_type")? {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(field_error("token_type", Problem::Unsupported));
        }
    }
    let token = required_string(member(body, "access_token"), "access_token")?;
    let expires_at = lifetime_at(member(body, "expires_in"), "expires_in", received)?;
    let scopes = scopes_from(body, "scope")?;
    Ok(Read { token, token_field: "access_token", expires_at, scopes, format: Detected::OAuth2 })
}

fn read_point<J: Json>(body: &J, received: Millis) -> Result<Read<'static>> {
    let inner = object(body, "accessToken")?;
    let mut token = required_string(member(&inner, "token"), "accessToken.token")?;
    // Point sends "Bearer eyJ…"; keep the bare token so the header is never "Bearer Bearer …".
    if token.get(..7).is_some_and(|prefix| prefix.eq_ignore_ascii_case("bearer ")) {
        token = token[7..].trim_start().to_owned();
    }
    let expires_at = lifetime_at(member(&inner, "expiresIn"), "accessToken.expiresIn", received)?;
    Ok(Read { token, token_field: "accessToken.token", expires_at, scopes: Vec::new(), format: Detected::Point })
}

fn read_wazo<J: Json>(body: &J, received: Millis) -> Result<Read<'static>> {
    let data = object(body, "data")?;
    // utc_expires_at wins over the server-local expires_at.
    let (at, field) = match member(&data, "utc_expires_at") {
        Some(v) => (Some(v), "data.utc_expires_at"),
        None => (member(&data, "expires_at"), "data.expires_at"),
    };
    let expires_at = timestamp_at(at, field, received)?;
    let token = required_string(member(&data, "token"), "data.token")?;
    let scopes = scopes_from(&data, "acl")?;
    Ok(Read { token, token_field: "data.token", expires_at, scopes, format: Detected::Wazo })
}

fn read_static<J: Json>(body: &J) -> Result<Read<'static>> {
    if body.kind() == Kind::String {
        let token = body.as_str().unwrap_or_default();
        return Ok(Read { token, token_field: "", expires_at: None, scopes: Vec::new(), format: Detected::Static });
    }
    let scopes = scopes_from(body, if member(body, "scopes").is_some() { "scopes" } else { "scope" })?;
    let token = required_string(member(body, "token"), "token")?;
    Ok(Read { token, token_field: "token", expires_at: None, scopes, format: Detected::Static })
}

fn read_custom<'a, J: Json + Clone>(body: &J, custom: &'a CustomFormat, received: Millis) -> Result<Read<'a>> {
    let at = |pointer: &str| body.pointer(pointer).filter(|v| !v.is_null());
    let expires_in = match &custom.expires_in {
        Some(pointer) => lifetime_at(at(pointer), pointer, received)?,
        None => None,
    };
    let expires_at = match &custom.expires_at {
        Some(pointer) => timestamp_at(at(pointer), pointer, received)?,
        None => None,
    };
    let token = required_string(at(&custom.token), &custom.token)?;
    Ok(Read {
        token,
        token_field: &custom.token,
        expires_at: earlier(expires_in, expires_at),
        scopes: Vec::new(),
        format: Detected::Custom,
    })
}

/// Reads a bridge response in `format`, received at `received` (epoch ms).
///
/// The expiry is the earlier of the response's own lifetime and the JWT `exp` claim, when the token is a JWT.
pub fn parse_token_response<J: Json + Clone>(body: &J, format: &Format, received: Millis) -> Result<TokenRecord> {
    parse_token_response_skewed(body, format, received, 0)
}

/// Like [`parse_token_response`] for a client whose clock is `clock_offset` ms behind the server's
/// (server time = local time + offset). Absolute times in the response (JWT `exp`, Wazo `expires_at`) are on the
/// server's clock; the record's `expires_at` is converted to the local clock, which is what the session compares
/// it with.
pub fn parse_token_response_skewed<J: Json + Clone>(
    body: &J,
    format: &Format,
    received: Millis,
    clock_offset: Millis,
) -> Result<TokenRecord> {
    let server_received = received + clock_offset;
    let read = read(body, format, server_received)?;
    let token = AccessToken::new(read.token).ok_or_else(|| field_error(read.token_field, Problem::BadToken))?;
    let expires_at =
        earlier(read.expires_at, jwt_exp::<J>(token.secret(), server_received)).map(|at| at - clock_offset);
    Ok(TokenRecord { token, expires_at, scopes: read.scopes, header: read.format.header().into(), format: read.format })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::test_support::jwt;
    use serde_json::{json, Value};

    const NOW: Millis = 1_700_000_000_000;
    const POINT_JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwb2ludHwtb1BIbllUaEc2NFVGX0ZCMV8yNmwiLCJpYXQiOjE2NDUxMzc2MDcsImV4cCI6MTY0NTE0MTIwN30.8eIpFc01hpj0Mid325kvJlouQi8aLTBw93q3whwRtpM";

    fn parse(body: Value, format: Format) -> Result<TokenRecord> {
        parse_token_response(&body, &format, NOW)
    }

    #[test]
    fn format_identities_are_the_names_and_the_pointers() {
        for name in ["auto", "oauth2", "point", "wazo", "static"] {
            assert_eq!(Format::from_name(name).unwrap().identity(), name);
        }
        let custom = |expires_in: Option<&str>, expires_at: Option<&str>| {
            Format::Custom(CustomFormat {
                token: "/t".into(),
                expires_in: expires_in.map(Into::into),
                expires_at: expires_at.map(Into::into),
            })
            .identity()
        };
        assert_eq!(custom(Some("/e"), None), "custom\n/t\n/e\n");
        assert_ne!(custom(Some("/e"), None), custom(None, Some("/e")));
    }
    fn msg(body: Value, format: Format) -> String {
        parse(body, format).unwrap_err().message().into_owned()
    }
    fn jwt_exp_at(exp_s: i64) -> String {
        jwt(&json!({"alg": "HS256"}), &json!({"sub": "u", "exp": exp_s}))
    }

    #[test]
    fn point_seed_response_strips_bearer_and_takes_earlier_expiry() {
        let body = json!({"accessToken": {"token": format!("Bearer {POINT_JWT}"), "expiresIn": 86400}});
        for format in [Format::Point, Format::Auto] {
            let rec = parse(body.clone(), format).unwrap();
            assert_eq!(rec.token.secret(), POINT_JWT);
            assert_eq!(rec.format, Detected::Point);
            assert_eq!(rec.header, "Authorization");
            // The seed JWT's exp (2022) is earlier than now + 24 h.
            assert_eq!(rec.expires_at, Some(1_645_141_207_000));
        }
        let fresh = jwt_exp_at(NOW / 1000 + 90_000);
        let rec = parse(json!({"accessToken": {"token": format!("bearer {fresh}"), "expiresIn": 86400}}), Format::Auto)
            .unwrap();
        assert_eq!(rec.expires_at, Some(NOW + 86_400_000));
        assert_eq!(header_value(&rec.header, rec.token.secret()), format!("Bearer {fresh}"));
    }

    #[test]
    fn point_bearer_prefix_goes_with_the_whitespace_after_it() {
        let token = |t: &str| match parse(json!({"accessToken": {"token": t}}), Format::Point) {
            Ok(rec) => Ok(rec.token.secret().to_owned()),
            Err(e) => Err(e.message().into_owned()),
        };
        let refused = Err("field `accessToken.token` is empty or not a valid header value".to_owned());
        assert_eq!(token("Bearer \u{a0}\tabc"), Ok("abc".to_owned()));
        assert_eq!(token("BEARER abc"), Ok("abc".to_owned()));
        assert_eq!(token("Bearer abc "), refused);
        assert_eq!(token("Bearer  \u{a0} "), refused);
        assert_eq!(token("Bearer "), refused);
    }

    #[test]
    fn pointservices_seed_response_drops_refresh_token() {
        let body = json!({"access_token": "opaque-abc", "refresh_token": "AMf-vBxITbnfBBMJpPXMvop1qa1cMaUuqAKX_y1hYsmcgVtzhx7Al_9mWD", "expires_in": 3600});
        let rec = parse(body, Format::Auto).unwrap();
        assert_eq!(rec.format, Detected::OAuth2);
        assert_eq!(rec.expires_at, Some(NOW + 3_600_000));
        assert!(!format!("{rec:?}").contains("AMf-"), "refresh token must not be in the record");
        assert!(!format!("{rec:?}").contains("opaque-abc"), "Debug must redact the access token");
    }

    #[test]
    fn oauth2_rfc6749_fields() {
        let rec = parse(
            json!({"access_token": "a", "token_type": "bearer", "expires_in": 60, "scope": "read  write"}),
            Format::OAuth2,
        )
        .unwrap();
        assert_eq!(rec.scopes, vec!["read", "write"]);
        assert_eq!(rec.expires_at, Some(NOW + 60_000));
        assert_eq!(
            msg(json!({"access_token": "a", "token_type": "mac"}), Format::OAuth2),
            "field `token_type` is not Bearer"
        );
        assert_eq!(msg(json!({"token_type": "Bearer"}), Format::OAuth2), "missing field `access_token`");
        assert_eq!(msg(json!({"access_token": 5}), Format::OAuth2), "field `access_token` has the wrong type");
        assert_eq!(
            msg(json!({"access_token": ""}), Format::OAuth2),
            "field `access_token` is empty or not a valid header value"
        );
        assert_eq!(
            msg(json!({"access_token": "a\r\nX: y"}), Format::OAuth2),
            "field `access_token` is empty or not a valid header value"
        );
        let no_expiry = parse(json!({"access_token": "a", "expires_in": null}), Format::OAuth2).unwrap();
        assert_eq!(no_expiry.expires_at, None);
    }

    #[test]
    fn bad_lifetimes_are_typed_errors() {
        for bad in [json!(-1), json!(0), json!(1e300), json!(400 * 86_400 + 1)] {
            assert_eq!(
                msg(json!({"access_token": "a", "expires_in": bad}), Format::Auto),
                "field `expires_in` is not a positive lifetime of at most 400 days"
            );
        }
        for bad in [json!("3600"), json!(true), json!([1])] {
            assert_eq!(
                msg(json!({"access_token": "a", "expires_in": bad}), Format::Auto),
                "field `expires_in` has the wrong type"
            );
        }
        assert_eq!(
            msg(json!({"accessToken": {"token": "t", "expiresIn": -5}}), Format::Auto),
            "field `accessToken.expiresIn` is not a positive lifetime of at most 400 days"
        );
    }

    #[test]
    fn jwt_exp_earlier_than_expires_in_wins_and_later_does_not() {
        let soon = jwt_exp_at(NOW / 1000 + 30);
        assert_eq!(
            parse(json!({"access_token": soon, "expires_in": 3600}), Format::Auto).unwrap().expires_at,
            Some(NOW + 30_000)
        );
        let late = jwt_exp_at(NOW / 1000 + 7200);
        assert_eq!(
            parse(json!({"access_token": late, "expires_in": 3600}), Format::Auto).unwrap().expires_at,
            Some(NOW + 3_600_000)
        );
        let absurd = jwt_exp_at(NOW / 1000 + 1_000 * 86_400);
        assert_eq!(parse(json!({"access_token": absurd}), Format::Auto).unwrap().expires_at, None);
    }

    #[test]
    fn wazo_seed_response_uses_x_auth_token_and_utc() {
        let body = json!({"data": {"token": "88204f50-0fe8-4163-a90f-9ff867468997", "refresh_token": "353fefa1-d013-4633-a7d3-c6cb574ddc26", "expires_at": "2022-01-01T00:00:00.000000", "acl": ["confd.#"]}});
        let rec = parse(body, Format::Auto).unwrap();
        assert_eq!(rec.format, Detected::Wazo);
        assert_eq!(rec.header, "X-Auth-Token");
        assert_eq!(rec.expires_at, Some(1_640_995_200_000));
        assert_eq!(rec.scopes, vec!["confd.#"]);
        assert_eq!(header_value(&rec.header, rec.token.secret()), "88204f50-0fe8-4163-a90f-9ff867468997");
        assert!(!format!("{rec:?}").contains("353fefa1"));
        // utc_expires_at wins over the server-local expires_at.
        let rec = parse(
            json!({"data": {"token": "t", "expires_at": "2023-11-14T17:13:20", "utc_expires_at": "2023-11-14T22:13:20.000000"}}),
            Format::Wazo,
        )
        .unwrap();
        assert_eq!(rec.expires_at, Some(NOW));
        assert_eq!(
            msg(json!({"data": {"token": "t", "expires_at": "tomorrow"}}), Format::Wazo),
            "field `data.expires_at` is not a valid timestamp within 400 days"
        );
        assert_eq!(
            msg(json!({"data": {"token": "t", "expires_at": "2999-01-01T00:00:00"}}), Format::Wazo),
            "field `data.expires_at` is not a valid timestamp within 400 days"
        );
        assert_eq!(msg(json!({"data": "x"}), Format::Wazo), "field `data` has the wrong type");
        assert_eq!(msg(json!({"data": {}}), Format::Wazo), "missing field `data.token`");
    }

    #[test]
    fn static_airfocus_tokens_never_expire() {
        let rec =
            parse(json!({"token": "afp_0123456789abcdef", "scopes": ["workspace:read", "item:write"]}), Format::Auto)
                .unwrap();
        assert_eq!((rec.format, rec.expires_at), (Detected::Static, None));
        assert_eq!(rec.scopes, vec!["workspace:read", "item:write"]);
        assert_eq!(rec.header, "Authorization");
        assert_eq!(parse(json!("afp_x"), Format::Auto).unwrap_err(), ResponseError::Unrecognized);
        let bare = parse(json!("afp_x"), Format::Static).unwrap();
        assert_eq!(bare.token.secret(), "afp_x");
        assert_eq!(msg(json!({"token": "a", "scopes": [1]}), Format::Static), "field `scopes` has the wrong type");
    }

    #[test]
    fn custom_format_reads_json_pointers() {
        let f = Format::Custom(CustomFormat {
            token: "/result/jwt".into(),
            expires_in: Some("/result/ttl".into()),
            expires_at: None,
        });
        let rec = parse(json!({"result": {"jwt": "t", "ttl": 120}}), f.clone()).unwrap();
        assert_eq!((rec.token.secret(), rec.expires_at, rec.format), ("t", Some(NOW + 120_000), Detected::Custom));
        assert_eq!(msg(json!({"result": {}}), f.clone()), "missing field `/result/jwt`");
        assert_eq!(
            msg(json!({"result": {"jwt": "t", "ttl": 0}}), f),
            "field `/result/ttl` is not a positive lifetime of at most 400 days"
        );
        let g = Format::Custom(CustomFormat { token: "/t".into(), expires_in: None, expires_at: Some("/at".into()) });
        assert_eq!(parse(json!({"t": "x", "at": NOW / 1000 + 10}), g.clone()).unwrap().expires_at, Some(NOW + 10_000));
        assert_eq!(parse(json!({"t": "x", "at": "2023-11-14T22:13:30Z"}), g).unwrap().expires_at, Some(NOW + 10_000));
    }

    #[test]
    fn server_clock_times_are_converted_to_the_local_clock() {
        // The client clock is 10 minutes fast: server time = local - 600 s.
        let offset = -600_000;
        let exp = jwt_exp_at((NOW + offset) / 1000 + 3600);
        let rec = parse_token_response_skewed(&json!({"access_token": exp}), &Format::Auto, NOW, offset).unwrap();
        assert_eq!(rec.expires_at, Some(NOW + 3_600_000), "an hour from now on the local clock");
        // expires_in is relative to receipt: unaffected.
        let rec =
            parse_token_response_skewed(&json!({"access_token": "a", "expires_in": 60}), &Format::Auto, NOW, offset)
                .unwrap();
        assert_eq!(rec.expires_at, Some(NOW + 60_000));
        // Wazo's absolute expires_at, client 10 minutes slow.
        let body = json!({"data": {"token": "w", "expires_at": "2023-11-14T22:23:20"}});
        let rec = parse_token_response_skewed(&body, &Format::Wazo, NOW - 600_000, 600_000).unwrap();
        assert_eq!(rec.expires_at, Some(NOW + 600_000 - 600_000));
    }

    #[test]
    fn unrecognised_shapes() {
        for body in [json!({}), json!([]), json!(null), json!(5), json!("str"), json!({"tokens": "x"})] {
            assert_eq!(parse(body, Format::Auto).unwrap_err(), ResponseError::Unrecognized);
        }
        assert_eq!(msg(json!({"accessToken": "x"}), Format::Point), "field `accessToken` has the wrong type");
    }
}
