//! `AuthClient`: drives the core [`Session`] with fetch, timers, Web Storage and events.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::js::{self, error_to_js, get, JsJson, WebEnv};
use crate::error::{Code, Error};
use crate::json::Json;
use crate::schedule::parse_retry_after_seconds;
use crate::session::{Config, Decision, Outcome, Session, Transport};
use crate::store::{MemoryStore, TokenStore};
use crate::time::Millis;

/// `future_to_promise` over one boxed future type: the executor's code exists once, not once per async block.
fn future_to_promise(f: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let boxed: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(f);
    wasm_bindgen_futures::future_to_promise(boxed)
}

/// Web Storage under one key, falling back to memory for good once the storage refuses or throws.
struct WebStore {
    storage: Option<web_sys::Storage>,
    key: String,
    memory: MemoryStore,
}

impl TokenStore for WebStore {
    fn load(&self) -> Option<String> {
        match &self.storage {
            Some(s) => s.get_item(&self.key).ok().flatten(),
            None => self.memory.load(),
        }
    }
    fn save(&mut self, entry: &str) -> bool {
        if let Some(s) = &self.storage {
            if s.set_item(&self.key, entry).is_ok() {
                return true;
            }
            let _ = s.remove_item(&self.key);
            self.storage = None;
        }
        self.memory.save(entry)
    }
    fn remove(&mut self) {
        if let Some(s) = &self.storage {
            let _ = s.remove_item(&self.key);
        }
        self.memory.remove();
    }
}

struct Options {
    token_url: String,
    revoke_url: String,
    api_origins: Vec<String>,
    /// `credentials` of bridge calls; `None` leaves it to the platform (server runtimes: some refuse the field).
    credentials: Option<web_sys::RequestCredentials>,
    bridge_headers: Vec<(String, String)>,
    timeout_ms: u32,
    auto_refresh: bool,
    /// Web Lock and BroadcastChannel name shared by every context of the origin using this storage key.
    shared_name: String,
    /// The Web Storage key (the default derives from the client's identity).
    storage_key: String,
    /// `storage: 'memory'`: the token never leaves this context's memory, so it is neither handed to peers nor
    /// taken from them, and no Web Lock is taken (each context has its own token).
    memory_only: bool,
    /// `storage: 'local'`: other tabs' writes arrive as `storage` events too.
    local_storage: bool,
    /// A page or a worker: it has peers to coordinate with. Server runtimes have none, and an open
    /// BroadcastChannel would keep a Node or Deno process alive.
    browser_like: bool,
}

/// The session as the store interface shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Created, or `start()` not settled yet.
    Starting,
    /// A token is in use.
    SignedIn,
    /// No session: `start()` found none, the bridge refused, or `signOut()`.
    SignedOut,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::SignedIn => "signedIn",
            Self::SignedOut => "signedOut",
        }
    }
}

/// The `token` event's payload (`TokenEvent` in types.d.ts).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenEvent<'a> {
    source: &'a str,
    expires_at: Option<crate::json::Epoch>,
    header: &'a str,
}

/// The `signedOut` event's payload.
#[derive(serde::Serialize)]
struct SignedOutEvent<'a> {
    reason: &'a str,
}

/// A message to the other contexts of this client on the BroadcastChannel: `ask` (for a token), `token` (with
/// the stored entry's JSON) or `signedOut`. Received ones are read as untrusted input (see `on_message`).
#[derive(serde::Serialize)]
struct PeerMessage<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    client: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<&'a str>,
}

fn freed_error() -> Error {
    Error::new(Code::Freed, "this AuthClient was freed: create a new one (stop() pauses a client, free() ends it)")
}

struct Inner {
    session: RefCell<Session<WebStore>>,
    options: Options,
    /// The bridge call in progress, shared by every caller (single flight).
    flight: RefCell<Option<Promise>>,
    timer: RefCell<Option<JsValue>>,
    timer_callback: Closure<dyn FnMut()>,
    /// `stop()`/`free()` were called: no timers until `start()`.
    stopped: Cell<bool>,
    /// `free()` was called: no listener, broadcast, storage write or timer from now on.
    freed: Cell<bool>,
    /// The client's identity (also in the session's config), carried by every peer message.
    client: String,
    on_token: js_sys::Set,
    on_signed_out: js_sys::Set,
    on_error: js_sys::Set,
    /// Subscribers of the store interface (`subscribe`), called with no argument when the snapshot changes.
    on_change: js_sys::Set,
    /// What the snapshot says: set only where the outcome of a call or a message is known.
    status: Cell<Status>,
    /// The error the snapshot shows: the last failure, cleared by a new token.
    error: RefCell<Option<JsValue>>,
    /// The snapshot handed out until something changes (`getSnapshot` returns the same object until then).
    snapshot: RefCell<Option<JsValue>>,
    /// The JavaScript error behind the last network failure or timeout: the `cause` of the error reported.
    last_cause: RefCell<Option<JsValue>>,
    /// The BroadcastChannel to the other tabs and workers (`null` where it does not exist).
    channel: JsValue,
    /// Kept alive for the channel's `onmessage`.
    _channel_callback: Closure<dyn FnMut(JsValue)>,
    event_callback: Closure<dyn FnMut(String, JsValue)>,
    /// Removes the lifecycle listeners.
    unlisten: RefCell<Option<Function>>,
    /// `options.api_origins` as a JS array, for the fetch fast path.
    origins_js: JsValue,
    /// The current token's header name and value as JS strings, by token generation: the fast path reuses
    /// them instead of copying strings out of wasm on every call.
    header_js: RefCell<Option<(u64, JsValue, JsValue)>>,
    /// Called by the fast path on a 401: `(input, init, headerValue, response)` → the retried response.
    unauthorized_callback: Closure<dyn FnMut(JsValue, JsValue, JsValue, JsValue) -> Promise>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Keeps a page or worker signed in: refreshes short-lived tokens through the bridging backend before they
/// expire and attaches them to requests for the configured API origins only.
#[wasm_bindgen(skip_typescript)]
pub struct AuthClient {
    inner: Rc<Inner>,
}

/// Every option `AuthClient` reads; any other key is refused (a misspelt `autorefresh` would otherwise be
/// ignored without a word).
const OPTION_KEYS: [&str; 12] = [
    "tokenUrl",
    "revokeUrl",
    "apiOrigins",
    "format",
    "header",
    "storage",
    "storageKey",
    "credentials",
    "bridgeHeaders",
    "refreshMargin",
    "autoRefresh",
    "bridgeTimeout",
];

/// The longest `bridgeTimeout` and `refreshMargin` accepted, in seconds: larger values are mistakes (milliseconds
/// given as seconds), not intentions.
const MAX_BRIDGE_TIMEOUT_S: f64 = 600.0;
const MAX_REFRESH_MARGIN_S: f64 = 86_400.0;

/// "`option` must be `expected`; got `what`": every configuration error names the option and what it expects.
fn option_error(option: &str, expected: &str, got: &JsValue) -> Error {
    let mut m = String::from("AuthClient option `");
    m.push_str(option);
    m.push_str("` must be ");
    m.push_str(expected);
    m.push_str("; got ");
    m.push_str(&js::describe(got));
    js::config_error(m)
}

fn string_option(options: &JsValue, key: &str, expected: &str) -> Result<Option<String>, Error> {
    let v = get(options, key);
    if v.is_undefined() {
        return Ok(None);
    }
    match v.as_string() {
        Some(s) if !s.is_empty() => Ok(Some(s)),
        _ => Err(option_error(key, expected, &v)),
    }
}

/// Seconds in `(0, max]` (`zero_ok`: `[0, max]`), as milliseconds; `expected` says so in the error.
fn seconds_option(
    options: &JsValue,
    key: &str,
    zero_ok: bool,
    max: f64,
    expected: &str,
) -> Result<Option<Millis>, Error> {
    let v = get(options, key);
    if v.is_undefined() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && (n > 0.0 || (zero_ok && n == 0.0)) && n <= max => Ok(Some((n * 1000.0) as Millis)),
        _ => Err(option_error(key, expected, &v)),
    }
}

