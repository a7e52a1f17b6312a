//! Typed errors with stable codes.
//!
//! Tokens and secrets never appear in a message.

use std::borrow::Cow;

/// Which part of a compact JWT an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Part #1, the JOSE header.
    Header,
    /// Part #2, the claims.
    Claims,
    /// Part #3, the signature.
    Signature,
}

/// Why a string is not a decodable JWT.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// The input was not a string (from JavaScript: `null`, a number, an object…).
    NotAString,
    /// The token contains a space, tab or line break.
    Whitespace,
    /// Fewer than three dot-separated parts.
    MissingPart(Part),
    /// More than three dot-separated parts.
    TooManyParts,
    /// A header or claims part is empty.
    EmptyPart(Part),
    /// A part is not base64url.
    InvalidBase64(Part),
    /// A decoded part is not UTF-8.
    InvalidUtf8(Part),
    /// A decoded part is not JSON.
    InvalidJson(Part),
    /// A decoded part is JSON but not an object.
    NotAnObject(Part),
}

impl JwtError {
    /// A lowercase message that says what is wrong and where.
    pub fn message(&self) -> &'static str {
        use Part::{Claims, Header, Signature};
        match self {
            Self::NotAString => "must be a string",
            Self::Whitespace => "whitespace inside the token",
            Self::TooManyParts => "too many parts: a JWT has exactly 3",
            Self::MissingPart(Header) => "missing part #1",
            Self::MissingPart(Claims) => "missing part #2",
            Self::MissingPart(Signature) => "missing part #3",
            Self::EmptyPart(Header) => "part #1 is empty",
            Self::EmptyPart(Claims) => "part #2 is empty",
            Self::EmptyPart(Signature) => "part #3 is empty",
            Self::InvalidBase64(Header) => "invalid base64 in part #1",
            Self::InvalidBase64(Claims) => "invalid base64 in part #2",
            Self::InvalidBase64(Signature) => "invalid base64 in part #3",
            Self::InvalidUtf8(Header) => "invalid UTF-8 in part #1",
            Self::InvalidUtf8(Claims) => "invalid UTF-8 in part #2",
            Self::InvalidUtf8(Signature) => "invalid UTF-8 in part #3",
            Self::InvalidJson(Header) => "invalid JSON in part #1",
            Self::InvalidJson(Claims) => "invalid JSON in part #2",
            Self::InvalidJson(Signature) => "invalid JSON in part #3",
            Self::NotAnObject(Header) => "part #1 is not a JSON object",
            Self::NotAnObject(Claims) => "part #2 is not a JSON object",
            Self::NotAnObject(Signature) => "part #3 is not a JSON object",
        }
    }
}

/// What is wrong with a field of a token response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The field is absent (or `null`).
    Missing,
    /// The field has the wrong JSON type.
    WrongType,
    /// The token is empty or has characters that cannot go in an HTTP header.
    BadToken,
    /// A lifetime that is negative, zero, not finite or absurdly long.
    BadLifetime,
    /// A timestamp that cannot be parsed or is absurdly far away.
    BadTimestamp,
    /// A `token_type` other than `Bearer`.
    Unsupported,
}

/// Why a bridge response is not a usable token response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The body is not JSON.
    NotJson,
    /// `auto` found none of the known shapes.
    Unrecognized,
    /// A field is wrong; `field` is its path, e.g. `accessToken.expiresIn` or a custom JSON pointer.
    Field { field: Cow<'static, str>, problem: Problem },
    /// The token expired before it arrived (or expires within a second).
    AlreadyExpired,
}

impl ResponseError {
    /// A lowercase message naming the field at fault.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Self::NotJson => "response is not JSON".into(),
            Self::Unrecognized => {
                "unrecognised token response: expected access_token (oauth2), accessToken.token (point), data.token (wazo) or token (static)".into()
            }
            Self::AlreadyExpired => "the token in the response has already expired".into(),
            Self::Field { field, problem } => match problem {
                Problem::Missing => format!("missing field `{field}`").into(),
                Problem::WrongType => format!("field `{field}` has the wrong type").into(),
                Problem::BadToken => format!("field `{field}` is empty or not a valid header value").into(),
                Problem::BadLifetime => format!("field `{field}` is not a positive lifetime of at most 400 days").into(),
                Problem::BadTimestamp => format!("field `{field}` is not a valid timestamp within 400 days").into(),
                Problem::Unsupported => format!("field `{field}` is not Bearer").into(),
            },
        }
    }
}

/// The stable code of an [`Error`], exposed to JavaScript as `error.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    InvalidToken,
    InvalidResponse,
    RefreshRejected,
    Network,
    BridgeUnavailable,
    Timeout,
    SignedOut,
    InvalidConfig,
    /// The client was freed: it can no longer be used.
    Freed,
}

impl Code {
    /// The code as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidToken => "invalid_token",
            Self::InvalidResponse => "invalid_response",
            Self::RefreshRejected => "refresh_rejected",
            Self::Network => "network",
            Self::BridgeUnavailable => "bridge_unavailable",
            Self::Timeout => "timeout",
            Self::SignedOut => "signed_out",
            Self::InvalidConfig => "invalid_config",
            Self::Freed => "freed",
        }
    }
}

/// Any authbridge error: a stable [`Code`] and a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub message: Cow<'static, str>,
    /// The bridge's HTTP answer, where an error comes from one: for [`Code::RefreshRejected`], so that a
    /// misconfigured bridge (a CSRF or CORS refusal) can be told apart from a session that is over; for
    /// [`Code::BridgeUnavailable`], the status it answered (to a token call or a sign-out).
    pub bridge: Option<BridgeRefusal>,
}

/// What the bridge answered when it refused or failed a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeRefusal {
    /// The HTTP status (401 or 403 for a refusal).
    pub status: u16,
    /// The `error` member of its JSON body, when it sent a short plain one.
    pub error: Option<String>,
}

impl Error {
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self { code, message: message.into(), bridge: None }
    }
}

impl From<JwtError> for Error {
    fn from(e: JwtError) -> Self {
        Self::new(Code::InvalidToken, e.message())
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Self {
        Self::new(Code::InvalidResponse, e.message())
    }
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}
impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}
impl std::error::Error for JwtError {}
impl std::error::Error for ResponseError {}
impl std::error::Error for Error {}
