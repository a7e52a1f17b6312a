//! The session state machine: restore, decide, refresh (single flight), back off, sign out.
//!
//! It performs no I/O. The driver (the wasm glue, or a test) asks [`Session::decide`] what a caller should
//! do, runs at most one bridge call at a time between [`Session::begin_attempt`] and
//! [`Session::finish_attempt`], and sets a timer for [`Session::next_wakeup`]. Everything that decides
//! *when* and *whether* lives here, where `cargo test` drives it with a fake clock.

use std::borrow::Cow;

use crate::error::{Code, Error, ResponseError};
use crate::json::Json;
use crate::schedule;
use crate::store::{self, StoredEntry, TokenStore};
use crate::time::{Env, Millis};
use crate::token::{header_value, parse_token_response_skewed, Format, TokenRecord};

/// A token closer than this to its expiry is not sent: it could expire on the way.
pub const EXPIRY_SAFETY_MS: Millis = 1_000;
/// Clock differences below this are the `Date` header's one-second precision, not skew.
pub const MIN_CLOCK_SKEW_MS: Millis = 2_000;
/// A caller without a usable token waits for at most this many failed attempts before it gets the error.
pub const MAX_CALLER_ATTEMPTS: u32 = 3;
/// A caller without a usable token waits out a backoff only when it is at most this long.
pub const MAX_CALLER_WAIT_MS: Millis = 5_000;
/// Timers stop retrying after this many consecutive failures; later attempts happen only on demand.
pub const MAX_AUTO_FAILURES: u32 = 8;
/// While the backoff is long, callers that need a token may still probe the bridge this often, so that a
/// healed bridge is noticed within seconds, not at the end of a minute-long backoff. `Retry-After` is obeyed.
pub const DEMAND_PROBE_INTERVAL_MS: Millis = 2_000;
/// Before this client has had a token from its own bridge, a token from storage or from a peer is accepted only
/// if it expires within this long. Anyone who can write the origin's storage or post on its channel could
/// otherwise plant a token that never needs refreshing (an expiry in the year 5138). A day and an hour: Point
/// Database's 24-hour tokens fit, with room for clock skew. Once the bridge has issued a token, the longest
/// lifetime it has issued is the limit instead.
pub const MAX_UNSEEN_LIFETIME_MS: Millis = 25 * 3_600_000;

fn valid_entry(e: &StoredEntry, now: Millis) -> bool {
    e.expires_at.map_or(true, |exp| now + EXPIRY_SAFETY_MS < exp)
}

/// What the session is configured with.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub format: Format,
    /// Overrides the header the format implies.
    pub header: Option<String>,
    /// Overrides the lifetime-scaled refresh margin (milliseconds).
    pub refresh_margin_ms: Option<Millis>,
    /// The client's identity ([`store::client_id`]): written into every stored entry and required of every
    /// entry restored or adopted.
    pub client: String,
    /// A server runtime (Node, Deno, workerd), not a page or a worker: errors speak of credentials, not pages.
    pub server: bool,
}

impl Config {
    /// The header this client's tokens travel in, when the configuration alone decides it.
    fn implied_header(&self) -> Option<&str> {
        match (&self.header, &self.format) {
            (Some(h), _) => Some(h),
            (None, Format::Wazo) => Some(crate::token::X_AUTH_TOKEN),
            (None, Format::OAuth2 | Format::Point | Format::Static) => Some(crate::token::AUTHORIZATION),
            (None, Format::Auto | Format::Custom(_)) => None,
        }
    }
}

/// The token in use.
#[derive(Clone, Debug)]
pub struct Current {
    pub record: TokenRecord,
    /// When to refresh; `None` for tokens that never expire.
    pub refresh_at: Option<Millis>,
    /// The API answered 401 to this token: do not send it again.
    pub stale: bool,
}

