// What every project checks: the whole public API as an application uses it, plus misuse that must not compile.
// Included by browser/, node/ and workers/, so it compiles against the DOM, @types/node and workers-types alike.
import init, {
  AuthClient, decodeJwt, decodeJwtHeader, initSync, isAuthError, parseTokenResponse, version,
  type AuthClientOptions, type AuthError, type AuthErrorCode, type AuthSnapshot, type InitInput, type InitOutput,
  type JwtClaims, type JwtHeader, type ParsedTokenResponse, type SignedOutEvent, type SyncInitInput, type TokenEvent,
  type TokenFormat,
} from 'authbridge';

// Every option: `Required` makes a new option in AuthClientOptions fail here until this test sets it too.
export const allOptions: Required<AuthClientOptions> = {
  tokenUrl: 'https://app.example.com/auth/token',
  revokeUrl: 'https://app.example.com/auth/token',
  apiOrigins: ['https://api.example.com'],
  format: { token: '/result/jwt', expiresIn: '/result/ttl', expiresAt: '/result/exp' },
  header: 'X-Auth-Token',
  storage: 'memory',
  storageKey: 'app.token',
  credentials: 'same-origin',
  bridgeHeaders: { 'X-CSRF-Token': 'csrf' },
  refreshMargin: 30,
  autoRefresh: false,
  bridgeTimeout: 5,
};
export const formats: TokenFormat[] = ['auto', 'oauth2', 'point', 'wazo', 'static', { token: '/t' }];
export const storages: NonNullable<AuthClientOptions['storage']>[] = ['session', 'local', 'memory'];
export const credentials: NonNullable<AuthClientOptions['credentials']>[] = ['omit', 'same-origin', 'include'];

