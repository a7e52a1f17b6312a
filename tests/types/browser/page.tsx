// A browser app: DOM types (Request, URL, Response, WebAssembly), a bundler's .wasm import, and authbridge/react.
import init, { AuthClient, initSync, type AuthClientOptions, type InitInput } from 'authbridge';
import { AuthProvider, useAuth, type AuthProviderProps, type AuthState } from 'authbridge/react';
import wasmUrl from 'authbridge/authbridge_bg.wasm';
// Vite's way (typed by vite/client's `*?url`, see vite-env.d.ts): the emitted file's URL.
import viteWasmUrl from 'authbridge/authbridge_bg.wasm?url';
import { explain } from '../shared/api.ts';

export async function boot(): Promise<AuthClient> {
  // What a bundler hands over for the .wasm subpath goes straight to init().
  await init({ module_or_path: wasmUrl });
  await init({ module_or_path: viteWasmUrl });
  const fromDom: InitInput[] = [
    new URL('authbridge_bg.wasm', import.meta.url),
    'authbridge_bg.wasm',
    new Request('authbridge_bg.wasm'),
    await fetch('authbridge_bg.wasm'),
    new Uint8Array(8),
    await WebAssembly.compile(new Uint8Array(8)),
  ];
  await init({ module_or_path: fetch('authbridge_bg.wasm') });
  initSync({ module: await WebAssembly.compile(new Uint8Array(8)) });
  void fromDom;

  const auth = new AuthClient({ tokenUrl: '/auth/token', apiOrigins: ['https://api.example.com'], storage: 'local' });
  await auth.fetch(new Request('https://api.example.com/v1/me', { method: 'PUT', body: 'x' }));
  await auth.fetch(new URL('https://api.example.com/v1/me'), { credentials: 'omit', signal: AbortSignal.timeout(1000) });
  await auth.fetch('https://api.example.com/v1/me', { body: new FormData() });
  // Without esnext.disposable in `lib`, [Symbol.dispose] is not declared (and `using` would not compile).
  // @ts-expect-error Symbol.dispose is not in this project's lib
  auth[Symbol.dispose]();
  return auth;
}

function Account() {
  const state: AuthState = useAuth();
  if (state.status === 'starting') return <p>…</p>;
  if (state.status === 'signedOut') return <a href="/login">{state.error ? explain(state.error.code) : 'Sign in'}</a>;
  const sub: unknown = state.claims?.sub;
  return (
    <button type="button" onClick={() => void state.client?.signOut()}>
      {String(sub)} ({state.expiresAt === null ? 'no expiry' : new Date(state.expiresAt).toISOString()})
    </button>
  );
}

const options: AuthClientOptions = { tokenUrl: '/auth/token', apiOrigins: ['https://api.example.com'] };

export function App() {
  return (
    <AuthProvider options={options} wasm={new URL('authbridge_bg.wasm', import.meta.url)}>
      <Account />
    </AuthProvider>
  );
}

export const props: AuthProviderProps = { options, wasm: Promise.resolve(wasmUrl) };

export function Misuse() {
  // @ts-expect-error options are required
  const a = <AuthProvider><Account /></AuthProvider>;
  // @ts-expect-error unknown option key
  const b = <AuthProvider options={{ tokenUrl: '/t', apiOrigins: [], autorefresh: true }} />;
  const state = useAuth();
  // @ts-expect-error wrong status literal
  const c = state.status === 'signed_in';
  return [a, b, c];
}
