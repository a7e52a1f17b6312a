//! JavaScript bindings and conversions shared by the exports.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Code, Error};
use crate::json::{Json, Kind};
use crate::options;
use crate::time::Millis;
use crate::token::Format;

#[wasm_bindgen]
extern "C" {
    // The global functions, not `Window`'s methods: they exist in workers, workerd and Deno too.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);
    /// `Object.hasOwn(object, key)` for any property key (a string, an array index); a Proxy's trap may throw.
    #[wasm_bindgen(js_namespace = Object, js_name = hasOwn, catch)]
    fn has_own(object: &JsValue, key: &JsValue) -> Result<bool, JsValue>;
}

// js/runtime.js: what the client knows of the platform (the facts the option rules in src/options.rs use).
#[wasm_bindgen(module = "/js/runtime.js")]
extern "C" {
    /// `platformFacts()`'s answer (`Facts` in js/runtime.js).
    pub type Facts;
    #[wasm_bindgen(method, getter)]
    pub fn browser(this: &Facts) -> bool;
    #[wasm_bindgen(method, getter)]
    pub fn window(this: &Facts) -> bool;
    #[wasm_bindgen(method, getter)]
    pub fn base(this: &Facts) -> Option<String>;
    #[wasm_bindgen(js_name = platformFacts)]
    fn platform_facts() -> Facts;
    /// The window's sessionStorage (`local`: localStorage) can be read.
    #[wasm_bindgen(js_name = webStorageReadable)]
    pub fn web_storage_readable(local: bool) -> bool;
}

/// The platform facts the option rules use.
pub fn platform() -> options::Platform {
    let facts = platform_facts();
    options::Platform { browser: facts.browser(), window: facts.window(), base: facts.base() }
}

/// What the option rules ask of JavaScript: its URL parser (`new URL`) and its `String(n)`.
pub struct Runtime;

impl options::Runtime for Runtime {
    fn number_text(&self, n: f64) -> String {
        String::from(js_sys::Number::from(n).to_string_with_radix(10).unwrap_or_default())
    }

    fn parse_url(&self, text: &str, base: Option<&str>) -> Option<options::ParsedUrl> {
        let u = match base {
            Some(b) => web_sys::Url::new_with_base(text, b),
            None => web_sys::Url::new(text),
        }
        .ok()?;
        Some(options::ParsedUrl { href: u.href(), origin: u.origin() })
    }
}

/// How deep [`read_value`] reads nested objects and arrays: the options object, an option's object or array
/// (`format`, `apiOrigins`, `bridgeHeaders`) and its values. Deeper ones are read with no entries.
const OPTION_DEPTH: u8 = 2;

/// The caller's `value` for the option rules (src/options.rs): own properties only, read with no borrow held (a
/// getter may run anything), a getter or a Proxy trap that throws read as absent.
pub fn read_value(value: &JsValue) -> options::Value {
    read_at(value, OPTION_DEPTH)
}

/// How an error message names `value` (src/options.rs `describe`), reading none of its properties.
pub fn describe(value: &JsValue) -> String {
    options::describe(&read_at(value, 0), &Runtime)
}

fn read_at(value: &JsValue, depth: u8) -> options::Value {
    use options::Value;
    if value.is_undefined() {
        return Value::Absent;
    }
    if value.is_null() {
        return Value::Null;
    }
    if let Some(b) = value.as_bool() {
        return Value::Bool(b);
    }
    if let Some(n) = value.as_f64() {
        return Value::Number(n);
    }
    if let Some(s) = value.as_string() {
        return Value::Text(s);
    }
    if value.is_function() {
        return Value::Function;
    }
    if value.is_symbol() {
        return Value::Symbol;
    }
    if value.is_bigint() {
        return Value::BigInt;
    }
    if !value.is_object() {
        // `document.all`, the one object whose `typeof` is 'undefined'.
        return Value::Absent;
    }
    if Array::is_array(value) {
        // `length` as an array index (ToUint32), read as an own property: a Proxy's may throw.
        let len = own(value, "length").as_f64().filter(|n| n.is_finite()).map_or(0, |n| n as i64 as u32);
        let read = if depth == 0 { 0 } else { len.min(options::MAX_API_ORIGINS) };
        let items = (0..read).map(|i| read_at(&own_index(value, i), depth - 1)).collect();
        return Value::List { len, items };
    }
    let mut entries = Vec::new();
    let mut symbol_keys = false;
    // A Proxy whose `ownKeys` throws has no entries.
    let keys = Reflect::own_keys(value).unwrap_or_default();
    for key in keys.iter() {
        match key.as_string() {
            Some(k) if depth > 0 => {
                let v = read_at(&own(value, &k), depth - 1);
                entries.push((k, v));
            }
            Some(_) => {}
            None => symbol_keys = true,
        }
    }
    Value::Object { entries, symbol_keys }
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

// js/by-hand.js: redirects followed by hand outside browsers (builds with `server-runtimes` only).
#[cfg(feature = "server-runtimes")]
#[wasm_bindgen(module = "/js/by-hand.js")]
extern "C" {
    /// The follower `makeFetch` sends requests to API origins with outside browsers, asking `hop` at each redirect.
    #[wasm_bindgen(js_name = makeByHand)]
    pub fn make_by_hand(hop: &Function) -> Function;
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
        prefixes: &Array,
        path: &str,
        want: &Function,
        refusal: u16,
        answered: &Function,
        by_hand: Option<&Function>,
    ) -> Fetcher;
    /// Sends `input` (a URL or a Request) with `init` under the fetch rules; `name` is the token's header name,
    /// `token` its `TokenHeader`, `undefined` when the token needs a refresh first; `replay` `undefined` reads it
    /// from `init` (no retry for a streamed body).
    #[wasm_bindgen(method)]
    pub fn send(
        this: &Fetcher,
        input: &JsValue,
        init: &JsValue,
        name: &JsValue,
        token: &JsValue,
        replay: Option<bool>,
    ) -> Promise;

    /// `{ name, value, follow }` (`TokenHeader` in js/fetch.js), made by an object literal.
    #[wasm_bindgen(js_name = tokenHeader)]
    pub fn token_header(name: &str, value: &str, follow: &str) -> JsValue;
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
    own_key(obj, &JsValue::from_str(key))
}

