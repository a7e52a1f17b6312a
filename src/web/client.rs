//! `AuthClient`: the executor of the core [`Machine`]. It turns the machine's commands into I/O (fetch through
//! gloo-net, Web Storage, the Web Lock, the BroadcastChannel, one timer, listeners and
//! promises) and the I/O back into events. It decides nothing: every decision is the machine's, tested natively.
//!
//! No `RefCell` borrow is held while JavaScript runs: the machine is borrowed to hand it an event or to take one
//! command, and each command is executed with no borrow held (a listener may call back into the client).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
// Background work runs on wasm-bindgen-futures' executor: `spawn_local` queues a task and polls it from a
// microtask, never in the call that spawns it (a bridge call a command starts runs after that command returns),
// and `future_to_promise` does the same for a future whose answer a JS caller awaits.
use wasm_bindgen_futures::{future_to_promise, spawn_local as spawn, JsFuture};

use super::js::{self, error_to_js, get, JsJson};
use crate::error::{Code, Error};
use crate::json::Json;
use crate::machine::{self, Answer, CallerId, Command, Event, Machine, Notice, Post, Setup, Want};
pub use crate::options::{Credentials, FormatName, FormatOption, Options, Storage};
use crate::rules;
use crate::schedule::parse_retry_after_seconds;
use crate::session::{Config, Transport};
use crate::store::{MemoryStore, TokenStore};
use crate::time::Millis;
use crate::token::AccessToken;

/// Web Storage under one key, falling back to memory for good once the storage refuses or throws. Each cell is
/// borrowed only to copy a handle out or to touch the memory copy: never while the storage runs, since any script
/// of the origin can replace its methods with ones that call back into the client.
struct WebStore {
    storage: RefCell<Option<web_sys::Storage>>,
    /// The Web Storage key (the default derives from the client's identity); `authbridge:` and this key name the
    /// Web Lock and BroadcastChannel shared by every context of the origin using it (see `makeClient`).
    key: String,
    memory: RefCell<MemoryStore>,
}

impl WebStore {
    fn storage(&self) -> Option<web_sys::Storage> {
        self.storage.borrow().clone()
    }
    fn load(&self) -> Option<String> {
        match self.storage() {
            Some(s) => js::store(&s, &self.key, &JsValue::UNDEFINED).as_string(),
            None => self.memory.borrow().load(),
        }
    }
    fn save(&self, entry: &str) {
        if let Some(s) = self.storage() {
            if js::store(&s, &self.key, &JsValue::from_str(entry)).as_bool() == Some(true) {
                return;
            }
            js::store(&s, &self.key, &JsValue::NULL);
            *self.storage.borrow_mut() = None;
        }
        self.memory.borrow_mut().save(entry);
    }
    fn remove(&self) {
        if let Some(s) = self.storage() {
            js::store(&s, &self.key, &JsValue::NULL);
        }
        self.memory.borrow_mut().remove();
    }
}

/// A caller the machine will answer: its id, and the promise resolved once the answer is in
/// [`Inner::answers`]. Dropping it forgets the caller, collected or not: a Rust future dropped before its answer
/// was collected (an `access_token()` nobody awaited) must leave no answer, and so no token, behind.
struct Pending {
    inner: Rc<Inner>,
    id: CallerId,
    promise: Promise,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let id = self.id;
        // `try_`: a drop must never trap. No borrow of these cells is held where a caller could be dropped (none
        // spans JavaScript), so both always succeed.
        if let Ok(mut waiters) = self.inner.waiters.try_borrow_mut() {
            waiters.retain(|(w, _)| *w != id);
        }
        if let Ok(mut answers) = self.inner.answers.try_borrow_mut() {
            answers.retain(|(a, _)| *a != id);
        }
    }
}

/// The checked options.
struct Settings {
    token_url: String,
    revoke_url: String,
    /// `credentials` of bridge calls; `None` leaves it to the platform (server runtimes: some refuse the field).
    credentials: Option<Credentials>,
    /// `[name, value]` pairs, checked by the platform.
    bridge_headers: Array,
    timeout_ms: u32,
    /// A page or a worker: it has peers to coordinate with. Server runtimes have none, and an open
    /// BroadcastChannel would keep a Node or Deno process alive.
    browser_like: bool,
}

/// The `token` event's payload (`TokenEvent` in types.d.ts).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenEvent<'a> {
    source: &'a str,
    /// Epoch milliseconds, `null` for a token that does not expire.
    expires_at: Option<i64>,
    header: &'a str,
}

/// The `signedOut` event's payload (`SignedOutEvent` in types.d.ts).
#[derive(serde::Serialize)]
struct SignedOutEvent<'a> {
    reason: &'a str,
}

/// A message to the other contexts of this client on the BroadcastChannel: `ask` (for a token), `token` (with
/// the stored entry's JSON) or `signedOut`. Received ones are read as untrusted input (see `on_message`).
#[derive(serde::Serialize)]
struct PeerMessage<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    client: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<&'a str>,
}

/// Keeps a page or worker signed in: refreshes short-lived tokens through the bridging backend before they
/// expire and attaches them to requests for the configured API origins only.
#[cfg_attr(feature = "js-api", wasm_bindgen(skip_typescript))]
pub struct AuthClient {
    client: Client,
}

/// The Rust closures JavaScript calls (see `makeClient` in js/platform.js), kept alive as long as the client.
/// `Fn`, not `FnMut`: each may be re-entered when a platform answers synchronously from inside a call the client
/// makes (Deno grants a free Web Lock within `navigator.locks.request`, while the fetcher's `want()` is still
/// running), which wasm-bindgen refuses for an `FnMut` ("closure invoked recursively").
struct Callbacks {
    _message: Closure<dyn Fn(JsValue)>,
    _lifecycle: Closure<dyn Fn(String, JsValue)>,
    _lock: Closure<dyn Fn(u32, String)>,
    timer: Closure<dyn Fn()>,
    _want: Closure<dyn Fn() -> Promise>,
    _answered: Closure<dyn Fn(JsValue, u16, String, Option<String>) -> bool>,
    /// Where redirects are followed by hand.
    #[cfg(feature = "server-runtimes")]
    _by_hand: Option<ByHand>,
}

/// The closure that decides each redirect a request to an API origin meets outside browsers (status, whether there
/// is a `Location`, method, the caller's mode, hops so far, the hop's origin, the target's origin), by
/// [`rules::next_hop`].
#[cfg(feature = "server-runtimes")]
type HopRule = Closure<dyn Fn(u16, bool, String, String, u32, String, Option<String>) -> JsValue>;