/// `https://api.example.com` (or with a trailing `/`) → its origin; anything with a path, query, credentials,
/// a wildcard or a non-http scheme is refused, so that nobody believes a path prefix or a pattern is enforced.
fn normalize_origin(value: &JsValue) -> Result<String, Error> {
    const EXPECTED: &str = "an array of exact origins like 'https://api.example.com' (scheme, host, optional port; \
                            no path, no wildcard)";
    let bad = || option_error("apiOrigins", EXPECTED, value);
    let text = value.as_string().ok_or_else(bad)?;
    if text.contains('*') {
        return Err(bad());
    }
    let url = web_sys::Url::new(&text).map_err(|_| bad())?;
    let plain = (url.protocol() == "https:" || url.protocol() == "http:")
        && url.pathname() == "/"
        && url.search().is_empty()
        && url.hash().is_empty()
        && url.username().is_empty()
        && url.password().is_empty()
        && !text.ends_with("/?")
        && !text.ends_with('#');
    plain.then(|| url.origin()).ok_or_else(bad)
}

/// `url` resolved against the global `location` where there is one (pages, workers). Where there is none (Node,
/// Deno, workerd) a relative URL has nothing to resolve against, and fetch would reject it on every call.
fn absolute_url(option: &str, url: &str) -> Result<String, Error> {
    let base = get(&get(&js_sys::global(), "location"), "href").as_string();
    let parsed = match &base {
        Some(b) => web_sys::Url::new_with_base(url, b),
        None => web_sys::Url::new(url),
    };
    let expected = if base.is_some() {
        "an http(s) URL (absolute, or relative to the page)"
    } else {
        "an absolute http(s) URL here: there is no document to resolve a relative one against"
    };
    match parsed {
        Ok(u) if u.protocol() == "https:" || u.protocol() == "http:" => Ok(u.href()),
        _ => Err(option_error(option, expected, &JsValue::from_str(url))),
    }
}

