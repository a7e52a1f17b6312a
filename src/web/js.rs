//! JavaScript bindings and conversions shared by the exports.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Code, Error};
use crate::json::{Json, Kind};
use crate::time::Millis;
use crate::token::{CustomFormat, Format};

#[wasm_bindgen]
extern "C" {
    // The global functions, not `Window`'s methods: they exist in workers, workerd and Deno too.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);
}

// js/options.js: the option rules. Each extern type is a JSDoc `@typedef` of that module, read field by field
// (`tests/web.rs` checks that every field is there: a renamed one would read as `undefined`).
#[wasm_bindgen(module = "/js/options.js")]
extern "C" {
    /// `readOptions`' answer: the checked options (`Options` in js/options.js), or `{ error }`.
    pub type CheckedOptions;
    #[wasm_bindgen(method, getter)]
    pub fn error(this: &CheckedOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = tokenUrl)]
    pub fn token_url(this: &CheckedOptions) -> String;
    #[wasm_bindgen(method, getter, js_name = revokeUrl)]
    pub fn revoke_url(this: &CheckedOptions) -> String;
    /// Exact origins (strings).
    #[wasm_bindgen(method, getter, js_name = apiOrigins)]
    pub fn api_origins(this: &CheckedOptions) -> Array;
    #[wasm_bindgen(method, getter)]
    pub fn header(this: &CheckedOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    pub fn format(this: &CheckedOptions) -> CheckedFormat;
    #[wasm_bindgen(method, getter, js_name = refreshMarginMs)]
    pub fn refresh_margin_ms(this: &CheckedOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = bridgeTimeoutMs)]
    pub fn bridge_timeout_ms(this: &CheckedOptions) -> f64;
    #[wasm_bindgen(method, getter, js_name = storageKey)]
    pub fn storage_key(this: &CheckedOptions) -> Option<String>;
    /// `'session'`, `'local'` or `'memory'`.
    #[wasm_bindgen(method, getter)]
    pub fn storage(this: &CheckedOptions) -> String;
    #[wasm_bindgen(method, getter, js_name = autoRefresh)]
    pub fn auto_refresh(this: &CheckedOptions) -> bool;
    /// A page or a worker (told by the platform: see `browserPlatform`).
    #[wasm_bindgen(method, getter)]
    pub fn browser(this: &CheckedOptions) -> bool;
    /// `omit`, `same-origin` or `include`; `None` leaves it to the platform.
    #[wasm_bindgen(method, getter)]
    pub fn credentials(this: &CheckedOptions) -> Option<String>;
    /// `[name, value]` pairs, checked by the platform's `Headers`.
    #[wasm_bindgen(method, getter, js_name = bridgeHeaders)]
    pub fn bridge_headers(this: &CheckedOptions) -> Array;
    /// The page's Web Storage (of `storage`) can be used (see [`web_storage`]); else the token stays in memory.
    #[wasm_bindgen(method, getter, js_name = webStorage)]
    pub fn web_storage(this: &CheckedOptions) -> bool;
    #[wasm_bindgen(js_name = readOptions)]
    pub fn read_options(options: &JsValue) -> CheckedOptions;

    /// `readFormat`'s answer: `{ name }`, `{ token, expiresIn, expiresAt }` (JSON pointers) or `{ error }`.
    pub type CheckedFormat;
    #[wasm_bindgen(method, getter)]
    pub fn error(this: &CheckedFormat) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    pub fn name(this: &CheckedFormat) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    pub fn token(this: &CheckedFormat) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = expiresIn)]
    pub fn expires_in(this: &CheckedFormat) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = expiresAt)]
    pub fn expires_at(this: &CheckedFormat) -> Option<String>;
    #[wasm_bindgen(js_name = readFormat)]
    fn read_format(value: &JsValue) -> CheckedFormat;

    /// `value` when it is a function, else the message of the error `call` throws.
    #[wasm_bindgen(js_name = listenerArg)]
    pub fn listener_arg(call: &str, value: &JsValue) -> JsValue;
    /// How an error message names a value.
    pub fn describe(value: &JsValue) -> String;
}