/// The by-hand follower of js/by-hand.js and the client's rule it asks at each hop.
#[cfg(feature = "server-runtimes")]
struct ByHand {
    _hop: HopRule,
    send: Function,
}

#[cfg(feature = "server-runtimes")]
impl ByHand {
    fn new(apis: Vec<String>) -> Self {
        let hop: HopRule = Closure::new(
            move |status: u16,
                  location: bool,
                  method: String,
                  mode: String,
                  hops: u32,
                  from: String,
                  to: Option<String>| {
                let mode = rules::RedirectMode::from_name(Some(&mode));
                let decision = rules::next_hop(status, location, &method, mode, hops, &from, to.as_deref(), &apis);
                js::to_js(&HopDecision::from(decision)).unwrap_or_default()
            },
        );
        let send = js::make_by_hand(hop.as_ref().unchecked_ref());
        ByHand { _hop: hop, send }
    }
}

struct Inner {
    /// Every decision. Borrowed only to hand it an event, read it, or take a command: never across JavaScript.
    machine: RefCell<Machine>,
    options: Settings,
    store: WebStore,
    /// The armed timer: when it fires and its handle.
    timer: RefCell<Option<(Millis, JsValue)>>,
    /// `free()` was called (mirrors the machine, read on every call without a borrow).
    freed: Cell<bool>,
    /// The bridge call in flight (see `Inner::answer`).
    flight_js: RefCell<Option<Promise>>,
    /// The pending promises of callers the machine answers: id → resolve.
    waiters: RefCell<Vec<(CallerId, Function)>>,
    /// Answers settled and not yet collected by their caller.
    answers: RefCell<Vec<(CallerId, Answer)>>,
    /// Rust listeners ([`Client::on_notice`]), by id.
    notice_listeners: RefCell<Vec<(u32, NoticeListener)>>,
    next_caller: Cell<CallerId>,
    /// The client's identity, carried by every peer message.
    client: String,
    on_token: js_sys::Set,
    on_signed_out: js_sys::Set,
    on_error: js_sys::Set,
    /// Subscribers of the store interface (`subscribe`), called with no argument when the snapshot changes.
    on_change: js_sys::Set,
    /// The snapshot handed out until something changes (`getSnapshot` returns the same object until then).
    snapshot: RefCell<Option<JsValue>>,
    /// The machine's error as a JS error, by the machine's error serial: the snapshot and the `error` event share it.
    error_js: RefCell<Option<(u32, JsValue)>>,
    /// The JavaScript error behind the last network failure or timeout: the `cause` of the error reported.
    last_cause: RefCell<Option<JsValue>>,
    /// The BroadcastChannel to the other tabs and workers (`null` where it does not exist).
    channel: JsValue,
    callbacks: Callbacks,
    /// The Web Lock requests by ticket (see `makeLocks`).
    locks: js::Locks,
    /// Removes the lifecycle listeners.
    unlisten: RefCell<Option<Function>>,
    /// The authenticated fetch's rules (see `makeFetch` in js/fetch.js).
    fetcher: js::Fetcher,
    /// The current token's header name and its `TokenHeader` object, by token generation: a fetch reuses them
    /// instead of copying strings out of wasm on every call.
    header_js: RefCell<Option<(u64, JsValue, JsValue)>>,
}

/// A decision of [`rules::next_hop`] as js/by-hand.js reads it (`Hop` there).
#[cfg(feature = "server-runtimes")]
#[derive(serde::Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum HopDecision {
    Done,
    Fail {
        message: &'static str,
    },
    Follow {
        #[serde(rename = "toGet")]
        to_get: bool,
        token: bool,
        drop: &'static [&'static str],
    },
}

#[cfg(feature = "server-runtimes")]
impl From<rules::Hop> for HopDecision {
    fn from(hop: rules::Hop) -> Self {
        match hop {
            rules::Hop::Done => HopDecision::Done,
            rules::Hop::Fail(message) => HopDecision::Fail { message },
            rules::Hop::Follow { to_get, token, drop } => HopDecision::Follow { to_get, token, drop },
        }
    }
}

/// The token's header as the fetcher sends it (`TokenHeader` in js/fetch.js): what `want()` resolves to, and what a
/// fetch with a fresh token is given; `follow` is the redirect mode [`rules::browser_follow`] chose for it.
fn token_header_js(name: &str, value: &str) -> JsValue {
    js::token_header(name, value, rules::browser_follow(name).as_str())
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close_io();
    }
}

impl Inner {
    // ---- the executor loop ----

    /// Hands `event` to the machine, then executes what it commands.
    fn handle(self: &Rc<Self>, event: Event<JsJson>) {
        self.machine.borrow_mut().handle(event, js::now());
        self.run();
    }

    /// Executes the queued commands in order (a command may re-enter `handle`, which drains the rest), then
    /// re-arms the timer.
    fn run(self: &Rc<Self>) {
        loop {
            let command = self.machine.borrow_mut().poll_command();
            match command {
                Some(c) => self.execute(c),
                None => break,
            }
        }
        self.arm_timer();
    }