fn parse_options(options: &JsValue) -> Result<(Options, Config, WebStore), Error> {
    if !options.is_object() || js_sys::Array::is_array(options) {
        return Err(js::config_error(
            "AuthClient needs an options object: new AuthClient({ tokenUrl, apiOrigins: ['https://api.example.com'] })",
        ));
    }
    let keys = js_sys::Reflect::own_keys(options.unchecked_ref()).unwrap_or_else(|_| Array::new());
    for key in keys.iter() {
        let Some(key) = key.as_string() else { continue };
        if !OPTION_KEYS.contains(&key.as_str()) {
            let mut m = String::from("unknown AuthClient option `");
            m.push_str(&key);
            m.push('`');
            if let Some(known) = OPTION_KEYS.iter().find(|k| k.eq_ignore_ascii_case(&key)) {
                m.push_str(" (did you mean `");
                m.push_str(known);
                m.push_str("`?)");
            }
            return Err(js::config_error(m));
        }
    }
    const URL: &str = "a non-empty URL string";
    let token_url = string_option(options, "tokenUrl", URL)?.ok_or_else(|| {
        option_error("tokenUrl", "the bridge's token endpoint, e.g. '/auth/token'", &get(options, "tokenUrl"))
    })?;
    let token_url = absolute_url("tokenUrl", &token_url)?;
    let revoke_url = match string_option(options, "revokeUrl", URL)? {
        Some(url) => absolute_url("revokeUrl", &url)?,
        None => token_url.clone(),
    };
    let origins = get(options, "apiOrigins");
    let list = origins.dyn_ref::<Array>().filter(|a| a.length() > 0).ok_or_else(|| {
        option_error("apiOrigins", "a non-empty array of origins like ['https://api.example.com']", &origins)
    })?;
    let api_origins = list.iter().map(|o| normalize_origin(&o)).collect::<Result<Vec<_>, _>>()?;

    let header = string_option(options, "header", "an HTTP header name such as 'Authorization'")?;
    if let Some(h) = &header {
        let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if !h.bytes().all(token_char) {
            return Err(option_error("header", "an HTTP header name such as 'Authorization'", &JsValue::from_str(h)));
        }
    }
    let format = js::format_option(&get(options, "format"))?;
    let refresh_margin_ms =
        seconds_option(options, "refreshMargin", true, MAX_REFRESH_MARGIN_S, "a number of seconds from 0 to 86400")?;
    let timeout_ms = seconds_option(
        options,
        "bridgeTimeout",
        false,
        MAX_BRIDGE_TIMEOUT_S,
        "a number of seconds above 0 and at most 600",
    )?
    .map_or(10_000, |ms| ms.max(1) as u32);

    // The identity binds stored entries and peer messages to this bridge, these API origins and this header.
    let client = crate::store::client_id(&token_url, &api_origins, header.as_deref(), &format.identity());
    let key = string_option(options, "storageKey", "a non-empty string")?.unwrap_or_else(|| {
        let mut k = String::from("authbridge.");
        k.push_str(&client);
        k
    });
    let storage_name = string_option(options, "storage", "'session', 'local' or 'memory'")?;
    let local_storage = storage_name.as_deref() == Some("local");
    let storage = match storage_name.as_deref() {
        None | Some("session") => js::web_storage(false),
        Some("local") => js::web_storage(true),
        Some("memory") => None,
        Some(other) => {
            return Err(option_error("storage", "'session', 'local' or 'memory'", &JsValue::from_str(other)))
        }
    };

    // Pages and workers send the bridge's session cookie; server runtimes have no cookie jar (and some
    // refuse the `credentials` field), so there it is left unset.
    let global = js_sys::global();
    let browser_like = !get(&global, "document").is_undefined() || get(&global, "importScripts").is_function();
    let given = get(options, "credentials");
    let credentials = match given.as_string().as_deref() {
        Some("omit") => Some(web_sys::RequestCredentials::Omit),
        Some("same-origin") => Some(web_sys::RequestCredentials::SameOrigin),
        Some("include") => Some(web_sys::RequestCredentials::Include),
        None if given.is_undefined() => browser_like.then_some(web_sys::RequestCredentials::Include),
        _ => return Err(option_error("credentials", "'omit', 'same-origin' or 'include'", &given)),
    };
    let mut bridge_headers = Vec::new();
    let extra = get(options, "bridgeHeaders");
    if !extra.is_undefined() {
        const HEADERS: &str = "an object of header names to string values";
        let obj = extra
            .dyn_ref::<Object>()
            .filter(|_| !Array::is_array(&extra))
            .ok_or_else(|| option_error("bridgeHeaders", HEADERS, &extra))?;
        let entries = js_sys::Reflect::own_keys(obj).unwrap_or_else(|_| Array::new());
        let probe = web_sys::Headers::new().map_err(|_| option_error("bridgeHeaders", HEADERS, &extra))?;
        for name in entries.iter() {
            let value = js_sys::Reflect::get(obj, &name).unwrap_or(JsValue::UNDEFINED);
            match (name.as_string(), value.as_string()) {
                // The platform's own check: a name or value fetch would refuse fails here, not at every call.
                (Some(k), Some(v)) if probe.set(&k, &v).is_ok() => bridge_headers.push((k, v)),
                (Some(k), Some(_)) => {
                    return Err(option_error("bridgeHeaders", "valid header names and values", &JsValue::from_str(&k)))
                }
                _ => return Err(option_error("bridgeHeaders", HEADERS, &value)),
            }
        }
    }
    let auto = get(options, "autoRefresh");
    if !auto.is_undefined() && auto.as_bool().is_none() {
        return Err(option_error("autoRefresh", "true or false", &auto));
    }
    // Timers suit pages and workers; request-scoped runtimes (workerd, Deno Deploy) refresh lazily.
    let auto_refresh = auto.as_bool().unwrap_or(browser_like);

    let shared_name = {
        let mut n = String::from("authbridge:");
        n.push_str(&key);
        n
    };
    let options = Options {
        token_url,
        revoke_url,
        api_origins,
        credentials,
        bridge_headers,
        timeout_ms,
        auto_refresh,
        shared_name,
        storage_key: key.clone(),
        memory_only: storage_name.as_deref() == Some("memory"),
        local_storage,
        browser_like,
    };
    let config = Config { format, header, refresh_margin_ms, client };
    Ok((options, config, WebStore { storage, key, memory: MemoryStore::default() }))
}

impl Inner {
    fn now(&self) -> Millis {
        js::now()
    }

    fn emit(&self, listeners: &js_sys::Set, payload: Option<&JsValue>) {
        if self.freed.get() {
            return;
        }
        // A listener that throws must not break the client or the other listeners. No borrow is held here: a
        // listener may call back into the client.
        listeners.for_each(&mut |f, _, _| {
            if let Some(f) = f.dyn_ref::<Function>() {
                let _ = match payload {
                    Some(p) => f.call1(&JsValue::NULL, p),
                    None => f.call0(&JsValue::NULL),
                };
            }
        });
    }

    /// The snapshot changed: the next `getSnapshot()` builds a new one and the subscribers are told.
    fn set_state(&self, status: Status, error: Option<JsValue>) {
        if self.freed.get() {
            return;
        }
        self.status.set(status);
        *self.error.borrow_mut() = error;
        *self.snapshot.borrow_mut() = None;
        self.emit(&self.on_change, None);
    }

    /// Reports a failed attempt: the snapshot's error and the `error` event.
    fn report_error(&self, e: &Error) {
        let error = self.js_error(e);
        self.set_state(self.status.get(), Some(error.clone()));
        self.emit(&self.on_error, Some(&error));
    }

    /// The JS error for `e`, with the JavaScript error behind a network failure or timeout as its `cause`.
    fn js_error(&self, e: &Error) -> JsValue {
        let cause = matches!(e.code, Code::Network | Code::Timeout).then(|| self.last_cause.borrow().clone()).flatten();
        js::error_with_cause(e, cause.as_ref())
    }

