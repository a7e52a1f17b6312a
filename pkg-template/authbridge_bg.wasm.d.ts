// Types of the `authbridge/authbridge_bg.wasm` subpath. What importing a .wasm file yields is up to the bundler or
// runtime: a URL string (webpack `asset/resource`, esbuild's `file` loader, Vite's `?url`), the bytes (esbuild's
// `binary` loader) or a compiled `WebAssembly.Module` (Cloudflare Workers). Each is something `init()` takes:
//
//   import init from 'authbridge';
//   import wasm from 'authbridge/authbridge_bg.wasm';
//   await init({ module_or_path: wasm });
//
// The module's own exports are not meant to be imported (they need the glue in authbridge.js), so none are declared.
import type { InitInput } from './authbridge.js';

declare const wasm: InitInput;
export default wasm;