impl Current {
    /// `true` while the token may still be sent.
    pub fn valid_at(&self, now: Millis) -> bool {
        !self.stale && self.record.expires_at.map_or(true, |exp| now + EXPIRY_SAFETY_MS < exp)
    }
    /// `true` while the token may be sent and is not yet due for refresh.
    pub fn fresh_at(&self, now: Millis) -> bool {
        self.valid_at(now) && self.refresh_at.map_or(true, |at| now < at)
    }
    /// The header name and value that carry this token.
    pub fn header(&self) -> (&str, String) {
        (&self.record.header, header_value(&self.record.header, self.record.token.secret()))
    }
}

/// What a caller that wants a token should do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send this token (header name, header value).
    Use(String, String),
    /// Await the refresh in flight, starting one if there is none; then ask again.
    Refresh,
    /// Wait until this moment (a short backoff), then ask again.
    SleepUntil(Millis),
    /// Give up with this error.
    Fail(Error),
}

/// The result of one bridge call, as the driver saw it.
#[derive(Clone, Debug)]
pub enum Transport<J> {
    /// The bridge answered. `body` is `None` when the body was not JSON; `date` is its `Date` header.
    Response { status: u16, retry_after_ms: Option<Millis>, date: Option<Millis>, body: Option<J> },
    /// The request failed before a response (DNS, connection refused, CORS, offline).
    Network,
    /// No response within the timeout.
    Timeout,
    /// The bridge answered with a redirect, which a bridge call never follows: its headers (`bridgeHeaders`,
    /// an API key) and cookies are for the bridge's origin alone, and a token minted elsewhere is not this
    /// bridge's. `status` is 0 and `to` `None` where the platform hides the redirect (browsers); `to` is the
    /// target's origin, never its path or query (which may carry secrets).
    Redirect { status: u16, to: Option<String> },
}

/// The error for a bridge answer that is a redirect (see [`Transport::Redirect`]).
fn redirect_error(status: u16, to: Option<&str>) -> Error {
    let answer = match (status, to) {
        (0, _) => "its target hidden by the browser".to_owned(),
        (status, Some(to)) => format!("HTTP {status} to {to}"),
        (status, None) => format!("HTTP {status}"),
    };
    Error::new(
        Code::InvalidResponse,
        format!(
            "the bridge answered with a redirect ({answer}): bridge calls follow no redirect, so that bridgeHeaders \
             and cookies reach the bridge alone; point tokenUrl and revokeUrl at the endpoints themselves"
        ),
    )
}

/// The error for an HTTP status the bridge answered that is neither a token nor a refusal.
fn unavailable(status: u16, message: String) -> Error {
    let mut error = Error::new(Code::BridgeUnavailable, message);
    error.bridge = Some(crate::error::BridgeRefusal { status, error: None });
    error
}

/// What the revoke call of a sign-out achieved: `Ok` only when the bridge confirmed with a 2xx. Otherwise the
/// bridge session may live on (a reload could start signed in again), which the application must be able to
/// tell its user; the local session has ended either way.
pub fn revoke_outcome<J>(result: &Transport<J>) -> Result<(), Error> {
    match *result {
        Transport::Response { status: 200..=299, .. } => Ok(()),
        Transport::Response { status, .. } => Err(unavailable(
            status,
            format!("the bridge did not confirm the sign-out (HTTP {status}): its session may still be open"),
        )),
        Transport::Network => {
            Err(Error::new(Code::Network, "the bridge could not be reached to sign out; its session may still be open"))
        }
        Transport::Timeout => Err(Error::new(
            Code::Timeout,
            "the bridge did not answer the sign-out in time; its session may still be open",
        )),
        Transport::Redirect { status, ref to } => Err(redirect_error(status, to.as_deref())),
    }
}

/// What a finished attempt changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new token is in use.
    Token,
    /// The attempt failed; a retry is scheduled (see [`Session::next_wakeup`]).
    Failed(Error),
    /// The bridge said the session is over (401/403): signed out, no further automatic calls.
    Rejected(Error),
    /// The bridge answered 401 to a client that held no token: there is no session (a first visit). Signed out
    /// as after [`Outcome::Rejected`], but nothing ended, so nothing is reported as an error.
    NoSession(Error),
    /// The result belongs to a session that has since been signed out or restarted; nothing changed.
    Ignored,
}

