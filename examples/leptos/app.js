// Boots the Leptos app (built with cargo and the wasm-bindgen CLI into pkg/; see README.md).
import init from './pkg/authbridge_leptos.js';
await init();
