/** Stable error codes carried by every error authbridge throws or emits, as `error.code`. */
export type AuthErrorCode =
  | 'invalid_token' | 'invalid_response' | 'refresh_rejected' | 'network'
  | 'bridge_unavailable' | 'timeout' | 'signed_out' | 'storage' | 'invalid_config';

/** An `Error` with a stable `code` and `name === 'AuthbridgeError'`. */
export interface AuthError extends Error {
  readonly name: 'AuthbridgeError';
  readonly code: AuthErrorCode;
}

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

export interface AuthClientOptions {
  /** The bridging backend's token endpoint: `POST` returns a token response. */
  tokenUrl: string;
  /** `DELETE` on sign-out; defaults to `tokenUrl`. */
  revokeUrl?: string;
  /** The only origins (scheme, host, port) that ever receive the token, e.g. `['https://api.example.com']`. */
  apiOrigins: string[];
  /** How to read the bridge's response; default `'auto'`. */
  format?: TokenFormat;
  /** Header that carries the token; default from the format: `Authorization` (Bearer) or `X-Auth-Token`. */
  header?: string;
  /** Where the access token is kept; default `'session'`, `'memory'` where Web Storage does not exist. */
  storage?: 'session' | 'local' | 'memory';
  /** Storage key; default `'authbridge.'` followed by a digest of `tokenUrl`, `apiOrigins`, `header` and `format`. */
  storageKey?: string;
  /** `credentials` for bridge calls; default `'include'`. */
  credentials?: RequestCredentials;
  /** Extra headers for bridge calls (a CSRF header, or a server-held key in an edge worker). */
  bridgeHeaders?: Record<string, string>;
  /** Seconds before expiry to refresh; default a fifth of the lifetime, at most 5 minutes. */
  refreshMargin?: number;
  /** Refresh on timers (default in pages and workers) or only lazily on access (default on edge runtimes). */
  autoRefresh?: boolean;
  /** Seconds to wait for the bridge; default 10. */
  bridgeTimeout?: number;
}

export interface TokenEvent {
  /** Where the token came from. */
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
 * Keeps a page or worker signed in: refreshes short-lived tokens through your bridging backend before they
 * expire, keeps only the access token in storage, and attaches it only to `apiOrigins`.
 */
export class AuthClient {
  /** @throws {AuthError} `invalid_config` when an option is wrong. */
  constructor(options: AuthClientOptions);
  /** Restores a stored token if still valid, else asks the bridge; schedules the refresh. Resolves `false` when the bridge says there is no session. */
  start(): Promise<boolean>;
  /** A token valid for at least the refresh margin; refreshes first if needed. */
  accessToken(): Promise<string>;
  /** Like `fetch()`: the token goes only to `apiOrigins`, refreshed first if needed; one retry after a 401. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The current token's claims, or `null` for an opaque token or none. */
  claims(): JwtClaims | null;
  /** The current token's expiry in epoch milliseconds, or `null`. */
  expiresAt(): number | null;
  /** When the next refresh is due (epoch ms), or `null` (no expiry, signed out, or retries exhausted). */
  nextRefreshAt(): number | null;
  /** Forces one refresh (joins one in flight); resolves the new token. */
  refresh(): Promise<string>;
  /** `DELETE revokeUrl` with the token, then clears storage and timers and emits `signedOut`. */
  signOut(): Promise<void>;
  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof AuthClientEvents>(event: E, listener: (event: AuthClientEvents[E]) => void): () => void;
  /** Stops the refresh timer; tokens are then refreshed lazily on access. */
  stop(): void;
  /** Releases the client's memory; the client must not be used afterwards. */
  free(): void;
  [Symbol.dispose](): void;
}
