// The npm package's authbridge.d.ts: the declarations of its entry (pkg-template/authbridge.js), written by hand
// (wasm-bindgen's own, generated from the Rust signatures, would name DOM-only types; the package is built without
// them). It must type-check under `tsc --strict` with `skipLibCheck: false` in a browser project (lib dom), a Node
// project (@types/node, no dom) and a Cloudflare Workers project (@cloudflare/workers-types, no dom): tests/types/
// checks all three. So it names only globals those three share (`Request`, `Response`, `RequestInit`, `URL`,
// `Error`, `Promise`) and defines the rest below. tests/js/types.test.mjs checks it against the emitted values.

/** Stable error codes carried by every error authbridge throws or emits, as `error.code` (errors of the API request itself in `AuthClient.fetch` are `fetch()`'s own). */
export type AuthErrorCode =
  | 'invalid_token' | 'invalid_response' | 'refresh_rejected' | 'network' | 'bridge_unavailable' | 'timeout'
  | 'signed_out' | 'invalid_config' | 'freed' | 'not_initialized';

/**
 * An `Error` with a stable `code` and `name === 'AuthbridgeError'`. Test for one with {@link isAuthError}.
 *
 * - `invalid_token`: `decodeJwt`/`decodeJwtHeader` were given something that is not a JWT.
 * - `invalid_response`: the bridge's answer is not a usable token response (or `parseTokenResponse` says so), or it
 *   is a redirect (bridge calls follow none: the message names the status and the target's origin).
 * - `refresh_rejected`: the bridge answered 401/403; `status` and `bridgeError` say how.
 * - `network`: the bridge could not be reached (`cause`: the fetch's error).
 * - `bridge_unavailable`: the bridge answered another error status (`status`), after the retries; from `signOut()`,
 *   the bridge did not confirm the sign-out.
 * - `timeout`: the bridge did not answer within `bridgeTimeout` (`cause`: the abort's reason).
 * - `signed_out`: a token was asked for after a sign-out or a refusal.
 * - `invalid_config`: an option or an argument is wrong.
 * - `freed`: the client was `free()`d.
 * - `not_initialized`: an export was called before `init()`/`initSync()` loaded the module.
 */
export interface AuthError extends Error {
  readonly name: 'AuthbridgeError';
  readonly code: AuthErrorCode;
  /** The JavaScript error behind a `network` or `timeout` error, when there was one. */
  readonly cause?: unknown;
  /** `refresh_rejected`: the bridge's HTTP status (401 or 403); `bridge_unavailable`: the error status it answered. */
  readonly status?: number;
  /** `refresh_rejected`: the `error` member of the bridge's JSON body, when it sent a short one (e.g. `'csrf'`). */
  readonly bridgeError?: string;
}

/** `true` for an error authbridge threw or emitted (from any realm): narrows `unknown` to {@link AuthError}. */
export function isAuthError(e: unknown): e is AuthError;

/** The crate version, for bug reports. */
export function version(): string;

/** JWT claims: registered claims typed, any other claim kept as parsed JSON. */
export interface JwtClaims {
  iss?: string; sub?: string; aud?: string | string[];
  exp?: number; nbf?: number; iat?: number; jti?: string;
  [claim: string]: unknown;
}

/** A JOSE header. */
export interface JwtHeader {
  alg?: string; typ?: string; kid?: string; cty?: string;
  [param: string]: unknown;
}

/** A response format with RFC 6901 JSON pointers to its fields. */
export interface CustomTokenFormat {
  /** Pointer to the token string, e.g. `/result/jwt`. */
  token: string;
  /** Pointer to a lifetime in seconds. */
  expiresIn?: string;
  /** Pointer to an absolute expiry: an ISO 8601 string or epoch seconds. */
  expiresAt?: string;
}

export type TokenFormat = 'auto' | 'oauth2' | 'point' | 'wazo' | 'static' | CustomTokenFormat;

/** What `parseTokenResponse` reads from a bridge response. A refresh token is never part of it. */
export interface ParsedTokenResponse {
  token: string;
  /** Epoch milliseconds, or `null` for tokens that do not expire. */
  expiresAt: number | null;
  scopes: string[];
  /** `'Authorization'` (sent as `Bearer <token>`) or `'X-Auth-Token'` (sent bare). */
  header: string;
  format: 'oauth2' | 'point' | 'wazo' | 'static' | 'custom';
}

