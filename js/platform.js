// @ts-check
// The client's JavaScript side apart from the network (fetch.js): the BroadcastChannel, the Web Lock, the page's
// lifecycle events, Web Storage, listeners and errors. It carries out what the client (wasm) decides and hands
// the platform's events back to it; it decides nothing. (It imports nothing: each module is loaded by the glue
// itself, which a service worker must be able to fetch at install time.)

/** @typedef {'ifAvailable' | 'wait' | 'steal'} LockMode */
/**
 * A lock request's result, or a `findPeers` answer (`peers`: another context of this client is alive; `alone`).
 * @typedef {'granted' | 'busy' | 'failed' | 'peers' | 'alone'} LockResult
 */
/** @typedef {'online' | 'offline' | 'visibilitychange' | 'pageshow' | 'focus' | 'storage'} LifecycleType */

/**
 * The Web Lock requests by ticket (see `makeLocks`).
 * @typedef {object} Locks
 * @property {(ticket: number, mode: LockMode) => void} request
 * @property {(ticket: number) => void} release
 * @property {() => void} announce makes this context known to the others of this client while it lives (see
 *   `makePresence`: a shared lock of its own name until `unlisten`, but not while in the back-forward cache)
 * @property {(ticket: number) => void} findPeers answers `peers` or `alone` under `ticket`: whether another context
 *   holds that lock (Web Locks' `query`, answered in the order requests were made: of two contexts that announce
 *   and then look, the second finds the first)
 * @property {() => void} leave gives up what `announce` holds
 */

/**
 * The client's JavaScript side, made in one call (read by `Parts` in src/web/client.rs, field by field).
 * @typedef {object} ClientParts
 * @property {BroadcastChannel | null} channel to the other tabs and workers (none outside browsers: an open
 *   channel would keep a Node or Deno process alive)
 * @property {Locks} locks
 * @property {() => void} unlisten removes the lifecycle listeners and leaves (see `Locks`)
 * @property {boolean} online
 * @property {number} seed a random integer below 2^53, for the core's jitter
 * @property {Set<Function>} onToken
 * @property {Set<Function>} onSignedOut
 * @property {Set<Function>} onError
 * @property {Set<Function>} onChange
 */

/**
 * Makes the client's JavaScript side. The channel and the lock are named `authbridge:<storage key>`. Only
 * localStorage is shared with other tabs, so only its clients (`local`) listen for `storage` (fewer listeners also
 * make the constructor cheaper: Chromium's profile put ~3 ms of a first `new AuthClient` in addEventListener).
 * @param {(message: unknown) => void} onMessage a BroadcastChannel message
 * @param {(type: LifecycleType, event: Event | undefined) => void} onLifecycle a page event (`storage`: with it)
 * @param {(ticket: number, result: LockResult) => void} onLock
 * @param {string} key the storage key
 * @param {boolean} browser
 * @param {boolean} local
 * @returns {ClientParts}
 */
export function makeClient(onMessage, onLifecycle, onLock, key, browser, local) {
  const name = `authbridge:${key}`;
  const locks = makeLocks(name, onLock);
  const unlisten = listen(local, onLifecycle);
  return {
    channel: browser ? openChannel(name, onMessage) : null,
    locks,
    unlisten: () => { unlisten(); locks.leave(); },
    online: globalThis.navigator?.onLine !== false,
    seed: Math.floor(Math.random() * 2 ** 53),
    onToken: new Set(),
    onSignedOut: new Set(),
    onError: new Set(),
    onChange: new Set(),
  };
}

/**
 * @param {string} name @param {(message: unknown) => void} onMessage @returns {BroadcastChannel | null}
 */
function openChannel(name, onMessage) {
  if (typeof BroadcastChannel !== 'function') return null;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (e) => onMessage(e.data);
  return channel;
}

/** @param {BroadcastChannel | null} channel @param {unknown} message */
export function post(channel, message) {
  try { channel?.postMessage(message); } catch { /* a closed channel: nobody to tell */ }
}

/** @param {BroadcastChannel | null} channel */
export function closeChannel(channel) {
  if (channel) { channel.onmessage = null; channel.close(); }
}

