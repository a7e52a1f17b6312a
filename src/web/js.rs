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
function httpUrl(text, base, origin) {
  let u;
  try { u = new URL(text, base); } catch { return undefined; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (!origin) return u.href;
  const plain = u.pathname === '/' && !u.search && !u.hash && !u.username && !u.password && !text.endsWith('/?') && !text.endsWith('#');
  return plain ? u.origin : undefined;
}
// The options of `new AuthClient(options)` (and of the Rust `Client::new`), every rule checked here, in this
// order: the error's message, or [tokenUrl, revokeUrl (both absolute), origins, header, format (see `readFormat`),
// refreshMargin (ms), bridgeTimeout (ms), storageKey, flags: autoRefresh 1,
// browser-like 2, storage kind * 4 (0 session, 1 local, 2 memory), credentials, bridgeHeaders ([name, value, ...],
// checked by the platform's Headers), whether the Web Storage object can be used (see `web_storage`)]. In JS: as
// Rust, each read, check and message cost far more wasm. A getter that throws reads as `undefined`; unknown keys
// are refused (a misspelt `autorefresh` would otherwise be ignored without a word).
const OPTIONS = ['tokenUrl', 'revokeUrl', 'apiOrigins', 'format', 'header', 'storage', 'storageKey', 'credentials', 'bridgeHeaders', 'refreshMargin', 'autoRefresh', 'bridgeTimeout'];
const isObject = (v) => typeof v === 'object' && v !== null;
// An option's own property, never an inherited one: a property planted on Object.prototype or Array.prototype (a
// prototype-pollution bug in any library of the page) must not become an option, e.g. a `revokeUrl` that sends
// the token to another origin. A getter that throws reads as `undefined`.
const { hasOwnProperty } = Object.prototype;
const get = (o, k) => { try { return isObject(o) && hasOwnProperty.call(o, k) ? o[k] : undefined; } catch { return undefined; } };
// A platform object's property, inherited ones included (`location.href` is a getter of Location.prototype in
// workers): for globals only, never for what the caller passes.
const platform = (o, k) => { try { return isObject(o) ? o[k] : undefined; } catch { return undefined; } };
export function readOptions(o) {
  let message;
  // "AuthClient option `key` must be `expected`; got `v`" (or `expected` alone without a key).
  const fail = (expected, key, v) => { message = key ? `AuthClient option \`${key}\` must be ${expected}; got ${describe(v)}` : expected; throw fail; };
  try {
    if (!isObject(o) || Array.isArray(o)) fail("AuthClient needs an options object: new AuthClient({ tokenUrl, apiOrigins: ['https://api.example.com'] })");
    let keys = [];
    try { keys = Reflect.ownKeys(o); } catch {}
    for (const k of keys) {
      if (typeof k === 'string' && !OPTIONS.includes(k)) {
        const known = OPTIONS.find((n) => n.toLowerCase() === k.replace(/[A-Z]/g, (c) => c.toLowerCase()));
        fail(`unknown AuthClient option \`${k}\`${known ? ` (did you mean \`${known}\`?)` : ''}`);
      }
    }
    // A non-empty string, or undefined.
    const text = (key, expected) => { const v = get(o, key); if (v !== undefined && (typeof v !== 'string' || !v)) fail(expected, key, v); return v; };
    // Resolved against the global `location` where there is one (pages, workers). Where there is none (Node, Deno,
    // workerd) a relative URL has nothing to resolve against, and fetch would reject it on every call.
    const url = (key, u) => {
      let base = platform(platform(globalThis, 'location'), 'href');
      if (typeof base !== 'string') base = undefined;
      return httpUrl(u, base, false) ?? fail(base !== undefined ? 'an http(s) URL (absolute, or relative to the page)'
        : 'an absolute http(s) URL here: there is no document to resolve a relative one against', key, u);
    };
    const URLS = 'a non-empty URL string';
    const token = text('tokenUrl', URLS) ?? fail("the bridge's token endpoint, e.g. '/auth/token'", 'tokenUrl');
    const tokenUrl = url('tokenUrl', token);
    const revoke = text('revokeUrl', URLS);
    const revokeUrl = revoke === undefined ? tokenUrl : url('revokeUrl', revoke);
    const list = get(o, 'apiOrigins');
    // Read through `get`: an array may be a Proxy, or have getters that throw.
    const count = Array.isArray(list) ? get(list, 'length') >>> 0 : 0;
    if (!count) fail("a non-empty array of origins like ['https://api.example.com']", 'apiOrigins', list);
    // Exact origins: anything with a path, query, credentials, a wildcard or a non-http scheme is refused, so that
    // nobody believes a path prefix or a pattern is enforced.
    const origins = [];
    for (let i = 0; i < count; i++) {
      const v = get(list, i);
      origins.push((typeof v === 'string' && !v.includes('*') && httpUrl(v, undefined, true))
        || fail("an array of exact origins like 'https://api.example.com' (scheme, host, optional port; no path, no wildcard)", 'apiOrigins', v));
    }
    const HEADER = "an HTTP header name such as 'Authorization'";
    const header = text('header', HEADER);
    if (header !== undefined && !/^[\w!#$%&'*+.^`|~-]+$/.test(header)) fail(HEADER, 'header', header);
    const format = readFormat(get(o, 'format'));
    if (typeof format === 'string') fail(format);
    // Seconds in (0, max] (`zero`: [0, max]) as whole milliseconds; larger values are mistakes (milliseconds given
    // as seconds), not intentions.
    const ms = (key, zero, max, expected) => {
      const v = get(o, key);
      if (v === undefined) return v;
      return typeof v === 'number' && (v > 0 || (zero && v === 0)) && v <= max ? (v * 1000) | 0 : fail(expected, key, v);
    };
    const margin = ms('refreshMargin', true, 86400, 'a number of seconds from 0 to 86400');
    const timeout = ms('bridgeTimeout', false, 600, 'a number of seconds above 0 and at most 600') ?? 10000;
    const storageKey = text('storageKey', 'a non-empty string');
    const storage = get(o, 'storage');
    const kind = storage === undefined ? 0 : ['session', 'local', 'memory'].indexOf(storage);
    if (kind < 0) fail("'session', 'local' or 'memory'", 'storage', storage);
    // Pages and workers send the bridge's session cookie and keep timers; server runtimes have no cookie jar (and
    // some refuse the `credentials` field) and request-scoped ones (workerd, Deno Deploy) refresh lazily.
    const browser = browserPlatform();
    // The page's sessionStorage or localStorage; none (the token kept in memory) for 'memory', outside a browser's
    // window (workers; workerd, Deno and Node, even where they offer Web Storage: Deno's is a file on the server),
    // or where the storage is disabled or blocked (sandboxed frames: reading throws).
    let store = null;
    try { if (kind < 2 && browser && globalThis instanceof Window) store = globalThis[kind ? 'localStorage' : 'sessionStorage']; } catch {}
    let credentials = get(o, 'credentials');
    if (credentials === undefined) { if (browser) credentials = 'include'; }
    else if (!['omit', 'same-origin', 'include'].includes(credentials)) fail("'omit', 'same-origin' or 'include'", 'credentials', credentials);
    const headers = [];
    const extra = get(o, 'bridgeHeaders');
    if (extra !== undefined) {
      const HEADERS = 'an object of header names to string values';
      let object = false;
      try { object = extra instanceof Object; } catch {}
      if (!object || Array.isArray(extra)) fail(HEADERS, 'bridgeHeaders', extra);
      let names = [];
      try { names = Reflect.ownKeys(extra); } catch {}
      let probe;
      try { probe = new Headers(); } catch { fail(HEADERS, 'bridgeHeaders', extra); }
      for (const k of names) {
        const v = get(extra, k);
        if (typeof k !== 'string' || typeof v !== 'string') fail(HEADERS, 'bridgeHeaders', v);
        // The platform's own check: a name or value fetch would refuse fails here, not at every call.
        try { probe.set(k, v); } catch { fail('valid header names and values', 'bridgeHeaders', k); }
        headers.push(k, v);
      }
    }
    const auto = get(o, 'autoRefresh');
    if (auto !== undefined && typeof auto !== 'boolean') fail('true or false', 'autoRefresh', auto);
    return [tokenUrl, revokeUrl, origins, header, format, margin, timeout || 1, storageKey, (auto ?? browser) + 2 * browser + 4 * kind, credentials, headers, isObject(store)];
  } catch (e) {
    if (e === fail) return message;
    throw e;
  }
}
// Whether this is a browser (a page or a worker), told by the platform's fetch rather than by a global any library
// may define (an SSR DOM shim such as jsdom or happy-dom defines `document` in Node): a browser's Request drops
// the Fetch standard's forbidden request headers (`Cookie`), and the same fetch drops `Authorization` on a
// cross-origin redirect and hides a redirect's target from scripts, which the fetch rules rely on. Node, Deno and
// workerd send any header, so there every redirect is followed by hand. A window or a worker scope is required
// too, so that nothing short of a browser's fetch in a browser's global scope counts.
function browserPlatform() {
  try {
    const scope = (typeof Window === 'function' && globalThis instanceof Window) || typeof platform(globalThis, 'importScripts') === 'function';
    return scope && !new Request('http://127.0.0.1/', { headers: { Cookie: 'probe' } }).headers.has('Cookie');
  } catch {
    return false;
  }
}
// The `format` option: a name's index in FORMATS, or [token, expiresIn, expiresAt] (JSON pointers), or the error's
// message.
const FORMATS = ['auto', 'oauth2', 'point', 'wazo', 'static'];
export function readFormat(f) {
  // Not `f == null` (which minifiers turn `f === undefined || f === null` into): `document.all` is neither.
  if ([undefined, null].includes(f)) return 0;
  if (typeof f === 'string') {
    const i = FORMATS.indexOf(f);
    return i < 0 ? "format must be 'auto', 'oauth2', 'point', 'wazo', 'static' or { token, expiresIn?, expiresAt? }" : i;
  }
  const r = [];
  for (const k of ['token', 'expiresIn', 'expiresAt']) {
    const v = get(f, k);
    if (v !== undefined && (typeof v !== 'string' || (v && v[0] !== '/'))) return "format pointers must be JSON pointers such as '/data/token'";
    if (v === undefined && k === 'token') return 'a custom format needs a `token` JSON pointer';
    r.push(v);
  }
  return r;
}
// A promise and its resolve and reject functions (`new Promise` with a Rust closure costs an invoke shim and glue).
export function deferred() { let f; const promise = new Promise((...r) => { f = r; }); return [promise, ...f]; }
// Calls every function of `set` (in its order, as forEach visits it) with `payload` when `has`, else with no
// argument; one that throws does not stop the others. A trap of the module (a listener calling back into a client
// that could not take it) is not a listener's error: it goes on, as in `store`.
export function emit(set, has, payload) {
  set.forEach((f) => {
    if (typeof f === 'function') try { has ? f.call(null, payload) : f.call(null); } catch (e) { if (e instanceof WebAssembly.RuntimeError) throw e; }
  });
}
// A bridge call's Request (built here: as bindings, Headers, RequestInit and each of its setters cost an import):
// `Accept: application/json`, the configured `headers` (`[name, value, ...]`), the token header when `name` is
// given, `credentials` unless undefined, the timeout's `signal`. A bridge call follows no redirect (`manual`; the
// client reads a redirect as an `invalid_response`): its headers (an API key in `bridgeHeaders`), its cookies and
// the token are for the bridge's origin alone, and a token minted elsewhere is not the bridge's.
export function bridgeRequest(url, method, headers, name, value, credentials, signal) {
  const h = new Headers({ Accept: 'application/json' });
  for (let i = 0; i < headers.length; i += 2) h.set(headers[i], headers[i + 1]);
  const init = { method, headers: h, signal, redirect: 'manual' };
  if (name !== undefined) h.set(name, value);
  if (credentials !== undefined) init.credentials = credentials;
  return new Request(url, init);
}
// The client's JavaScript side, made in one call (as bindings, each part cost an import and glue). One function per
// kind of call, each calling the client's one closure `f(kind, a, b)` (web/client.rs): a BroadcastChannel message,
// a lifecycle event, a Web Lock event, the timer, the fetcher's `want()` and `unauthorized(value)`. Returns
// [channel (null where there is none, or unless `browser`) and locks (both named `authbridge:<storage key>`), fetcher, the timer's function, the function
// removing the lifecycle listeners, online, a random seed below 2^53, and four Sets (token, signedOut, error and
// change listeners)]. Only localStorage is shared with other tabs, so only its clients (`local`) listen for
// `storage` (fewer listeners also make the constructor cheaper: Chromium's profile put ~3 ms of a first
// `new AuthClient` in addEventListener).
export function makeClient(f, key, browser, origins, local) {
  const name = `authbridge:${key}`;
  const [message, event, lock, timer, want, unauthorized] = [0, 1, 2, 3, 4, 5].map((kind) => (a, b) => f(kind, a, b));
  // want() enters the client from a microtask: not from the caller's stack (a listener's fetch, say).
  return [browser ? openChannel(name, message) : null, makeLocks(name, lock), makeFetch(origins, browser, () => Promise.resolve().then(want), unauthorized),
    timer, listen(local, event), globalThis.navigator?.onLine !== false, Math.random() * 2 ** 53, new Set(), new Set(), new Set(), new Set()];
}
// `v` when it is a function, else the message of the error `call` throws.
export function listenerArg(call, v) { return typeof v === 'function' ? v : `${call}: listener must be a function; got ${describe(v)}`; }
// What the client reads of a bridge response before its body: [status, Date.parse(Date), Retry-After,
// Date.parse(Retry-After), redirect] (NaN and null where a header is absent or unreadable). `redirect` is null
// unless the response is a redirect: then the origin of its Location ('' where the browser hides it, as
// `manual` does in pages and workers, or where there is none): never its path or query, which may carry secrets.
// As bindings, the status and headers getters, Headers.get and Date.parse cost an import each.
export function responseMeta(res) {
  const h = res.headers, retry = h.get('Retry-After');
  let redirect = null;
  if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
    try { redirect = new URL(h.get('Location') ?? '', res.url).origin; } catch { redirect = ''; }
    if (redirect === 'null' || h.get('Location') === null) redirect = '';
  }
  return [res.status, Date.parse(h.get('Date')), retry, Date.parse(retry), redirect];
}
// Web Storage under `key`: reads it (`value` undefined: the value or null), writes `value`, or removes it (`value`
// null); a write or removal gives whether it worked, and a storage that throws gives false. A trap of the module
// (a storage whose methods called back into a client that could not take it) is not a storage failure: it goes
// on. As bindings, getItem, setItem and removeItem cost an import each.
export function store(storage, key, value) {
  try {
    if (value === undefined) return storage.getItem(key);
    if (value === null) storage.removeItem(key); else storage.setItem(key, value);
    return true;
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) throw e;
    return false;
  }
}
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
  if (Array.isArray(v)) return get(v, 'length') === 0 ? 'an empty array' : 'an array'; // (a Proxy's length may throw)
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
// The store interface's snapshot: frozen, claims included (a subscriber must not be able to change what others see).
export function snapshot(status, claims, expiresAt, error) {
  if (claims !== null) Object.freeze(claims);
  return Object.freeze({ status, claims, expiresAt, error });
}
function openChannel(name, onMessage) {
  if (typeof BroadcastChannel !== 'function') return null;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (e) => onMessage(e.data);
  return channel;
}
export function post(channel, message) { try { channel?.postMessage(message); } catch {} }
export function closeChannel(channel) { if (channel) { channel.onmessage = null; channel.close(); } }
// The lifecycle listeners: `handler(i, event)` with the event's index in `names` (storage events: 5) and, for a
// storage event, the event; a `visibilitychange` to hidden is not passed on (only a page coming back matters).
function listen(storage, handler) {
  const names = ['online', 'offline', 'visibilitychange', 'pageshow', 'focus'];
  if (storage) names.push('storage');
  const on = (e) => {
    const i = names.indexOf(e.type);
    if (i !== 2 || globalThis.document?.visibilityState !== 'hidden') handler(i, i === 5 ? e : undefined);
  };
  for (const n of names) globalThis.addEventListener?.(n, on);
  return () => { for (const n of names) globalThis.removeEventListener?.(n, on); };
}
// The authenticated fetch: every rule, in one place, for `AuthClient.fetch(input, init)` and the Rust
// `Client::fetch(request)` alike. The client (wasm) decides the token; this only applies the rules to a request:
// 1. origin: the token goes only to `origins` (exact origins). A URL string that starts with one of them and
//    then `/` has that origin (the authority ends at the first `/`); anything else (relative, other case, odd
//    forms, a Request) is parsed by `new Request` and its origin compared.
// 2. the caller's own header (the token's header name already set by the caller): sent as given, but outside
//    browsers its redirects are followed by hand all the same (see `sendRequest`): workerd before 2026 would
//    carry the caller's `Authorization` to another origin.
// 3. the token: `value` when the client's token needs no refresh, else `want()` resolves to [name, value] once
//    the client has one (refreshing first) or rejects with the client's error.
// 4. redirects (see `sendRequest`).
// 5. a 401 from an API origin that received the token: `unauthorized(value)` tells the client the token was
//    refused, and the request is sent once more with the token `want()` gives; without one, the 401 stands. A 401
//    from anywhere else (a redirect to another host) says nothing about the token: it stands, and the token is
//    kept. Not sent again when the body is a stream (it can be sent once), but the client is told all the same.
// The string form with a plain `init` (pages and workers) is sent without building a Request: the speed of a
// hand-written wrapper. Getters on `init` run here, with no borrow held in wasm; one that throws rejects.
function makeFetch(origins, browser, want, unauthorized) {
  return { send(input, init, name, value, replay) {
    try {
      let req = null;
      const simple = browser && typeof input === 'string' && (init == null || Object.getPrototypeOf(init) === Object.prototype);
      if (!simple || !origins.some((o) => input.startsWith(o) && input.charCodeAt(o.length) === 47)) {
        req = new Request(input, init); // a copy: the caller's Request never gets the token
        if (!origins.includes(new URL(req.url).origin)) return fetchOffStack(req);
      }
      // The caller's own header: no token; outside browsers (where `req` is always built) redirects by hand.
      const own = () => (browser ? fetchOffStack(req ?? input, req ? undefined : init) : followByHand(req, null, null, origins).then((r) => r.response));
      const headers = req ? req.headers : new Headers(init?.headers);
      if (headers.has(name)) return own();
      const again = replay ?? typeof init?.body?.getReader !== 'function';
      const options = req ? null : { ...init, headers };
      const spare = req && again ? req.clone() : null;
      const redirect = options?.redirect;
      let sentName = null;
      // Resolves to { response, carried }: `carried` when the response came from an API origin that received
      // the token (only such a 401 refuses it).
      const send = (req, name, value) => {
        if (req) return sendRequest(req, name, value, origins, browser);
        if (sentName !== null && sentName !== name) headers.delete(sentName);
        sentName = name;
        headers.set(name, value);
        options.redirect = name.toLowerCase() !== 'authorization' && followsRedirects(redirect) ? 'error' : redirect;
        return fetchOffStack(input, options).then((response) => ({ response, carried: tokenSeen(response, input, origins) }));
      };
      const first = (n, v) => {
        // The header's name may be known only once there is a token (a format that picks it): checked again.
        if (n !== name && headers.has(n)) return own();
        // A 401 tells the client its token was refused, whether or not the request can be sent again.
        return send(req, n, v).then(({ response, carried }) => {
          if (response.status !== 401 || !carried) return response;
          unauthorized(v);
          return again ? want().then(([n, v]) => send(spare, n, v).then((r) => r.response), () => response) : response;
        });
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
// for `origins`. Resolves to { response, carried } (see `makeFetch`).
const followsRedirects = (redirect) => (redirect ?? 'follow') === 'follow';
function sendRequest(request, name, value, origins, browser) {
  if (!browser) return followByHand(request, name, value, origins);
  const custom = name.toLowerCase() !== 'authorization';
  const req = custom && followsRedirects(request.redirect) ? new Request(request, { redirect: 'error' }) : request;
  req.headers.set(name, value);
  return fetchOffStack(req).then((response) => ({ response, carried: tokenSeen(response, req.url, origins) }));
}
// In a browser, whether `response` (to a request for `url`, sent with the token) came from where the token went:
// the API origin it was sent to. A redirect to another origin drops Authorization (and a custom header follows no
// redirect), so a response from elsewhere never saw the token. (A browser hides the hops: a redirect that leaves
// the origin and comes back is not told apart.)
function tokenSeen(response, url, origins) {
  try {
    const from = new URL(response.url || url).origin;
    return origins.includes(from) && from === new URL(url).origin;
  } catch {
    return false;
  }
}
const REDIRECTS = [301, 302, 303, 307, 308];
// What a cross-origin hop never carries, as browsers do (Fetch, HTTP-redirect fetch): the caller's credentials.
const CREDENTIALS = ['authorization', 'proxy-authorization', 'cookie'];
// Follows redirects by hand (Node, Deno, workerd): every hop goes out with `redirect: 'manual'`; the token
// (`name`, `value`; none when null) is attached only for `origins`; a cross-origin hop drops the caller's
// credentials; at most 20 hops, with Fetch's method rules. `carried`: the response's hop had the token.
async function followByHand(request, name, value, origins) {
  const mode = request.redirect;
  let req = request;
  for (let hops = 0; ; hops++) {
    // Kept to build the next hop from (a body can be read once); only when a redirect may be followed.
    const spare = req.body && followsRedirects(mode) ? req.clone() : req;
    const send = new Request(req, { redirect: 'manual' });
    const origin = new URL(send.url).origin;
    const carried = name !== null && origins.includes(origin);
    if (carried) send.headers.set(name, value); else if (name !== null) send.headers.delete(name);
    const res = await fetch(send);
    const location = res.headers.get('location');
    if (!REDIRECTS.includes(res.status) || mode === 'manual' || location === null) return { response: res, carried };
    if (mode === 'error') throw new TypeError('fetch failed: redirect mode is "error"');
    if (hops >= 20) throw new TypeError('fetch failed: too many redirects');
    const url = new URL(location, send.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('fetch failed: redirect to a non-HTTP URL');
    const headers = new Headers(spare.headers);
    if (url.origin !== origin) for (const h of CREDENTIALS) headers.delete(h);
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
function makeLocks(name, onEvent) {
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
    /// See `readOptions`.
    #[wasm_bindgen(js_name = readOptions)]
    pub fn read_options(options: &JsValue) -> JsValue;
    /// See `readFormat`.
    #[wasm_bindgen(js_name = readFormat)]
    fn read_format(value: &JsValue) -> JsValue;
    /// See `makeClient`.
    #[wasm_bindgen(js_name = makeClient)]
    pub fn make_client(f: &Function, key: &str, browser: bool, origins: &Array, local: bool) -> Array;
    /// See `listenerArg`.
    #[wasm_bindgen(js_name = listenerArg)]
    pub fn listener_arg(call: &str, value: &JsValue) -> JsValue;
    /// See `store`.
    pub fn store(storage: &web_sys::Storage, key: &str, value: &JsValue) -> JsValue;
    /// See `responseMeta`.
    #[wasm_bindgen(js_name = responseMeta)]
    pub fn response_meta(response: &web_sys::Response) -> Array;
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
    pub fn post(channel: &JsValue, message: &JsValue);
    #[wasm_bindgen(js_name = closeChannel)]
    pub fn close_channel(channel: &JsValue);
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
        let v = own(&self.0, key);
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

/// `obj[key]` when `key` is `obj`'s own property, else `undefined` (also when reading throws). For data that
/// arrives from outside (bridge responses, stored entries, peer messages): a member planted on
/// `Object.prototype` by a prototype-pollution bug elsewhere in the page must not read as part of it.
pub fn own(obj: &JsValue, key: &str) -> JsValue {
    let Some(object) = obj.dyn_ref::<js_sys::Object>() else { return JsValue::UNDEFINED };
    let key = js_sys::JsString::from(key);
    if js_sys::Object::has_own_str(object, &key) != Ok(true) {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &key).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key]`, inherited properties included, `undefined` when absent or when reading throws: for platform
/// objects (events, whose members are getters of their prototypes).
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

/// Reads the `format` option: a name or `{ token, expiresIn?, expiresAt? }` (checked by `readFormat`).
pub fn format_option(value: &JsValue) -> Result<Format, Error> {
    let read = read_format(value);
    match read.as_string() {
        Some(m) => Err(config_error(m)),
        None => Ok(format_from(read)),
    }
}

/// `readFormat`'s answer once checked (not an error) as a [`Format`].
pub fn format_from(read: JsValue) -> Format {
    if let Some(i) = read.as_f64() {
        // The index of the name in `FORMATS`.
        return match i as u32 {
            1 => Format::OAuth2,
            2 => Format::Point,
            3 => Format::Wazo,
            4 => Format::Static,
            _ => Format::Auto,
        };
    }
    let read: Array = read.unchecked_into();
    let at = |i| read.get(i).as_string();
    Format::Custom(CustomFormat { token: at(0).unwrap_or_default(), expires_in: at(1), expires_at: at(2) })
}

/// The page's `sessionStorage` or `localStorage` through gloo-storage (`raw()`: its typed get/set go through
/// serde_json, ≈ +12.6 kB gzip in issue 12's probe, and the entry is JSON text already). gloo-storage reaches the
/// storage through `window` and throws without one, or when the storage is disabled or blocked (sandboxed frames):
/// it is called only where `readOptions` found `window` and a storage object. Elsewhere (workers, workerd, Deno,
/// Node, `storage: 'memory'`) the token is kept in memory.
pub fn web_storage(local: bool) -> web_sys::Storage {
    use gloo_storage::Storage;
    if local {
        gloo_storage::LocalStorage::raw()
    } else {
        gloo_storage::SessionStorage::raw()
    }
}