    fn execute(self: &Rc<Self>, command: Command) {
        match command {
            Command::Store(Some(entry)) => self.store.save(&entry),
            Command::Store(None) => self.store.remove(),
            Command::Post(post) => {
                let (kind, entry) = match &post {
                    Post::Ask => ("ask", None),
                    Post::Token(entry) => ("token", Some(entry.as_str())),
                    Post::SignedOut => ("signedOut", None),
                };
                if let Some(m) = js::to_js(&PeerMessage { kind, client: &self.client, entry }) {
                    js::post(&self.channel, &m);
                }
            }
            Command::Lock { ticket, mode } => self.locks.request(ticket, js::lock_mode(mode)),
            Command::Unlock { ticket } => self.locks.release(ticket),
            Command::Announce => self.locks.announce(),
            Command::FindPeers { ticket } => self.locks.find_peers(ticket),
            Command::CallBridge { attempt } => {
                let this = Rc::clone(self);
                let flight = future_to_promise(async move {
                    let result = this.call_bridge(&this.options.token_url, "POST", None).await;
                    *this.flight_js.borrow_mut() = None;
                    this.handle(Event::BridgeAnswered { attempt, result });
                    Ok(JsValue::UNDEFINED)
                });
                *self.flight_js.borrow_mut() = Some(flight);
            }
            Command::Revoke { caller, header } => {
                let this = Rc::clone(self);
                spawn(async move {
                    // The session is already over locally; the machine tells the caller whether the bridge
                    // confirmed.
                    let result = this.call_bridge(&this.options.revoke_url, "DELETE", header).await;
                    this.handle(Event::Revoked { caller, result });
                });
            }
            Command::Notify(notice) => self.notify(notice),
            Command::Settle { caller, answer } => self.settle(caller, answer),
            Command::Shutdown => {
                self.freed.set(true);
                for set in [&self.on_token, &self.on_signed_out, &self.on_error, &self.on_change] {
                    set.clear();
                }
                for cell in [&self.snapshot, &self.last_cause] {
                    *cell.borrow_mut() = None;
                }
                *self.error_js.borrow_mut() = None;
                *self.header_js.borrow_mut() = None;
                *self.flight_js.borrow_mut() = None;
                self.notice_listeners.borrow_mut().clear();
                // Answers not yet collected go with the client (a token among them must not outlive free()):
                // their callers get `freed`.
                self.answers.borrow_mut().clear();
                // A memory-only token ends with the client (a stored one stays for the next page load).
                *self.store.memory.borrow_mut() = MemoryStore::default();
                self.close_io();
            }
        }
    }

    /// Timer, channel and listeners go (from `free()`, or when the last reference is dropped).
    fn close_io(&self) {
        // Taken out first: `clearTimeout` is a global any script may replace, and must run with no borrow held.
        let timer = self.timer.try_borrow_mut().ok().and_then(|mut t| t.take());
        if let Some((_, handle)) = timer {
            js::clear_timeout(&handle);
        }
        js::close_channel(&self.channel);
        let off = self.unlisten.try_borrow_mut().ok().and_then(|mut u| u.take());
        if let Some(off) = off {
            let _ = off.call0(&JsValue::NULL);
        }
    }

    /// One timer, at the machine's next deadline; left alone when that has not moved.
    fn arm_timer(&self) {
        if self.freed.get() {
            return;
        }
        let next = self.machine.borrow().poll_timeout();
        // No borrow while `setTimeout`/`clearTimeout` run: they are globals any script may replace.
        let old = {
            let mut timer = self.timer.borrow_mut();
            if timer.as_ref().map(|(at, _)| *at) == next {
                return;
            }
            timer.take()
        };
        if let Some((_, handle)) = old {
            js::clear_timeout(&handle);
        }
        if let Some(at) = next {
            // setTimeout holds at most 2^31-1 ms; a longer wait fires early and the machine re-arms it.
            let delay = (at - js::now()).clamp(0, i64::from(i32::MAX));
            let handle = js::set_timeout(self.callbacks.timer.as_ref().unchecked_ref(), delay as f64);
            // One armed timer: one armed meanwhile (by a call back from a replaced setTimeout) is cleared.
            let replaced = self.timer.borrow_mut().replace((at, handle));
            if let Some((_, handle)) = replaced {
                js::clear_timeout(&handle);
            }
        }
    }

    // ---- callers ----

    /// A caller: its id and a promise resolved (with `undefined`) once the machine has settled it. Registers the
    /// caller and hands the machine its event now (`defer`: the commands run from a microtask, so that no listener
    /// runs inside the call that started it).
    fn begin(self: &Rc<Self>, event: impl FnOnce(CallerId) -> Event<JsJson>, defer: bool) -> Pending {
        let id = self.next_caller.get().wrapping_add(1);
        self.next_caller.set(id);
        self.begin_event(id, event(id), defer)
    }

    /// `start()`: the stored entry is read now, the restore's commands run from a microtask.
    fn begin_start(self: &Rc<Self>) -> Pending {
        let stored = self.store.load();
        self.begin(|caller| Event::Start { caller, stored }, true)
    }

    fn begin_token(self: &Rc<Self>) -> Pending {
        self.begin(|caller| Event::Want { caller, want: Want::Token }, false)
    }

    fn begin_refresh(self: &Rc<Self>) -> Pending {
        self.begin(|caller| Event::Refresh { caller }, false)
    }

    fn begin_sign_out(self: &Rc<Self>) -> Pending {
        self.begin(|caller| Event::SignOut { caller }, false)
    }

    /// [`Inner::begin`] once the event is made: its code exists once, not once per kind of caller.
    fn begin_event(self: &Rc<Self>, id: CallerId, event: Event<JsJson>, defer: bool) -> Pending {
        let pair = js::deferred();
        let (promise, resolve) = (pair.promise(), pair.resolve());
        self.waiters.borrow_mut().push((id, resolve));
        let pending = Pending { inner: Rc::clone(self), id, promise };
        if defer {
            self.machine.borrow_mut().handle(event, js::now());
            let this = Rc::clone(self);
            spawn(async move { this.run() });
        } else {
            self.handle(event);
        }
        pending
    }

    /// The machine's answer to caller `id`, once it is in. Pages and workers wait for the caller's promise.
    /// Request-scoped runtimes (workerd) cancel a request that waits on nothing of its own as hung, and a promise
    /// resolved from another request's context may never wake it. So a caller there waits on the bridge call in
    /// flight (whichever request made it) or on its own timer for the machine's next deadline, and then hands
    /// the machine the timer event itself, until its answer is in. (One loop and one `await` for both: each await
    /// point costs the future's state machine a state.)
    async fn answer(pending: Pending) -> Answer {
        let (this, id) = (&pending.inner, pending.id);
        let promise = &pending.promise;
        let browser = this.options.browser_like;
        while this.pending(id) && (browser || !this.freed.get()) {
            let wait = if browser {
                promise.clone()
            } else {
                let flight = this.flight_js.borrow().clone();
                let deadline = this.machine.borrow().poll_timeout().map(|at| (at - js::now()).max(0) as f64);
                js::first_of(promise, flight.as_ref(), deadline.unwrap_or(-1.0))
            };
            let _ = JsFuture::from(wait).await;
            if browser {
                break;
            }
            this.handle(Event::Timer);
        }
        let answer = {
            let mut answers = this.answers.borrow_mut();
            answers.iter().position(|(a, _)| *a == id).map(|i| answers.swap_remove(i).1)
        };
        answer.unwrap_or_else(|| Answer::Failed(machine::freed_error()))
    }