/** @type {readonly LifecycleType[]} */
const LIFECYCLE = ['online', 'offline', 'visibilitychange', 'pageshow', 'focus'];

/**
 * The lifecycle listeners: `handler(type, event)`, with the event for `storage` and `pageshow` (its `persisted`:
 * the page came back from the back-forward cache); a `visibilitychange` to hidden is not passed on (only a page
 * coming back matters). Returns the function removing them.
 * @param {boolean} storage @param {(type: LifecycleType, event: Event | undefined) => void} handler
 * @returns {() => void}
 */
function listen(storage, handler) {
  /** @type {LifecycleType[]} */
  const names = storage ? [...LIFECYCLE, 'storage'] : [...LIFECYCLE];
  /** @param {Event} e */
  const on = (e) => {
    const type = /** @type {LifecycleType} */ (e.type);
    if (type !== 'visibilitychange' || globalThis.document?.visibilityState !== 'hidden') handler(type, type === 'storage' || type === 'pageshow' ? e : undefined);
  };
  for (const n of names) globalThis.addEventListener?.(n, on);
  return () => { for (const n of names) globalThis.removeEventListener?.(n, on); };
}

/**
 * The origin-wide Web Lock, by ticket, for the core's lock protocol (src/machine.rs decides when to ask, wait,
 * steal and release; this only performs it). `onEvent(ticket, result)`: `failed` when aborted, stolen, or the
 * request threw. A ticket released before its grant gives the lock back at once. Without Web Locks every request
 * is granted at once (per-context single flight only).
 * @param {string} name @param {(ticket: number, result: LockResult) => void} onEvent @returns {Locks}
 */
