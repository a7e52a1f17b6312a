// esbuild does not follow `new URL(…, import.meta.url)`: import the .wasm with `loader: { '.wasm': 'file' }`
// (which copies it to the output and gives its path relative to the bundle) and pass its URL to init().
import init from 'authbridge';
import wasmPath from 'authbridge/authbridge_bg.wasm';
import { run } from './app.js';

run(() => init({ module_or_path: new URL(wasmPath, import.meta.url) }));