/// A sign-in session against one bridge.
#[derive(Debug)]
pub struct Session<S> {
    config: Config,
    store: S,
    current: Option<Current>,
    signed_out: bool,
    in_flight: bool,
    /// Bumped by sign-out and restart so that a late bridge answer cannot resurrect a session.
    epoch: u64,
    /// Bumped whenever a new token is accepted.
    generation: u64,
    failures: u32,
    /// No attempt before this moment (backoff).
    gate: Millis,
    /// When the last attempt ended.
    last_attempt: Millis,
    /// No attempt at all before this moment (the bridge's `Retry-After`).
    retry_after_until: Millis,
    /// Server clock minus local clock, from the bridge's `Date` header (0 when within the header's precision).
    clock_offset: Millis,
    last_error: Option<Error>,
    /// When a peer's sign-out notice last made this session check with its bridge.
    last_peer_check: Millis,
    /// The longest lifetime of a token this session's bridge issued (see [`MAX_UNSEEN_LIFETIME_MS`]).
    longest_lifetime: Option<Millis>,
    /// The check a peer's sign-out asked for is pending: a rejection then reads as the peer's sign-out.
    peer_sign_out: bool,
}

/// A peer's sign-out notice makes a session check with its bridge at most this often (any script of the origin
/// can post one: it must not be able to make the session call its bridge in a loop).
pub const PEER_CHECK_INTERVAL_MS: Millis = 2_000;

/// The longest `error` member of a refusal that is carried into the error (a code such as `csrf`, not prose).
pub const MAX_BRIDGE_ERROR_LEN: usize = 64;

/// The error for a 401/403 from the bridge, carrying its status and the `error` member of its JSON body (when
/// short and printable: the message must stay readable and free of anything but a code).
fn rejection<J: Json>(status: u16, body: Option<&J>, server: bool) -> Error {
    let code = body.and_then(|b| b.get("error")).and_then(|e| e.as_str()).filter(|e| {
        !e.is_empty() && e.len() <= MAX_BRIDGE_ERROR_LEN && e.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    });
    let detail = match &code {
        Some(c) => format!(", error \"{c}\""),
        None => String::new(),
    };
    // What a refusal most often means where the client runs: a page's cookie or CSRF header, a server's credentials.
    let hint = if server {
        "no session, or the bridge refused this client's credentials (check bridgeHeaders)"
    } else {
        "no session, or the bridge refused this page (check its CSRF and CORS settings)"
    };
    let m = format!("the bridge refused to issue a token (HTTP {status}{detail}): {hint}");
    let mut error = Error::new(Code::RefreshRejected, m);
    error.bridge = Some(crate::error::BridgeRefusal { status, error: code });
    error
}

fn no_token_error() -> Error {
    Error::new(Code::Network, "no token: the bridge could not be reached")
}

fn signed_out_error() -> Error {
    Error::new(Code::SignedOut, "signed out: call refresh() or start() after signing in at the bridge")
}

impl<S: TokenStore> Session<S> {
    pub fn new(config: Config, store: S) -> Self {
        Self {
            config,
            store,
            current: None,
            signed_out: false,
            in_flight: false,
            epoch: 0,
            generation: 0,
            failures: 0,
            gate: 0,
            last_attempt: Millis::MIN,
            retry_after_until: 0,
            clock_offset: 0,
            last_error: None,
            last_peer_check: Millis::MIN,
            longest_lifetime: None,
            peer_sign_out: false,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn store(&self) -> &S {
        &self.store
    }
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }
    pub fn current(&self) -> Option<&Current> {
        self.current.as_ref()
    }
    pub fn is_signed_out(&self) -> bool {
        self.signed_out
    }
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }
    pub fn generation(&self) -> u64 {
        self.generation
    }
    pub fn failures(&self) -> u32 {
        self.failures
    }
    /// Why the last attempt failed, or why the session ended.
    pub fn last_error(&self) -> Option<Error> {
        self.last_error.clone()
    }