    fn pending(&self, id: CallerId) -> bool {
        self.waiters.borrow().iter().any(|(w, _)| *w == id)
    }

    fn settle(&self, caller: CallerId, answer: Answer) {
        let waiter = {
            let mut waiters = self.waiters.borrow_mut();
            let i = waiters.iter().position(|(id, _)| *id == caller);
            i.map(|i| waiters.swap_remove(i))
        };
        if let Some((_, resolve)) = waiter {
            self.answers.borrow_mut().push((caller, answer));
            let _ = resolve.call0(&JsValue::NULL);
        }
    }

    /// The JS error for a failed call: the error on show in the snapshot is that same object.
    fn call_error(&self, e: &Error) -> JsValue {
        let shown = self.machine.borrow().error().0 == Some(e);
        if shown {
            self.current_error()
        } else {
            self.js_error(e)
        }
    }

    // ---- notices ----

    fn emit(&self, listeners: &js_sys::Set, payload: Option<&JsValue>) {
        if self.freed.get() {
            return;
        }
        // A listener that throws must not break the client or the other listeners. No borrow is held here: a
        // listener may call back into the client.
        js::emit(listeners, payload.is_some(), payload.unwrap_or(&JsValue::UNDEFINED));
    }

    fn notify(&self, notice: Notice) {
        if !self.freed.get() && !self.notice_listeners.borrow().is_empty() {
            // Called from a copy of the list: a listener may add or remove listeners.
            let mut listeners: Vec<NoticeListener> = Vec::new();
            for (_, l) in self.notice_listeners.borrow().iter() {
                listeners.push(l.clone());
            }
            for l in &listeners {
                if let Ok(mut f) = l.try_borrow_mut() {
                    f(&notice);
                }
            }
        }
        match notice {
            Notice::Changed => {
                *self.snapshot.borrow_mut() = None;
                self.emit(&self.on_change, None);
            }
            Notice::Token { source, expires_at, header } => {
                let event = js::to_js(&TokenEvent { source, expires_at, header: &header });
                self.emit(&self.on_token, event.as_ref());
            }
            Notice::SignedOut { reason } => {
                let event = js::to_js(&SignedOutEvent { reason });
                self.emit(&self.on_signed_out, event.as_ref());
            }
            Notice::Error(_) => {
                let error = self.current_error();
                self.emit(&self.on_error, Some(&error));
            }
        }
    }

    /// The machine's current error as a JS error (one object per error: the snapshot and the event share it).
    fn current_error(&self) -> JsValue {
        let serial = self.machine.borrow().error().1;
        if let Some((s, js)) = self.error_js.borrow().as_ref() {
            if *s == serial {
                return js.clone();
            }
        }
        // Copied out first: making the JS error runs JavaScript.
        let error = self.machine.borrow().error().0.cloned();
        let js = error.map_or(JsValue::NULL, |e| self.js_error(&e));
        *self.error_js.borrow_mut() = Some((serial, js.clone()));
        js
    }

    /// The JS error for `e`, with the JavaScript error behind a network failure or timeout as its `cause`.
    fn js_error(&self, e: &Error) -> JsValue {
        let cause = matches!(e.code, Code::Network | Code::Timeout).then(|| self.last_cause.borrow().clone()).flatten();
        js::error_with_cause(e, cause.as_ref())
    }

    /// The current token's decoded claims, or `null`. The token is copied out first: decoding calls JSON.parse,
    /// and no borrow is held across JavaScript.
    fn claims(&self) -> JsValue {
        let token = self.machine.borrow().session().current().map(|c| c.record.token.clone());
        token
            .and_then(|t| crate::jwt::decode_claims_unverified::<JsJson>(t.secret()).ok())
            .map_or(JsValue::NULL, |c| c.0)
    }

    // ---- platform events ----

    /// A lifecycle event by its type (`LifecycleType` in js/platform.js): a `visibilitychange` is to visible,
    /// `storage` and `pageshow` come with the event.
    fn on_lifecycle(self: &Rc<Self>, kind: &str, event: JsValue) {
        let event = match kind {
            "online" => Event::Online(true),
            "offline" => Event::Online(false),
            "pageshow" if get(&event, "persisted").as_bool() == Some(true) && self.shares_storage() => {
                // Back from the back-forward cache: the channel's messages of the meantime were missed, so the
                // shared entry is read again and handed over as a `storage` event would (gone: a sign-out).
                let value = self.store.load();
                self.handle(Event::Storage { key: Some(self.store.key.clone()), value });
                Event::Wake
            }
            "visibilitychange" | "pageshow" | "focus" => Event::Wake,
            "storage" => {
                Event::Storage { key: get(&event, "key").as_string(), value: get(&event, "newValue").as_string() }
            }
            _ => return,
        };
        self.handle(event);
    }

    /// A message on the BroadcastChannel, handed to the machine as untrusted input.
    fn on_message(self: &Rc<Self>, message: JsValue) {
        let text = |key| js::own(&message, key).as_string();
        self.handle(Event::Peer { kind: text("type"), client: text("client"), entry: text("entry") });
    }

    /// Whether the token is in Web Storage every tab shares (`storage: 'local'` where it works).
    fn shares_storage(&self) -> bool {
        self.machine.borrow().setup().shared_storage_key.is_some() && self.store.storage().is_some()
    }

    /// A Web Lock event (`LockResult` in js/platform.js).
    fn on_lock(self: &Rc<Self>, ticket: u32, result: &str) {
        self.handle(match result {
            "granted" => Event::LockGranted { ticket },
            "busy" => Event::LockBusy { ticket },
            "peers" => Event::Peers { ticket, present: true },
            "alone" => Event::Peers { ticket, present: false },
            _ => Event::LockFailed { ticket },
        });
    }

    // ---- the bridge ----

    /// A bridge call (the token `POST` or the revoke `DELETE`) with the configured headers, credentials and timeout,
    /// sent by gloo-net. The `web_sys::Request` is built here (by `bridgeRequest` in web/js.rs) and handed to
    /// `gloo_net::http::Request::from`: gloo's
    /// `RequestBuilder` merges query parameters with `format!`, which linked `core::fmt` (measured: +2.8 kB gzip
    /// with the builder, see bench/RESULTS.md section 7).
    fn bridge_request(
        &self,
        url: &str,
        method: &str,
        signal: &web_sys::AbortSignal,
        token_header: Option<(String, String)>,
    ) -> Result<gloo_net::http::Request, JsValue> {
        let (name, value) = match &token_header {
            Some((name, value)) => (Some(name.as_str()), Some(value.as_str())),
            None => (None, None),
        };
        let options = &self.options;
        let credentials = options.credentials.map(Credentials::as_str);
        Ok(js::bridge_request(url, method, &options.bridge_headers, name, value, credentials, signal)?.into())
    }