// js/platform.js: channel, lock, lifecycle, storage, listeners and errors.
#[wasm_bindgen(module = "/js/platform.js")]
extern "C" {
    /// What `makeClient` makes (`ClientParts` in js/platform.js).
    pub type ClientParts;
    /// The BroadcastChannel, or `null`.
    #[wasm_bindgen(method, getter)]
    pub fn channel(this: &ClientParts) -> JsValue;
    #[wasm_bindgen(method, getter)]
    pub fn locks(this: &ClientParts) -> Locks;
    #[wasm_bindgen(method, getter)]
    pub fn unlisten(this: &ClientParts) -> Function;
    #[wasm_bindgen(method, getter)]
    pub fn presence(this: &ClientParts) -> bool;
    #[wasm_bindgen(method, getter)]
    pub fn online(this: &ClientParts) -> bool;
    #[wasm_bindgen(method, getter)]
    pub fn seed(this: &ClientParts) -> f64;
    #[wasm_bindgen(method, getter, js_name = onToken)]
    pub fn on_token(this: &ClientParts) -> js_sys::Set;
    #[wasm_bindgen(method, getter, js_name = onSignedOut)]
    pub fn on_signed_out(this: &ClientParts) -> js_sys::Set;
    #[wasm_bindgen(method, getter, js_name = onError)]
    pub fn on_error(this: &ClientParts) -> js_sys::Set;
    #[wasm_bindgen(method, getter, js_name = onChange)]
    pub fn on_change(this: &ClientParts) -> js_sys::Set;
    /// See `makeClient`: one Rust closure per kind of event.
    #[wasm_bindgen(js_name = makeClient)]
    pub fn make_client(
        on_message: &Function,
        on_lifecycle: &Function,
        on_lock: &Function,
        key: &str,
        browser: bool,
        local: bool,
    ) -> ClientParts;

    /// The Web Lock requests by ticket (`Locks` in js/platform.js).
    pub type Locks;
    /// Requests the lock under `ticket`; `mode`: `ifAvailable`, `wait` or `steal` (see [`lock_mode`]).
    #[wasm_bindgen(method)]
    pub fn request(this: &Locks, ticket: u32, mode: &str);
    #[wasm_bindgen(method)]
    pub fn release(this: &Locks, ticket: u32);
    #[wasm_bindgen(method)]
    pub fn announce(this: &Locks);
    /// Answers `peers` or `alone` under `ticket`, through the lock callback.
    #[wasm_bindgen(method, js_name = findPeers)]
    pub fn find_peers(this: &Locks, ticket: u32);

    /// A pending promise and the functions settling it.
    pub type Deferred;
    #[wasm_bindgen(method, getter)]
    pub fn promise(this: &Deferred) -> Promise;
    #[wasm_bindgen(method, getter)]
    pub fn resolve(this: &Deferred) -> Function;
    #[wasm_bindgen(method, getter)]
    pub fn reject(this: &Deferred) -> Function;
    pub fn deferred() -> Deferred;

    /// See `emit`.
    pub fn emit(set: &js_sys::Set, has: bool, payload: &JsValue);
    /// See `store`.
    pub fn store(storage: &web_sys::Storage, key: &str, value: &JsValue) -> JsValue;
    /// Adds `f` to `set` and returns the function that removes it.
    #[wasm_bindgen(js_name = offFn)]
    pub fn off_fn(set: &js_sys::Set, f: &Function) -> Function;
    /// See `makeError`.
    #[wasm_bindgen(js_name = makeError)]
    pub fn make_error(
        message: &str,
        name: &str,
        code: Option<&str>,
        cause: Option<&JsValue>,
        status: Option<u16>,
        bridge_error: Option<&str>,
    ) -> JsValue;
    /// A frozen `{ status, claims, expiresAt, error }`.
    pub fn snapshot(status: &str, claims: &JsValue, expires_at: &JsValue, error: &JsValue) -> JsValue;
    pub fn post(channel: &JsValue, message: &JsValue);
    #[wasm_bindgen(js_name = closeChannel)]
    pub fn close_channel(channel: &JsValue);
}