    fn install(&mut self, record: TokenRecord, lifetime: Millis, random: f64) {
        let refresh_at =
            record.expires_at.map(|exp| schedule::refresh_at(exp, lifetime, self.config.refresh_margin_ms, random));
        self.current = Some(Current { record, refresh_at, stale: false });
        self.generation += 1;
        self.failures = 0;
        self.gate = 0;
        self.retry_after_until = 0;
        self.last_error = None;
        self.peer_sign_out = false;
    }

    /// Loads the stored token: restores it if still valid, deletes it if expired or malformed. Returns
    /// `true` when a token was restored. Leaves the signed-out state: `start()` means "try again".
    pub fn restore<J: Json>(&mut self, env: &mut impl Env) -> bool {
        self.signed_out = false;
        self.failures = 0;
        self.gate = 0;
        self.epoch += 1;
        self.in_flight = false;
        self.peer_sign_out = false;
        let now = env.now();
        if self.current.as_ref().is_some_and(|c| c.valid_at(now)) {
            return true;
        }
        let Some(text) = self.store.load() else { return false };
        let entry = store::decode::<J>(&text, self.config.header.as_deref(), &self.config.client)
            .filter(|e| valid_entry(e, now) && self.acceptable(e, false, now));
        match entry {
            Some(entry) => {
                self.install_entry::<J>(entry, now, env.random());
                true
            }
            None => {
                self.store.remove();
                false
            }
        }
    }

    fn install_entry<J: Json>(&mut self, entry: StoredEntry, now: Millis, random: f64) {
        // The original lifetime is not stored; a JWT's iat recovers it, else the remaining time stands in.
        let mut issued = now;
        if let Ok(claims) = crate::jwt::decode_claims_unverified::<J>(entry.token.secret()) {
            if let Some(iat) = crate::jwt::numeric_date_ms(&claims, "iat") {
                let iat = iat - self.clock_offset;
                if iat <= now {
                    issued = iat;
                }
            }
        }
        let lifetime = entry.expires_at.map_or(0, |exp| exp - issued);
        // The entry's header is kept as it is: every caller checked it against `acceptable` first, which requires
        // the configured header, when there is one, so no override is needed here (unlike a bridge answer's).
        let format = crate::token::Detected::Custom;
        let record = TokenRecord {
            token: entry.token,
            expires_at: entry.expires_at,
            scopes: Vec::new(),
            header: entry.header,
            format,
        };
        self.install(record, lifetime, random);
    }

    /// Whether an entry from storage or a peer could be this client's own: its header is the one this client
    /// sends (configured, implied by the format, or the current token's), and it has an expiry unless this
    /// client's tokens are static. A forged entry without expiry would otherwise switch refreshing off. With the
    /// `auto` format, a peer's token without expiry is taken only once this client's own bridge gave it one. Its
    /// expiry must be within the longest lifetime this client's bridge has issued (before it has issued one,
    /// [`MAX_UNSEEN_LIFETIME_MS`]): a planted far-future expiry would otherwise pin a forged token.
    fn acceptable(&self, entry: &StoredEntry, from_peer: bool, now: Millis) -> bool {
        let header = self.config.implied_header().or(self.current.as_ref().map(|c| &*c.record.header));
        let static_ok = match self.config.format {
            Format::Static => true,
            Format::Auto => match &self.current {
                Some(c) => c.record.expires_at.is_none(),
                None => !from_peer,
            },
            _ => false,
        };
        let limit = now + self.longest_lifetime.unwrap_or(MAX_UNSEEN_LIFETIME_MS) + MIN_CLOCK_SKEW_MS;
        let expiry_ok = match entry.expires_at {
            Some(exp) => exp <= limit,
            None => static_ok,
        };
        header.map_or(true, |h| h == entry.header) && expiry_ok
    }