    /// The JS error behind a failed bridge call, kept as the `cause` of the error reported for it.
    fn keep_cause(&self, error: gloo_net::Error) {
        // gloo-net keeps the JS error's name and message (its other variants are for JSON bodies, unused here).
        let cause = match error {
            gloo_net::Error::JsError(e) => Some(js::make_error(&e.message, &e.name, None, None, None, None)),
            _ => None,
        };
        *self.last_cause.borrow_mut() = cause;
    }

    /// A bridge call: the token `POST`, or the revoke `DELETE` with the token's header. A redirect is not
    /// followed (see `bridgeRequest`) and comes back as [`Transport::Redirect`].
    async fn call_bridge(&self, url: &str, method: &str, token_header: Option<(String, String)>) -> Transport<JsJson> {
        let signal = web_sys::AbortSignal::timeout_with_u32(self.options.timeout_ms);
        let lost = |this: &Self, e| {
            this.keep_cause(e);
            if get(&signal, "aborted").as_bool() == Some(true) {
                Transport::Timeout
            } else {
                Transport::Network
            }
        };
        let request = match self.bridge_request(url, method, &signal, token_header) {
            Ok(r) => r,
            Err(e) => {
                // The platform refused to build the request (bridgeHeaders are checked at construction, so this
                // is not expected): nothing was sent.
                *self.last_cause.borrow_mut() = Some(e);
                return Transport::Network;
            }
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return lost(self, e),
        };
        let raw = web_sys::Response::from(response);
        let meta = js::response_meta(&raw);
        let response = gloo_net::http::Response::from(raw);
        let status = meta.status();
        if rules::bridge_redirect(status, meta.opaque_redirect()) {
            return Transport::Redirect { status, to: meta.location_origin() };
        }
        // Readable for a same-origin bridge, or one that lists Date in Access-Control-Expose-Headers.
        let time = |t: f64| t.is_finite().then_some(t as Millis);
        let date = time(meta.date());
        let retry_after_ms = meta.retry_after().and_then(|v| {
            parse_retry_after_seconds(&v).or_else(|| time(meta.retry_after_date()).map(|at| (at - js::now()).max(0)))
        });
        let body = match response.text().await {
            Ok(t) => JsJson::parse(&t),
            Err(e) => return lost(self, e),
        };
        Transport::Response { status, retry_after_ms, date, body }
    }

    // ---- authenticated fetch ----

    /// Sends `input` with `init` under the fetch rules of `makeFetch`, with the token when it needs no refresh
    /// (the header built once per token) and otherwise after the machine's answer to a `Want`. `replay`: whether
    /// a 401 may be retried (`None`: unless `init`'s body is a stream).
    fn fetch(&self, input: &JsValue, init: &JsValue, replay: Option<bool>) -> Promise {
        // Every borrow ends before JavaScript runs: `send` reads `init`, whose getters may call back.
        let (name, token) = match self.fresh_header_js(js::now()) {
            Some(fresh) => fresh,
            None => {
                let name = self.machine.borrow().header_name().to_owned();
                (name.into(), JsValue::UNDEFINED)
            }
        };
        self.fetcher.send(input, init, &name, &token, replay)
    }

    /// The token's header name and its `TokenHeader` object when the token needs no refresh at `now`, made once
    /// per token generation, with no borrow held while JavaScript makes it.
    fn fresh_header_js(&self, now: Millis) -> Option<(JsValue, JsValue)> {
        let generation = self.machine.borrow().fresh_generation(now)?;
        if let Some((g, name, token)) = self.header_js.borrow().as_ref() {
            if *g == generation {
                return Some((name.clone(), token.clone()));
            }
        }
        let (name, value) = {
            let machine = self.machine.borrow();
            let (name, value) = machine.fresh_header(now)?;
            (name.to_owned(), value)
        };
        let token = token_header_js(&name, &value);
        let name = JsValue::from(name);
        *self.header_js.borrow_mut() = Some((generation, name.clone(), token.clone()));
        Some((name, token))
    }
}

/// The Rust API: the client [`AuthClient`] wraps, for Rust frontends (Leptos, Yew, Dioxus, or none) and Rust
/// workers. Cloning gives another handle on the same client. Every method runs its event through the core's
/// [`Machine`] at call time; the futures only wait for the answer.
///
/// ```no_run
/// # async fn demo() -> Result<(), authbridge::Error> {
/// use authbridge::web::{Client, Options};
/// let auth = Client::new(&Options {
///     token_url: "/auth/token".into(),
///     api_origins: vec!["https://api.example.com".into()],
///     ..Options::default()
/// })?;
/// if auth.start().await? {
///     let request = web_sys::Request::new_with_str("https://api.example.com/me").unwrap();
///     let response = auth.fetch(request).await;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

/// A Rust listener of the client's notices (see [`Client::on_notice`]).
type NoticeListener = Rc<RefCell<dyn FnMut(&Notice)>>;

impl Client {
    /// Creates a client; an [`Error`] with code `invalid_config` names the option that is wrong.
    pub fn new(options: &Options) -> Result<Client, Error> {
        // One validation path for both APIs (src/options.rs): the options as the object `AuthClient` is given.
        Self::with_options(&options.to_value())
    }

    fn from_js(options: &JsValue) -> Result<Client, Error> {
        Self::with_options(&js::read_value(options))
    }

