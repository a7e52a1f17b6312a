// @ts-check
// What the client knows of the platform it runs on, read once at construction (`Platform` in src/options.rs,
// where the option rules that use it live).

/**
 * The platform facts (`Platform` in src/options.rs).
 * @typedef {object} Facts
 * @property {boolean} browser a page or a worker (see `browserPlatform`)
 * @property {boolean} window a browser window (its Web Storage may hold the token)
 * @property {string | undefined} base the global `location.href`, against which relative URLs resolve (none in
 *   Node, Deno and workerd)
 */

/**
 * A platform object's property, inherited ones included (`location.href` is a getter of Location.prototype in
 * workers): for globals only, never for what the caller passes. Undefined when reading throws.
 * @param {unknown} o @param {string} k @returns {unknown}
 */
function platform(o, k) {
  try {
    return typeof o === 'object' && o !== null ? /** @type {Record<string, unknown>} */ (o)[k] : undefined;
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
 * too, so that nothing short of a browser's fetch in a browser's global scope counts. (Deno 2.9 has
 * `globalThis instanceof Window`: the header check tells it apart.)
 * @returns {boolean}
 */
export function browserPlatform() {
  try {
    const scope = isWindow() || typeof platform(globalThis, 'importScripts') === 'function';
    return scope && !new Request('http://127.0.0.1/', { headers: { Cookie: 'probe' } }).headers.has('Cookie');
  } catch {
    return false;
  }
}

/** @returns {boolean} */
function isWindow() {
  return typeof Window === 'function' && globalThis instanceof Window;
}

/** @returns {Facts} */
export function platformFacts() {
  const browser = browserPlatform();
  const href = platform(platform(globalThis, 'location'), 'href');
  return { browser, window: browser && isWindow(), base: typeof href === 'string' ? href : undefined };
}

/**
 * Whether the window's sessionStorage (`local`: localStorage) can be used: reading it throws where it is disabled
 * or blocked (sandboxed frames), and gloo-storage would throw too.
 * @param {boolean} local @returns {boolean}
 */
export function webStorageReadable(local) {
  try {
    const s = local ? globalThis.localStorage : globalThis.sessionStorage;
    return typeof s === 'object' && s !== null;
  } catch {
    return false;
  }
}