// js/fetch.js: the authenticated fetch and the bridge calls.
#[wasm_bindgen(module = "/js/fetch.js")]
extern "C" {
    /// What `makeFetch` returns.
    pub type Fetcher;
    /// See `makeFetch`: the authenticated fetch, asking the client (`want`, `answered`, `hop`) for its decisions.
    #[wasm_bindgen(js_name = makeFetch)]
    pub fn make_fetch(
        origins: &Array,
        browser: bool,
        want: &Function,
        refusal: u16,
        answered: &Function,
        hop: &Function,
    ) -> Fetcher;
    /// Sends `input` (a URL or a Request) with `init` under the fetch rules; `value` is `undefined` when the token
    /// needs a refresh first; `replay` `undefined` reads it from `init` (no retry for a streamed body).
    #[wasm_bindgen(method)]
    pub fn send(
        this: &Fetcher,
        input: &JsValue,
        init: &JsValue,
        name: &JsValue,
        value: &JsValue,
        replay: Option<bool>,
    ) -> Promise;

    /// See `firstOf`.
    #[wasm_bindgen(js_name = firstOf)]
    pub fn first_of(promise: &Promise, flight: Option<&Promise>, ms: f64) -> Promise;
    /// See `bridgeRequest`.
    #[wasm_bindgen(catch, js_name = bridgeRequest)]
    pub fn bridge_request(
        url: &str,
        method: &str,
        headers: &Array,
        name: Option<&str>,
        value: Option<&str>,
        credentials: Option<&str>,
        signal: &web_sys::AbortSignal,
    ) -> Result<web_sys::Request, JsValue>;

    /// What the client reads of a bridge response before its body (`ResponseMeta` in js/fetch.js).
    pub type ResponseMeta;
    #[wasm_bindgen(method, getter)]
    pub fn status(this: &ResponseMeta) -> u16;
    /// `Date.parse` of the `Date` header: NaN where absent or unreadable.
    #[wasm_bindgen(method, getter)]
    pub fn date(this: &ResponseMeta) -> f64;
    #[wasm_bindgen(method, getter, js_name = retryAfter)]
    pub fn retry_after(this: &ResponseMeta) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = retryAfterDate)]
    pub fn retry_after_date(this: &ResponseMeta) -> f64;
    /// The opaque response a browser gives for a redirect under `manual`.
    #[wasm_bindgen(method, getter, js_name = opaqueRedirect)]
    pub fn opaque_redirect(this: &ResponseMeta) -> bool;
    /// The origin of the `Location` header, never its path or query.
    #[wasm_bindgen(method, getter, js_name = locationOrigin)]
    pub fn location_origin(this: &ResponseMeta) -> Option<String>;
    #[wasm_bindgen(js_name = responseMeta)]
    pub fn response_meta(response: &web_sys::Response) -> ResponseMeta;
}

/// The lock request modes of js/platform.js (`LockMode`).
pub fn lock_mode(mode: crate::machine::LockMode) -> &'static str {
    match mode {
        crate::machine::LockMode::IfAvailable => "ifAvailable",
        crate::machine::LockMode::Wait => "wait",
        crate::machine::LockMode::Steal => "steal",
    }
}

/// A parsed JS value seen through the core's [`Json`] trait.
#[derive(Clone, Debug)]
pub struct JsJson(pub JsValue);

