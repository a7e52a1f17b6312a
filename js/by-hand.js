// @ts-check
// Redirects followed by hand, for runtimes whose fetch would carry any header across origins (Node, Deno, and
// workerd, which forwards even Authorization at compatibility dates before 2026 and rejects `redirect: 'error'`).
// Bound only by builds with the `server-runtimes` feature (the crate's default, and the npm package's universal
// build): the package's browser build leaves it out (see `RedirectPath` in js/fetch.js).

/** @typedef {import('./fetch.js').Sent} Sent */
/** @typedef {import('./fetch.js').ServerSend} ServerSend */

/**
 * The client's decision on a redirect followed by hand (`Hop` in src/rules.rs).
 * @typedef {{ action: 'done' } | { action: 'fail', message: string } | { action: 'follow', toGet: boolean, token: boolean, drop: string[] }} Hop
 */

/**
 * The client's decision on each redirect (a closure of src/web/client.rs deciding by `rules::next_hop`): the
 * status, whether there is a `Location`, the method, the caller's mode, the hops followed so far, the hop's origin
 * and the target's (null when not http(s)).
 * @typedef {(status: number, hasLocation: boolean, method: string, mode: RequestRedirect, hops: number, from: string, to: string | null) => Hop} HopRule
 */

/**
 * The by-hand follower `makeFetch` sends requests to API origins with, outside browsers.
 * @param {HopRule} hop
 * @returns {ServerSend}
 */
export function makeByHand(hop) {
  return (request, name, value) => followByHand(request, name, value, hop);
}

/** @param {RequestRedirect | undefined} redirect */
const followsRedirects = (redirect) => (redirect ?? 'follow') === 'follow';

// The headers a body carries, dropped when a redirect turns the request into a GET (Fetch, HTTP-redirect fetch).
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

/**
 * Follows redirects by hand (Node, Deno, workerd): every hop goes out with `redirect: 'manual'`, and the client
 * decides each redirect (`hop`: whether to follow, the method, whether the token goes, which headers are
 * dropped). `name`/`value`: the token's header (none when null: a request the caller set the header of, sent to
 * an API origin). `carried`: the response's hop had the token.
 * @param {Request} request @param {string | null} name @param {string | null} value @param {HopRule} hop
 * @returns {Promise<Sent>}
 */
async function followByHand(request, name, value, hop) {
  const mode = request.redirect;
  let req = request;
  // The first hop is to an API origin (makeFetch sent any other request as it was).
  let token = name !== null;
  for (let hops = 0; ; hops++) {
    // Kept to build the next hop from (a body can be read once); only when a redirect may be followed.
    const spare = req.body && followsRedirects(mode) ? req.clone() : req;
    const send = new Request(req, { redirect: 'manual' });
    if (name !== null) {
      if (token) send.headers.set(name, /** @type {string} */ (value)); else send.headers.delete(name);
    }
    const res = await fetch(send);
    const location = res.headers.get('location');
    /** @type {URL | null} */
    let url = null;
    try { url = location === null ? null : new URL(location, send.url); } catch { /* no target: not followed */ }
    const to = url && (url.protocol === 'https:' || url.protocol === 'http:') ? url.origin : null;
    const next = hop(res.status, url !== null, spare.method, mode, hops, new URL(send.url).origin, to);
    if (next.action === 'done') return { response: res, sentTo: request.url, from: send.url };
    if (next.action === 'fail') throw new TypeError(next.message);
    const headers = new Headers(spare.headers);
    for (const h of next.drop) headers.delete(h);
    /** @type {ArrayBuffer | null} */
    let body = null;
    if (next.toGet) for (const h of BODY_HEADERS) headers.delete(h);
    else if (spare.body) body = await spare.arrayBuffer();
    await res.body?.cancel();
    /** @type {RequestInit} */
    const init = { method: next.toGet ? 'GET' : spare.method, headers, body, redirect: 'manual' };
    if (spare.signal) init.signal = spare.signal;
    req = new Request(/** @type {URL} */ (url), init);
    token = next.token;
  }
}