/** Options of `new AuthClient(options)`. Any other key is refused with `invalid_config`. */
export interface AuthClientOptions {
  /** The bridging backend's token endpoint: `POST` returns a token response. Absolute outside pages and workers. */
  tokenUrl: string;
  /** `DELETE` on sign-out; defaults to `tokenUrl`. */
  revokeUrl?: string;
  /** The only origins (scheme, host, port) that ever receive the token, e.g. `['https://api.example.com']`; at least one. */
  apiOrigins: string[];
  /** How to read the bridge's response; default `'auto'`. */
  format?: TokenFormat;
  /** Header that carries the token; default from the format: `Authorization` (Bearer) or `X-Auth-Token`. */
  header?: string;
  /** Where the access token is kept; default `'session'`, `'memory'` where Web Storage does not exist. */
  storage?: 'session' | 'local' | 'memory';
  /** Storage key; default `'authbridge.'` followed by a digest of `tokenUrl`, `apiOrigins`, `header` and `format`. */
  storageKey?: string;
  /** `credentials` of bridge calls; default `'include'` in pages and workers, unset on server runtimes. */
  credentials?: 'omit' | 'same-origin' | 'include';
  /** Extra headers for bridge calls (a CSRF header, or a server-held key in an edge worker). */
  bridgeHeaders?: Record<string, string>;
  /** Seconds before expiry to refresh (0 to 86400); default a fifth of the lifetime, at most 5 minutes. */
  refreshMargin?: number;
  /** Refresh on timers (default in pages and workers) or only lazily on access (default on edge runtimes). */
  autoRefresh?: boolean;
  /** Seconds to wait for the bridge (above 0, at most 600); default 10. */
  bridgeTimeout?: number;
}

export interface TokenEvent {
  /** Where the token came from: the bridge, Web Storage (`start()` restored it, or another tab wrote it), or another tab or worker. */
  source: 'bridge' | 'storage' | 'peer';
  /** Epoch milliseconds, or `null` for tokens that do not expire. */
  expiresAt: number | null;
  /** The header the token is sent in. */
  header: string;
}

export interface SignedOutEvent {
  /** `'signOut'`: `signOut()` was called; `'rejected'`: the bridge answered 401/403; `'peer'`: another tab or worker signed out and the bridge confirmed it. */
  reason: 'signOut' | 'rejected' | 'peer';
}

export interface AuthClientEvents {
  token: TokenEvent;
  signedOut: SignedOutEvent;
  error: AuthError;
}

/**
 * The client's state for UI bindings (`subscribe` + `getSnapshot`, e.g. React's `useSyncExternalStore`). Frozen, and
 * the same object until something changes.
 */
export interface AuthSnapshot {
  /** `'starting'` until the client knows; `'signedOut'` also on a first visit without a session (not an error). */
  readonly status: 'starting' | 'signedIn' | 'signedOut';
  /** The current token's claims (frozen), or `null` for an opaque token or none. */
  readonly claims: Readonly<JwtClaims> | null;
  /** The current token's expiry in epoch milliseconds, or `null`. */
  readonly expiresAt: number | null;
  /** The last failure, cleared by the next token; `null` when none. */
  readonly error: AuthError | null;
}

/**
 * Keeps a page or worker signed in: refreshes short-lived tokens through your bridging backend before they
 * expire, keeps only the access token in storage, and attaches it only to `apiOrigins`.
 *
 * After {@link AuthClient.free} every method but `free()` throws an {@link AuthError} with code `'freed'`.
 */
