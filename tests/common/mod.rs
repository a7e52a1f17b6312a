//! Helpers shared by the browser and worker test suites.
#![allow(dead_code)]

use authbridge::web::{AuthClient, ZeroOnFree};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, Response, Storage};

/// The tests run as the npm package does, with freed memory wiped (the crate sets no allocator of its own: this is
/// the opt-in a Rust app writes). `a_dropped_rust_future_leaves_no_token_in_wasm_memory` relies on it.
#[global_allocator]
static ALLOCATOR: ZeroOnFree<std::alloc::System> = ZeroOnFree::new(std::alloc::System);

pub const POINT_SEED: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwb2ludHwtb1BIbllUaEc2NFVGX0ZCMV8yNmwiLCJpYXQiOjE2NDUxMzc2MDcsImV4cCI6MTY0NTE0MTIwN30.8eIpFc01hpj0Mid325kvJlouQi8aLTBw93q3whwRtpM";

// The suites' helpers are Rust over js-sys and web-sys: the crate's rule that JavaScript lives in checked `.js` files
// holds for the tests too, and these need none.

fn global_get(name: &str) -> JsValue {
    Reflect::get(&js_sys::global(), &name.into()).expect("a global of the test page or worker")
}

/// `new globalThis[class](...args)`.
fn construct(class: &str, args: &Array) -> Result<JsValue, JsValue> {
    let class: Function = global_get(class).dyn_into()?;
    Reflect::construct(&class, args)
}

fn call(target: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &method.into())?.dyn_into()?;
    f.apply(target, &args.iter().copied().collect::<Array>())
}

/// The global `fetch` replaced until [`Stub::restore`] (or the stub's drop): each request outside `pass_prefix` (the
/// test bridge, which goes to the real `fetch`) is answered `{}` and recorded in [`Stub::seen`] as `[url,
/// authorization, x-auth-token]`, a header the request lacks as `null`.
pub struct Stub {
    seen: Array,
    real: JsValue,
    _fetch: Closure<dyn FnMut(JsValue, JsValue) -> Result<JsValue, JsValue>>,
}

pub fn stub_fetch(pass_prefix: &str) -> Stub {
    let real = global_get("fetch");
    let seen = Array::new();
    let (to_real, record, prefix) = (real.clone(), seen.clone(), pass_prefix.to_owned());
    let fetch: Closure<dyn FnMut(JsValue, JsValue) -> Result<JsValue, JsValue>> =
        Closure::new(move |input: JsValue, init: JsValue| {
            // What fetch itself would make of its arguments (a string, a URL or a Request, and the init).
            let request: Request = construct("Request", &Array::of2(&input, &init))?.dyn_into()?;
            if request.url().starts_with(&prefix) {
                return to_real.unchecked_ref::<Function>().call2(&js_sys::global(), &input, &init);
            }
            let header = |name: &str| request.headers().get(name).ok().flatten().map_or(JsValue::NULL, JsValue::from);
            record.push(&Array::of3(&request.url().into(), &header("authorization"), &header("x-auth-token")));
            Ok(Promise::resolve(&Response::new_with_opt_str(Some("{}"))?).into())
        });
    Reflect::set(&js_sys::global(), &"fetch".into(), fetch.as_ref()).expect("fetch replaced");
    Stub { seen, real, _fetch: fetch }
}

impl Stub {
    pub fn seen(&self) -> Array {
        self.seen.clone()
    }
    pub fn restore(&self) {
        Reflect::set(&js_sys::global(), &"fetch".into(), &self.real).expect("fetch restored");
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.restore();
    }
}

pub fn json_of(response: &JsValue) -> Promise {
    response.unchecked_ref::<Response>().json().unwrap_or_else(|e| Promise::reject(&e))
}

pub fn status_of(response: &JsValue) -> u16 {
    response.unchecked_ref::<Response>().status()
}

fn fetch_with(url: &str, init: &JsValue) -> Promise {
    call(&js_sys::global(), "fetch", &[&url.into(), init])
        .map_or_else(|e| Promise::reject(&e), Promise::unchecked_from_js)
}

/// What the test bridge saw for `key` (its `/stats`), parsed.
pub fn stats(bridge: &str, key: &str) -> Promise {
    let response = fetch_with(&format!("{bridge}/stats?key={key}"), &JsValue::UNDEFINED);
    wasm_bindgen_futures::future_to_promise(
        async move { JsFuture::from(json_of(&JsFuture::from(response).await?)).await },
    )
}

pub fn post(url: &str) -> Promise {
    fetch_with(url, &obj(&[("method", "POST".into())]))
}

pub fn sleep(ms: u32) -> Promise {
    Promise::new(&mut |resolve, _| {
        call(&js_sys::global(), "setTimeout", &[&resolve.into(), &ms.into()]).expect("setTimeout");
    })
}

/// `kind` (`sessionStorage` or `localStorage`) of the page.
fn web_storage(kind: &str) -> Storage {
    global_get(kind).dyn_into().expect("Web Storage in the test page")
}

pub fn storage_item(kind: &str, key: &str) -> Option<String> {
    web_storage(kind).get_item(key).expect("readable")
}

pub fn set_storage_item(kind: &str, key: &str, value: &str) {
    web_storage(kind).set_item(key, value).expect("writable");
}

/// Whether wasm `memory` holds the UTF-8 bytes of the JS string `needle`. The needle is encoded on the JavaScript side
/// and read one byte at a time, never as a whole: copying it into wasm memory would put there what the test looks for.
pub fn memory_holds(memory: &JsValue, needle: &JsValue) -> bool {
    let bytes = Uint8Array::new(&Reflect::get(memory, &"buffer".into()).expect("a WebAssembly.Memory"));
    let encoder = construct("TextEncoder", &Array::new()).expect("TextEncoder");
    let n: Uint8Array = call(&encoder, "encode", &[needle]).expect("encoded").unchecked_into();
    let (len, first) = (n.length(), n.get_index(0));
    let mut from = 0;
    loop {
        let Ok(at) = u32::try_from(bytes.index_of(first, from)) else { return false };
        if at + len > bytes.length() {
            return false;
        }
        if (1..len).all(|j| bytes.get_index(at + j) == n.get_index(j)) {
            return true;
        }
        from = at as i32 + 1;
    }
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