    fn with_options(options: &crate::options::Value) -> Result<Client, Error> {
        let read = crate::options::check(options, &js::platform(), &js::Runtime).map_err(js::config_error)?;
        let format = read.format;
        let storage = read.storage;
        // `storage: 'local'`: other tabs' writes arrive as `storage` events too. `storage: 'memory'`: the token
        // never leaves this context's memory, so it is neither handed to peers nor taken from them, and no Web
        // Lock is taken (each context has its own token).
        let (local_storage, memory_only) = (storage == Storage::Local, storage == Storage::Memory);
        let bridge_headers: Array =
            read.bridge_headers.iter().map(|(k, v)| Array::of2(&JsValue::from_str(k), &JsValue::from_str(v))).collect();
        let options = Settings {
            token_url: read.token_url,
            revoke_url: read.revoke_url,
            credentials: read.credentials,
            bridge_headers,
            timeout_ms: read.bridge_timeout_ms as u32,
            browser_like: read.browser,
        };
        // How a request with the token meets redirects here: the browser's fetch, by hand, or not at all.
        let path = rules::redirect_path(options.browser_like, cfg!(feature = "server-runtimes"));
        let header = read.header;
        let origins = read.api_origins;
        let api_origins: Array = origins.iter().map(|o| JsValue::from_str(o)).collect();
        // The identity binds stored entries and peer messages to this bridge, these API origins, this header and
        // this format.
        let client = crate::store::client_id(&options.token_url, &origins, header.as_deref(), &format.identity());
        let key = read.storage_key.unwrap_or_else(|| format!("authbridge.{client}"));
        let web_storage =
            (read.web_storage && js::web_storage_readable(local_storage)).then(|| js::web_storage(local_storage));
        let inner = Rc::new_cyclic(|weak: &Weak<Inner>| {
            // The closures JavaScript calls (see `makeClient`): each holds the client weakly, so that the client
            // goes when the application lets it go.
            let w = weak.clone();
            let message = Closure::new(move |message: JsValue| {
                if let Some(inner) = w.upgrade() {
                    inner.on_message(message);
                }
            });
            let w = weak.clone();
            let lifecycle = Closure::new(move |kind: String, event: JsValue| {
                if let Some(inner) = w.upgrade() {
                    inner.on_lifecycle(&kind, event);
                }
            });
            let w = weak.clone();
            let lock = Closure::new(move |ticket: u32, result: String| {
                if let Some(inner) = w.upgrade() {
                    inner.on_lock(ticket, &result);
                }
            });
            let w = weak.clone();
            let timer = Closure::new(move || {
                if let Some(inner) = w.upgrade() {
                    *inner.timer.borrow_mut() = None;
                    inner.handle(Event::Timer);
                }
            });
            let w = weak.clone();
            let want = Closure::new(move || -> Promise {
                let Some(inner) = w.upgrade() else {
                    return Promise::reject(&error_to_js(&machine::freed_error()));
                };
                // Called from a microtask (see `makeClient`), not from the caller's stack.
                let pending = inner.begin(|caller| Event::Want { caller, want: Want::Header }, false);
                answer_promise(inner, pending)
            });
            // What the API answered to the token `value`, sent for the origin `sent_to`, from the origin `from`: a
            // refusal (src/rules.rs) stops the token from being sent again, and the fetch sends the request once more.
            let w = weak.clone();
            let apis = origins.clone();
            let answered = Closure::new(move |value: JsValue, status: u16, sent_to: String, from: Option<String>| {
                let carried = rules::token_reached(path, &sent_to, from.as_deref(), &apis);
                let refused = rules::refuses_token(status, carried);
                if let (true, Some(inner)) = (refused, w.upgrade()) {
                    inner.handle(Event::Unauthorized { value: value.as_string().unwrap_or_default() });
                }
                refused
            });
            // Redirects followed by hand (src/rules.rs decides each hop; js/by-hand.js carries it out).
            #[cfg(feature = "server-runtimes")]
            let by_hand = (path == rules::RedirectPath::ByHand).then(|| ByHand::new(origins.clone()));
            #[cfg(feature = "server-runtimes")]
            let by_hand_send = by_hand.as_ref().map(|b| &b.send);
            #[cfg(not(feature = "server-runtimes"))]
            let by_hand_send = None;
            let parts = js::make_client(
                message.as_ref().unchecked_ref(),
                lifecycle.as_ref().unchecked_ref(),
                lock.as_ref().unchecked_ref(),
                &key,
                options.browser_like,
                local_storage,
            );
            let prefixes: Array = rules::token_prefixes(&origins).iter().map(|p| JsValue::from_str(p)).collect();
            let fetcher = js::make_fetch(
                &api_origins,
                &prefixes,
                path.as_str(),
                want.as_ref().unchecked_ref(),
                rules::REFUSAL,
                answered.as_ref().unchecked_ref(),
                by_hand_send,
            );
            let channel = parts.channel();
            let session = Config {
                format,
                header,
                refresh_margin_ms: read.refresh_margin_ms,
                client,
                server: !options.browser_like,
            };
            // The Web Lock serialises bridge calls between contexts that share a token: through Web Storage or
            // the channel. A server runtime has neither (its token is in this context's memory alone).
            let shared = !memory_only && (web_storage.is_some() || !channel.is_null());
            let setup = Setup {
                session,
                auto_refresh: read.auto_refresh,
                peers: !channel.is_null() && !memory_only,
                lock: shared,
                // Every browser the package supports has Web Locks' `query` (where one lacks it, `findPeers`
                // answers `peers`: the start asks and locks as before); server runtimes have no peers to find.
                presence: options.browser_like,
                bridge_timeout_ms: Millis::from(options.timeout_ms),
                shared_storage_key: local_storage.then(|| key.clone()),
                online: parts.online(),
                seed: parts.seed() as u64,
            };
            Inner {
                client: setup.session.client.clone(),
                machine: RefCell::new(Machine::new(setup)),
                options,
                store: WebStore {
                    storage: RefCell::new(web_storage),
                    key,
                    memory: RefCell::new(MemoryStore::default()),
                },
                timer: RefCell::new(None),
                freed: Cell::new(false),
                flight_js: RefCell::new(None),
                waiters: RefCell::new(Vec::new()),
                answers: RefCell::new(Vec::new()),
                notice_listeners: RefCell::new(Vec::new()),
                next_caller: Cell::new(0),
                on_token: parts.on_token(),
                on_signed_out: parts.on_signed_out(),
                on_error: parts.on_error(),
                on_change: parts.on_change(),
                snapshot: RefCell::new(None),
                error_js: RefCell::new(None),
                last_cause: RefCell::new(None),
                channel,
                callbacks: Callbacks {
                    _message: message,
                    _lifecycle: lifecycle,
                    _lock: lock,
                    timer,
                    _want: want,
                    _answered: answered,
                    #[cfg(feature = "server-runtimes")]
                    _by_hand: by_hand,
                },
                locks: parts.locks(),
                unlisten: RefCell::new(Some(parts.unlisten())),
                fetcher,
                header_js: RefCell::new(None),
            }
        });
        Ok(Client { inner })
    }