    fn emit_token(&self, source: &str) {
        self.set_state(Status::SignedIn, None);
        if self.on_token.size() == 0 {
            return;
        }
        // Read what the event needs first: building the object may run a setter planted on Object.prototype.
        let fields = self.session.borrow().current().map(|c| (c.record.expires_at, c.record.header.to_string()));
        // A listener run before this one may have signed out: there is no token to report then.
        let Some((expires_at, header)) = fields else { return };
        let event = js::to_js(&TokenEvent { source, expires_at: expires_at.map(crate::json::Epoch), header: &header });
        self.emit(&self.on_token, event.as_ref());
    }

    fn emit_signed_out(&self, reason: &str) {
        // A rejection keeps its error on show; a sign-out (here or a peer's) is no error.
        let error = if reason == "rejected" { self.error.borrow().clone() } else { None };
        self.set_state(Status::SignedOut, error);
        let event = js::to_js(&SignedOutEvent { reason });
        self.emit(&self.on_signed_out, event.as_ref());
    }

    /// The current token's decoded claims, or `null`. The token is copied out first: decoding calls JSON.parse,
    /// and no borrow is held across JavaScript.
    fn claims(&self) -> JsValue {
        let token = self.session.borrow().current().map(|c| c.record.token.clone());
        token
            .and_then(|t| crate::jwt::decode_claims_unverified::<JsJson>(t.secret()).ok())
            .map_or(JsValue::NULL, |c| c.0)
    }

    fn clear_timer(&self) {
        let handle = self.timer.borrow_mut().take();
        if let Some(handle) = handle {
            js::clear_timeout(&handle);
        }
    }

    fn reschedule(&self) {
        self.clear_timer();
        if !self.options.auto_refresh || self.stopped.get() || self.freed.get() {
            return;
        }
        let next = self.session.borrow().next_wakeup();
        if let Some(at) = next {
            // setTimeout holds at most 2^31-1 ms; a longer wait simply re-arms when it fires.
            let delay = (at - self.now()).clamp(0, i64::from(i32::MAX));
            let handle = js::set_timeout(self.timer_callback.as_ref().unchecked_ref(), delay as f64);
            *self.timer.borrow_mut() = Some(handle);
        }
    }

    /// A timer fired (perhaps late: sleep, background throttling) or the page came back: refresh if due.
    /// Offline, nothing happens until `online` fires, so no retries are burnt.
    fn on_timer(self: &Rc<Self>) {
        *self.timer.borrow_mut() = None;
        if js::is_offline() || self.freed.get() {
            return;
        }
        let due = self.session.borrow().auto_due(self.now());
        if due {
            let _ = self.flight();
        } else {
            self.reschedule();
        }
    }

    fn on_event(self: &Rc<Self>, kind: &str, event: JsValue) {
        if self.freed.get() || self.stopped.get() {
            return;
        }
        match kind {
            "online" => {
                self.session.borrow_mut().clear_backoff();
                let stale = self.session.borrow().current().is_some_and(|c| !c.valid_at(self.now()));
                if stale && self.options.auto_refresh && !self.stopped.get() {
                    let _ = self.flight();
                } else {
                    self.on_timer();
                }
            }
            "visibilitychange" if js::is_hidden() => {}
            "visibilitychange" | "pageshow" | "focus" => self.on_timer(),
            "storage" if self.options.local_storage => {
                let key = get(&event, "key").as_string();
                let value = get(&event, "newValue").as_string();
                if key.as_deref() == Some(self.options.storage_key.as_str()) {
                    if let Some(v) = value {
                        self.adopt(&v, "storage");
                    }
                }
            }
            _ => {}
        }
    }

    /// A message on the BroadcastChannel. Any script of the origin can post one, so a message may change only
    /// what [`crate::session::Session::adopt`] and [`crate::session::Session::peer_signed_out`] allow, and only
    /// for this client (its identity is in every message). A memory client never hands its token out.
    fn on_message(self: &Rc<Self>, message: JsValue) {
        // A stopped client (about to be freed, or paused) takes no part in its peers' traffic.
        if self.freed.get()
            || self.stopped.get()
            || get(&message, "client").as_string().as_deref() != Some(self.client.as_str())
        {
            return;
        }
        match get(&message, "type").as_string().as_deref() {
            Some("token") if !self.options.memory_only => {
                if let Some(entry) = get(&message, "entry").as_string() {
                    self.adopt(&entry, "peer");
                }
            }
            Some("signedOut") => {
                let check = self.session.borrow_mut().peer_signed_out(self.now());
                if check && self.options.auto_refresh && !self.stopped.get() {
                    let _ = self.flight();
                }
            }
            Some("ask") if !self.options.memory_only => self.share_token(),
            _ => {}
        }
    }

    fn adopt(self: &Rc<Self>, entry: &str, source: &str) {
        let header = self.session.borrow().config().header.clone();
        let Some(entry) = crate::store::decode::<JsJson>(entry, header.as_deref(), &self.client) else { return };
        let adopted = self.session.borrow_mut().adopt::<JsJson>(entry, &mut WebEnv);
        if adopted {
            self.emit_token(source);
            self.reschedule();
        }
    }

    fn post(&self, kind: &str, entry: Option<String>) {
        if self.freed.get() {
            return;
        }
        if let Some(m) = js::to_js(&PeerMessage { kind, client: &self.client, entry: entry.as_deref() }) {
            js::post(&self.channel, &m);
        }
    }

    /// Sends the current token to the other tabs and workers of this client (never from a memory client).
    fn share_token(&self) {
        if self.options.memory_only {
            return;
        }
        let entry = self.session.borrow().entry(self.now());
        if let Some(e) = entry {
            self.post("token", Some(crate::store::encode::<JsJson>(&e.token, e.expires_at, &e.header, &self.client)));
        }
    }