/** Exhaustive: a code added to or removed from AuthErrorCode fails to compile here. */
export function explain(code: AuthErrorCode): string {
  switch (code) {
    case 'invalid_token': return 'not a JWT';
    case 'invalid_response': return 'the bridge answered something else than a token';
    case 'refresh_rejected': return 'no session';
    case 'network': return 'offline?';
    case 'bridge_unavailable': return 'the bridge is down';
    case 'timeout': return 'the bridge is slow';
    case 'signed_out': return 'signed out';
    case 'invalid_config': return 'a bug in the options';
    case 'freed': return 'used after free()';
    case 'not_initialized': return 'init() first';
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}

export function tokenSource(e: TokenEvent): 1 | 2 | 3 {
  switch (e.source) {
    case 'bridge': return 1;
    case 'storage': return 2;
    case 'peer': return 3;
    default: { const unreachable: never = e.source; return unreachable; }
  }
}

export function signedOutReason(e: SignedOutEvent): string {
  switch (e.reason) {
    case 'signOut': return 'you signed out';
    case 'rejected': return 'your session ended';
    case 'peer': return 'signed out in another tab';
    default: { const unreachable: never = e.reason; return unreachable; }
  }
}

export function label(s: AuthSnapshot): string {
  switch (s.status) {
    case 'starting': return '…';
    case 'signedIn': return s.claims?.sub ?? 'signed in';
    case 'signedOut': return s.error ? explain(s.error.code) : 'sign in';
    default: { const unreachable: never = s.status; return unreachable; }
  }
}

export async function useClient(): Promise<void> {
  const auth = new AuthClient({ tokenUrl: 'https://app.example.com/auth/token', apiOrigins: ['https://api.example.com'] });
  const everything = new AuthClient(allOptions);
  everything.free();

  const offToken = auth.on('token', (e) => {
    const source: 'bridge' | 'storage' | 'peer' = e.source;
    const expiresAt: number | null = e.expiresAt;
    const header: string = e.header;
    void [source, expiresAt, header, tokenSource(e)];
  });
  const offSignedOut = auth.on('signedOut', (e) => { void signedOutReason(e); });
  const offError = auth.on('error', (e) => {
    const err: AuthError = e;
    const code: AuthErrorCode = err.code;
    const status: number | undefined = err.status;
    const bridgeError: string | undefined = err.bridgeError;
    const cause: unknown = err.cause;
    const name: 'AuthbridgeError' = err.name;
    const message: string = err.message;
    void [code, status, bridgeError, cause, name, message];
  });
  offToken(); offSignedOut(); offError();

  const unsubscribe: () => void = auth.subscribe(() => { void label(auth.getSnapshot()); });
  const snap: AuthSnapshot = auth.getSnapshot();
  const status: 'starting' | 'signedIn' | 'signedOut' = snap.status;
  const snapClaims: Readonly<JwtClaims> | null = snap.claims;
  const snapExpiry: number | null = snap.expiresAt;
  const snapError: AuthError | null = snap.error;
  void [status, snapClaims, snapExpiry, snapError];
  unsubscribe();

  const signedIn: boolean = await auth.start();
  const token: string = await auth.accessToken();
  const refreshed: string = await auth.refresh();
  const res: Response = await auth.fetch('https://api.example.com/v1/me');
  const res2: Response = await auth.fetch(new URL('https://api.example.com/v1/me'), { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  const claims: JwtClaims | null = auth.claims();
  const exp: number | null = auth.expiresAt();
  const next: number | null = auth.nextRefreshAt();
  void [signedIn, token, refreshed, res, res2, claims, exp, next];
  auth.stop();
  await auth.signOut();
  auth.free();
  auth.free();

  try {
    auth.getSnapshot();
  } catch (e) {
    if (isAuthError(e)) {
      const code: AuthErrorCode = e.code;
      void code;
      // @ts-expect-error 'storage' is no longer a code
      if (e.code === 'storage') throw e;
    }
    // @ts-expect-error `e` is unknown until isAuthError narrows it
    void e.code;
  }
}

export function helpers(): void {
  const claims: JwtClaims = decodeJwt('a.b.c');
  const sub: string | undefined = claims.sub;
  const aud: string | string[] | undefined = claims.aud;
  const custom: unknown = claims['https://example.com/roles'];
  const header: JwtHeader = decodeJwtHeader('a.b.c');
  const alg: string | undefined = header.alg;
  const parsed: ParsedTokenResponse = parseTokenResponse('{"access_token":"x"}');
  // `format` is optional, not merely `| undefined`: a one-element argument list is a valid one.
  const oneArgument: Parameters<typeof parseTokenResponse> = ['{"access_token":"x"}'];
  const parsedObject: ParsedTokenResponse = parseTokenResponse({ access_token: 'x' });
  const parsedWithFormat: ParsedTokenResponse = parseTokenResponse({ token: 'x' }, 'static');
  const parsedCustom: ParsedTokenResponse = parseTokenResponse({ r: { t: 'x' } }, { token: '/r/t' });
  const format: 'oauth2' | 'point' | 'wazo' | 'static' | 'custom' = parsed.format;
  const v: string = version();
  void [sub, aud, custom, alg, parsedObject, parsedWithFormat, parsedCustom, format, v, oneArgument];
}

// init and initSync as wasm-bindgen generates them (rewritten by build-pkg.mjs to compile everywhere).
export async function loading(bytes: ArrayBuffer, view: Uint8Array, url: URL): Promise<void> {
  const a: InitOutput = await init();
  const b: InitOutput = await init({ module_or_path: url });
  const c: InitOutput = await init({ module_or_path: 'https://cdn.example.com/authbridge_bg.wasm' });
  const d: InitOutput = await init({ module_or_path: Promise.resolve(bytes) });
  const e: InitOutput = initSync({ module: view });
  const f: InitOutput = initSync({ module: bytes });
  const input: InitInput = bytes;
  const syncInput: SyncInitInput = view;
  const memory = a.memory;
  void [b, c, d, e, f, input, syncInput, memory];
}

// Misuse that must not compile.
export function misuse(auth: AuthClient): void {
  // @ts-expect-error unknown option key (the runtime refuses it too)
  new AuthClient({ tokenUrl: '/t', apiOrigins: ['https://api.example.com'], autorefresh: true });
  // @ts-expect-error apiOrigins is required
  new AuthClient({ tokenUrl: '/t' });
  // @ts-expect-error not a storage
  new AuthClient({ tokenUrl: '/t', apiOrigins: [], storage: 'cookie' });
  // @ts-expect-error not a credentials mode
  new AuthClient({ tokenUrl: '/t', apiOrigins: [], credentials: 'includes' });
  // @ts-expect-error not a format
  new AuthClient({ tokenUrl: '/t', apiOrigins: [], format: 'jwt' });
  // @ts-expect-error wrong event name
  auth.on('tokens', () => {});
  // @ts-expect-error a signedOut event has no source
  auth.on('signedOut', (e) => e.source);
  // @ts-expect-error subscribe's listener gets no event
  auth.subscribe((e: TokenEvent) => e);
  const snap = auth.getSnapshot();
  // @ts-expect-error wrong status literal
  if (snap.status === 'signedin') return;
  // @ts-expect-error the snapshot is read-only
  snap.status = 'signedIn';
  // @ts-expect-error decodeJwt takes a string
  decodeJwt(42);
  // @ts-expect-error not a format
  parseTokenResponse('{}', 'jwt');
  // @ts-expect-error AuthError is not a class: test with isAuthError()
  if (snap.error instanceof AuthError) return;
}
