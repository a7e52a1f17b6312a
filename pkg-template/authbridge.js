// The package's entry. It re-exports wasm-bindgen's glue, says "call init() first" instead of the glue's TypeError
// when an export is used before the module is loaded, and adds the two helpers that need no wasm: isAuthError() and
// version(). scripts/build-pkg.mjs bundles it with the glue and the glue's JS snippets into one file (pkg/authbridge.js
// over the universal build, pkg/browser.js over the browser build); the .wasm is in bindgen/ (bindgen-browser/).
import initGlue, * as glue from './bindgen/authbridge.js';

// Whether init() or initSync() of this module has loaded the wasm module.
let initialized = false;

function assertInitialized() {
  if (initialized) return;
  const e = new Error('authbridge is not initialised: call init() first (await init(), or initSync({ module }) with the .wasm bytes); the Node, Deno and workerd entries do it for you');
  e.name = 'AuthbridgeError';
  e.code = 'not_initialized';
  throw e;
}

/** Loads the wasm module (bindgen/authbridge_bg.wasm, or bindgen-browser/authbridge_bg.wasm in the browser build, unless told otherwise); a second call returns the same instance. */
export default async function init(moduleOrPath) {
  const exports = await initGlue(moduleOrPath);
  initialized = true;
  return exports;
}

/** Instantiates the wasm module synchronously from its bytes or a compiled module. */
export function initSync(module) {
  const exports = glue.initSync(module);
  initialized = true;
  return exports;
}

// wasm-bindgen's class itself (its prototype, `instanceof`, statics): only `new` is checked first.
export const AuthClient = new Proxy(glue.AuthClient, {
  construct(target, args, newTarget) {
    assertInitialized();
    return Reflect.construct(target, args, newTarget);
  },
});

export function decodeJwt(token) {
  assertInitialized();
  return glue.decodeJwt(token);
}

export function decodeJwtHeader(token) {
  assertInitialized();
  return glue.decodeJwtHeader(token);
}

export function parseTokenResponse(json, format) {
  assertInitialized();
  return glue.parseTokenResponse(json, format);
}

/** An Error (of this realm) named AuthbridgeError with a string `code`; false if reading them throws. */
export function isAuthError(value) {
  try {
    return value instanceof Error && value.name === 'AuthbridgeError' && typeof value.code === 'string';
  } catch {
    return false;
  }
}

/** The package's version (the crate's). */
export function version() {
  return VERSION;
}

// Written by scripts/build-pkg.mjs from Cargo.toml.
const VERSION = '0.0.0';