    /// The bridge call in flight, starting one if there is none. Resolves (never rejects) when it ends.
    fn flight(self: &Rc<Self>) -> Promise {
        if let Some(p) = self.flight.borrow().as_ref() {
            return p.clone();
        }
        let claimed = if self.freed.get() { None } else { self.session.borrow_mut().begin_attempt() };
        let Some(epoch) = claimed else {
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        self.clear_timer();
        let this = Rc::clone(self);
        let generation = self.session.borrow().generation();
        // The bridge call itself runs under the origin-wide Web Lock: one tab or worker calls, the others wait
        // and receive its token over the BroadcastChannel before they get the lock.
        let body = Closure::once_into_js(move || {
            future_to_promise(async move {
                let peer_delivered = this.session.borrow().generation() != generation
                    && matches!(this.session.borrow().decide(this.now(), 0), Decision::Use(..));
                if peer_delivered || js::is_offline() || this.freed.get() {
                    this.session.borrow_mut().abandon_attempt(epoch);
                    return Ok(JsValue::UNDEFINED);
                }
                let result = this.call_bridge().await;
                let outcome = this.session.borrow_mut().finish_attempt(epoch, &mut WebEnv, result);
                match outcome {
                    Outcome::Token => {
                        this.share_token();
                        this.emit_token("bridge");
                    }
                    Outcome::Failed(e) => this.report_error(&e),
                    // A first visit without a session: the snapshot says so; no error, nothing ended.
                    Outcome::NoSession(_) => this.set_state(Status::SignedOut, None),
                    Outcome::Rejected(e) => {
                        let after_peer = this.session.borrow_mut().take_peer_sign_out();
                        if after_peer {
                            // Another context signed out and the bridge confirms it: that is no error here.
                            this.emit_signed_out("peer");
                        } else {
                            this.post("signedOut", None);
                            this.report_error(&e);
                            this.emit_signed_out("rejected");
                        }
                    }
                    Outcome::Ignored => {}
                }
                Ok(JsValue::UNDEFINED)
            })
        });
        let this = Rc::clone(self);
        let wait_ms = self.options.timeout_ms.saturating_add(2_000);
        // Memory clients share nothing with their peers, so they have nothing to wait for either.
        let lock = if self.options.memory_only { "" } else { self.options.shared_name.as_str() };
        let locked = js::with_lock(lock, wait_ms, &body);
        // spawn_local polls on a later microtask, so `self.flight` is set before this body runs.
        let promise = future_to_promise(async move {
            if JsFuture::from(locked).await.is_err() {
                this.session.borrow_mut().abandon_attempt(epoch);
            }
            *this.flight.borrow_mut() = None;
            this.reschedule();
            Ok(JsValue::UNDEFINED)
        });
        *self.flight.borrow_mut() = Some(promise.clone());
        promise
    }

    /// A bridge call (the token `POST` or the revoke `DELETE`) with the configured headers, credentials and timeout,
    /// sent by gloo-net. The `web_sys::Request` is built here and handed to `gloo_net::http::Request::from`: gloo's
    /// `RequestBuilder` merges query parameters with `format!`, which linked `core::fmt` (measured: +2.8 kB gzip
    /// with the builder, see bench/RESULTS.md section 7).
    fn bridge_request(
        &self,
        url: &str,
        method: &str,
        signal: &web_sys::AbortSignal,
        token_header: Option<(String, String)>,
    ) -> Result<gloo_net::http::Request, JsValue> {
        let headers = web_sys::Headers::new()?;
        headers.set("Accept", "application/json")?;
        for (name, value) in &self.options.bridge_headers {
            headers.set(name, value)?;
        }
        let init = web_sys::RequestInit::new();
        if let Some((name, value)) = token_header {
            headers.set(&name, &value)?;
            // The revoke call carries the token: it must not follow a redirect anywhere.
            init.set_redirect(web_sys::RequestRedirect::Manual);
        }
        init.set_method(method);
        init.set_headers(&headers);
        if let Some(credentials) = self.options.credentials {
            init.set_credentials(credentials);
        }
        init.set_signal(Some(signal));
        Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
    }

    /// The JS error behind a failed bridge call, kept as the `cause` of the error reported for it.
    fn keep_cause(&self, error: gloo_net::Error) {
        // gloo-net keeps the JS error's name and message (its other variants are for JSON bodies, unused here).
        let cause = match error {
            gloo_net::Error::JsError(e) => {
                let js = js_sys::Error::new(&e.message);
                js.set_name(&e.name);
                Some(js.into())
            }
            _ => None,
        };
        *self.last_cause.borrow_mut() = cause;
    }

    async fn call_bridge(&self) -> Transport<JsJson> {
        let signal = web_sys::AbortSignal::timeout_with_u32(self.options.timeout_ms);
        let lost = |this: &Self, e| {
            this.keep_cause(e);
            if signal.aborted() {
                Transport::Timeout
            } else {
                Transport::Network
            }
        };
        let request = match self.bridge_request(&self.options.token_url, "POST", &signal, None) {
            Ok(r) => r,
            Err(e) => {
                // The platform refused to build the request (bridgeHeaders are checked at construction, so this
                // is not expected): nothing was sent.
                *self.last_cause.borrow_mut() = Some(e);
                return Transport::Network;
            }
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return lost(self, e),
        };
        let status = response.status();
        let headers = response.headers();
        // Readable for a same-origin bridge, or one that lists Date in Access-Control-Expose-Headers.
        let date = headers.get("Date").map(|d| js_sys::Date::parse(&d)).filter(|d| d.is_finite()).map(|d| d as Millis);
        let retry_after_ms = headers.get("Retry-After").and_then(|v| {
            parse_retry_after_seconds(&v).or_else(|| {
                let at = js_sys::Date::parse(&v);
                at.is_finite().then(|| (at as Millis - self.now()).max(0))
            })
        });
        let body = match response.text().await {
            Ok(t) => JsJson::parse(&t),
            Err(e) => return lost(self, e),
        };
        Transport::Response { status, retry_after_ms, date, body }
    }

    /// Waits until the session has a token to send (refreshing through the single flight), or fails.
    async fn ensure_token(self: &Rc<Self>) -> Result<(String, String), Error> {
        let mut failures = 0;
        loop {
            // A client freed while this caller waited: its promise settles with that, not with a stale answer.
            if self.freed.get() {
                return Err(freed_error());
            }
            let decision = self.session.borrow().decide(self.now(), failures);
            match decision {
                Decision::Use(name, value) => return Ok((name, value)),
                Decision::Fail(e) => return Err(e),
                Decision::Refresh if js::is_offline() && !self.session.borrow().in_flight() => {
                    // Offline with no usable token: fail now instead of burning retries.
                    let valid = self.session.borrow().current().is_some_and(|c| c.valid_at(self.now()));
                    if !valid {
                        return Err(Error::new(
                            Code::Network,
                            "offline: no valid token and the bridge cannot be reached",
                        ));
                    }
                    failures += 1;
                }
                Decision::Refresh => {
                    let generation = self.session.borrow().generation();
                    let _ = JsFuture::from(self.flight()).await;
                    if self.session.borrow().generation() == generation {
                        failures += 1;
                    }
                }
                Decision::SleepUntil(at) => {
                    let _ = JsFuture::from(js::sleep(at - self.now())).await;
                }
            }
        }
    }

    fn allowed(&self, url: &str) -> bool {
        match web_sys::Url::new(url) {
            Ok(u) => {
                let origin = u.origin();
                self.options.api_origins.iter().any(|o| *o == origin)
            }
            Err(_) => false,
        }
    }

    /// Sends `request` with the token through the one JS function that applies the redirect rules.
    fn send(&self, request: &web_sys::Request, name: &str, value: &str) -> Promise {
        js::send_request(request, name, value, &self.origins_js, self.options.browser_like)
            .unwrap_or_else(|e| Promise::reject(&e))
    }

    async fn authed_fetch(self: Rc<Self>, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
        let request: web_sys::Request = js::JsRequest::new(&input, &init)?.unchecked_into();
        let header = self.session.borrow().current().map(|c| c.record.header.to_string());
        let header_name = header.unwrap_or_else(|| {
            self.session.borrow().config().header.clone().unwrap_or_else(|| crate::token::AUTHORIZATION.into())
        });
        // Not an API origin, or the caller chose the header itself: the request goes out as given.
        if !self.allowed(&request.url()) || request.headers().has(&header_name).unwrap_or(false) {
            return JsFuture::from(js::global_fetch(&request, &JsValue::UNDEFINED)).await;
        }
        let (name, value) = self.ensure_token().await.map_err(|e| error_to_js(&e))?;
        // A streamed body can be sent once only; anything else is cloned so a 401 can be retried.
        let replayable = !get(&get(&init, "body"), "getReader").is_function();
        let retry = if replayable { request.clone().ok() } else { None };
        let response = JsFuture::from(self.send(&request, &name, &value)).await?;
        let status = response.unchecked_ref::<web_sys::Response>().status();
        let Some(retry) = retry.filter(|_| status == 401) else {
            return Ok(response);
        };
        self.resend_after_401(retry, &value, response).await
    }

    /// The API answered 401 to `value`: stop using that token, get another, send `retry` once with it. Without
    /// a new token, the 401 response stands.
    async fn resend_after_401(
        self: &Rc<Self>,
        retry: web_sys::Request,
        value: &str,
        response: JsValue,
    ) -> Result<JsValue, JsValue> {
        self.session.borrow_mut().reject_token(value);
        let Ok((name, value)) = self.ensure_token().await else {
            return Ok(response);
        };
        JsFuture::from(self.send(&retry, &name, &value)).await
    }

    /// The fast path's 401: rebuild the request from what the caller passed and go through the full path once.
    async fn after_fast_401(
        self: Rc<Self>,
        input: JsValue,
        init: JsValue,
        value: JsValue,
        response: JsValue,
    ) -> Result<JsValue, JsValue> {
        let request: web_sys::Request = js::JsRequest::new(&input, &init)?.unchecked_into();
        self.resend_after_401(request, &value.as_string().unwrap_or_default(), response).await
    }

    /// Sends through the fast path when the token needs no refresh and `input` is a plain URL string under an
    /// API origin, in a page or worker; `None` when the full path must run.
    fn fetch_fast(&self, input: &JsValue, init: &JsValue) -> Option<Promise> {
        if !self.options.browser_like {
            return None;
        }
        // Every borrow ends before JavaScript runs: `sendAuthed` reads `init`, whose getters may call back.
        let (name, value, custom) = {
            let session = self.session.borrow();
            let current = session.current().filter(|c| c.fresh_at(self.now()))?;
            let generation = session.generation();
            let mut cache = self.header_js.borrow_mut();
            if cache.as_ref().map_or(true, |(g, ..)| *g != generation) {
                let (name, value) = current.header();
                *cache = Some((generation, name.into(), value.into()));
            }
            let (_, name, value) = cache.as_ref()?;
            (name.clone(), value.clone(), !current.record.header.eq_ignore_ascii_case(crate::token::AUTHORIZATION))
        };
        let callback = self.unauthorized_callback.as_ref().unchecked_ref();
        match js::send_authed(input, init, &self.origins_js, &name, &value, custom, callback) {
            Ok(sent) => (!sent.is_undefined()).then(|| sent.unchecked_into()),
            Err(e) => Some(Promise::reject(&e)),
        }
    }

    async fn sign_out(self: Rc<Self>) -> Result<(), Error> {
        let header = self.session.borrow_mut().sign_out();
        *self.header_js.borrow_mut() = None;
        *self.flight.borrow_mut() = None;
        self.clear_timer();
        let signal = web_sys::AbortSignal::timeout_with_u32(self.options.timeout_ms);
        // The session is already over locally; a failed revoke changes nothing here.
        if let Ok(revoke) = self.bridge_request(&self.options.revoke_url, "DELETE", &signal, header) {
            let _ = revoke.send().await;
        }
        if self.freed.get() {
            return Err(freed_error());
        }
        // Peers are told once the bridge has ended the session: the notice only makes them ask their bridge,
        // which then refuses.
        self.post("signedOut", None);
        self.emit_signed_out("signOut");
        Ok(())
    }

    /// `free()`: nothing is called, stored, broadcast or scheduled after this; an answer on its way is ignored.
    fn shutdown(&self) {
        // Runs from `free()` and again when the last future holding the state ends: once is enough.
        if self.freed.replace(true) {
            return;
        }
        self.stopped.set(true);
        self.clear_timer();
        for set in [&self.on_token, &self.on_signed_out, &self.on_error, &self.on_change] {
            set.clear();
        }
        if let Ok(mut session) = self.session.try_borrow_mut() {
            session.detach();
        }
        if let Ok(mut cache) = self.header_js.try_borrow_mut() {
            *cache = None;
        }
        for cell in [&self.snapshot, &self.error, &self.last_cause] {
            if let Ok(mut v) = cell.try_borrow_mut() {
                *v = None;
            }
        }
        js::close_channel(&self.channel);
        let off = self.unlisten.borrow_mut().take();
        if let Some(off) = off {
            let _ = off.call0(&JsValue::NULL);
        }
    }
}

#[wasm_bindgen]
impl AuthClient {
    /// Creates a client. Throws an `AuthbridgeError` with code `invalid_config` on bad options.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<AuthClient, JsValue> {
        let (options, config, store) = parse_options(&options).map_err(|e| error_to_js(&e))?;
        let inner = Rc::new_cyclic(|weak: &Weak<Inner>| {
            let (w1, w2) = (weak.clone(), weak.clone());
            let channel_callback = Closure::new(move |m: JsValue| {
                if let Some(inner) = w1.upgrade() {
                    inner.on_message(m);
                }
            });
            let event_callback = Closure::new(move |kind: String, event: JsValue| {
                if let Some(inner) = w2.upgrade() {
                    inner.on_event(&kind, event);
                }
            });
            let channel = if options.browser_like {
                js::open_channel(&options.shared_name, channel_callback.as_ref().unchecked_ref())
            } else {
                JsValue::NULL
            };
            let w3 = weak.clone();
            let weak = weak.clone();
            let origins_js: Array = options.api_origins.iter().map(|o| JsValue::from_str(o)).collect();
            Inner {
                origins_js: origins_js.into(),
                header_js: RefCell::new(None),
                unauthorized_callback: Closure::new(move |input, init, value, response: JsValue| match w3.upgrade() {
                    Some(inner) => future_to_promise(inner.after_fast_401(input, init, value, response)),
                    None => Promise::resolve(&response),
                }),
                channel,
                _channel_callback: channel_callback,
                event_callback,
                unlisten: RefCell::new(None),
                client: config.client.clone(),
                session: RefCell::new(Session::new(config, store)),
                options,
                flight: RefCell::new(None),
                timer: RefCell::new(None),
                timer_callback: Closure::new(move || {
                    if let Some(inner) = weak.upgrade() {
                        inner.on_timer();
                    }
                }),
                stopped: Cell::new(false),
                freed: Cell::new(false),
                on_token: js_sys::Set::new(&JsValue::UNDEFINED),
                on_signed_out: js_sys::Set::new(&JsValue::UNDEFINED),
                on_error: js_sys::Set::new(&JsValue::UNDEFINED),
                on_change: js_sys::Set::new(&JsValue::UNDEFINED),
                status: Cell::new(Status::Starting),
                error: RefCell::new(None),
                snapshot: RefCell::new(None),
                last_cause: RefCell::new(None),
            }
        });
        let events = Array::of4(&"online".into(), &"visibilitychange".into(), &"pageshow".into(), &"focus".into());
        // Only localStorage is shared with other tabs, so only its clients listen for `storage` (fewer listeners
        // also make the constructor cheaper: Chromium's profile put ~3 ms of a first `new AuthClient` in
        // addEventListener).
        if inner.options.local_storage {
            events.push(&"storage".into());
        }
        let off = js::listen(&events, inner.event_callback.as_ref().unchecked_ref());
        *inner.unlisten.borrow_mut() = Some(off);
        Ok(AuthClient { inner })
    }

