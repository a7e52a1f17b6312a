// @ts-check
// The client's network: the authenticated fetch (for `AuthClient.fetch` and the Rust `Client::fetch` alike) and
// the bridge calls. The client (wasm) decides the token and the request rules (src/rules.rs: which 401 refuses the
// token, what each redirect hop carries); this carries requests out and reports what happened.

/**
 * What a request sent with the token gave: the response, the URL the token was sent for, and the URL that
 * answered (null when the platform does not say). The client decides from their origins whether the response came
 * from where the token went: only such a 401 refuses it.
 * @typedef {{ response: Response, sentTo: string, from: string | null }} Sent
 */

/**
 * The token's header, and what the client decided for it (`TokenHeader` in src/web/client.rs).
 * @typedef {object} TokenHeader
 * @property {string} name
 * @property {string} value
 * @property {'follow' | 'error'} follow in a browser, the redirect mode a request the caller lets follow redirects
 *   is sent with (src/rules.rs `browser_follow`: `error` unless the header is one browsers drop across origins)
 */

/**
 * The client's decisions the fetch asks for (closures of src/web/client.rs, deciding by src/rules.rs).
 * @typedef {object} Rules
 * @property {() => Promise<TokenHeader>} want the header to send, once the client has a token
 * @property {number} refusal the status that may refuse the token (src/rules.rs `REFUSAL`); a response with any
 *   other is the caller's, with no call into the client
 * @property {(value: string, status: number, sentTo: string, from: string | null) => boolean} answered the API
 *   answered `status` (the refusal status) to the token `value` sent for the origin `sentTo`, from the origin
 *   `from` (null when the response has no URL); true when the client takes it as a refusal (the request is then
 *   sent once more with a new token)
 */

/**
 * How a request with the token meets redirects (`RedirectPath` in src/rules.rs): `browser`, the platform's fetch
 * follows them (it drops Authorization across origins and hides the hops); `by-hand`, each hop is followed here
 * with the client's decisions (`byHand`, from js/by-hand.js); `unfollowed`, a build without the by-hand code on a
 * platform whose fetch would carry any header across origins: none is followed, the redirect is the answer.
 * @typedef {'browser' | 'by-hand' | 'unfollowed'} RedirectPath
 */

/**
 * Sends a request to an API origin outside browsers: `name`/`value` the token's header (null: the caller set the
 * header itself). See `makeByHand` in js/by-hand.js.
 * @typedef {(request: Request, name: string | null, value: string | null) => Promise<Sent>} ServerSend
 */

/**
 * The fetcher made by `makeFetch`.
 * @typedef {object} Fetcher
 * @property {(input: RequestInfo | URL, init: RequestInit | undefined, name: string, token: TokenHeader | undefined, replay: boolean | undefined) => Promise<Response>} send
 *   Sends `input` with `init` under the fetch rules; `name` is the token's header name, `token` undefined when the
 *   token needs a refresh first; `replay` undefined reads it from `init` (no retry for a streamed body).
 */

/**
 * A `TokenHeader`, made by an object literal: defining its members runs no setter a page script planted on
 * `Object.prototype` (assigning them, as serde-wasm-bindgen does, would hand such a setter the token and let it
 * call back into the client while it makes the object).
 * @param {string} name @param {string} value @param {TokenHeader['follow']} follow @returns {TokenHeader}
 */
export function tokenHeader(name, value, follow) {
  return { name, value, follow };
}

/**
 * The global fetch, called from a microtask so that no wasm frames are on the stack: in Chromium a fetch made
 * with wasm frames below it measured ~0.1 ms slower per request (bench/: loopback p50 1.03-1.08x a JS wrapper,
 * 1.00x once deferred), most likely its capture of the initiator's stack trace.
 * @param {RequestInfo | URL} input @param {RequestInit} [init] @returns {Promise<Response>}
 */
function fetchOffStack(input, init) { return Promise.resolve().then(() => fetch(input, init)); }

/**
 * Settles (never rejects) when the first of `promise`, `flight` (may be undefined) or a `ms` timer (none when
 * negative) settles.
 * @param {Promise<unknown>} promise @param {Promise<unknown> | undefined} flight @param {number} ms
 * @returns {Promise<void>}
 */