    /// Takes a token another tab or worker of this client obtained (or wrote to shared storage), if it is
    /// acceptable and not worse than the current one: a later expiry, or any valid token when there is none.
    /// Returns `true` when adopted. A refresh this tab is waiting to make is then moot.
    ///
    /// What a peer message may change is exactly this: any script of the origin can post one, so a peer can
    /// hand over a token of this client's kind that outlives the current one, and nothing else.
    pub fn adopt<J: Json>(&mut self, entry: StoredEntry, env: &mut impl Env) -> bool {
        let now = env.now();
        if self.signed_out || !valid_entry(&entry, now) || !self.acceptable(&entry, true, now) {
            return false;
        }
        let better = match self.current.as_ref().filter(|c| c.valid_at(now)) {
            None => true,
            Some(c) => {
                c.record.token != entry.token
                    && matches!((entry.expires_at, c.record.expires_at), (Some(e), Some(ce)) if e > ce)
            }
        };
        if better {
            self.store.save(&store::encode::<J>(&entry.token, entry.expires_at, &entry.header, &self.config.client));
            self.install_entry::<J>(entry, now, env.random());
        }
        better
    }

    /// Another context says the session was signed out. That notice is not trusted to end this session (any
    /// script of the origin can post it): it only stops the current token from being sent and makes the session
    /// check with its bridge, at most once per [`PEER_CHECK_INTERVAL_MS`]. A bridge that still issues a token
    /// keeps the session; one that refuses ends it. Returns `true` when the driver should start that check now.
    pub fn peer_signed_out(&mut self, now: Millis) -> bool {
        if self.signed_out || self.current.is_none() {
            return false;
        }
        if now < self.last_peer_check.saturating_add(PEER_CHECK_INTERVAL_MS) {
            return false;
        }
        self.last_peer_check = now;
        self.peer_sign_out = true;
        if let Some(c) = self.current.as_mut() {
            c.stale = true;
            c.refresh_at = Some(now);
        }
        self.gate = 0;
        true
    }

    /// `true` once, after a rejection that followed a peer's sign-out notice (the glue reports it as the
    /// peer's sign-out rather than as an error).
    pub fn take_peer_sign_out(&mut self) -> bool {
        std::mem::take(&mut self.peer_sign_out)
    }

    /// The current token as a stored entry, for sharing with other tabs.
    pub fn entry(&self, now: Millis) -> Option<StoredEntry> {
        let c = self.current.as_ref().filter(|c| c.valid_at(now))?;
        Some(StoredEntry {
            token: c.record.token.clone(),
            expires_at: c.record.expires_at,
            header: c.record.header.clone(),
        })
    }

    /// Server clock minus local clock, as last measured.
    pub fn clock_offset(&self) -> Millis {
        self.clock_offset
    }

    /// Releases the bridge call claimed by [`Session::begin_attempt`] without making it (a peer delivered a
    /// token meanwhile, or the platform is offline).
    pub fn abandon_attempt(&mut self, epoch: u64) {
        if epoch == self.epoch {
            self.in_flight = false;
        }
    }

    /// Clears the backoff so that the next caller or timer may call the bridge at once (the network is back).
    pub fn clear_backoff(&mut self) {
        self.gate = 0;
        self.retry_after_until = 0;
        self.last_attempt = Millis::MIN;
    }