    /// Restores a stored token if still valid, otherwise asks the peers and the bridge. `Ok(true)`: signed in;
    /// `Ok(false)`: no session. The restore happens in this call; the future waits for the rest.
    pub fn start(&self) -> impl Future<Output = Result<bool, Error>> {
        let pending = self.inner.begin_start();
        async move {
            match Inner::answer(pending).await {
                Answer::Started(signed_in) => Ok(signed_in),
                other => Err(failure(other)),
            }
        }
    }

    /// A token valid for at least the refresh margin, refreshing first if needed.
    pub fn access_token(&self) -> impl Future<Output = Result<AccessToken, Error>> {
        let pending = self.inner.begin_token();
        async move { token_answer(Inner::answer(pending).await) }
    }

    /// Forces one refresh (joining one in flight); also leaves the signed-out state.
    pub fn refresh(&self) -> impl Future<Output = Result<AccessToken, Error>> {
        let pending = self.inner.begin_refresh();
        async move { token_answer(Inner::answer(pending).await) }
    }

    /// Ends the session here and at the bridge (`DELETE revokeUrl`); tells the other tabs and workers. The local
    /// session ends either way; the error (`bridge_unavailable` with the status, `network`, `timeout`,
    /// `invalid_response` for a redirect) says the bridge did not confirm, so its session may live on.
    pub fn sign_out(&self) -> impl Future<Output = Result<(), Error>> {
        let pending = self.inner.begin_sign_out();
        async move {
            match Inner::answer(pending).await {
                Answer::Done => Ok(()),
                other => Err(failure(other)),
            }
        }
    }

    /// Sends `request` with the token when its URL is under an API origin (and the request does not set the
    /// header itself), refreshing first if needed, and once more after a 401. The error is an authbridge error
    /// (with a `code`) or, when the API itself cannot be reached, the platform's.
    ///
    /// A copy of the body is kept to resend after a 401: for a body that is a stream, use
    /// [`fetch_streamed`](Self::fetch_streamed).
    pub async fn fetch(&self, request: web_sys::Request) -> Result<web_sys::Response, JsValue> {
        self.send(request, true).await
    }

    /// [`fetch`](Self::fetch) for a request whose body is a stream: sent once, with no retry after a 401 (a
    /// stream can be read once, and keeping a copy would hold the whole upload in memory).
    pub async fn fetch_streamed(&self, request: web_sys::Request) -> Result<web_sys::Response, JsValue> {
        self.send(request, false).await
    }

    async fn send(&self, request: web_sys::Request, replay: bool) -> Result<web_sys::Response, JsValue> {
        if self.inner.freed.get() {
            return Err(error_to_js(&machine::freed_error()));
        }
        let sent = self.inner.fetch(&request.into(), &JsValue::UNDEFINED, Some(replay));
        Ok(JsFuture::from(sent).await?.unchecked_into())
    }

    /// The current token's decoded claims (a JS object), or `None` (opaque token, or none).
    pub fn claims(&self) -> Option<JsValue> {
        Some(self.inner.claims()).filter(|c| !c.is_null())
    }

    /// The current token's expiry in epoch milliseconds.
    pub fn expires_at(&self) -> Option<Millis> {
        self.inner.machine.borrow().session().current().and_then(|c| c.record.expires_at)
    }

    /// What the store interface shows.
    pub fn status(&self) -> machine::Status {
        self.inner.machine.borrow().status()
    }

    /// Calls `listener` with every notice (new token, signed out, error, snapshot changed) until [`Client::off`]
    /// with the returned id. It may call the client; it is not called again while it runs.
    pub fn on_notice(&self, listener: impl FnMut(&Notice) + 'static) -> u32 {
        let id = self.inner.next_caller.get().wrapping_add(1);
        self.inner.next_caller.set(id);
        let listener: NoticeListener = Rc::new(RefCell::new(listener));
        self.inner.notice_listeners.borrow_mut().push((id, listener));
        id
    }

    /// Removes a listener added with [`Client::on_notice`].
    pub fn off(&self, id: u32) {
        self.inner.notice_listeners.borrow_mut().retain(|(l, _)| *l != id);
    }

    /// Pauses the refresh timer and the reactions to peers and page events; `start()` resumes.
    pub fn stop(&self) {
        if !self.inner.freed.get() {
            self.inner.handle(Event::Stop);
        }
    }

    /// Ends the client for good: pending calls fail with `freed`, nothing is called, stored or posted afterwards.
    pub fn free(&self) {
        if !self.inner.freed.get() {
            self.inner.handle(Event::Free);
        }
    }
}

fn failure(answer: Answer) -> Error {
    match answer {
        Answer::Failed(e) => e,
        _ => machine::freed_error(),
    }
}

fn token_answer(answer: Answer) -> Result<AccessToken, Error> {
    match answer {
        Answer::Token(t) => AccessToken::new(t).ok_or_else(|| Error::new(Code::SignedOut, "no token")),
        other => Err(failure(other)),
    }
}

/// A promise settled from a Rust future's answer, with the error as the JS error the snapshot shows. One
/// conversion for every kind of caller (each gets only its own kind of answer, or a failure): `start` resolves to
/// a boolean, `accessToken` and `refresh` to the token, `signOut` to `undefined`, the fetcher's `want()` to
/// `[name, value]`.
fn answer_promise(inner: Rc<Inner>, pending: Pending) -> Promise {
    future_to_promise(async move {
        match Inner::answer(pending).await {
            Answer::Started(b) => Ok(JsValue::from_bool(b)),
            Answer::Token(t) => Ok(JsValue::from_str(&t)),
            Answer::Header(name, value) => Ok(token_header_js(&name, &value)),
            Answer::Done => Ok(JsValue::UNDEFINED),
            other => Err(inner.call_error(&failure(other))),
        }
    })
}

#[cfg_attr(feature = "js-api", wasm_bindgen)]
impl AuthClient {
    /// Creates a client. Throws an `AuthbridgeError` with code `invalid_config` on bad options.
    #[cfg_attr(feature = "js-api", wasm_bindgen(constructor))]
    pub fn new(options: JsValue) -> Result<AuthClient, JsValue> {
        let client = Client::from_js(&options).map_err(|e| error_to_js(&e))?;
        Ok(AuthClient { client })
    }

