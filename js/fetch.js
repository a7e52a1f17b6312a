// @ts-check
// The client's network: the authenticated fetch with its rules (for `AuthClient.fetch` and the Rust
// `Client::fetch` alike), and the bridge calls. The client (wasm) decides the token; this carries requests out.

/**
 * What a request sent with the token gave: the response, and whether it came from an API origin that received
 * the token (only such a 401 refuses it).
 * @typedef {{ response: Response, carried: boolean }} Sent
 */

/**
 * The fetcher made by `makeFetch`.
 * @typedef {object} Fetcher
 * @property {(input: RequestInfo | URL, init: RequestInit | undefined, name: string, value: string | undefined, replay: boolean | undefined) => Promise<Response>} send
 *   Sends `input` with `init` under the fetch rules; `value` is undefined when the token needs a refresh first;
 *   `replay` undefined reads it from `init` (no retry for a streamed body).
 */

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
 * 1. origin: the token goes only to `origins` (exact origins). A URL string that starts with one of them and
 *    then `/` has that origin (the authority ends at the first `/`); anything else (relative, other case, odd
 *    forms, a Request) is parsed by `new Request` and its origin compared.
 * 2. the caller's own header (the token's header name already set by the caller): sent as given, but outside
 *    browsers its redirects are followed by hand all the same (see `sendRequest`): workerd before 2026 would
 *    carry the caller's `Authorization` to another origin.
 * 3. the token: `value` when the client's token needs no refresh, else `want()` resolves to [name, value] once
 *    the client has one (refreshing first) or rejects with the client's error.
 * 4. redirects (see `sendRequest`).
 * 5. a 401 from an API origin that received the token: `unauthorized(value)` tells the client the token was
 *    refused, and the request is sent once more with the token `want()` gives; without one, the 401 stands. A 401
 *    from anywhere else (a redirect to another host) says nothing about the token: it stands, and the token is
 *    kept. Not sent again when the body is a stream (it can be sent once), but the client is told all the same.
 * The string form with a plain `init` (pages and workers) is sent without building a Request: the speed of a
 * hand-written wrapper. Getters on `init` run here, with no borrow held in wasm; one that throws rejects.
 * @param {string[]} origins
 * @param {boolean} browser
 * @param {() => Promise<{ name: string, value: string }>} want
 * @param {(value: string) => void} unauthorized
 * @returns {Fetcher}
 */
export function makeFetch(origins, browser, want, unauthorized) {
  return { send(input, init, name, value, replay) {
    try {
      /** @type {Request | null} */
      let req = null;
      const simple = browser && typeof input === 'string' && (init == null || Object.getPrototypeOf(init) === Object.prototype);
      if (!simple || typeof input !== 'string' || !origins.some((o) => input.startsWith(o) && input.charCodeAt(o.length) === 47)) {
        req = new Request(input, init); // a copy: the caller's Request never gets the token
        if (!origins.includes(new URL(req.url).origin)) return fetchOffStack(req);
      }
      const request = req;
      // The caller's own header: no token; outside browsers (where `request` is always built) redirects by hand.
      /** @returns {Promise<Response>} */
      const own = () => (browser || !request ? fetchOffStack(request ?? input, request ? undefined : init)
        : followByHand(request, null, null, origins).then((r) => r.response));
      const headers = request ? request.headers : new Headers(init?.headers);
      if (headers.has(name)) return own();
      const again = replay ?? typeof (/** @type {{ getReader?: unknown } | null | undefined} */ (init?.body))?.getReader !== 'function';
      /** @type {RequestInit | null} */
      const options = request ? null : { ...init, headers };
      const spare = request && again ? request.clone() : null;
      const redirect = options?.redirect;
      /** @type {string | null} */
      let sentName = null;
      /** @type {(req: Request | null, name: string, value: string) => Promise<Sent>} */
      const send = (req, name, value) => {
        if (req) return sendRequest(req, name, value, origins, browser);
        if (sentName !== null && sentName !== name) headers.delete(sentName);
        sentName = name;
        headers.set(name, value);
        const init = /** @type {RequestInit} */ (options);
        init.redirect = name.toLowerCase() !== 'authorization' && followsRedirects(redirect) ? 'error' : redirect;
        const url = /** @type {string} */ (input);
        return fetchOffStack(url, init).then((response) => ({ response, carried: tokenSeen(response, url, origins) }));
      };
      /** @type {(n: string, v: string) => Promise<Response>} */
      const first = (n, v) => {
        // The header's name may be known only once there is a token (a format that picks it): checked again.
        if (n !== name && headers.has(n)) return own();
        // A 401 tells the client its token was refused, whether or not the request can be sent again.
        return send(request, n, v).then(({ response, carried }) => {
          if (response.status !== 401 || !carried) return response;
          unauthorized(v);
          return again ? want().then((t) => send(spare, t.name, t.value).then((r) => r.response), () => response) : response;
        });
      };
      return value === undefined ? want().then((t) => first(t.name, t.value)) : first(name, value);
    } catch (e) {
      return Promise.reject(e);
    }
  } };
}