impl Json for JsJson {
    fn parse(text: &str) -> Option<Self> {
        js_sys::JSON::parse(text).ok().map(JsJson)
    }
    fn to_text<T: serde::Serialize>(value: &T) -> Option<String> {
        js_sys::JSON::stringify(&to_js(value)?).ok()?.as_string()
    }
    fn kind(&self) -> Kind {
        let v = &self.0;
        if v.is_string() {
            Kind::String
        } else if v.as_f64().is_some() {
            Kind::Number
        } else if v.as_bool().is_some() {
            Kind::Bool
        } else if v.is_null() || v.is_undefined() {
            Kind::Null
        } else if Array::is_array(v) {
            Kind::Array
        } else if v.is_object() {
            Kind::Object
        } else {
            // Functions, symbols, bigints: nothing JSON can hold.
            Kind::Null
        }
    }
    fn get(&self, key: &str) -> Option<Self> {
        if self.kind() != Kind::Object {
            return None;
        }
        let v = own(&self.0, key);
        (!v.is_undefined() && !v.is_function()).then_some(JsJson(v))
    }
    fn index(&self, index: usize) -> Option<Self> {
        let array = self.0.dyn_ref::<Array>()?;
        (index < array.length() as usize).then(|| JsJson(array.get(index as u32)))
    }
    fn as_str(&self) -> Option<String> {
        self.0.as_string()
    }
    fn as_f64(&self) -> Option<f64> {
        self.0.as_f64()
    }
}

/// `value` as a JS value (objects for structs, `null` for `None`), through serde-wasm-bindgen's serializer. Its
/// deserializer is not used: it would bring serde's error formatting (issue 12's probe: ≈ +14 kB gzip); values
/// come in through [`JsJson`] instead.
pub fn to_js<T: serde::Serialize>(value: &T) -> Option<JsValue> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).ok()
}

pub fn now() -> Millis {
    js_sys::Date::now() as Millis
}