    /// Restores a stored token if still valid, otherwise asks the bridge; schedules the refresh.
    /// Resolves `true` when signed in, `false` when the bridge says there is no session.
    pub fn start(&self) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        Ok(answer_promise(Rc::clone(inner), inner.begin_start()))
    }

    /// A token valid for at least the refresh margin, refreshing first if needed.
    #[cfg_attr(feature = "js-api", wasm_bindgen(js_name = accessToken))]
    pub fn access_token(&self) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        Ok(answer_promise(Rc::clone(inner), inner.begin_token()))
    }

    /// Like `fetch()`; attaches the token only for the configured API origins and retries once on 401.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Result<Promise, JsValue> {
        Ok(self.live()?.fetch(&input, &init, None))
    }

    /// The current token's decoded claims, or `null` (opaque token, or none).
    pub fn claims(&self) -> Result<JsValue, JsValue> {
        let inner = self.live()?;
        Ok(inner.claims())
    }

    /// The current token's expiry in epoch milliseconds, or `null`.
    #[cfg_attr(feature = "js-api", wasm_bindgen(js_name = expiresAt))]
    pub fn expires_at(&self) -> Result<JsValue, JsValue> {
        let inner = self.live()?;
        let machine = inner.machine.borrow();
        Ok(epoch_js(machine.session().current().and_then(|c| c.record.expires_at)))
    }

    /// When the next timer-driven refresh is due, in epoch milliseconds; `null` when none is scheduled.
    #[cfg_attr(feature = "js-api", wasm_bindgen(js_name = nextRefreshAt))]
    pub fn next_refresh_at(&self) -> Result<JsValue, JsValue> {
        let inner = self.live()?;
        let next = inner.machine.borrow().session().next_wakeup();
        Ok(epoch_js(next))
    }

    /// Forces one refresh (joining one already in flight). Also leaves the signed-out state.
    pub fn refresh(&self) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        Ok(answer_promise(Rc::clone(inner), inner.begin_refresh()))
    }

    /// Revokes at the bridge (`DELETE revokeUrl`), clears storage and timers, emits `signedOut`.
    #[cfg_attr(feature = "js-api", wasm_bindgen(js_name = signOut))]
    pub fn sign_out(&self) -> Result<Promise, JsValue> {
        let inner = self.live()?;
        Ok(answer_promise(Rc::clone(inner), inner.begin_sign_out()))
    }

    /// Adds a listener; returns a function that removes it.
    pub fn on(&self, event: JsValue, listener: JsValue) -> Result<Function, JsValue> {
        let inner = self.live()?;
        // `event` is taken as a JS value: as a `&str`, the glue would copy it into wasm memory first.
        let set = match event.as_string().as_deref() {
            Some("token") => &inner.on_token,
            Some("signedOut") => &inner.on_signed_out,
            Some("error") => &inner.on_error,
            _ => {
                let mut m = String::from("on(event, listener): event must be 'token', 'signedOut' or 'error'; got ");
                m.push_str(&js::describe(&event));
                return Err(error_to_js(&js::config_error(m)));
            }
        };
        let listener = listener_arg("on(event, listener)", listener)?;
        Ok(js::off_fn(set, &listener))
    }

    /// The store interface: `listener` is called (with no argument) whenever `getSnapshot()` changes; returns the
    /// function that unsubscribes. React's `useSyncExternalStore`, Svelte stores and Vue refs bind to this pair.
    pub fn subscribe(&self, listener: JsValue) -> Result<Function, JsValue> {
        let inner = self.live()?;
        let listener = listener_arg("subscribe(listener)", listener)?;
        Ok(js::off_fn(&inner.on_change, &listener))
    }

    /// `{ status, claims, expiresAt, error }`, frozen; the same object until something changes.
    #[cfg_attr(feature = "js-api", wasm_bindgen(js_name = getSnapshot))]
    pub fn get_snapshot(&self) -> Result<JsValue, JsValue> {
        let inner = self.live()?;
        let cached = inner.snapshot.borrow().clone();
        if let Some(snapshot) = cached {
            return Ok(snapshot);
        }
        // Everything is read before JavaScript runs (JSON.parse, the object's construction).
        let (status, expires_at) = {
            let machine = inner.machine.borrow();
            (machine.status(), machine.session().current().and_then(|c| c.record.expires_at))
        };
        let claims = inner.claims();
        let error = inner.current_error();
        let expires_at = epoch_js(expires_at);
        let snapshot = js::snapshot(status.as_str(), &claims, &expires_at, &error);
        *inner.snapshot.borrow_mut() = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Stops the refresh timer and the reactions to other tabs and to the page's lifecycle; tokens are still
    /// refreshed on access. `start()` resumes.
    pub fn stop(&self) -> Result<JsValue, JsValue> {
        // `undefined` as a value: the glue's one helper for `Result<JsValue, JsValue>` then serves this one too.
        self.live()?;
        self.client.stop();
        Ok(JsValue::UNDEFINED)
    }

    /// Ends the client for good: timers, listeners, the channel to other tabs and its hold on the token go;
    /// pending promises reject with code `freed`, and every later call throws it. Calling it again does nothing.
    /// The stored token stays for the next page load. (The memory itself is released when the object is
    /// garbage-collected: wasm-bindgen's finaliser.)
    #[cfg_attr(feature = "js-api", wasm_bindgen(js_name = free))]
    pub fn free_client(&self) {
        self.client.free();
    }
}

impl AuthClient {
    /// The client's state, or the `freed` error once `free()` was called.
    fn live(&self) -> Result<&Rc<Inner>, JsValue> {
        if self.client.inner.freed.get() {
            return Err(error_to_js(&machine::freed_error()));
        }
        Ok(&self.client.inner)
    }
}

/// Epoch milliseconds as a JS number, `null` for none.
fn epoch_js(at: Option<Millis>) -> JsValue {
    at.map_or(JsValue::NULL, |t| (t as f64).into())
}

fn listener_arg(call: &str, listener: JsValue) -> Result<Function, JsValue> {
    listener
        .dyn_into::<Function>()
        .map_err(|v| error_to_js(&js::config_error(crate::options::listener_error(call, &js::describe(&v)))))
}

impl Drop for AuthClient {
    fn drop(&mut self) {
        // Futures still running hold the inner state; after this they find it freed. A drop can come from the
        // finaliser while the client is in use elsewhere only if a borrow were held across JavaScript: none is.
        self.client.free();
    }
}