export function firstOf(promise, flight, ms) {
  /** @type {Promise<void>[]} */
  const all = [promise, flight].filter((p) => p !== undefined).map((p) => p.then(() => {}, () => {}));
  if (ms >= 0) all.push(new Promise((r) => { setTimeout(r, ms); }));
  return Promise.race(all);
}

/**
 * The authenticated fetch: every rule, in one place.
 * 1. origin: the token goes only to `origins` (exact origins). A URL string that starts with one of `prefixes`
 *    (src/rules.rs `token_prefixes`: each origin and `/`) has that origin; anything else (relative, other case,
 *    odd forms, a Request) is parsed by `new Request` and its origin compared.
 * 2. the caller's own header (the token's header name already set by the caller): sent as given, but outside
 *    browsers its redirects are followed by hand all the same (see `sendRequest`): workerd before 2026 would
 *    carry the caller's `Authorization` to another origin.
 * 3. the token: `token` when the client's token needs no refresh, else `want()` resolves to one once the client
 *    has one (refreshing first) or rejects with the client's error.
 * 4. redirects (see `sendRequest`).
 * 5. the answer: `rules.answered` tells the client what the API answered to its token and from where; when the
 *    client takes it as a refusal (a 401 from an API origin that received the token), the request is sent once
 *    more with the token `want()` gives; without one, the 401 stands. Not sent again when the body is a stream (it
 *    can be sent once), but the client is told all the same.
 * The string form with a plain `init` (pages and workers) is sent without building a Request: the speed of a
 * hand-written wrapper. Getters on `init` run here, with no borrow held in wasm; one that throws rejects.
 * @param {string[]} origins
 * @param {string[]} prefixes
 * @param {RedirectPath} path
 * @param {Rules['want']} wantHeader
 * @param {Rules['refusal']} refusal
 * @param {Rules['answered']} answered
 * @param {ServerSend | null} byHand the by-hand follower (`path` `by-hand` only)
 * @returns {Fetcher}
 */
export function makeFetch(origins, prefixes, path, wantHeader, refusal, answered, byHand) {
  const browser = path === 'browser';
  /** @type {ServerSend} */
  const server = path === 'by-hand' && byHand ? byHand : unfollowed;
  // want() enters the client from a microtask: not from the caller's stack (a listener's fetch, say).
  const want = () => Promise.resolve().then(wantHeader);
  return { send(input, init, name, token, replay) {
    try {
      /** @type {Request | null} */
      let req = null;
      const simple = browser && typeof input === 'string' && (init == null || Object.getPrototypeOf(init) === Object.prototype);
      if (!simple || typeof input !== 'string' || !prefixes.some((p) => input.startsWith(p))) {
        req = new Request(input, init); // a copy: the caller's Request never gets the token
        if (!origins.includes(new URL(req.url).origin)) return fetchOffStack(req);
      }
      const request = req;
      // The caller's own header: no token; outside browsers (where `request` is always built) as `path` says.
      /** @returns {Promise<Response>} */
      const own = () => (browser || !request ? fetchOffStack(request ?? input, request ? undefined : init)
        : server(request, null, null).then((r) => r.response));
      const headers = request ? request.headers : new Headers(init?.headers);
      if (headers.has(name)) return own();
      const again = replay ?? typeof (/** @type {{ getReader?: unknown } | null | undefined} */ (init?.body))?.getReader !== 'function';
      /** @type {RequestInit | null} */
      const options = request ? null : { ...init, headers };
      const spare = request && again ? request.clone() : null;
      const redirect = options?.redirect;
      /** @type {string | null} */
      let sentName = null;
      /** @type {(req: Request | null, t: TokenHeader) => Promise<Sent>} */
      const send = (req, t) => {
        if (req) return browser ? sendRequest(req, t) : server(req, t.name, t.value);
        if (sentName !== null && sentName !== t.name) headers.delete(sentName);
        sentName = t.name;
        headers.set(t.name, t.value);
        const init = /** @type {RequestInit} */ (options);
        init.redirect = followsRedirects(redirect) ? t.follow : redirect;
        const url = /** @type {string} */ (input);
        return fetchOffStack(url, init).then((response) => ({ response, sentTo: url, from: response.url || null }));
      };
      /** @type {(t: TokenHeader) => Promise<Response>} */
      const first = (t) => {
        // The header's name may be known only once there is a token (a format that picks it): checked again.
        if (t.name !== name && headers.has(t.name)) return own();
        // A 401 tells the client its token was refused, whether or not the request can be sent again.
        return send(request, t).then(({ response, sentTo, from }) => {
          if (response.status !== refusal || !answered(t.value, response.status, originOf(sentTo), from && originOf(from))) return response;
          return again ? want().then((next) => send(spare, next).then((r) => r.response), () => response) : response;
        });
      };
      return token === undefined ? want().then(first) : first(token);
    } catch (e) {
      return Promise.reject(e);
    }
  } };
}

