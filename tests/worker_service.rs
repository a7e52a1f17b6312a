//! The worker suite in a service worker (headless Chromium and Firefox, and WebKitGTK).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_service_worker);

mod common;
mod worker_suite;