    /// What a caller wanting a token should do at `now`, after `caller_failures` attempts it has awaited
    /// that brought no new token.
    pub fn decide(&self, now: Millis, caller_failures: u32) -> Decision {
        if self.signed_out {
            // A caller that awaited the attempt which ended the session learns why; later callers learn that the
            // session is over.
            let why = self.last_error.as_ref().filter(|_| caller_failures > 0);
            return Decision::Fail(why.cloned().unwrap_or_else(signed_out_error));
        }
        if let Some(c) = self.current.as_ref().filter(|c| c.valid_at(now)) {
            // Inside the margin the caller waits for one refresh, but never on a bridge known to be failing: the
            // token still works, so it is used and the retry runs in the background.
            let bridge_failing = caller_failures > 0 || (self.failures > 0 && !self.in_flight);
            if c.fresh_at(now) || bridge_failing {
                let (name, value) = c.header();
                return Decision::Use(name.to_owned(), value);
            }
            return Decision::Refresh;
        }
        if caller_failures < MAX_CALLER_ATTEMPTS {
            // A new caller may go before the backoff gate, but no sooner than one probe interval after the last
            // attempt and never before the bridge's Retry-After: that bounds the call rate however often the app
            // asks, and notices a healed bridge within seconds.
            let probe_at = self.last_attempt.saturating_add(DEMAND_PROBE_INTERVAL_MS).max(self.retry_after_until);
            // A caller that already awaited a failed attempt is told now rather than made to wait for a probe.
            let at = if caller_failures == 0 { self.gate.min(probe_at) } else { self.gate };
            if self.in_flight || now >= at {
                return Decision::Refresh;
            }
            if at - now <= MAX_CALLER_WAIT_MS {
                return Decision::SleepUntil(at);
            }
        }
        Decision::Fail(self.last_error.clone().unwrap_or_else(no_token_error))
    }

    /// Claims the single bridge call. Returns the attempt's epoch, or `None` when a call is already in flight
    /// or the session is signed out (callers then await the flight in progress or fail).
    pub fn begin_attempt(&mut self) -> Option<u64> {
        if self.in_flight || self.signed_out {
            return None;
        }
        self.in_flight = true;
        Some(self.epoch)
    }

    /// Applies the bridge's answer to the attempt started with `epoch`.
    pub fn finish_attempt<J: Json + Clone>(&mut self, epoch: u64, env: &mut impl Env, result: Transport<J>) -> Outcome {
        self.finish(epoch, env, &result)
    }

    /// [`Session::finish_attempt`] on a borrowed result.
    pub(crate) fn finish<J: Json + Clone>(&mut self, epoch: u64, env: &mut impl Env, result: &Transport<J>) -> Outcome {
        if epoch != self.epoch || !self.in_flight {
            return Outcome::Ignored;
        }
        self.in_flight = false;
        let now = env.now();
        self.last_attempt = now;
        if let Transport::Response { date: Some(date), .. } = result {
            // The header is truncated to the second: its midpoint is the best estimate.
            let offset = date + 500 - now;
            self.clock_offset = if offset.abs() < MIN_CLOCK_SKEW_MS { 0 } else { offset };
        }
        let (error, retry_after) = match result {
            Transport::Response { status: 200..=299, body, .. } => {
                let parsed = match body {
                    Some(body) => parse_token_response_skewed(body, &self.config.format, now, self.clock_offset),
                    None => Err(ResponseError::NotJson),
                };
                match parsed {
                    Ok(record) if record.expires_at.map_or(true, |exp| exp > now + EXPIRY_SAFETY_MS) => {
                        self.accept::<J>(record, now, env.random());
                        return Outcome::Token;
                    }
                    Ok(_) => (ResponseError::AlreadyExpired.into(), None),
                    Err(e) => (e.into(), None),
                }
            }
            &Transport::Response { status: status @ (401 | 403), ref body, .. } => {
                // A 401 to a client that never held a token in this session is a first visit: nothing ended, so
                // the driver reports the signed-out state, not an error. A 403 is the bridge refusing this page
                // (CSRF, CORS, origin checks): a misconfiguration that must not pass for "no session".
                let first_visit = status == 401 && self.current.is_none();
                self.end();
                let error = rejection(status, body.as_ref(), self.config.server);
                self.last_error = Some(error.clone());
                return if first_visit { Outcome::NoSession(error) } else { Outcome::Rejected(error) };
            }
            &Transport::Response { status, retry_after_ms, .. } => {
                let honour = matches!(status, 429 | 503);
                (unavailable(status, format!("the bridge answered HTTP {status}")), retry_after_ms.filter(|_| honour))
            }
            Transport::Redirect { status, to } => (redirect_error(*status, to.as_deref()), None),
            Transport::Network => (Error::new(Code::Network, "the bridge could not be reached"), None),
            Transport::Timeout => (Error::new(Code::Timeout, "the bridge did not answer in time"), None),
        };
        self.failures = self.failures.saturating_add(1);
        self.gate = now + schedule::backoff_ms(self.failures, env.random(), retry_after);
        self.retry_after_until = retry_after.map_or(0, |wait| now + wait.clamp(0, schedule::MAX_RETRY_AFTER_MS));
        self.last_error = Some(error.clone());
        Outcome::Failed(error)
    }

