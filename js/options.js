// @ts-check
// The options of `new AuthClient(options)` and of the Rust `Client::new`: every rule checked here, in this order,
// and the runtime told apart. The caller's object is hostile input: only its own properties are read (a property
// planted on Object.prototype or Array.prototype must not become an option), each through a read that survives a
// throwing getter, and unknown keys are refused (a misspelt `autorefresh` would otherwise be ignored silently).

/** @typedef {'session' | 'local' | 'memory'} StorageKind */
/** @typedef {'auto' | 'oauth2' | 'point' | 'wazo' | 'static'} FormatName */

/**
 * The `format` option once checked: a provider's name, or JSON pointers into the bridge's response.
 * @typedef {{ name: FormatName } | { token: string, expiresIn: string | undefined, expiresAt: string | undefined }} Format
 */

/**
 * The options once checked (read by `Settings` in src/web/client.rs, field by field).
 * @typedef {object} Options
 * @property {string} tokenUrl absolute
 * @property {string} revokeUrl absolute
 * @property {string[]} apiOrigins exact origins
 * @property {string | undefined} header
 * @property {Format} format
 * @property {number | undefined} refreshMarginMs
 * @property {number} bridgeTimeoutMs
 * @property {string | undefined} storageKey
 * @property {StorageKind} storage
 * @property {boolean} autoRefresh
 * @property {boolean} browser a page or a worker (see `browserPlatform`)
 * @property {RequestCredentials | undefined} credentials
 * @property {[string, string][]} bridgeHeaders
 * @property {boolean} webStorage the page's Web Storage (of `storage`) can be used; else the token is kept in memory
 */

export const OPTIONS = Object.freeze(['tokenUrl', 'revokeUrl', 'apiOrigins', 'format', 'header', 'storage', 'storageKey', 'credentials', 'bridgeHeaders', 'refreshMargin', 'autoRefresh', 'bridgeTimeout']);
const FORMATS = Object.freeze(['auto', 'oauth2', 'point', 'wazo', 'static']);
const STORAGE = Object.freeze(['session', 'local', 'memory']);
const CREDENTIALS = Object.freeze(['omit', 'same-origin', 'include']);

/** @param {unknown} v @returns {v is object} */
const isObject = (v) => typeof v === 'object' && v !== null;
const { hasOwnProperty } = Object.prototype;
/**
 * `o[k]` when it is `o`'s own property, else undefined (also when reading throws).
 * @param {unknown} o @param {PropertyKey} k @returns {unknown}
 */
export function own(o, k) {
  try {
    return isObject(o) && hasOwnProperty.call(o, k) ? /** @type {Record<PropertyKey, unknown>} */ (o)[k] : undefined;
  } catch {
    return undefined;
  }
}
/**
 * A platform object's property, inherited ones included (`location.href` is a getter of Location.prototype in
 * workers): for globals only, never for what the caller passes.
 * @param {unknown} o @param {string} k @returns {unknown}
 */
