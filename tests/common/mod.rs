//! Helpers shared by the browser and worker test suites.
#![allow(dead_code)]

use authbridge::web::{AuthClient, ZeroOnFree};
use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The tests run as the npm package does, with freed memory wiped (the crate sets no allocator of its own: this is
/// the opt-in a Rust app writes). `a_dropped_rust_future_leaves_no_token_in_wasm_memory` relies on it.
#[global_allocator]
static ALLOCATOR: ZeroOnFree<std::alloc::System> = ZeroOnFree::new(std::alloc::System);

pub const POINT_SEED: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwb2ludHwtb1BIbllUaEc2NFVGX0ZCMV8yNmwiLCJpYXQiOjE2NDUxMzc2MDcsImV4cCI6MTY0NTE0MTIwN30.8eIpFc01hpj0Mid325kvJlouQi8aLTBw93q3whwRtpM";

#[wasm_bindgen(inline_js = r#"
export function stubFetch(passPrefix) {
  const real = globalThis.fetch;
  const seen = [];
  globalThis.fetch = (input, init) => {
    const req = new Request(input, init);
    if (req.url.startsWith(passPrefix)) return real(input, init);
    seen.push([req.url, req.headers.get('authorization'), req.headers.get('x-auth-token')]);
    return Promise.resolve(new Response('{}'));
  };
  return { seen, restore() { globalThis.fetch = real; } };
}
export function jsonOf(response) { return response.json(); }
export function statusOf(response) { return response.status; }
export function stats(bridge, key) { return fetch(`${bridge}/stats?key=${key}`).then((r) => r.json()); }
export function post(url) { return fetch(url, { method: 'POST' }); }
export function allSettled(promises) { return Promise.all(promises); }
export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
export function storageItem(kind, key) { return globalThis[kind].getItem(key); }
export function setStorageItem(kind, key, value) { globalThis[kind].setItem(key, value); }
// Whether the wasm `memory` holds the UTF-8 bytes of `needle` (a JS string: the test never copies it into wasm).
export function memoryHolds(memory, needle) {
  const bytes = new Uint8Array(memory.buffer), n = new TextEncoder().encode(needle);
  outer: for (let i = bytes.indexOf(n[0]); i >= 0 && i <= bytes.length - n.length; i = bytes.indexOf(n[0], i + 1)) {
    for (let j = 1; j < n.length; j++) if (bytes[i + j] !== n[j]) continue outer;
    return true;
  }
  return false;
}
"#)]
extern "C" {
    pub type Stub;
    #[wasm_bindgen(js_name = stubFetch)]
    pub fn stub_fetch(pass_prefix: &str) -> Stub;
    #[wasm_bindgen(method, getter)]
    pub fn seen(this: &Stub) -> Array;
    #[wasm_bindgen(method)]
    pub fn restore(this: &Stub);
    #[wasm_bindgen(js_name = jsonOf)]
    pub fn json_of(response: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = statusOf)]
    pub fn status_of(response: &JsValue) -> u16;
    pub fn stats(bridge: &str, key: &str) -> Promise;
    pub fn post(url: &str) -> Promise;
    #[wasm_bindgen(js_name = allSettled)]
    pub fn all(promises: &Array) -> Promise;
    pub fn sleep(ms: u32) -> Promise;
    #[wasm_bindgen(js_name = storageItem)]
    pub fn storage_item(kind: &str, key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = setStorageItem)]
    pub fn set_storage_item(kind: &str, key: &str, value: &str);
    #[wasm_bindgen(js_name = memoryHolds)]
    pub fn memory_holds(memory: &JsValue, needle: &JsValue) -> bool;
}

pub fn bridge() -> &'static str {
    option_env!("AUTHBRIDGE_TEST_BRIDGE").expect("run through tests/support/with-bridge.mjs (make test)")
}

pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

pub fn field(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

pub fn code_of(e: &JsValue) -> String {
    field(e, "code").as_string().unwrap_or_default()
}

/// A promise, or a method's `Result<Promise, _>` (the methods throw synchronously once the client is freed).
pub trait Awaitable {
    fn promise(self) -> Promise;
}
impl Awaitable for Promise {
    fn promise(self) -> Promise {
        self
    }
}
impl Awaitable for Result<Promise, JsValue> {
    fn promise(self) -> Promise {
        self.unwrap_or_else(|e| Promise::reject(&e))
    }
}

pub async fn wait(p: impl Awaitable) -> Result<JsValue, JsValue> {
    let p = p.promise();
    JsFuture::from(p).await
}

pub fn key(name: &str) -> String {
    format!("{name}-{}", js_sys::Math::random().to_bits())
}

pub fn client(scenario: &str, key: &str, extra: &[(&str, JsValue)]) -> AuthClient {
    let origins = Array::of1(&bridge().into());
    let mut pairs = vec![
        ("tokenUrl", JsValue::from(format!("{}/token/{scenario}?key={key}", bridge()))),
        ("apiOrigins", origins.into()),
        ("storageKey", JsValue::from(key)),
    ];
    pairs.extend(extra.iter().cloned());
    AuthClient::new(obj(&pairs)).expect("valid options")
}