    /// Takes a token the bridge issued: stores it and puts it in use.
    fn accept<J: Json>(&mut self, mut record: TokenRecord, now: Millis, random: f64) {
        if let Some(h) = &self.config.header {
            record.header = Cow::Owned(h.clone());
        }
        let lifetime = record.expires_at.map_or(0, |exp| exp - now);
        if record.expires_at.is_some() {
            self.longest_lifetime = Some(self.longest_lifetime.map_or(lifetime, |l| l.max(lifetime)));
        }
        let entry = store::encode::<J>(&record.token, record.expires_at, &record.header, &self.config.client);
        // A store that refuses (quota, private mode) leaves the token in memory only.
        self.store.save(&entry);
        self.install(record, lifetime, random);
    }

    /// When the driver's timer should next call [`Session::auto_due`]; `None` for no timer.
    pub fn next_wakeup(&self) -> Option<Millis> {
        if self.signed_out || self.in_flight {
            return None;
        }
        if self.failures > 0 {
            return (self.failures < MAX_AUTO_FAILURES && self.current.is_some()).then_some(self.gate);
        }
        self.current.as_ref().and_then(|c| c.refresh_at)
    }

    /// `true` when a timer-driven refresh should start now.
    pub fn auto_due(&self, now: Millis) -> bool {
        self.next_wakeup().is_some_and(|at| now >= at)
    }

    /// The API answered 401 to `token`: stop sending it. A token already replaced is left alone, so many
    /// concurrent 401s cause one refresh.
    pub fn reject_token(&mut self, token_header_value: &str) {
        if let Some(c) = self.current.as_mut() {
            if header_value(&c.record.header, c.record.token.secret()) == token_header_value {
                c.stale = true;
            }
        }
    }

    /// Ends the session locally: clears the token, the store and any backoff. Returns the header that
    /// carried the token, for the revoke call.
    pub fn sign_out(&mut self) -> Option<(String, String)> {
        let header = self.current.as_ref().map(|c| {
            let (n, v) = c.header();
            (n.to_owned(), v)
        });
        self.end();
        header
    }

    fn end(&mut self) {
        self.current = None;
        self.store.remove();
        self.signed_out = true;
        self.in_flight = false;
        self.epoch += 1;
        self.failures = 0;
        self.gate = 0;
        self.last_error = None;
    }

    /// The driver is going away (`free()`): an answer still on its way is ignored, so nothing is stored or
    /// reported after this. The stored token stays for the next page load.
    pub fn detach(&mut self) {
        self.epoch += 1;
        self.in_flight = false;
        self.signed_out = true;
        self.current = None;
    }

    /// Leaves the signed-out state so that the next caller asks the bridge again (explicit `refresh()`).
    pub fn reactivate(&mut self) {
        if self.signed_out {
            self.signed_out = false;
            self.failures = 0;
            self.gate = 0;
        }
    }

    /// Makes the current token due for refresh now (explicit `refresh()`).
    pub fn force_due(&mut self) {
        if let Some(c) = self.current.as_mut() {
            c.refresh_at = Some(i64::MIN);
        }
        self.gate = 0;
    }
}