/** @param {RequestRedirect | undefined} redirect */
const followsRedirects = (redirect) => (redirect ?? 'follow') === 'follow';

/**
 * Redirects and the token. Pages and workers: the browser drops Authorization on a cross-origin redirect itself
 * but forwards any other header, and hides a redirect's target from scripts (`manual` gives an opaque response),
 * so a token in another header never follows a redirect there (`error`, unless the caller chose `manual`, which
 * follows nothing). Node, Deno, workerd (which forwards even Authorization across origins at compatibility dates
 * before 2026, and rejects `redirect: 'error'`): redirects are followed here by hand, the token re-attached only
 * for `origins`.
 * @param {Request} request @param {string} name @param {string} value @param {string[]} origins @param {boolean} browser
 * @returns {Promise<Sent>}
 */
function sendRequest(request, name, value, origins, browser) {
  if (!browser) return followByHand(request, name, value, origins);
  const custom = name.toLowerCase() !== 'authorization';
  const req = custom && followsRedirects(request.redirect) ? new Request(request, { redirect: 'error' }) : request;
  req.headers.set(name, value);
  return fetchOffStack(req).then((response) => ({ response, carried: tokenSeen(response, req.url, origins) }));
}

/**
 * In a browser, whether `response` (to a request for `url`, sent with the token) came from where the token went:
 * the API origin it was sent to. A redirect to another origin drops Authorization (and a custom header follows no
 * redirect), so a response from elsewhere never saw the token. (A browser hides the hops: a redirect that leaves
 * the origin and comes back is not told apart.)
 * @param {Response} response @param {string} url @param {string[]} origins @returns {boolean}
 */
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

/**
 * Follows redirects by hand (Node, Deno, workerd): every hop goes out with `redirect: 'manual'`; the token
 * (`name`, `value`; none when null) is attached only for `origins`; a cross-origin hop drops the caller's
 * credentials; at most 20 hops, with Fetch's method rules. `carried`: the response's hop had the token.
 * @param {Request} request @param {string | null} name @param {string | null} value @param {string[]} origins
 * @returns {Promise<Sent>}
 */
async function followByHand(request, name, value, origins) {
  const mode = request.redirect;
  let req = request;
  for (let hops = 0; ; hops++) {
    // Kept to build the next hop from (a body can be read once); only when a redirect may be followed.
    const spare = req.body && followsRedirects(mode) ? req.clone() : req;
    const send = new Request(req, { redirect: 'manual' });
    const origin = new URL(send.url).origin;
    const carried = name !== null && origins.includes(origin);
    if (name !== null) {
      if (carried) send.headers.set(name, /** @type {string} */ (value)); else send.headers.delete(name);
    }
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
    /** @type {ArrayBuffer | null} */
    let body = null;
    if (toGet) for (const h of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) headers.delete(h);
    else if (spare.body) body = await spare.arrayBuffer();
    await res.body?.cancel();
    /** @type {RequestInit} */
    const init = { method: toGet ? 'GET' : spare.method, headers, body, redirect: 'manual' };
    if (spare.signal) init.signal = spare.signal;
    req = new Request(url, init);
  }
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
 * @property {string | null} redirect null unless the response is a redirect: then the origin of its Location
 *   ('' where the browser hides it, as `manual` does in pages and workers, or where there is none), never its
 *   path or query, which may carry secrets.
 */

/** @param {Response} res @returns {ResponseMeta} */
export function responseMeta(res) {
  const h = res.headers, retryAfter = h.get('Retry-After');
  /** @type {string | null} */
  let redirect = null;
  if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
    const location = h.get('Location');
    try { redirect = location === null ? '' : new URL(location, res.url || undefined).origin; } catch { redirect = ''; }
    if (redirect === 'null') redirect = '';
  }
  return { status: res.status, date: Date.parse(h.get('Date') ?? ''), retryAfter, retryAfterDate: Date.parse(retryAfter ?? ''), redirect };
}