function makeLocks(name, onEvent) {
  const locks = globalThis.navigator?.locks;
  /** @type {Map<number, { release: (() => void) | null, abort: AbortController, done: boolean }>} */
  const tickets = new Map();
  const presence = makePresence(locks, `${name}:present`);
  return {
    announce: presence.announce,
    findPeers(ticket) {
      // Unknown is answered `peers`: the start then asks and takes the lock, as where nothing can tell.
      presence.others().then((others) => onEvent(ticket, others > 0 ? 'peers' : 'alone'), () => onEvent(ticket, 'peers'));
    },
    leave: presence.leave,
    request(ticket, mode) {
      if (!locks?.request) { queueMicrotask(() => onEvent(ticket, 'granted')); return; }
      const t = { release: /** @type {(() => void) | null} */ (null), abort: new AbortController(), done: false };
      tickets.set(ticket, t);
      /** @type {LockOptions} */
      const options = mode === 'ifAvailable' ? { ifAvailable: true } : mode === 'steal' ? { steal: true } : { signal: t.abort.signal };
      locks.request(name, options, (lock) => {
        if (t.done) return undefined;
        if (!lock) { t.done = true; tickets.delete(ticket); onEvent(ticket, 'busy'); return undefined; }
        return new Promise((resolve) => { t.release = () => resolve(undefined); onEvent(ticket, 'granted'); });
      }).catch(() => {
        if (!t.done) { t.done = true; tickets.delete(ticket); onEvent(ticket, 'failed'); }
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

/**
 * This context's presence for the others of its client: a shared Web Lock of its own name, held from `announce`
 * until `leave`, except while the page is in the back-forward cache (a held lock would keep it out, and a frozen
 * page answers no ask): given up at `pagehide`, taken again at `pageshow`. `announce` takes it in a task of its
 * own, so that a start that restored its token has its first request out first (a context's first lock request can
 * take milliseconds); `others` takes it at once if it is still to come, so that of two contexts that announce and
 * then look, the second finds the first (the lock manager answers requests in the order they were made).
 * @param {LockManager | undefined} locks @param {string} name
 */
function makePresence(locks, name) {
  /** @type {AbortController | null} */
  let held = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let later;
  let left = false;
  const hold = () => {
    if (held || left || !locks?.request) return;
    const abort = held = new AbortController();
    // Aborted before the grant, the request is dropped; after it, the lock is given back.
    locks.request(name, { mode: 'shared', signal: abort.signal }, () => new Promise((resolve) => {
      if (abort.signal.aborted) resolve(undefined); else abort.signal.onabort = () => resolve(undefined);
    })).catch(() => { /* given up before it was granted */ });
  };
  /** @param {Event} e */
  const page = (e) => {
    if (!(/** @type {PageTransitionEvent} */ (e).persisted)) return;
    if (e.type === 'pageshow') hold(); else { held?.abort(); held = null; }
  };
  return {
    announce() {
      if (later !== undefined || left) return;
      later = setTimeout(hold, 0);
      globalThis.addEventListener?.('pagehide', page);
      globalThis.addEventListener?.('pageshow', page);
    },
    /** How many other contexts hold or await the presence lock (Web Locks' `query`). @returns {Promise<number>} */
    async others() {
      hold();
      const snapshot = await locks?.query?.();
      // Without the query nothing can be told: as many others as it takes to ask.
      if (!snapshot) return 1;
      return [...(snapshot.held ?? []), ...(snapshot.pending ?? [])].filter((l) => l.name === name).length - (held ? 1 : 0);
    },
    leave() {
      left = true;
      clearTimeout(later);
      held?.abort();
      held = null;
      globalThis.removeEventListener?.('pagehide', page);
      globalThis.removeEventListener?.('pageshow', page);
    },
  };
}

/**
 * A pending promise and the functions settling it.
 * @returns {{ promise: Promise<unknown>, resolve: (value?: unknown) => void, reject: (reason?: unknown) => void }}
 */
export function deferred() {
  /** @type {(value?: unknown) => void} */
  let resolve = () => {};
  /** @type {(reason?: unknown) => void} */
  let reject = () => {};
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/**
 * Calls every function of `set` (in its order, as forEach visits it) with `payload` when `has`, else with no
 * argument; one that throws does not stop the others. A trap of the module (a listener calling back into a client
 * that could not take it) is not a listener's error: it goes on, as in `store`.
 * @param {Set<unknown>} set @param {boolean} has @param {unknown} payload
 */
export function emit(set, has, payload) {
  set.forEach((f) => {
    if (typeof f !== 'function') return;
    try {
      if (has) f.call(null, payload); else f.call(null);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw e;
    }
  });
}

/**
 * Web Storage under `key`: reads it (`value` undefined: the value or null), writes `value`, or removes it (`value`
 * null); a write or removal gives whether it worked, and a storage that throws gives false. A trap of the module
 * (a storage whose methods called back into a client that could not take it) is not a storage failure: it goes on.
 * @param {Storage} storage @param {string} key @param {string | null | undefined} value
 * @returns {string | null | boolean}
 */
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

/**
 * Adds `fn` to `set`; returns the function removing it (made here so that no closure outlives the client).
 * @param {Set<Function>} set @param {Function} fn @returns {() => void}
 */
export function offFn(set, fn) {
  set.add(fn);
  return () => { set.delete(fn); };
}

/**
 * An Error named `name`, with `code`, `cause`, `status` and `bridgeError` where given.
 * @param {string} message @param {string} name @param {string | undefined} code @param {unknown} cause
 * @param {number | undefined} status @param {string | undefined} bridgeError @returns {Error}
 */
export function makeError(message, name, code, cause, status, bridgeError) {
  const e = /** @type {Error & { code?: string, status?: number, bridgeError?: string }} */ (new Error(message));
  e.name = name;
  if (code !== undefined) e.code = code;
  if (cause !== undefined) e.cause = cause;
  if (status !== undefined) e.status = status;
  if (bridgeError !== undefined) e.bridgeError = bridgeError;
  return e;
}

/**
 * The store interface's snapshot: frozen, claims included (a subscriber must not be able to change what others see).
 * @param {string} status @param {object | null} claims @param {number | null} expiresAt @param {unknown} error
 */
export function snapshot(status, claims, expiresAt, error) {
  if (claims !== null) Object.freeze(claims);
  return Object.freeze({ status, claims, expiresAt, error });
}