/// `array[index]` when it is the array's own element (not a hole), else `undefined` (also when reading throws).
fn own_index(array: &JsValue, index: u32) -> JsValue {
    own_key(array, &JsValue::from(index))
}

fn own_key(obj: &JsValue, key: &JsValue) -> JsValue {
    if !obj.is_object() || has_own(obj, key) != Ok(true) {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, key).unwrap_or(JsValue::UNDEFINED)
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

/// Reads the `format` option: a name or `{ token, expiresIn?, expiresAt? }` (src/options.rs `check_format`).
pub fn format_option(value: &JsValue) -> Result<Format, Error> {
    options::check_format(&read_value(value)).map_err(config_error)
}

/// The page's `sessionStorage` or `localStorage` through gloo-storage (`raw()`: its typed get/set go through
/// serde_json, ≈ +12.6 kB gzip in issue 12's probe, and the entry is JSON text already). gloo-storage reaches the
/// storage through `window` and throws without one, or when the storage is disabled or blocked (sandboxed frames):
/// it is called only where the options chose it (src/options.rs) and `webStorageReadable` found it. Elsewhere (workers, workerd, Deno,
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
    fn the_platform_facts_and_the_url_parser_give_every_field_the_rules_read() {
        let facts = platform();
        assert!(facts.browser && facts.window, "a page is a browser's window: {facts:?}");
        assert!(facts.base.as_deref().is_some_and(|b| b.starts_with("http")), "a page has a location: {facts:?}");
        assert!(web_storage_readable(false) && web_storage_readable(true));
        let u = options::Runtime::parse_url(&Runtime, "../t?q=1#h", Some("https://u:p@bridge.example:8443/a/b"))
            .expect("a URL");
        assert_eq!(
            u,
            options::ParsedUrl {
                href: "https://u:p@bridge.example:8443/t?q=1#h".into(),
                origin: "https://bridge.example:8443".into(),
            }
        );
        assert_eq!(options::Runtime::parse_url(&Runtime, "/relative", None), None);
    }

    #[wasm_bindgen_test]
    fn options_are_read_from_own_properties_only() {
        use options::Value;
        let o = object(
            r#"{"tokenUrl":"https://bridge.example/token","apiOrigins":["https://api.example",null,{"a":1}],
                "format":{"token":"/t"},"refreshMargin":5,"autoRefresh":true,"bridgeHeaders":{"X-Key":"v"}}"#,
        );
        let planted = js_sys::Function::new_no_args("Object.prototype.revokeUrl = 'https://evil.example/'");
        let unplant = js_sys::Function::new_no_args("delete Object.prototype.revokeUrl");
        let throwing = js_sys::Function::new_with_args(
            "o",
            "Object.defineProperty(o, 'header', { enumerable: true, get() { throw new Error('getter'); } })",
        );
        throwing.call1(&JsValue::NULL, &o).unwrap();
        planted.call0(&JsValue::NULL).unwrap();
        let read = read_value(&o);
        unplant.call0(&JsValue::NULL).unwrap();
        assert_eq!(read.get("revokeUrl"), &Value::Absent, "an inherited property is no option");
        assert_eq!(read.get("header"), &Value::Absent, "a getter that throws reads as absent");
        assert_eq!(read.get("tokenUrl"), &Value::Text("https://bridge.example/token".into()));
        assert_eq!(
            read.get("apiOrigins"),
            &Value::List {
                len: 3,
                items: vec![
                    Value::Text("https://api.example".into()),
                    Value::Null,
                    Value::Object { entries: vec![], symbol_keys: false },
                ],
            }
        );
        assert_eq!(read.get("format").get("token"), &Value::Text("/t".into()));
        assert_eq!(read.get("refreshMargin"), &Value::Number(5.0));
        assert_eq!(read.get("autoRefresh"), &Value::Bool(true));
        assert_eq!(read.get("bridgeHeaders").get("X-Key"), &Value::Text("v".into()));
        assert_eq!(describe(&JsValue::symbol(None)), "a symbol");
        assert_eq!(describe(&JsValue::from_f64(1.5e-7)), "the number 1.5e-7", "as JavaScript prints it");
        assert_eq!(describe(&js_sys::Array::new().into()), "an empty array");
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
        let prefixes = Array::of1(&"https://api.example/".into());
        let header = token_header("X-Token", "v", crate::rules::RedirectMode::Error.as_str());
        assert_eq!(
            ["name", "value", "follow"].map(|k| own(&header, k).as_string()),
            [Some("X-Token".to_owned()), Some("v".to_owned()), Some("error".to_owned())]
        );
        let by_hand = make_by_hand(hop.as_ref().unchecked_ref());
        assert!(by_hand.is_function());
        let fetcher = make_fetch(
            &origins,
            &prefixes,
            crate::rules::RedirectPath::Browser.as_str(),
            want.as_ref().unchecked_ref(),
            crate::rules::REFUSAL,
            answered.as_ref().unchecked_ref(),
            None,
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