/** @param {RequestRedirect | undefined} redirect */
const followsRedirects = (redirect) => (redirect ?? 'follow') === 'follow';

/**
 * A Request with the token in a browser: the browser follows redirects and hides their targets from scripts
 * (`manual` gives an opaque response), so a request the caller lets follow redirects goes out with the mode the
 * client chose for the token's header (`t.follow`). (Outside browsers see `RedirectPath`.)
 * @param {Request} request @param {TokenHeader} t
 * @returns {Promise<Sent>}
 */
function sendRequest(request, t) {
  const req = followsRedirects(request.redirect) && t.follow !== 'follow' ? new Request(request, { redirect: t.follow }) : request;
  req.headers.set(t.name, t.value);
  return fetchOffStack(req).then((response) => ({ response, sentTo: req.url, from: response.url || null }));
}

/** @param {string} url an absolute URL (a Request's or a Response's) @returns {string} */
const originOf = (url) => new URL(url).origin;

/**
 * `unfollowed`: the request goes out with `redirect: 'manual'`, the token's header set when `name` is given; a
 * redirect is returned as it came (never followed, so nothing reaches its target).
 * @type {ServerSend}
 */
function unfollowed(request, name, value) {
  const send = new Request(request, { redirect: 'manual' });
  if (name !== null && value !== null) send.headers.set(name, value);
  return fetch(send).then((response) => ({ response, sentTo: request.url, from: send.url }));
}

/**
 * A bridge call's Request: `Accept: application/json`, the configured `headers`, the token header when `name` is
 * given, `credentials` unless undefined, the timeout's `signal`. A bridge call follows no redirect (`manual`; the
 * client reads a redirect as an `invalid_response`): its headers (an API key in `bridgeHeaders`), its cookies and
 * the token are for the bridge's origin alone, and a token minted elsewhere is not the bridge's.
 * @param {string} url @param {string} method @param {[string, string][]} headers
 * @param {string | undefined} name @param {string | undefined} value
 * @param {RequestCredentials | undefined} credentials @param {AbortSignal} signal
 * @returns {Request}
 */
export function bridgeRequest(url, method, headers, name, value, credentials, signal) {
  const h = new Headers({ Accept: 'application/json' });
  for (const [k, v] of headers) h.set(k, v);
  /** @type {RequestInit} */
  const init = { method, headers: h, signal, redirect: 'manual' };
  if (name !== undefined && value !== undefined) h.set(name, value);
  if (credentials !== undefined) init.credentials = credentials;
  return new Request(url, init);
}

/**
 * What the client reads of a bridge response before its body (see `Meta` in src/web/client.rs).
 * @typedef {object} ResponseMeta
 * @property {number} status
 * @property {number} date `Date.parse` of the `Date` header (NaN where absent or unreadable)
 * @property {string | null} retryAfter the `Retry-After` header
 * @property {number} retryAfterDate `Date.parse` of it (NaN unless it is a date)
 * @property {boolean} opaqueRedirect the opaque response a browser gives for a redirect under `manual`
 * @property {string | null} locationOrigin the origin of the `Location` header (null where there is none or it is
 *   not a URL): never its path or query, which may carry secrets
 */

/** @param {Response} res @returns {ResponseMeta} */
export function responseMeta(res) {
  const h = res.headers, retryAfter = h.get('Retry-After'), location = h.get('Location');
  /** @type {string | null} */
  let locationOrigin = null;
  try { if (location !== null) locationOrigin = new URL(location, res.url || undefined).origin; } catch { /* not a URL */ }
  if (locationOrigin === 'null') locationOrigin = null;
  return {
    status: res.status, date: Date.parse(h.get('Date') ?? ''), retryAfter, retryAfterDate: Date.parse(retryAfter ?? ''),
    opaqueRedirect: res.type === 'opaqueredirect', locationOrigin,
  };
}