    /// Restores a stored token if still valid, otherwise asks the bridge; schedules the refresh.
    /// Resolves `true` when signed in, `false` when the bridge says there is no session.
    pub fn start(&self) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        inner.stopped.set(false);
        *inner.flight.borrow_mut() = None;
        let restored = inner.session.borrow_mut().restore::<JsJson>(&mut WebEnv);
        inner.reschedule();
        Ok(future_to_promise(async move {
            // Listeners run from the promise's microtask, never inside this call: one may call `free()`.
            if restored {
                inner.emit_token("storage");
            } else if inner.status.get() != Status::Starting {
                inner.set_state(Status::Starting, None);
            }
            if !restored && !inner.channel.is_null() && !inner.options.memory_only {
                // A tab with per-tab storage asks its peers for a valid token before calling the bridge.
                inner.post("ask", None);
                let generation = inner.session.borrow().generation();
                for _ in 0..6 {
                    if inner.session.borrow().generation() != generation {
                        break;
                    }
                    let _ = JsFuture::from(js::sleep(25)).await;
                }
            }
            match inner.ensure_token().await {
                Ok(_) => Ok(JsValue::TRUE),
                Err(e) if matches!(e.code, Code::SignedOut | Code::RefreshRejected) => {
                    if inner.status.get() != Status::SignedOut {
                        inner.set_state(Status::SignedOut, None);
                    }
                    Ok(JsValue::FALSE)
                }
                Err(e) => {
                    let error = inner.js_error(&e);
                    let signed_in = inner.session.borrow().current().is_some_and(|c| c.valid_at(inner.now()));
                    inner.set_state(if signed_in { Status::SignedIn } else { Status::SignedOut }, Some(error.clone()));
                    Err(error)
                }
            }
        }))
    }

    /// A token valid for at least the refresh margin, refreshing first if needed.
    #[wasm_bindgen(js_name = accessToken)]
    pub fn access_token(&self) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        Ok(future_to_promise(async move {
            inner.ensure_token().await.map_err(|e| inner.js_error(&e))?;
            let token = inner.session.borrow().current().map(|c| c.record.token.clone());
            token
                .map(|t| JsValue::from_str(t.secret()))
                .ok_or_else(|| error_to_js(&Error::new(Code::SignedOut, "no token")))
        }))
    }

    /// Like `fetch()`; attaches the token only for the configured API origins and retries once on 401.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        if let Some(sent) = inner.fetch_fast(&input, &init) {
            return Ok(sent);
        }
        Ok(future_to_promise(inner.authed_fetch(input, init)))
    }

    /// The current token's decoded claims, or `null` (opaque token, or none).
    pub fn claims(&self) -> Result<JsValue, JsValue> {
        let inner = self.live()?;
        Ok(inner.claims())
    }

    /// The current token's expiry in epoch milliseconds, or `null`.
    #[wasm_bindgen(js_name = expiresAt)]
    pub fn expires_at(&self) -> Result<JsValue, JsValue> {
        let inner = self.live()?;
        let session = inner.session.borrow();
        Ok(session.current().and_then(|c| c.record.expires_at).map_or(JsValue::NULL, |t| (t as f64).into()))
    }

    /// When the next timer-driven refresh is due, in epoch milliseconds; `null` when none is scheduled.
    #[wasm_bindgen(js_name = nextRefreshAt)]
    pub fn next_refresh_at(&self) -> Result<JsValue, JsValue> {
        let inner = self.live()?;
        let next = inner.session.borrow().next_wakeup();
        Ok(next.map_or(JsValue::NULL, |t| (t as f64).into()))
    }

    /// Forces one refresh (joining one already in flight). Also leaves the signed-out state.
    pub fn refresh(&self) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        Ok(future_to_promise(async move {
            let generation = {
                let mut session = inner.session.borrow_mut();
                session.reactivate();
                session.force_due();
                session.generation()
            };
            let _ = JsFuture::from(inner.flight()).await;
            if inner.freed.get() {
                return Err(error_to_js(&freed_error()));
            }
            let result = {
                let session = inner.session.borrow();
                match session.current() {
                    Some(c) if session.generation() != generation => Ok(c.record.token.clone()),
                    _ => Err(session.last_error().unwrap_or_else(|| {
                        Error::new(Code::SignedOut, "signed out: the refresh did not produce a token")
                    })),
                }
            };
            result.map(|t| JsValue::from_str(t.secret())).map_err(|e| inner.js_error(&e))
        }))
    }

    /// Revokes at the bridge (`DELETE revokeUrl`), clears storage and timers, emits `signedOut`.
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        Ok(future_to_promise(async move {
            inner.sign_out().await.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Adds a listener; returns a function that removes it.
    pub fn on(&self, event: &str, listener: JsValue) -> Result<Function, JsValue> {
        let inner = self.live()?;
        let set = match event {
            "token" => &inner.on_token,
            "signedOut" => &inner.on_signed_out,
            "error" => &inner.on_error,
            _ => {
                let mut m = String::from("on(event, listener): event must be 'token', 'signedOut' or 'error'; got ");
                m.push_str(&js::describe(&JsValue::from_str(event)));
                return Err(error_to_js(&js::config_error(m)));
            }
        };
        let listener = listener_arg("on(event, listener)", listener)?;
        set.add(&listener);
        Ok(js::off_fn(set, &listener))
    }

    /// The store interface: `listener` is called (with no argument) whenever `getSnapshot()` changes; returns the
    /// function that unsubscribes. React's `useSyncExternalStore`, Svelte stores and Vue refs bind to this pair.
    pub fn subscribe(&self, listener: JsValue) -> Result<Function, JsValue> {
        let inner = self.live()?;
        let listener = listener_arg("subscribe(listener)", listener)?;
        inner.on_change.add(&listener);
        Ok(js::off_fn(&inner.on_change, &listener))
    }

    /// `{ status, claims, expiresAt, error }`, frozen; the same object until something changes.
    #[wasm_bindgen(js_name = getSnapshot)]
    pub fn get_snapshot(&self) -> Result<JsValue, JsValue> {
        let inner = self.live()?;
        let cached = inner.snapshot.borrow().clone();
        if let Some(snapshot) = cached {
            return Ok(snapshot);
        }
        // Everything is read before JavaScript runs (JSON.parse, the object's construction).
        let expires_at = inner.session.borrow().current().and_then(|c| c.record.expires_at);
        let claims = inner.claims();
        let error = inner.error.borrow().clone().unwrap_or(JsValue::NULL);
        let expires_at = expires_at.map_or(JsValue::NULL, |t| (t as f64).into());
        let snapshot = js::snapshot(inner.status.get().as_str(), &claims, &expires_at, &error);
        *inner.snapshot.borrow_mut() = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Stops the refresh timer and the reactions to other tabs and to the page's lifecycle; tokens are still
    /// refreshed on access. `start()` resumes.
    pub fn stop(&self) -> Result<(), JsValue> {
        let inner = self.live()?;
        inner.stopped.set(true);
        inner.clear_timer();
        Ok(())
    }

    /// Ends the client for good: timers, listeners, the channel to other tabs and its hold on the token go;
    /// pending promises reject with code `freed`, and every later call throws it. Calling it again does nothing.
    /// The stored token stays for the next page load. (The memory itself is released when the object is
    /// garbage-collected: wasm-bindgen's finaliser.)
    #[wasm_bindgen(js_name = free)]
    pub fn free_client(&self) {
        self.inner.shutdown();
    }
}

impl AuthClient {
    /// The client's state, or the `freed` error once `free()` was called.
    fn live(&self) -> Result<Rc<Inner>, JsValue> {
        if self.inner.freed.get() {
            return Err(error_to_js(&freed_error()));
        }
        Ok(Rc::clone(&self.inner))
    }
}

fn listener_arg(call: &str, listener: JsValue) -> Result<Function, JsValue> {
    listener.dyn_into::<Function>().map_err(|v| {
        let mut m = String::from(call);
        m.push_str(": listener must be a function; got ");
        m.push_str(&js::describe(&v));
        error_to_js(&js::config_error(m))
    })
}

impl Drop for AuthClient {
    fn drop(&mut self) {
        // Futures still running hold the inner state; after this they find it shut down.
        self.inner.shutdown();
    }
}
