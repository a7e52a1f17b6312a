'use client';
// authbridge/react: <AuthProvider> owns one AuthClient per mounted provider; useAuth() reads its state through
// useSyncExternalStore. Plain ESM without JSX so that it needs no build step in any bundler. 'use client' (above):
// a client module for React Server Components (Next.js App Router): server components may import and render it.
import { createContext, createElement, useContext, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import init, { AuthClient, isAuthError } from './authbridge.js';

/** @typedef {import('./authbridge.js').AuthSnapshot} AuthSnapshot */
/** @typedef {import('./authbridge.js').AuthClientOptions} AuthClientOptions */
/** @typedef {import('./react.js').AuthProviderProps} AuthProviderProps */
/** @typedef {import('./react.js').AuthState} AuthState */
/**
 * @typedef {object} Store
 * @property {AuthClient} client
 * @property {boolean} disposed
 * @property {(listener: () => void) => () => void} subscribe
 * @property {() => AuthSnapshot} getSnapshot
 * @property {() => void} dispose
 */

// Shown while no client exists (module loading, first render, server rendering): one frozen object, so that
// useSyncExternalStore sees the same snapshot every time and never loops.
/** @type {AuthSnapshot} */
const STARTING = Object.freeze({ status: 'starting', claims: null, expiresAt: null, error: null });
const startingSnapshot = () => STARTING;
const noSubscription = () => () => {};

// `undefined` (the default) means "no provider above": useAuth() says so instead of returning a fake state.
const AuthContext = createContext(/** @type {Store | null | undefined} */ (undefined));

// Wraps a client so that React never calls a freed one (its getSnapshot() would throw 'freed'): an effect cleanup
// (StrictMode, HMR, new options, unmount) frees the client before the state update that drops it has rendered,
// and the app may free it itself. After dispose() the store answers with its last snapshot and does nothing else.
/** @param {AuthClient} client @returns {Store} */
function createStore(client) {
  let disposed = false;
  let last = STARTING;
  return {
    client,
    get disposed() { return disposed; },
    subscribe(listener) {
      if (disposed) return () => {};
      const off = client.subscribe(listener);
      return () => { if (!disposed) off(); };
    },
    getSnapshot() {
      if (disposed) return last;
      try {
        last = client.getSnapshot();
      } catch (e) {
        // The app freed the client itself: keep the last state rather than break the render.
        if (!(isAuthError(e) && e.code === 'freed')) throw e;
        disposed = true;
      }
      return last;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      // free() is idempotent and stops every timer; stop() first would throw if the app had freed it.
      client.free();
    },
  };
}

// Options compared by value: a new object with the same content on every render must not recreate the
// client (and restart it). Keys are sorted so that property order does not matter either.
/** @param {AuthClientOptions} options @returns {string} */
function optionsKey(options) {
  return JSON.stringify(options, (_, value) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]))
      : value);
}

/**
 * Creates, starts and owns one AuthClient while mounted. `options` are compared by value; `wasm` is what
 * `init({ module_or_path })` takes, read only by the first provider that initialises the module.
 * @param {AuthProviderProps} props
 */
export function AuthProvider({ options, wasm, children }) {
  const [store, setStore] = useState(/** @type {Store | null} */ (null));
  const [failure, setFailure] = useState(/** @type {unknown} */ (null));
  const key = optionsKey(options);

  useEffect(() => {
    // The client is created only after init() resolves, and only if this effect is still current: under
    // StrictMode the first mount is cleaned up before that, so one client is ever created per mount.
    let current = true;
    /** @type {Store | null} */
    let created = null;
    init(wasm === undefined ? undefined : { module_or_path: wasm }).then(() => {
      if (!current) return;
      let client;
      try {
        client = new AuthClient(options);
      } catch (e) {
        setFailure(e);
        return;
      }
      created = createStore(client);
      setStore(created);
      // start()'s outcome is in the snapshot (status, error); its promise must not become an unhandled
      // rejection, e.g. when the provider unmounts while it is pending and the client is freed.
      client.start().catch(() => {});
    }, (e) => {
      if (!current) return;
      setFailure(new Error(
        `authbridge: the WebAssembly module did not load (${e?.message ?? e}). If your bundler does not emit ` +
        'authbridge_bg.wasm, pass its URL: <AuthProvider wasm={url}>', { cause: e }));
    });
    return () => {
      current = false;
      if (created) {
        created.dispose();
        // Renders until the next client exists show "starting", never a freed client.
        setStore((s) => (s === created ? null : s));
      }
    };
    // `options` is read through `key` (its value); `wasm` matters only for the first init().
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  // Errors that make the provider useless (the module cannot load, invalid options) go to the nearest error
  // boundary, as a constructor's throw would.
  if (failure) throw failure;
  return createElement(AuthContext.Provider, { value: store }, children);
}

/** `{ status, claims, expiresAt, error, client }` of the nearest <AuthProvider>; re-renders on change.
 * @returns {AuthState} */
export function useAuth() {
  const store = useContext(AuthContext);
  if (store === undefined) throw new Error('useAuth() must be called inside <AuthProvider>');
  const live = store && !store.disposed ? store : null;
  const snapshot = useSyncExternalStore(
    live ? live.subscribe : noSubscription,
    live ? live.getSnapshot : startingSnapshot,
    // Server rendering and hydration: no client exists there yet.
    startingSnapshot,
  );
  const client = live ? live.client : null;
  return useMemo(() => ({ ...snapshot, client }), [snapshot, client]);
}
