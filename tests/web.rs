//! Browser tests (wasm-bindgen-test in headless Chromium and Firefox, and in WebKitGTK): the exported JS API against
//! the test bridge (`tests/support/bridge.mjs`), whose URL is compiled in from `AUTHBRIDGE_TEST_BRIDGE`.
#![cfg(target_arch = "wasm32")]

use authbridge::web::{decode_jwt, decode_jwt_header, parse_token_response_js};
use js_sys::{Array, Object, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::*;

#[wasm_bindgen_test]
fn decodes_seed_tokens_and_utf8() {
    let header = decode_jwt_header(POINT_SEED.into()).unwrap();
    assert_eq!(JSON::stringify(&header).unwrap(), r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = decode_jwt(POINT_SEED.into()).unwrap();
    assert_eq!(field(&claims, "exp").as_f64(), Some(1_645_141_207.0));
    // {"name":"José","n":[1,true,null]}
    let utf8 = "eyJhbGciOiJub25lIn0.eyJuYW1lIjoiSm9zw6kiLCJuIjpbMSx0cnVlLG51bGxdfQ.";
    let claims = decode_jwt(utf8.into()).unwrap();
    assert_eq!(JSON::stringify(&claims).unwrap(), r#"{"name":"José","n":[1,true,null]}"#);
}

#[wasm_bindgen_test]
fn bad_tokens_throw_typed_errors() {
    let cases: [(JsValue, &str); 7] = [
        (JsValue::NULL, "must be a string"),
        (JsValue::from(42), "must be a string"),
        (Object::new().into(), "must be a string"),
        ("abc".into(), "missing part #2"),
        ("a.b.c.d".into(), "too many parts: a JWT has exactly 3"),
        ("e30.e30 .x".into(), "whitespace inside the token"),
        ("e30.WzFd.x".into(), "part #2 is not a JSON object"),
    ];
    for (input, message) in cases {
        let e = decode_jwt(input).unwrap_err();
        assert_eq!(code_of(&e), "invalid_token");
        assert_eq!(field(&e, "message").as_string().unwrap(), message);
        assert!(e.is_instance_of::<js_sys::Error>());
    }
}

#[wasm_bindgen_test]
fn parses_each_provider_response() {
    let cases = [
        (r#"{"access_token":"a","refresh_token":"RT","expires_in":3600}"#, "oauth2", "Authorization"),
        (r#"{"accessToken":{"token":"Bearer p","expiresIn":86400}}"#, "point", "Authorization"),
        (
            r#"{"data":{"token":"w","refresh_token":"RT","expires_at":"2099-01-01T00:00:00.000000"}}"#,
            "wazo",
            "X-Auth-Token",
        ),
        (r#"{"token":"afp_1","scopes":["a"]}"#, "static", "Authorization"),
    ];
    for (body, format, header) in cases {
        let parsed = parse_token_response_js(body.into(), JsValue::UNDEFINED);
        // 2099 is beyond the 400-day plausibility window: a typed error, not a wrong date.
        if format == "wazo" {
            assert_eq!(code_of(&parsed.unwrap_err()), "invalid_response");
            continue;
        }
        let parsed = parsed.unwrap();
        assert_eq!(field(&parsed, "format").as_string().unwrap(), format);
        assert_eq!(field(&parsed, "header").as_string().unwrap(), header);
        assert!(!JSON::stringify(&parsed).unwrap().as_string().unwrap().contains("RT"));
    }
    let e = parse_token_response_js(r#"{"access_token":"a","expires_in":0}"#.into(), "oauth2".into()).unwrap_err();
    assert_eq!(code_of(&e), "invalid_response");
}

#[wasm_bindgen_test]
async fn all_four_formats_end_to_end_with_session_storage() {
    for (scenario, header) in
        [("oauth2", "authorization"), ("point", "authorization"), ("wazo", "xAuthToken"), ("static", "authorization")]
    {
        let k = key(scenario);
        let auth = client(scenario, &k, &[]);
        assert_eq!(wait(auth.start()).await.unwrap(), JsValue::TRUE);
        let token = wait(auth.access_token()).await.unwrap().as_string().unwrap();
        let url = format!("{}/api/echo?key={k}", bridge());
        let echo = wait(json_of(&wait(auth.fetch(url.into(), JsValue::UNDEFINED)).await.unwrap())).await.unwrap();
        let expected = if header == "xAuthToken" { token.clone() } else { format!("Bearer {token}") };
        assert_eq!(field(&echo, header).as_string(), Some(expected), "{scenario}");

        // sessionStorage holds exactly {token, expiresAt, header}: no refresh token, no raw response.
        let stored = storage_item("sessionStorage", &k).expect("stored");
        let parsed = JSON::parse(&stored).unwrap();
        let keys: Vec<String> =
            Object::keys(&parsed.unchecked_into::<Object>()).iter().filter_map(|k| k.as_string()).collect();
        assert_eq!(keys, ["token", "expiresAt", "header", "client"], "{scenario}");
        assert!(!stored.contains("RT-"), "{scenario}: {stored}");

        wait(auth.sign_out()).await.unwrap();
        assert_eq!(storage_item("sessionStorage", &k), None);
        let s = wait(stats(bridge(), &k)).await.unwrap();
        assert_eq!(field(&s, "calls").as_f64(), Some(1.0));
        assert_eq!(Array::from(&field(&s, "revokes")).length(), 1);
    }
}

#[wasm_bindgen_test]
async fn restore_from_storage_and_evict_bad_entries() {
    let k = key("restore");
    let first = client("oauth2", &k, &[]);
    wait(first.start()).await.unwrap();
    let token = wait(first.access_token()).await.unwrap();
    first.stop().expect("stopped");
    drop(first);
    let second = client("oauth2", &k, &[]);
    wait(second.start()).await.unwrap();
    assert_eq!(wait(second.access_token()).await.unwrap(), token, "restored without a bridge call");
    let s = wait(stats(bridge(), &k)).await.unwrap();
    assert_eq!(field(&s, "calls").as_f64(), Some(1.0));

    for bad in [
        "garbage",
        r#"{"token":"t","expiresAt":1,"header":"Authorization"}"#,
        r#"{"token":"t","expiresAt":null,"header":"Cookie"}"#,
    ] {
        let k = key("evict");
        set_storage_item("localStorage", &k, bad);
        let auth = client("oauth2", &k, &[("storage", "local".into())]);
        wait(auth.start()).await.unwrap();
        let stored = storage_item("localStorage", &k).unwrap();
        assert!(stored != bad && stored.contains("expiresAt"), "{bad} was replaced by a fresh entry");
        wait(auth.sign_out()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_thousand_concurrent_callers_make_one_bridge_call() {
    let k = key("flight");
    let auth = client("oauth2", &k, &[("storage", "memory".into())]);
    let calls = Array::new();
    let url = format!("{}/api/echo?key={k}", bridge());
    for i in 0..1000 {
        let p =
            if i % 2 == 0 { auth.access_token() } else { auth.fetch(url.as_str().into(), JsValue::UNDEFINED) }.unwrap();
        calls.push(&p);
    }
    wait(Promise::all(&calls)).await.unwrap();
    let s = wait(stats(bridge(), &k)).await.unwrap();
    assert_eq!(field(&s, "calls").as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
async fn token_goes_only_to_allowlisted_origins() {
    let k = key("allow");
    let auth = client("oauth2", &k, &[("apiOrigins", Array::of1(&"https://api.example.com".into()).into())]);
    let stub = stub_fetch(bridge());
    let token = wait(auth.access_token()).await.unwrap().as_string().unwrap();
    let targets = [
        ("https://api.example.com/a", true),
        ("https://api.example.com:443/b", true),
        ("https://api.example.com.evil.test/c", false),
        ("https://api.example.com:8443/d", false),
        ("http://api.example.com/e", false),
        ("//api.example.com.evil.test/f", false),
        ("//api.example.com/g", false), // the test page is http: this is http://api.example.com
        ("/relative/h", false),
        ("https://evil.test/?https://api.example.com", false),
    ];
    for (url, _) in targets {
        wait(auth.fetch(url.into(), JsValue::UNDEFINED)).await.unwrap();
    }
    let e = wait(auth.fetch("https://api.example.com@evil.test/x".into(), JsValue::UNDEFINED)).await.unwrap_err();
    assert!(e.is_instance_of::<js_sys::TypeError>(), "credentials in a URL are refused before sending");
    let seen = stub.seen();
    stub.restore();
    assert_eq!(seen.length() as usize, targets.len());
    for (i, (url, gets_token)) in targets.iter().enumerate() {
        let entry = Array::from(&seen.get(i as u32));
        let auth_header = entry.get(1).as_string();
        let expected = gets_token.then(|| format!("Bearer {token}"));
        assert_eq!(auth_header, expected, "{url}");
    }
}

#[wasm_bindgen_test]
async fn a_401_refreshes_once_and_retries_once() {
    let k = key("retry");
    let auth = client("oauth2", &k, &[]);
    wait(auth.start()).await.unwrap();
    wait(post(&format!("{}/token/oauth2?key={k}", bridge()))).await.unwrap();
    let init = obj(&[("method", "POST".into()), ("body", "payload".into())]);
    let r = wait(auth.fetch(format!("{}/api/latest?key={k}", bridge()).into(), init)).await.unwrap();
    assert_eq!(status_of(&r), 200);
    let r = wait(auth.fetch(format!("{}/api/always401?key={k}", bridge()).into(), JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(status_of(&r), 401);
    let s = wait(stats(bridge(), &k)).await.unwrap();
    assert_eq!(field(&s, "calls").as_f64(), Some(4.0), "start, server rotation, one refresh per 401");
    wait(auth.sign_out()).await.unwrap();
}

#[wasm_bindgen_test]
async fn rejection_signs_out_without_loops() {
    let k = key("reject");
    let auth = client("reject", &k, &[("autoRefresh", true.into())]);
    assert_eq!(wait(auth.start()).await.unwrap(), JsValue::FALSE);
    let e = wait(auth.access_token()).await.unwrap_err();
    assert_eq!(code_of(&e), "signed_out");
    JsFuture::from(Promise::new(&mut |r, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&r, 300).unwrap();
    }))
    .await
    .unwrap();
    let s = wait(stats(bridge(), &k)).await.unwrap();
    assert_eq!(field(&s, "calls").as_f64(), Some(1.0));
}

/// A redirect from an API origin to another origin never carries the token, whatever `redirect` the caller
/// passed (Chromium, Firefox and WebKitGTK; checked at the receiving server). `localhost` is another origin than the
/// bridge's `127.0.0.1`, on the same server, so its arrivals are counted too.
#[wasm_bindgen_test]
async fn redirects_never_carry_the_token_to_another_origin() {
    let port = bridge().rsplit(':').next().unwrap();
    for scenario in ["oauth2", "wazo"] {
        let k = key(&format!("redir-{scenario}"));
        let auth = client(scenario, &k, &[("storage", "memory".into())]);
        wait(auth.access_token()).await.unwrap();
        for mode in ["default", "follow", "manual", "error"] {
            let target = format!("http://localhost:{port}/api/echo?key={k}&to={mode}");
            let url = format!("{}/redirect?to={}", bridge(), js_sys::encode_uri_component(&target));
            let init = if mode == "default" { JsValue::UNDEFINED } else { obj(&[("redirect", mode.into())]) };
            // The outcome differs by browser and mode (a response, an opaque redirect, a TypeError); what may
            // arrive at the other origin does not.
            let _ = wait(auth.fetch(url.into(), init)).await;
        }
        // The control: a redirect within the API origin keeps an Authorization token.
        let same = format!("{}/api/echo?key={k}&to=same-origin", bridge());
        let url = format!("{}/redirect?to={}", bridge(), js_sys::encode_uri_component(&same));
        let _ = wait(auth.fetch(url.into(), JsValue::UNDEFINED)).await;
        let seen = wait(stats(bridge(), &k)).await.unwrap();
        let calls = Array::from(&field(&seen, "apiCalls"));
        for call in calls.iter() {
            let to = field(&call, "to").as_string().unwrap_or_default();
            let carried = !field(&call, "authorization").is_null() || !field(&call, "xAuthToken").is_null();
            assert_eq!(
                carried,
                to == "same-origin" && scenario == "oauth2",
                "{scenario} {to}: token carried: {carried}"
            );
        }
        if scenario == "oauth2" {
            assert!(calls.iter().any(|c| field(&c, "to").as_string().as_deref() == Some("same-origin")));
        }
        drop(auth);
    }
}

/// The Rust API (`authbridge::web::Client`), as a Rust frontend uses it: typed options, futures, typed errors and
/// notices, a `web_sys::Request` through the authenticated fetch, the origin rule, sign-out and free.
#[wasm_bindgen_test]
async fn the_rust_client_signs_in_fetches_and_signs_out() {
    use authbridge::web::{Client, Credentials, FormatName, FormatOption, Notice, Options, Status, Storage};
    use std::{cell::RefCell, rc::Rc};

    let k = key("rust");
    let bad = Client::new(&Options { token_url: String::new(), ..Options::default() }).err().expect("refused");
    assert_eq!(bad.code, authbridge::Code::InvalidConfig);
    assert!(bad.message.contains("tokenUrl"), "{}", bad.message);

    let auth = Client::new(&Options {
        token_url: format!("{}/token/oauth2?key={k}", bridge()),
        api_origins: vec![bridge().into()],
        storage_key: Some(k.clone()),
        ..Options::default()
    })
    .expect("valid options");
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&seen);
    let listener = auth.on_notice(move |n| match n {
        Notice::Token { source, .. } => log.borrow_mut().push(format!("token:{source}")),
        Notice::SignedOut { reason } => log.borrow_mut().push(format!("signedOut:{reason}")),
        _ => {}
    });
    assert_eq!(auth.status(), Status::Starting);
    assert_eq!(auth.start().await, Ok(true));
    assert_eq!(auth.status(), Status::SignedIn);
    let token = auth.access_token().await.expect("a token");
    assert!(auth.expires_at().is_some());

    let url = format!("{}/api/echo?key={k}", bridge());
    let response = auth.fetch(web_sys::Request::new_with_str(&url).unwrap()).await.expect("sent");
    let echo = wait(json_of(&response)).await.unwrap();
    assert_eq!(field(&echo, "authorization").as_string(), Some(format!("Bearer {}", token.secret())));

    // A 401: one more try with a new token (the body kept to resend); a streamed request is sent once, and its 401
    // makes the next call get a new token.
    let refused = |to: &str| {
        let url = format!("{}/api/always401?key={k}&to={to}", bridge());
        web_sys::Request::new_with_str(&url).unwrap()
    };
    assert_eq!(auth.fetch(refused("again")).await.expect("sent").status(), 401);
    assert_eq!(auth.fetch_streamed(refused("once")).await.expect("sent").status(), 401);
    let calls = wait(stats(bridge(), &k)).await.unwrap();
    let sent = |to: &str| {
        Array::from(&field(&calls, "apiCalls"))
            .iter()
            .filter(|c| field(c, "to").as_string().as_deref() == Some(to))
            .count()
    };
    assert_eq!((sent("again"), sent("once")), (2, 1));
    auth.access_token().await.expect("a token after the 401s");

    // Another origin gets the request as given: no token.
    let stub = stub_fetch(bridge());
    let other = web_sys::Request::new_with_str("https://elsewhere.example/x").unwrap();
    auth.fetch(other).await.expect("sent");
    let sent = Array::from(&stub.seen().get(0));
    stub.restore();
    assert_eq!(sent.get(1), JsValue::NULL, "no Authorization to another origin");

    auth.sign_out().await.expect("signed out");
    assert_eq!(auth.status(), Status::SignedOut);
    assert_eq!(storage_item("sessionStorage", &k), None);
    // The token of start(), the one after the first 401, the one after the streamed request's 401 (not retried,
    // but the refused token is not used again), sign-out.
    assert_eq!(*seen.borrow(), ["token:bridge", "token:bridge", "token:bridge", "signedOut:signOut"]);
    auth.off(listener);

    auth.free();
    assert_eq!(auth.access_token().await.map(|_| ()).unwrap_err().code, authbridge::Code::Freed);

    // A response of another shape, read through JSON pointers (Wazo's, as if it were unknown).
    let custom = Client::new(&Options {
        token_url: format!("{}/token/wazo?key={k}", bridge()),
        api_origins: vec![bridge().into()],
        storage: Some(Storage::Memory),
        format: Some(FormatOption::Custom {
            token: "/data/token".into(),
            expires_in: None,
            expires_at: Some("/data/utc_expires_at".into()),
        }),
        header: Some("X-Auth-Token".into()),
        ..Options::default()
    })
    .expect("valid options");
    let token = custom.access_token().await.expect("a token");
    let left = custom.expires_at().expect("an expiry") - js_sys::Date::now() as authbridge::time::Millis;
    assert!(left > 3_000_000 && left <= 3_600_000, "{left} ms left");
    assert_eq!(token.secret().len(), 36, "the UUID at /data/token");
    let bad = Client::new(&Options {
        format: Some(FormatOption::Custom { token: "data/token".into(), expires_in: None, expires_at: None }),
        ..custom_options()
    })
    .err()
    .expect("refused");
    assert!(bad.message.contains("JSON pointers"), "{}", bad.message);
    // The enums become the strings the option rules take.
    let named = Client::new(&Options {
        format: Some(FormatName::OAuth2.into()),
        storage: Some(Storage::Local),
        credentials: Some(Credentials::SameOrigin),
        ..custom_options()
    });
    assert!(named.is_ok(), "{:?}", named.err());
    named.unwrap().free();
    custom.free();
}

/// A Rust `access_token()` future dropped before it was awaited leaves no token in wasm memory: its answer is
/// forgotten with it, and nothing uncollected survives sign-out or free. The token is kept only as a JS string,
/// so that the scan of the module's memory finds nothing of the test's own.
#[wasm_bindgen_test]
async fn a_dropped_rust_future_leaves_no_token_in_wasm_memory() {
    use authbridge::web::{Client, Options, Storage};
    let k = key("dropped");
    let auth = Client::new(&Options {
        token_url: format!("{}/token/oauth2?key={k}", bridge()),
        api_origins: vec![bridge().into()],
        storage: Some(Storage::Memory),
        ..Options::default()
    })
    .expect("valid options");
    let token = JsValue::from_str(auth.access_token().await.expect("a token").secret());
    // The scan finds the token while the client holds it (or the checks below could never fail).
    assert!(memory_holds(&wasm_bindgen::memory(), &token), "the client's token is not found in wasm memory");
    // The token is fresh: the machine answers at once, and the future is dropped without being awaited.
    drop(auth.access_token());
    drop(auth.refresh());
    auth.sign_out().await.expect("signed out");
    assert!(!memory_holds(&wasm_bindgen::memory(), &token), "the token is still in wasm memory after sign_out()");
    auth.free();
    // The application still holds its handle (in a Leptos context, say): free() alone must leave nothing.
    assert!(!memory_holds(&wasm_bindgen::memory(), &token), "the token is still in wasm memory after free()");
    drop(auth);
}

fn custom_options() -> authbridge::web::Options {
    authbridge::web::Options {
        token_url: format!("{}/token/wazo", bridge()),
        api_origins: vec![bridge().into()],
        ..Default::default()
    }
}
