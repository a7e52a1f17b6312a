//! JavaScript bindings and conversions shared by the exports.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Code, Error};
use crate::json::{Json, Kind};
use crate::time::Millis;
use crate::token::{CustomFormat, Format};

#[wasm_bindgen]
extern "C" {
    // The global functions, not `Window`'s methods: they exist in workers, workerd and Deno too.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);

    /// What `makeFetch` returns.
    pub type Fetcher;
    /// Sends `input` (a URL or a Request) with `init` under the fetch rules; `value` is `undefined` when the token
    /// needs a refresh first; `replay` `undefined` reads it from `init` (no retry for a streamed body).
    #[wasm_bindgen(method)]
    pub fn send(
        this: &Fetcher,
        input: &JsValue,
        init: &JsValue,
        name: &JsValue,
        value: &JsValue,
        replay: Option<bool>,
    ) -> Promise;

    /// What `makeLocks` returns.
    pub type Locks;
    /// Requests the lock under `ticket`: mode 0 if available, 1 wait, 2 steal.
    #[wasm_bindgen(method)]
    pub fn request(this: &Locks, ticket: u32, mode: u32);
    #[wasm_bindgen(method)]
    pub fn release(this: &Locks, ticket: u32);
}

// Small platform helpers written in JS: each is a feature test plus a call, cheaper here than as bindings.
#[wasm_bindgen(inline_js = r#"
// The global fetch, called from a microtask so that no wasm frames are on the stack: in Chromium a fetch made
// with wasm frames below it measured ~0.1 ms slower per request (bench/: loopback p50 1.03-1.08x a JS wrapper,
// 1.00x once deferred), most likely its capture of the initiator's stack trace.
function fetchOffStack(input, init) { return Promise.resolve().then(() => fetch(input, init)); }
// Settles (never rejects) when the first of `promise`, `flight` (may be undefined) or a `ms` timer (none when
// negative) settles.
export function firstOf(promise, flight, ms) {
  const all = [promise, flight].filter(Boolean).map((p) => p.then(() => {}, () => {}));
  if (ms >= 0) all.push(new Promise((r) => setTimeout(r, ms)));
  return Promise.race(all);
}
// `text` as an http(s) URL (resolved against `base` unless that is undefined): its `href`, or with `origin` its
// `origin` if it is an origin and nothing else (no path, query, fragment or credentials); else undefined. In JS:
// as bindings, each of the URL's getters cost an import and a string copy into wasm.
export function httpUrl(text, base, origin) {
  let u;
  try { u = new URL(text, base); } catch { return undefined; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (!origin) return u.href;
  const plain = u.pathname === '/' && !u.search && !u.hash && !u.username && !u.password && !text.endsWith('/?') && !text.endsWith('#');
  return plain ? u.origin : undefined;
}
// A promise and its resolve and reject functions (`new Promise` with a Rust closure costs an invoke shim and glue).
export function deferred() { let f; const promise = new Promise((...r) => { f = r; }); return [promise, ...f]; }
// Calls every function of `set` (in its order, as forEach visits it) with `payload` when `has`, else with no
// argument; one that throws does not stop the others.
export function emit(set, has, payload) {
  set.forEach((f) => { if (typeof f === 'function') try { has ? f.call(null, payload) : f.call(null); } catch {} });
}
// A bridge call's Request (built here: as bindings, Headers, RequestInit and each of its setters cost an import):
// `Accept: application/json`, the configured `headers` (`[name, value, ...]`), the token header when `name` is
// given (a call carrying the token follows no redirect), `credentials` unless undefined, the timeout's `signal`.
export function bridgeRequest(url, method, headers, name, value, credentials, signal) {
  const h = new Headers({ Accept: 'application/json' });
  for (let i = 0; i < headers.length; i += 2) h.set(headers[i], headers[i + 1]);
  const init = { method, headers: h, signal };
  if (name !== undefined) { h.set(name, value); init.redirect = 'manual'; }
  if (credentials !== undefined) init.credentials = credentials;
  return new Request(url, init);
}
// What the client reads of a bridge response before its body: [status, Date.parse(Date), Retry-After,
// Date.parse(Retry-After)] (NaN and null where a header is absent or unreadable). As bindings, the status and
// headers getters, Headers.get and Date.parse cost an import each.
export function responseMeta(res) {
  const h = res.headers, retry = h.get('Retry-After');
  return [res.status, Date.parse(h.get('Date')), retry, Date.parse(retry)];
}
// Web Storage under `key`: reads it (`value` undefined: the value or null), writes `value`, or removes it (`value`
// null); a write or removal gives whether it worked, and a storage that throws gives false. As bindings,
// getItem, setItem and removeItem cost an import each.
export function store(storage, key, value) {
  try {
    if (value === undefined) return storage.getItem(key);
    if (value === null) storage.removeItem(key); else storage.setItem(key, value);
    return true;
  } catch {
    return false;
  }
}
// One function per kind of call, each calling the client's one closure `f(kind, a, b)` (web/client.rs).
export function handlers(f) { return [0, 1, 2, 3, 4, 5].map((kind) => (a, b) => f(kind, a, b)); }
// Adds `fn` to `set`; returns the function removing it.
export function offFn(set, fn) { set.add(fn); return () => { set.delete(fn); }; }
// An Error named `name`, with `code`, `cause`, `status` and `bridgeError` where given (as bindings, the Error
// constructor, the `name` setter and Reflect.set cost an import each).
export function makeError(message, name, code, cause, status, bridgeError) {
  const e = new Error(message);
  e.name = name;
  if (code !== undefined) e.code = code;
  if (cause !== undefined) e.cause = cause;
  if (status !== undefined) e.status = status;
  if (bridgeError !== undefined) e.bridgeError = bridgeError;
  return e;
}
// A value as an error message names it: strings quoted (cut at 80 characters), anything else by its kind.
export function describe(v) {
  if (typeof v === 'string') return `'${v.length > 80 ? `${v.slice(0, 80)}…` : v}'`;
  if (typeof v === 'number') return `the number ${v}`;
  if (v === undefined) return 'nothing';
  if (v === null || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length ? 'an array' : 'an empty array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
// The store interface's snapshot: frozen, claims included (a subscriber must not be able to change what others see).
export function snapshot(status, claims, expiresAt, error) {
  if (claims !== null) Object.freeze(claims);
  return Object.freeze({ status, claims, expiresAt, error });
}
export function isOffline() { return globalThis.navigator?.onLine === false; }
export function openChannel(name, onMessage) {
  if (typeof BroadcastChannel !== 'function') return null;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (e) => onMessage(e.data);
  return channel;
}
export function post(channel, message) { try { channel?.postMessage(message); } catch {} }
export function closeChannel(channel) { if (channel) { channel.onmessage = null; channel.close(); } }
export function listen(storage, handler) {
  const names = ['online', 'offline', 'visibilitychange', 'pageshow', 'focus'];
  if (storage) names.push('storage');
  const on = (e) => {
    // A page going to the background is no reason to act.
    if (e.type !== 'visibilitychange' || globalThis.document?.visibilityState !== 'hidden') handler(e.type, e.type === 'storage' ? e : undefined);
  };
  for (const n of names) globalThis.addEventListener?.(n, on);
  return () => { for (const n of names) globalThis.removeEventListener?.(n, on); };
}
// The authenticated fetch: every rule, in one place, for `AuthClient.fetch(input, init)` and the Rust
// `Client::fetch(request)` alike. The client (wasm) decides the token; this only applies the rules to a request:
// 1. origin: the token goes only to `origins` (exact origins). A URL string that starts with one of them and
//    then `/` has that origin (the authority ends at the first `/`); anything else (relative, other case, odd
//    forms, a Request) is parsed by `new Request` and its origin compared.
// 2. the caller's own header (the token's header name already set by the caller): sent as given.
// 3. the token: `value` when the client's token needs no refresh, else `want()` resolves to [name, value] once
//    the client has one (refreshing first) or rejects with the client's error.
// 4. redirects (see `sendRequest`).
// 5. a 401: `unauthorized(value)` tells the client the token was refused, and the request is sent once more with
//    the token `want()` gives; without one, the 401 stands. Not when the body is a stream (it can be sent once).
// The string form with a plain `init` (pages and workers) is sent without building a Request: the speed of a
// hand-written wrapper. Getters on `init` run here, with no borrow held in wasm; one that throws rejects.
export function makeFetch(origins, browser, want, unauthorized) {
  return { send(input, init, name, value, replay) {
    try {
      let req = null;
      const simple = browser && typeof input === 'string' && (init == null || Object.getPrototypeOf(init) === Object.prototype);
      if (!simple || !origins.some((o) => input.startsWith(o) && input.charCodeAt(o.length) === 47)) {
        req = new Request(input, init); // a copy: the caller's Request never gets the token
        if (!origins.includes(new URL(req.url).origin)) return fetchOffStack(req);
      }
      const headers = req ? req.headers : new Headers(init?.headers);
      if (headers.has(name)) return fetchOffStack(req ?? input, req ? undefined : init);
      const again = replay ?? typeof init?.body?.getReader !== 'function';
      const options = req ? null : { ...init, headers };
      const spare = req && again ? req.clone() : null;
      const redirect = options?.redirect;
      let sentName = null;
      const send = (req, name, value) => {
        if (req) return sendRequest(req, name, value, origins, browser);
        if (sentName !== null && sentName !== name) headers.delete(sentName);
        sentName = name;
        headers.set(name, value);
        options.redirect = name.toLowerCase() !== 'authorization' && followsRedirects(redirect) ? 'error' : redirect;
        return fetchOffStack(input, options);
      };
      const first = (n, v) => {
        // The header's name may be known only once there is a token (a format that picks it): checked again.
        if (n !== name && headers.has(n)) return fetchOffStack(req ?? input, req ? undefined : init);
        const sent = send(req, n, v);
        return again ? sent.then((r) => {
          if (r.status !== 401) return r;
          unauthorized(v);
          return want().then(([n, v]) => send(spare, n, v), () => r);
        }) : sent;
      };
      return value === undefined ? want().then(([n, v]) => first(n, v)) : first(name, value);
    } catch (e) {
      return Promise.reject(e);
    }
  } };
}
// Redirects and the token. Pages and workers: the browser drops Authorization on a cross-origin redirect itself
// but forwards any other header, and hides a redirect's target from scripts (`manual` gives an opaque response),
// so a token in another header never follows a redirect there (`error`, unless the caller chose `manual`, which
// follows nothing). Node, Deno, workerd (which forwards even Authorization across origins at compatibility dates
// before 2026, and rejects `redirect: 'error'`): redirects are followed here by hand, the token re-attached only
// for `origins`.
const followsRedirects = (redirect) => (redirect ?? 'follow') === 'follow';
function sendRequest(request, name, value, origins, browser) {
  if (!browser) return followByHand(request, name, value, origins);
  const custom = name.toLowerCase() !== 'authorization';
  const req = custom && followsRedirects(request.redirect) ? new Request(request, { redirect: 'error' }) : request;
  req.headers.set(name, value);
  return fetchOffStack(req);
}
const REDIRECTS = [301, 302, 303, 307, 308];
async function followByHand(request, name, value, origins) {
  const mode = request.redirect;
  let req = request;
  for (let hops = 0; ; hops++) {
    // Kept to build the next hop from (a body can be read once); only when a redirect may be followed.
    const spare = req.body && followsRedirects(mode) ? req.clone() : req;
    const send = new Request(req, { redirect: 'manual' });
    const origin = new URL(send.url).origin;
    if (origins.includes(origin)) send.headers.set(name, value); else send.headers.delete(name);
    const res = await fetch(send);
    const location = res.headers.get('location');
    if (!REDIRECTS.includes(res.status) || mode === 'manual' || location === null) return res;
    if (mode === 'error') throw new TypeError('fetch failed: redirect mode is "error"');
    if (hops >= 20) throw new TypeError('fetch failed: too many redirects');
    const url = new URL(location, send.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('fetch failed: redirect to a non-HTTP URL');
    const headers = new Headers(spare.headers);
    // As browsers do (Fetch, HTTP-redirect fetch): a caller's own Authorization does not cross origins either.
    if (url.origin !== origin) headers.delete('authorization');
    const toGet = (res.status === 303 && spare.method !== 'HEAD') || (res.status <= 302 && spare.method === 'POST');
    let body = null;
    if (toGet) for (const h of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) headers.delete(h);
    else if (spare.body) body = await spare.arrayBuffer();
    await res.body?.cancel();
    const init = { method: toGet ? 'GET' : spare.method, headers, body, redirect: 'manual' };
    if (spare.signal) init.signal = spare.signal;
    req = new Request(url, init);
  }
}
// The origin-wide Web Lock, by ticket, for the core's lock protocol (src/machine.rs decides when to ask, wait,
// steal and release; this only performs it). `onEvent(ticket, kind)`: 0 granted, 1 busy (if-available refused),
// 2 failed (aborted, stolen, or the request threw). A ticket released before its grant gives the lock back at once.
// Without Web Locks every request is granted at once (per-context single flight only).
export function makeLocks(name, onEvent) {
  const locks = globalThis.navigator?.locks;
  const tickets = new Map();
  return {
    request(ticket, mode) {
      if (!locks?.request) { queueMicrotask(() => onEvent(ticket, 0)); return; }
      const t = { release: null, abort: new AbortController(), done: false };
      tickets.set(ticket, t);
      const options = mode === 0 ? { ifAvailable: true } : mode === 2 ? { steal: true } : { signal: t.abort.signal };
      locks.request(name, options, (lock) => {
        if (t.done) return;
        if (!lock) { t.done = true; tickets.delete(ticket); onEvent(ticket, 1); return; }
        return new Promise((resolve) => { t.release = resolve; onEvent(ticket, 0); });
      }).catch(() => {
        if (!t.done) { t.done = true; tickets.delete(ticket); onEvent(ticket, 2); }
      });
    },
    release(ticket) {
      const t = tickets.get(ticket);
      if (!t) return;
      tickets.delete(ticket);
      t.done = true;
      if (t.release) t.release(); else t.abort.abort();
    },
  };
}
"#)]
extern "C" {
    /// See `firstOf`.
    #[wasm_bindgen(js_name = firstOf)]
    pub fn first_of(promise: &Promise, flight: Option<&Promise>, ms: f64) -> Promise;
    /// A pending promise and the functions resolving and rejecting it.
    #[wasm_bindgen(js_name = deferred)]
    fn deferred_pair() -> Array;
    /// See `emit`.
    pub fn emit(set: &js_sys::Set, has: bool, payload: &JsValue);
    /// See `bridgeRequest`.
    #[wasm_bindgen(catch, js_name = bridgeRequest)]
    pub fn bridge_request(
        url: &str,
        method: &str,
        headers: &Array,
        name: Option<&str>,
        value: Option<&str>,
        credentials: &JsValue,
        signal: &web_sys::AbortSignal,
    ) -> Result<web_sys::Request, JsValue>;
    /// See `httpUrl`.
    #[wasm_bindgen(js_name = httpUrl)]
    pub fn http_url(text: &str, base: Option<&str>, origin: bool) -> Option<String>;
    /// See `store`.
    pub fn store(storage: &web_sys::Storage, key: &str, value: &JsValue) -> JsValue;
    /// See `responseMeta`.
    #[wasm_bindgen(js_name = responseMeta)]
    pub fn response_meta(response: &web_sys::Response) -> Array;
    /// `[0..6].map((kind) => (a, b) => f(kind, a, b))`.
    pub fn handlers(f: &Function) -> Array;
    /// Adds `f` to `set` and returns the function that removes it; made in JS so that no closure outlives the
    /// client.
    #[wasm_bindgen(js_name = offFn)]
    pub fn off_fn(set: &js_sys::Set, f: &Function) -> Function;
    /// See `makeError`.
    #[wasm_bindgen(js_name = makeError)]
    pub fn make_error(
        message: &str,
        name: &str,
        code: Option<&str>,
        cause: Option<&JsValue>,
        status: Option<u16>,
        bridge_error: Option<&str>,
    ) -> JsValue;
    /// How an error message names a value (see `describe`).
    pub fn describe(value: &JsValue) -> String;
    /// A frozen `{ status, claims, expiresAt, error }`.
    pub fn snapshot(status: &str, claims: &JsValue, expires_at: &JsValue, error: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = isOffline)]
    pub fn is_offline() -> bool;
    #[wasm_bindgen(js_name = openChannel)]
    pub fn open_channel(name: &str, on_message: &Function) -> JsValue;
    pub fn post(channel: &JsValue, message: &JsValue);
    #[wasm_bindgen(js_name = closeChannel)]
    pub fn close_channel(channel: &JsValue);
    /// Adds `handler(type, event)` on the global scope for `online`, `offline`, `visibilitychange` (unless the page
    /// is hidden), `pageshow`, `focus` and, with `storage`, `storage`; returns the function removing them.
    pub fn listen(storage: bool, handler: &Function) -> Function;
    /// The Web Lock executor (see `makeLocks`): `request(ticket, mode)` and `release(ticket)`.
    #[wasm_bindgen(js_name = makeLocks)]
    pub fn make_locks(name: &str, on_event: &Function) -> Locks;
    /// The authenticated fetch's rules (see `makeFetch`): `send(input, init, name, value, replay)`.
    #[wasm_bindgen(js_name = makeFetch)]
    pub fn make_fetch(origins: &JsValue, browser: bool, want: &Function, unauthorized: &Function) -> Fetcher;
}

/// A pending promise and the functions resolving and rejecting it.
pub fn deferred() -> (Promise, Function, Function) {
    let pair = deferred_pair();
    (pair.get(0).unchecked_into(), pair.get(1).unchecked_into(), pair.get(2).unchecked_into())
}

/// A parsed JS value seen through the core's [`Json`] trait.
#[derive(Clone, Debug)]
pub struct JsJson(pub JsValue);

impl Json for JsJson {
    fn parse(text: &str) -> Option<Self> {
        js_sys::JSON::parse(text).ok().map(JsJson)
    }
    fn to_text<T: serde::Serialize>(value: &T) -> Option<String> {
        js_sys::JSON::stringify(&to_js(value)?).ok()?.as_string()
    }
    fn kind(&self) -> Kind {
        let v = &self.0;
        if v.is_string() {
            Kind::String
        } else if v.as_f64().is_some() {
            Kind::Number
        } else if v.as_bool().is_some() {
            Kind::Bool
        } else if v.is_null() || v.is_undefined() {
            Kind::Null
        } else if Array::is_array(v) {
            Kind::Array
        } else if v.is_object() {
            Kind::Object
        } else {
            // Functions, symbols, bigints: nothing JSON can hold.
            Kind::Null
        }
    }
    fn get(&self, key: &str) -> Option<Self> {
        if self.kind() != Kind::Object {
            return None;
        }
        let v = Reflect::get(&self.0, &JsValue::from_str(key)).ok()?;
        // Inherited members such as `constructor` are functions: not data.
        (!v.is_undefined() && !v.is_function()).then_some(JsJson(v))
    }
    fn index(&self, index: usize) -> Option<Self> {
        let array = self.0.dyn_ref::<Array>()?;
        (index < array.length() as usize).then(|| JsJson(array.get(index as u32)))
    }
    fn as_str(&self) -> Option<String> {
        self.0.as_string()
    }
    fn as_f64(&self) -> Option<f64> {
        self.0.as_f64()
    }
}

/// `value` as a JS value (objects for structs, `null` for `None`), through serde-wasm-bindgen's serializer. Its
/// deserializer is not used: it would bring serde's error formatting (issue 12's probe: ≈ +14 kB gzip); values
/// come in through [`JsJson`] instead.
pub fn to_js<T: serde::Serialize>(value: &T) -> Option<JsValue> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).ok()
}

pub fn now() -> Millis {
    js_sys::Date::now() as Millis
}

/// `obj[key]`, `undefined` when absent or when reading throws.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// An `Error` with `name = 'AuthbridgeError'` and the stable `code`.
pub fn error_to_js(e: &Error) -> JsValue {
    error_with_cause(e, None)
}

/// [`error_to_js`], keeping the JavaScript error that caused it (a fetch's `TypeError`, an abort) as `cause`, and
/// a refusal's HTTP `status` and `bridgeError`.
pub fn error_with_cause(e: &Error, cause: Option<&JsValue>) -> JsValue {
    let refusal = e.bridge.as_ref();
    let bridge_error = refusal.and_then(|r| r.error.as_deref());
    make_error(&e.message, "AuthbridgeError", Some(e.code.as_str()), cause, refusal.map(|r| r.status), bridge_error)
}

pub fn config_error(message: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(Code::InvalidConfig, message)
}

/// Reads the `format` option: a name or `{ token, expiresIn?, expiresAt? }`.
pub fn format_option(value: &JsValue) -> Result<Format, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(Format::Auto);
    }
    if let Some(name) = value.as_string() {
        return Format::from_name(&name).ok_or_else(|| {
            config_error(
                "format must be 'auto', 'oauth2', 'point', 'wazo', 'static' or { token, expiresIn?, expiresAt? }",
            )
        });
    }
    let pointer = |key: &str| -> Result<Option<String>, Error> {
        let v = get(value, key);
        if v.is_undefined() {
            return Ok(None);
        }
        match v.as_string() {
            Some(p) if p.is_empty() || p.starts_with('/') => Ok(Some(p)),
            _ => Err(config_error("format pointers must be JSON pointers such as '/data/token'")),
        }
    };
    let token = pointer("token")?.ok_or_else(|| config_error("a custom format needs a `token` JSON pointer"))?;
    Ok(Format::Custom(CustomFormat { token, expires_in: pointer("expiresIn")?, expires_at: pointer("expiresAt")? }))
}

/// The page's `sessionStorage` or `localStorage` through gloo-storage (`raw()`: its typed get/set go through
/// serde_json, ≈ +12.6 kB gzip in issue 12's probe, and the entry is JSON text already). gloo-storage reaches the
/// storage through `window` and throws without one, or when the storage is disabled or blocked (sandboxed frames):
/// it is called only where `window` exists and reading the property gives a storage object. `None` elsewhere
/// (workers, workerd, Deno, Node): the token is then kept in memory.
pub fn web_storage(local: bool) -> Option<web_sys::Storage> {
    use gloo_storage::Storage;
    web_sys::window()?;
    let name = if local { "localStorage" } else { "sessionStorage" };
    let storage = Reflect::get(&js_sys::global(), &JsValue::from_str(name)).ok()?;
    if !storage.is_object() {
        return None;
    }
    Some(if local { gloo_storage::LocalStorage::raw() } else { gloo_storage::SessionStorage::raw() })
}
