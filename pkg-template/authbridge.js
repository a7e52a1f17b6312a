// The package's entry. bindgen/ is wasm-bindgen's output as generated (the glue, the .wasm shrunk by wasm-opt, the
// JS snippets): this module re-exports it, says "call init() first" instead of the glue's TypeError when an export
// is used before the module is loaded, and adds the two helpers that need no wasm: isAuthError() and version().
import initGlue, * as glue from './bindgen/authbridge.js';
// The modules the glue imports, imported here too (side-effect free): a browser loading this package unbundled
// then fetches them together with the glue instead of only once it has parsed the glue (one round trip fewer
// before init() can start; bench/RESULTS.md section 5).
// The glue's JS snippets: written by scripts/build-pkg.mjs.

// Whether init() or initSync() of this module has loaded the wasm module.
let initialized = false;

function assertInitialized() {
  if (initialized) return;
  const e = new Error('authbridge is not initialised: call init() first (await init(), or initSync({ module }) with the .wasm bytes); the Node, Deno and workerd entries do it for you');
  e.name = 'AuthbridgeError';
  e.code = 'not_initialized';
  throw e;
}

/** Loads the wasm module (fetched next to bindgen/authbridge.js unless told otherwise); a second call returns the same instance. */
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
