// Vite, webpack and Rollup (with @web/rollup-plugin-import-meta-assets) emit authbridge_bg.wasm themselves:
// the default init() finds it through `new URL('authbridge_bg.wasm', import.meta.url)`.
import init from 'authbridge';
import { run } from './app.js';

run(() => init());