function platform(o, k) {
  try {
    return isObject(o) ? /** @type {Record<string, unknown>} */ (o)[k] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether this is a browser (a page or a worker), told by the platform's fetch rather than by a global any library
 * may define (an SSR DOM shim such as jsdom or happy-dom defines `document` in Node): a browser's Request drops
 * the Fetch standard's forbidden request headers (`Cookie`), and the same fetch drops `Authorization` on a
 * cross-origin redirect and hides a redirect's target from scripts, which the fetch rules rely on. Node, Deno and
 * workerd send any header, so there every redirect is followed by hand. A window or a worker scope is required
 * too, so that nothing short of a browser's fetch in a browser's global scope counts.
 * @returns {boolean}
 */
export function browserPlatform() {
  try {
    const scope = (typeof Window === 'function' && globalThis instanceof Window) || typeof platform(globalThis, 'importScripts') === 'function';
    return scope && !new Request('http://127.0.0.1/', { headers: { Cookie: 'probe' } }).headers.has('Cookie');
  } catch {
    return false;
  }
}

/**
 * `text` as an http(s) URL (resolved against `base` unless that is undefined): its `href`, or with `origin` its
 * `origin` if it is an origin and nothing else (no path, query, fragment or credentials); else undefined.
 * @param {string} text @param {string | undefined} base @param {boolean} origin @returns {string | undefined}
 */
function httpUrl(text, base, origin) {
  let u;
  try { u = new URL(text, base); } catch { return undefined; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (!origin) return u.href;
  const plain = u.pathname === '/' && !u.search && !u.hash && !u.username && !u.password && !text.endsWith('/?') && !text.endsWith('#');
  return plain ? u.origin : undefined;
}

/** Thrown inside `readOptions` to stop at the first broken rule; never escapes it. */
class Refusal {
  /** @param {string} message */
  constructor(message) { this.message = message; }
}

/**
 * The options checked, or the message naming the first broken rule: "AuthClient option `key` must be
 * `expected`; got `v`".
 * @param {unknown} o the caller's options
 * @returns {Options | { error: string }}
 */
export function readOptions(o) {
  /** @type {(expected: string, key?: string, v?: unknown) => never} */
  const fail = (expected, key, v) => {
    throw new Refusal(key ? `AuthClient option \`${key}\` must be ${expected}; got ${describe(v)}` : expected);
  };
  try {
    if (!isObject(o) || Array.isArray(o)) fail("AuthClient needs an options object: new AuthClient({ tokenUrl, apiOrigins: ['https://api.example.com'] })");
    /** @type {PropertyKey[]} */
    let keys = [];
    try { keys = Reflect.ownKeys(/** @type {object} */ (o)); } catch { /* a Proxy that refuses: no unknown keys to report */ }
    for (const k of keys) {
      if (typeof k === 'string' && !OPTIONS.includes(k)) {
        const known = OPTIONS.find((n) => n.toLowerCase() === k.replace(/[A-Z]/g, (c) => c.toLowerCase()));
        fail(`unknown AuthClient option \`${k}\`${known ? ` (did you mean \`${known}\`?)` : ''}`);
      }
    }
    /** A non-empty string, or undefined. @type {(key: string, expected: string) => string | undefined} */
    const text = (key, expected) => {
      const v = own(o, key);
      if (v !== undefined && (typeof v !== 'string' || !v)) fail(expected, key, v);
      return /** @type {string | undefined} */ (v);
    };
    // Resolved against the global `location` where there is one (pages, workers). Where there is none (Node, Deno,
    // workerd) a relative URL has nothing to resolve against, and fetch would reject it on every call.
    /** @type {(key: string, u: string) => string} */
    const url = (key, u) => {
      const href = platform(platform(globalThis, 'location'), 'href');
      const base = typeof href === 'string' ? href : undefined;
      return httpUrl(u, base, false) ?? fail(base !== undefined ? 'an http(s) URL (absolute, or relative to the page)'
        : 'an absolute http(s) URL here: there is no document to resolve a relative one against', key, u);
    };
    const URLS = 'a non-empty URL string';
    const token = text('tokenUrl', URLS) ?? fail("the bridge's token endpoint, e.g. '/auth/token'", 'tokenUrl');
    const tokenUrl = url('tokenUrl', token);
    const revoke = text('revokeUrl', URLS);
    const revokeUrl = revoke === undefined ? tokenUrl : url('revokeUrl', revoke);
    const list = own(o, 'apiOrigins');
    // Read through `own`: an array may be a Proxy, or have getters that throw.
    const count = Array.isArray(list) ? Number(own(list, 'length')) >>> 0 : 0;
    if (!count) fail("a non-empty array of origins like ['https://api.example.com']", 'apiOrigins', list);
    // Exact origins: anything with a path, query, credentials, a wildcard or a non-http scheme is refused, so that
    // nobody believes a path prefix or a pattern is enforced.
    /** @type {string[]} */
    const apiOrigins = [];
    for (let i = 0; i < count; i++) {
      const v = own(list, i);
      apiOrigins.push((typeof v === 'string' && !v.includes('*') && httpUrl(v, undefined, true))
        || fail("an array of exact origins like 'https://api.example.com' (scheme, host, optional port; no path, no wildcard)", 'apiOrigins', v));
    }
    const HEADER = "an HTTP header name such as 'Authorization'";
    const header = text('header', HEADER);
    if (header !== undefined && !/^[\w!#$%&'*+.^`|~-]+$/.test(header)) fail(HEADER, 'header', header);
    const format = readFormat(own(o, 'format'));
    if ('error' in format) fail(format.error);
    // Seconds in (0, max] (`zero`: [0, max]) as whole milliseconds; larger values are mistakes (milliseconds given
    // as seconds), not intentions.
    /** @type {(key: string, zero: boolean, max: number, expected: string) => number | undefined} */
    const ms = (key, zero, max, expected) => {
      const v = own(o, key);
      if (v === undefined) return v;
      return typeof v === 'number' && (v > 0 || (zero && v === 0)) && v <= max ? (v * 1000) | 0 : fail(expected, key, v);
    };
    const refreshMarginMs = ms('refreshMargin', true, 86400, 'a number of seconds from 0 to 86400');
    const bridgeTimeoutMs = ms('bridgeTimeout', false, 600, 'a number of seconds above 0 and at most 600') ?? 10000;
    const storageKey = text('storageKey', 'a non-empty string');
    const storageOption = own(o, 'storage') ?? 'session';
    if (typeof storageOption !== 'string' || !STORAGE.includes(storageOption)) fail("'session', 'local' or 'memory'", 'storage', storageOption);
    const storage = /** @type {StorageKind} */ (storageOption);
    // Pages and workers send the bridge's session cookie and keep timers; server runtimes have no cookie jar (and
    // some refuse the `credentials` field) and request-scoped ones (workerd, Deno Deploy) refresh lazily.
    const browser = browserPlatform();
    // The page's sessionStorage or localStorage; none (the token kept in memory) for 'memory', outside a browser's
    // window (workers; workerd, Deno and Node, even where they offer Web Storage: Deno's is a file on the server),
    // or where the storage is disabled or blocked (sandboxed frames: reading throws).
    let webStorage = false;
    try {
      if (storage !== 'memory' && browser && globalThis instanceof Window) {
        webStorage = isObject(storage === 'local' ? globalThis.localStorage : globalThis.sessionStorage);
      }
    } catch { /* blocked: memory */ }
    let credentials = own(o, 'credentials');
    if (credentials === undefined) { if (browser) credentials = 'include'; }
    else if (typeof credentials !== 'string' || !CREDENTIALS.includes(credentials)) fail("'omit', 'same-origin' or 'include'", 'credentials', credentials);
    /** @type {[string, string][]} */
    const bridgeHeaders = [];
    const extra = own(o, 'bridgeHeaders');
    if (extra !== undefined) {
      const HEADERS = 'an object of header names to string values';
      let object = false;
      try { object = extra instanceof Object; } catch { /* a hostile value: refused below */ }
      if (!object || Array.isArray(extra)) fail(HEADERS, 'bridgeHeaders', extra);
      /** @type {PropertyKey[]} */
      let names = [];
      try { names = Reflect.ownKeys(/** @type {object} */ (extra)); } catch { /* no headers */ }
      /** @type {Headers | undefined} */
      let probe;
      try { probe = new Headers(); } catch { fail(HEADERS, 'bridgeHeaders', extra); }
      for (const k of names) {
        const v = own(extra, k);
        if (typeof k !== 'string' || typeof v !== 'string') fail(HEADERS, 'bridgeHeaders', v);
        // The platform's own check: a name or value fetch would refuse fails here, not at every call.
        try { probe?.set(k, v); } catch { fail('valid header names and values', 'bridgeHeaders', k); }
        bridgeHeaders.push([k, v]);
      }
    }
    const auto = own(o, 'autoRefresh');
    if (auto !== undefined && typeof auto !== 'boolean') fail('true or false', 'autoRefresh', auto);
    return {
      tokenUrl, revokeUrl, apiOrigins, header, format, refreshMarginMs, bridgeTimeoutMs: bridgeTimeoutMs || 1, storageKey,
      storage, autoRefresh: auto ?? browser, browser, credentials: /** @type {RequestCredentials | undefined} */ (credentials),
      bridgeHeaders, webStorage,
    };
  } catch (e) {
    if (e instanceof Refusal) return { error: e.message };
    throw e;
  }
}

/**
 * The `format` option checked: a name, or `{ token, expiresIn?, expiresAt? }` (JSON pointers); else the error.
 * @param {unknown} f
 * @returns {Format | { error: string }}
 */
export function readFormat(f) {
  // Not `f == null` (which minifiers turn `f === undefined || f === null` into): `document.all` is neither.
  if (f === undefined || f === null) return { name: 'auto' };
  if (typeof f === 'string') {
    return FORMATS.includes(f) ? { name: /** @type {FormatName} */ (f) }
      : { error: "format must be 'auto', 'oauth2', 'point', 'wazo', 'static' or { token, expiresIn?, expiresAt? }" };
  }
  /** @type {(string | undefined)[]} */
  const pointers = [];
  for (const k of ['token', 'expiresIn', 'expiresAt']) {
    const v = own(f, k);
    if (v !== undefined && (typeof v !== 'string' || (v && v[0] !== '/'))) return { error: "format pointers must be JSON pointers such as '/data/token'" };
    if (v === undefined && k === 'token') return { error: 'a custom format needs a `token` JSON pointer' };
    pointers.push(/** @type {string | undefined} */ (v));
  }
  return { token: /** @type {string} */ (pointers[0]), expiresIn: pointers[1], expiresAt: pointers[2] };
}

/**
 * `v` when it is a function, else the message of the error `call` throws.
 * @param {string} call @param {unknown} v @returns {Function | string}
 */
export function listenerArg(call, v) {
  return typeof v === 'function' ? v : `${call}: listener must be a function; got ${describe(v)}`;
}

/**
 * A value as an error message names it: strings quoted (cut at 80 characters), anything else by its kind.
 * @param {unknown} v @returns {string}
 */
export function describe(v) {
  if (typeof v === 'string') return `'${v.length > 80 ? `${v.slice(0, 80)}…` : v}'`;
  if (typeof v === 'number') return `the number ${v}`;
  if (v === undefined) return 'nothing';
  if (v === null || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return own(v, 'length') === 0 ? 'an empty array' : 'an array'; // (a Proxy's length may throw)
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
