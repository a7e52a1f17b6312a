// Cloudflare workerd: the runtime hands over the .wasm as a compiled module (a CompiledWasm import), which is
// instantiated synchronously at import. `init()` is not needed.
import module from './bindgen/authbridge_bg.wasm';
import { initSync } from './authbridge.js';

initSync({ module });

export * from './authbridge.js';
export { default } from './authbridge.js';
