import type { ReactElement, ReactNode } from 'react';
import type { AuthClient, AuthClientOptions, AuthSnapshot, InitInput } from './authbridge.js';

/**
 * What `useAuth()` returns: the client's snapshot (`status`, `claims`, `expiresAt`, `error`) and the client itself,
 * `null` until the module is loaded and the client exists (the status is then `'starting'`). Never a freed client.
 */
export interface AuthState extends AuthSnapshot {
  readonly client: AuthClient | null;
}

export interface AuthProviderProps {
  /**
   * The client's options, compared by value (a JSON serialisation with sorted keys): a new object with the same
   * content does not recreate the client; a different value frees the old client and starts a new one.
   */
  options: AuthClientOptions;
  /**
   * What `init({ module_or_path })` takes, for bundlers that do not emit `authbridge_bg.wasm` themselves
   * (e.g. the URL of a copy). Read only by the first `init()` of the page.
   */
  wasm?: InitInput | Promise<InitInput>;
  children?: ReactNode;
}

/**
 * Loads the module, then creates and starts one `AuthClient` while mounted; frees it on unmount. If the module
 * cannot load or the options are invalid, it throws to the nearest error boundary.
 */
export function AuthProvider(props: AuthProviderProps): ReactElement;

/**
 * The nearest `<AuthProvider>`'s state, through `useSyncExternalStore`.
 * @throws {Error} when called outside an `<AuthProvider>`.
 */
export function useAuth(): AuthState;