/// `obj[key]` when `key` is `obj`'s own property, else `undefined` (also when reading throws). For data that
/// arrives from outside (bridge responses, stored entries, peer messages): a member planted on
/// `Object.prototype` by a prototype-pollution bug elsewhere in the page must not read as part of it.
pub fn own(obj: &JsValue, key: &str) -> JsValue {
    let Some(object) = obj.dyn_ref::<js_sys::Object>() else { return JsValue::UNDEFINED };
    let key = js_sys::JsString::from(key);
    if js_sys::Object::has_own_str(object, &key) != Ok(true) {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &key).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key]`, inherited properties included, `undefined` when absent or when reading throws: for platform
/// objects (events, whose members are getters of their prototypes).
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// An `Error` with `name = 'AuthbridgeError'` and the stable `code`.
pub fn error_to_js(e: &Error) -> JsValue {
    error_with_cause(e, None)
}

/// [`error_to_js`], keeping the JavaScript error that caused it (a fetch's `TypeError`, an abort) as `cause`, and
/// a refusal's HTTP `status` and `bridgeError`.
pub fn error_with_cause(e: &Error, cause: Option<&JsValue>) -> JsValue {
    let refusal = e.bridge.as_ref();
    let bridge_error = refusal.and_then(|r| r.error.as_deref());
    make_error(&e.message, "AuthbridgeError", Some(e.code.as_str()), cause, refusal.map(|r| r.status), bridge_error)
}

pub fn config_error(message: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(Code::InvalidConfig, message)
}

/// Reads the `format` option: a name or `{ token, expiresIn?, expiresAt? }` (checked by `readFormat`).
pub fn format_option(value: &JsValue) -> Result<Format, Error> {
    format_from(&read_format(value))
}

/// `readFormat`'s answer as a [`Format`], or its error.
pub fn format_from(read: &CheckedFormat) -> Result<Format, Error> {
    if let Some(m) = read.error() {
        return Err(config_error(m));
    }
    if let Some(token) = read.token() {
        return Ok(Format::Custom(CustomFormat {
            token,
            expires_in: read.expires_in(),
            expires_at: read.expires_at(),
        }));
    }
    Ok(match read.name().as_deref() {
        Some("oauth2") => Format::OAuth2,
        Some("point") => Format::Point,
        Some("wazo") => Format::Wazo,
        Some("static") => Format::Static,
        _ => Format::Auto,
    })
}

/// The page's `sessionStorage` or `localStorage` through gloo-storage (`raw()`: its typed get/set go through
/// serde_json, ≈ +12.6 kB gzip in issue 12's probe, and the entry is JSON text already). gloo-storage reaches the
/// storage through `window` and throws without one, or when the storage is disabled or blocked (sandboxed frames):
/// it is called only where `readOptions` found `window` and a storage object. Elsewhere (workers, workerd, Deno,
/// Node, `storage: 'memory'`) the token is kept in memory.
pub fn web_storage(local: bool) -> web_sys::Storage {
    use gloo_storage::Storage;
    if local {
        gloo_storage::LocalStorage::raw()
    } else {
        gloo_storage::SessionStorage::raw()
    }
}

/// The boundary with js/: every field the executor reads of what the modules return is there under the name it
/// reads (a field renamed on one side reads as `undefined`, which these checks catch), and the enums' strings are
/// the ones the modules send.
#[cfg(test)]
mod boundary_tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    async fn sleep(ms: f64) {
        let never = Promise::new(&mut |_, _| {});
        let _ = wasm_bindgen_futures::JsFuture::from(first_of(&never, None, ms)).await;
    }

    fn object(json: &str) -> JsValue {
        js_sys::JSON::parse(json).expect("test JSON")
    }

    #[wasm_bindgen_test]
    fn read_options_gives_every_field_the_executor_reads() {
        let read = read_options(&object(
            r#"{"tokenUrl":"https://bridge.example/token","revokeUrl":"https://bridge.example/revoke",
                "apiOrigins":["https://api.example"],"header":"X-Token","format":{"token":"/t","expiresIn":"/e"},
                "refreshMargin":5,"bridgeTimeout":2,"storageKey":"k","storage":"local","credentials":"omit",
                "bridgeHeaders":{"X-Key":"v"},"autoRefresh":true}"#,
        ));
        assert_eq!(read.error(), None);
        assert_eq!(read.token_url(), "https://bridge.example/token");
        assert_eq!(read.revoke_url(), "https://bridge.example/revoke");
        assert_eq!(read.api_origins().get(0).as_string().as_deref(), Some("https://api.example"));
        assert_eq!(read.header().as_deref(), Some("X-Token"));
        let format = format_from(&read.format()).expect("a format");
        assert_eq!(
            format,
            Format::Custom(CustomFormat { token: "/t".into(), expires_in: Some("/e".into()), expires_at: None })
        );
        assert_eq!(read.refresh_margin_ms(), Some(5000.0));
        assert_eq!(read.bridge_timeout_ms(), 2000.0);
        assert_eq!(read.storage_key().as_deref(), Some("k"));
        assert_eq!(read.storage(), "local");
        assert!(read.auto_refresh());
        assert!(read.browser(), "a page is a browser");
        assert_eq!(read.credentials().as_deref(), Some("omit"));
        let pair = Array::from(&read.bridge_headers().get(0));
        assert_eq!((pair.get(0).as_string(), pair.get(1).as_string()), (Some("X-Key".into()), Some("v".into())));
        assert!(read.web_storage(), "a page's localStorage");

        let refused = read_options(&object(r#"{"tokenUrl":"https://b.example/t","apiOrigins":[]}"#));
        assert!(refused.error().is_some_and(|m| m.contains("apiOrigins")));
        for (name, expected) in
            [("oauth2", Format::OAuth2), ("point", Format::Point), ("wazo", Format::Wazo), ("static", Format::Static)]
        {
            assert_eq!(format_option(&JsValue::from_str(name)), Ok(expected));
        }
        assert_eq!(format_option(&JsValue::UNDEFINED), Ok(Format::Auto));
        assert!(format_option(&JsValue::from_str("jwt")).is_err());
    }

    #[wasm_bindgen_test]
    async fn make_client_and_the_fetch_helpers_give_every_field_the_executor_reads() {
        let noop1 = Closure::<dyn Fn(JsValue)>::new(|_| {});
        let noop2 = Closure::<dyn Fn(String, JsValue)>::new(|_, _| {});
        let lock_results = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = std::rc::Rc::clone(&lock_results);
        let lock = Closure::<dyn Fn(u32, String)>::new(move |ticket, result| seen.borrow_mut().push((ticket, result)));
        let want = Closure::<dyn Fn() -> Promise>::new(|| Promise::resolve(&JsValue::NULL));
        let answered = Closure::<dyn Fn(JsValue, u16, String, Option<String>) -> bool>::new(|_, _, _, _| false);
        let hop = Closure::<dyn Fn(u16, bool, String, String, u32, String, Option<String>) -> JsValue>::new(
            |_, _, _, _, _, _, _| JsValue::NULL,
        );
        let origins = Array::of1(&"https://api.example".into());
        let parts = make_client(
            noop1.as_ref().unchecked_ref(),
            noop2.as_ref().unchecked_ref(),
            lock.as_ref().unchecked_ref(),
            "boundary-test",
            true,
            true,
        );
        let fetcher = make_fetch(
            &origins,
            true,
            want.as_ref().unchecked_ref(),
            crate::rules::REFUSAL,
            answered.as_ref().unchecked_ref(),
            hop.as_ref().unchecked_ref(),
        );
        assert!(fetcher.is_object());
        assert!(parts.channel().is_object(), "a page has a BroadcastChannel");
        assert!(parts.unlisten().is_function());
        assert!(parts.online());
        assert!(parts.seed() >= 0.0 && parts.seed().fract() == 0.0);
        for set in [parts.on_token(), parts.on_signed_out(), parts.on_error(), parts.on_change()] {
            assert_eq!(set.size(), 0);
        }
        // The lock modes the executor sends are the ones the module knows; its results are the ones it reads.
        let locks = parts.locks();
        locks.request(1, lock_mode(crate::machine::LockMode::IfAvailable));
        sleep(200.0).await;
        assert_eq!(*lock_results.borrow(), [(1, "granted".to_owned())]);
        locks.release(1);
        locks.request(2, lock_mode(crate::machine::LockMode::Steal));
        locks.request(3, lock_mode(crate::machine::LockMode::IfAvailable));
        sleep(200.0).await;
        assert_eq!(lock_results.borrow()[1..], [(2, "granted".to_owned()), (3, "busy".to_owned())]);
        locks.release(2);
        // Presence: a context that announced itself and looks finds itself alone, its results read as the executor
        // reads them.
        assert!(parts.presence(), "Chromium, Firefox and WebKit have Web Locks' query");
        locks.announce();
        locks.find_peers(4);
        sleep(200.0).await;
        assert_eq!(lock_results.borrow()[3..], [(4, "alone".to_owned())]);
        let _ = parts.unlisten().call0(&JsValue::NULL);
        close_channel(&parts.channel());

        let pair = deferred();
        assert!(
            pair.promise().is_instance_of::<Promise>() && pair.resolve().is_function() && pair.reject().is_function()
        );

        let init = web_sys::ResponseInit::new();
        init.set_status(307);
        let headers = web_sys::Headers::new().unwrap();
        headers.set("Location", "https://elsewhere.example/path?secret=1").unwrap();
        headers.set("Retry-After", "3").unwrap();
        init.set_headers(&headers);
        let response = web_sys::Response::new_with_opt_str_and_init(None, &init).unwrap();
        let meta = response_meta(&response);
        assert_eq!(meta.status(), 307);
        assert!(!meta.opaque_redirect());
        assert_eq!(meta.location_origin().as_deref(), Some("https://elsewhere.example"), "the origin, never the path");
        assert_eq!(meta.retry_after().as_deref(), Some("3"));
        assert!(meta.date().is_nan(), "no Date header");
    }
}
