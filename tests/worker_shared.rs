//! The worker suite in a shared worker (headless Chromium and Firefox, and WebKitGTK).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_shared_worker);

mod common;
mod worker_suite;
