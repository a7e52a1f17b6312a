//! The suite run in a dedicated, a shared and a service worker: no `window`, no Web Storage.

use authbridge::web::{decode_jwt, AuthClient};
use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

use crate::common::*;

#[wasm_bindgen_test]
fn there_is_no_window_here() {
    let global = js_sys::global();
    assert!(Reflect::get(&global, &"window".into()).unwrap().is_undefined());
    assert!(Reflect::get(&global, &"sessionStorage".into()).unwrap().is_undefined());
    assert_eq!(field(&decode_jwt(POINT_SEED.into()).unwrap(), "iat").as_f64(), Some(1_645_137_607.0));
}

#[wasm_bindgen_test]
async fn storage_falls_back_to_memory() {
    for storage in ["session", "local", "memory"] {
        let k = key("worker-store");
        let auth = client("oauth2", &k, &[("storage", storage.into())]);
        assert_eq!(wait(auth.start()).await.unwrap(), JsValue::TRUE, "{storage}");
        let token = wait(auth.access_token()).await.unwrap();
        // A second client on the same key shares no storage here: it asks the bridge again.
        let other = client("oauth2", &k, &[("storage", storage.into())]);
        assert_ne!(wait(other.access_token()).await.unwrap(), token);
        let s = wait(stats(bridge(), &k)).await.unwrap();
        assert_eq!(field(&s, "calls").as_f64(), Some(2.0), "{storage}");
        wait(auth.sign_out()).await.unwrap();
        wait(other.sign_out()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn concurrent_callers_share_one_refresh() {
    let k = key("worker-flight");
    let auth = client("point", &k, &[]);
    let calls = Array::new();
    let url = format!("{}/api/echo?key={k}", bridge());
    for i in 0..300 {
        let p =
            if i % 3 == 0 { auth.access_token() } else { auth.fetch(url.as_str().into(), JsValue::UNDEFINED) }.unwrap();
        calls.push(&p);
    }
    wait(Promise::all(&calls)).await.unwrap();
    let s = wait(stats(bridge(), &k)).await.unwrap();
    assert_eq!(field(&s, "calls").as_f64(), Some(1.0));
    // Lazy refresh is the default without a document? Not in workers: timers run here.
    assert!(!auth.next_refresh_at().unwrap().is_null());
    auth.stop().unwrap();
}

#[wasm_bindgen_test]
async fn fetch_attaches_the_token_only_to_the_allowlist() {
    let k = key("worker-allow");
    let auth: AuthClient = client("wazo", &k, &[("apiOrigins", Array::of1(&"https://api.example.com".into()).into())]);
    let stub = stub_fetch(bridge());
    let token = wait(auth.access_token()).await.unwrap().as_string().unwrap();
    let targets = [
        ("https://api.example.com/a", true),
        ("https://api.example.com.evil.test/b", false),
        ("https://api.example.com:444/c", false),
        ("//api.example.com/d", false),
        ("/e", false),
    ];
    for (url, _) in targets {
        wait(auth.fetch(url.into(), JsValue::UNDEFINED)).await.unwrap();
    }
    let seen = stub.seen();
    stub.restore();
    for (i, (url, gets)) in targets.iter().enumerate() {
        let entry = Array::from(&seen.get(i as u32));
        // Wazo tokens travel in X-Auth-Token; the stub records that header for the allowlisted call.
        assert_eq!(entry.get(2).as_string(), gets.then(|| token.clone()), "{url}");
        assert_eq!(entry.get(1).as_string(), None, "{url}: no Authorization header at all");
    }
}
