// Deno: read the .wasm from disk when the package is local (npm: or file:), else fetch it. `init()` is not needed.
import init, { initSync } from './authbridge.js';

const url = new URL('./bindgen/authbridge_bg.wasm', import.meta.url);
if (url.protocol === 'file:') {
  initSync({ module: Deno.readFileSync(url) });
} else {
  await init({ module_or_path: url });
}

export * from './authbridge.js';
export { default } from './authbridge.js';
