// Node 20+: the module is compiled from the package directory at import, so `init()` is not needed.
import { readFileSync } from 'node:fs';
import { initSync } from './authbridge.js';

initSync({ module: readFileSync(new URL('./bindgen/authbridge_bg.wasm', import.meta.url)) });

export * from './authbridge.js';
export { default } from './authbridge.js';