export class AuthClient {
  /** @throws {AuthError} `invalid_config` when an option is wrong. */
  constructor(options: AuthClientOptions);
  /** Restores a stored token if still valid, else asks the bridge; schedules the refresh. Resolves `false` when the bridge says there is no session. */
  start(): Promise<boolean>;
  /** A token valid for at least the refresh margin; refreshes first if needed. */
  accessToken(): Promise<string>;
  /**
   * Like `fetch()`: the token goes only to `apiOrigins`, refreshed first if needed; one retry after a 401. Rejects
   * with an {@link AuthError} when no token can be had, and with `fetch()`'s own error (a `TypeError`) when the
   * request itself fails.
   */
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
  /** The current token's claims, or `null` for an opaque token or none. */
  claims(): JwtClaims | null;
  /** The current token's expiry in epoch milliseconds, or `null`. */
  expiresAt(): number | null;
  /** When the next refresh is due (epoch ms), or `null` (no expiry, signed out, or retries exhausted). */
  nextRefreshAt(): number | null;
  /** Forces one refresh (joins one in flight); resolves the new token. */
  refresh(): Promise<string>;
  /**
   * `DELETE revokeUrl` with the token, then clears storage and timers and emits `signedOut`. Resolves once the
   * bridge confirmed (2xx); otherwise rejects (`bridge_unavailable` with `status`, `network` or `timeout` with
   * `cause`, `invalid_response` for a redirect) with the local session ended all the same: the bridge's session
   * may live on, so say so and offer to retry.
   */
  signOut(): Promise<void>;
  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof AuthClientEvents>(event: E, listener: (event: AuthClientEvents[E]) => void): () => void;
  /** Calls `listener` (with no argument) whenever {@link AuthClient.getSnapshot} changes; returns the function that unsubscribes. */
  subscribe(listener: () => void): () => void;
  /** The current state: the same frozen object until something changes. */
  getSnapshot(): AuthSnapshot;
  /**
   * Pauses the client: no refresh timer, no reaction to other tabs or to the page's lifecycle; tokens are still
   * refreshed on access, and `start()` resumes. The client stays usable (compare {@link AuthClient.free}).
   */
  stop(): void;
  /**
   * Ends the client for good: timers, listeners and the channel to other tabs go, pending promises reject with
   * `'freed'`, and every later call except `free()` throws an {@link AuthError} with code `'freed'`. Calling it
   * again does nothing. The stored token stays for the next page load. Also `[Symbol.dispose]` (`using`) where
   * the environment has it.
   */
  free(): void;
}

// `[Symbol.dispose]` exists on AuthClient exactly where the runtime has `Symbol.dispose`; it is typed where the
// program's lib has `Disposable` (esnext.disposable, @types/node), and left out elsewhere instead of failing to
// compile. The empty global interface merges with the lib's when there is one (as @cloudflare/workers-types does).
export interface AuthClient extends Disposable {}
declare global {
  interface Disposable {}
}

/** Decodes the claims (part #2) of a JWT without verifying its signature. */
export function decodeJwt(token: string): JwtClaims;

/** Decodes the header (part #1) of a JWT. */
export function decodeJwtHeader(token: string): JwtHeader;

/** Reads a bridge response (JSON text or an already parsed value) the way `AuthClient` does. */
export function parseTokenResponse(json: string | object, format?: TokenFormat): ParsedTokenResponse;

/** Where `init()` finds the module: its URL, a `Request` or `Response` for it, its bytes or a compiled module. */
export type InitInput = Request | string | URL | Response | Bytes | WasmModule;

/** What `initSync()` takes: the module's bytes or a compiled module. */
export type SyncInitInput = Bytes | WasmModule;

export interface InitOutput {
  /** The module's memory (its other exports are internal to the glue). */
  readonly memory: WasmMemory;
}

/**
 * Instantiates the module synchronously from its bytes or a compiled `WebAssembly.Module`. A second call returns
 * the same instance. (Passing `SyncInitInput` directly is deprecated.)
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * Loads the module: by default `authbridge_bg.wasm` next to the glue; a URL, `Request` or `Response` is fetched,
 * bytes or a compiled module are instantiated. A second call returns the same instance. (Passing `InitInput`
 * directly is deprecated.)
 */
export default function init(
  module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<InitOutput>;

/** `ArrayBuffer` or a view of one: the DOM's `BufferSource`, without needing the DOM's types. */
type Bytes = ArrayBuffer | ArrayBufferView;
/** `WebAssembly.Module` where the program's types declare `WebAssembly` (DOM, web workers, Workers, Deno); else nothing: pass bytes. */
type WasmModule = typeof globalThis extends { WebAssembly: { Module: { prototype: infer M } } } ? M : never;
/** `WebAssembly.Memory` where declared, else its shape. */
type WasmMemory = typeof globalThis extends { WebAssembly: { Memory: { prototype: infer M } } } ? M
  : { readonly buffer: ArrayBuffer; grow(delta: number): number };
// Only what is marked `export` is exported (a .d.ts module otherwise exports every top-level declaration).
export {};
