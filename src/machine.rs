//! The client's one owner of state and policy, sans-IO: events in, commands out, `now` passed in.
//!
//! [`Machine`] wraps the token [`Session`] and adds everything a client decides beyond it: the waiting callers
//! and the single flight, the origin-wide lock protocol, the peer protocol (ask / token / signed out), the
//! reactions to connectivity, wake-ups and lifecycle, the status the store interface shows, and what is written
//! to storage. It performs no I/O, holds no `Rc`/`RefCell` and owns no store: the driver (the wasm executor in
//! `web/`, or the native simulation in the tests) turns its commands into I/O and the I/O back into events.
//!
//! # Calling contract (the quinn-proto model)
//! 1. Call [`Machine::handle`] with each event and the current time.
//! 2. Then drain [`Machine::poll_command`] until it returns `None`, executing each command in order. A command's
//!    execution may call back into JavaScript, and from there into `handle` again: the driver holds no borrow
//!    of the machine while it executes a command, and the queue is simply drained further.
//! 3. Then arm one timer at [`Machine::poll_timeout`] (re-arm it after every drain); when it fires, call
//!    `handle(Event::Timer, now)`. A timer that fires late (sleep, throttling) is fine: every deadline is
//!    checked against `now`, not counted.
//!
//! Every answer to an I/O command comes back as an event carrying the command's identifier (the lock ticket, the
//! attempt): a late answer to a command the machine has moved past is ignored.

use std::collections::VecDeque;

use crate::error::{Code, Error};
use crate::json::Json;
use crate::session::{Config, Decision, Outcome, Session, Transport};
use crate::store::{self, TokenStore};
use crate::time::{Env, Millis};

/// A client that found no stored token asks its peers for theirs and waits this long for an answer before it
/// calls the bridge (a peer that has a token answers within a few milliseconds; 150 ms bounds a cold start). Where
/// the platform tells whether any peer is alive ([`Setup::presence`]), the ask is made only when one is, and this
/// also bounds the wait for that answer.
pub const PEER_ASK_WAIT_MS: Millis = 150;
/// A client waiting for the origin-wide lock steals it after the bridge timeout plus this grace: the holder
/// should have had its answer by then, so it is a crashed or frozen context, and it must not stall the others.
pub const LOCK_STEAL_GRACE_MS: Millis = 2_000;
/// After a lock granted following a wait, or granted at once for a refresh ahead of expiry among peers, the client
/// pauses this long before deciding to call the bridge: the previous holder's token travels over the channel
/// separately from the lock's release, and usually lands within this pause (then no call is made).
pub const LOCK_SETTLE_MS: Millis = 50;

/// Identifies a waiting caller (a pending promise) across [`Event`]s and [`Command::Settle`].
pub type CallerId = u32;

/// What the store interface shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Created, or `start()` not settled yet.
    Starting,
    /// A token is in use.
    SignedIn,
    /// No session: `start()` found none, the bridge refused, or a sign-out.
    SignedOut,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::SignedIn => "signedIn",
            Self::SignedOut => "signedOut",
        }
    }
}

/// What a caller waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// The header to send (an authenticated fetch).
    Header,
    /// The access token itself (`accessToken()`).
    Token,
}

/// How the origin-wide lock is requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Only if nobody holds it: answered by [`Event::LockGranted`] or [`Event::LockBusy`].
    IfAvailable,
    /// Queue for it: answered by [`Event::LockGranted`] (or [`Event::LockFailed`]).
    Wait,
    /// Take it from its holder, cancelling this client's own queued request first.
    Steal,
}

/// A message to the other contexts of this client (the driver adds the client's identity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Post {
    /// "Does anyone have a token?"
    Ask,
    /// A token, as the stored entry's JSON text.
    Token(String),
    /// "This session was signed out" (a receiver only checks with its bridge).
    SignedOut,
}

/// Something for the application: listeners and subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The snapshot changed (status or error): subscribers are called.
    Changed,
    /// A new token is in use (`token` event), from `source`: `storage`, `bridge` or `peer`.
    Token { source: &'static str, expires_at: Option<Millis>, header: String },
    /// The session ended (`signedOut` event): `signOut`, `rejected` or `peer`.
    SignedOut { reason: &'static str },
    /// An attempt failed (`error` event); also the snapshot's error from now on.
    Error(Error),
}

/// What a waiting caller is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Send this header (name, value).
    Header(String, String),
    /// The access token.
    Token(String),
    /// `start()`: signed in (`true`) or no session (`false`).
    Started(bool),
    /// `signOut()` finished.
    Done,
    Failed(Error),
}

/// An input to the machine.
#[derive(Clone, Debug)]
pub enum Event<J> {
    /// `start()`: restore `stored` (the storage's entry, read by the driver), or ask peers and the bridge.
    Start {
        caller: CallerId,
        stored: Option<String>,
    },
    /// `stop()`: no timer-driven refresh and no reaction to peers or the page until the next start.
    Stop,
    /// `free()`: every waiting caller fails with `freed`; nothing is reported, stored or posted afterwards.
    Free,
    /// A caller wants a token.
    Want {
        caller: CallerId,
        want: Want,
    },
    /// `refresh()`: one refresh (joining one in flight), also out of the signed-out state.
    Refresh {
        caller: CallerId,
    },
    /// `signOut()`.
    SignOut {
        caller: CallerId,
    },
    /// The API answered 401 to this header value: it is not sent again.
    Unauthorized {
        value: String,
    },
    /// The timer armed at [`Machine::poll_timeout`] fired.
    Timer,
    /// The platform went online (`true`) or offline.
    Online(bool),
    /// The page became visible, was shown again or got focus: a timer may have been throttled or slept through.
    Wake,
    /// A message on the channel shared with the other contexts. Untrusted: any script of the origin can post.
    Peer {
        kind: Option<String>,
        client: Option<String>,
        entry: Option<String>,
    },
    /// Another tab wrote to the shared storage (`storage` event), or the page came back from the back-forward cache
    /// and the driver read the shared entry again; `value` `None`: the entry is gone. Untrusted like a peer message.
    Storage {
        key: Option<String>,
        value: Option<String>,
    },
    LockGranted {
        ticket: u32,
    },
    LockBusy {
        ticket: u32,
    },
    /// The lock request failed or was aborted without a grant.
    LockFailed {
        ticket: u32,
    },
    /// The answer to [`Command::FindPeers`] `ticket`: whether another context of this client is alive.
    Peers {
        ticket: u32,
        present: bool,
    },
    /// The bridge call made for [`Command::CallBridge`] `attempt` ended.
    BridgeAnswered {
        attempt: u64,
        result: Transport<J>,
    },
    /// The revoke call made for [`Command::Revoke`] ended: `result` is what the bridge answered (a 2xx
    /// confirms the sign-out).
    Revoked {
        caller: CallerId,
        result: Transport<J>,
    },
}

/// An output of the machine, for the driver to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Write (`Some`) or delete (`None`) the stored entry.
    Store(Option<String>),
    /// Post to the other contexts.
    Post(Post),
    /// Request the origin-wide lock; answer with `LockGranted`/`LockBusy`/`LockFailed` carrying `ticket`.
    Lock {
        ticket: u32,
        mode: LockMode,
    },
    /// Release the lock held under `ticket`, or abandon that request if it is still queued (a grant that
    /// arrives later must then be released at once by the driver).
    Unlock {
        ticket: u32,
    },
    /// Make this context known to the others of this client for as long as it lives (what
    /// [`Command::FindPeers`] finds). Issued once, before the first `FindPeers`.
    Announce,
    /// Find whether another context of this client is alive; answer with [`Event::Peers`] carrying `ticket`.
    FindPeers {
        ticket: u32,
    },
    /// Send the token request; answer with [`Event::BridgeAnswered`] carrying `attempt`.
    CallBridge {
        attempt: u64,
    },
    /// Send the revoke request (with this token header, if any); answer with [`Event::Revoked`].
    Revoke {
        caller: CallerId,
        header: Option<(String, String)>,
    },
    Notify(Notice),
    /// Settle a waiting caller's promise.
    Settle {
        caller: CallerId,
        answer: Answer,
    },
    /// `free()`: close the channel, remove the listeners and the timer.
    Shutdown,
}

/// What the client is configured with, beyond the session.
#[derive(Clone, Debug)]
pub struct Setup {
    pub session: Config,
    /// Timer-driven refreshes (pages and workers); otherwise tokens refresh on demand.
    pub auto_refresh: bool,
    /// A channel to peers exists and tokens may be shared over it (not with `storage: 'memory'`).
    pub peers: bool,
    /// Bridge calls are serialised through the origin-wide lock (not with `storage: 'memory'`).
    pub lock: bool,
    /// The platform tells whether another context of this client is alive ([`Command::FindPeers`]; Web Locks'
    /// `query`). Then a start that found no stored token asks peers only when one is: a first visit in a single
    /// tab calls the bridge as soon as it holds the lock, instead of waiting out the ask for peers that cannot
    /// exist.
    pub presence: bool,
    /// The bridge call's timeout (the driver enforces it); the lock wait is derived from it.
    pub bridge_timeout_ms: Millis,
    /// The storage key whose `storage` events carry a peer's token (`None`: such events are ignored).
    pub shared_storage_key: Option<String>,
    /// Whether the platform is online at creation.
    pub online: bool,
    /// Seeds the jitter of refresh times and backoffs.
    pub seed: u64,
}

/// The machine's view of storage: the entry the driver read at start (during the restore only), and the writes
/// it must perform.
#[derive(Default)]
pub struct Slot {
    /// The entry read by the driver, held only while a restore runs.
    loaded: Option<String>,
    /// The writes not yet queued as [`Command::Store`]: an entry, or `None` to delete it.
    writes: Vec<Option<String>>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("writes", &self.writes).finish_non_exhaustive()
    }
}

impl TokenStore for Slot {
    fn load(&self) -> Option<String> {
        self.loaded.clone()
    }
    fn save(&mut self, entry: &str) -> bool {
        self.writes.push(Some(entry.to_owned()));
        true
    }
    fn remove(&mut self) {
        self.loaded = None;
        self.writes.push(None);
    }
}

/// The bridge call and its lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flight {
    Idle,
    /// Asked for the lock; `contended` once it was busy, `steal_at` while a queued request may be stolen.
    Locking {
        epoch: u64,
        generation: u64,
        ticket: u32,
        contended: bool,
        steal_at: Option<Millis>,
    },
    /// Got the lock after a wait; deciding at `until` (a peer's token may land first).
    Settling {
        epoch: u64,
        generation: u64,
        until: Millis,
    },
    /// The bridge call is out.
    Calling {
        epoch: u64,
    },
}

#[derive(Clone, Debug)]
enum Role {
    Want(Want),
    /// `start()`, parked until `peers_until` unless a token arrives first.
    Start {
        peers_until: Option<Millis>,
        generation: u64,
    },
    /// `refresh()`: answered when the flight it joined ends.
    Refresh {
        generation: u64,
    },
    /// `signOut()`: answered when the revoke call ends; `starts` is [`Machine::starts`] when it was made.
    SignOut {
        starts: u64,
    },
    /// Answered: settled by the next pass.
    Ready(Answer),
}

#[derive(Clone, Debug)]
struct Caller {
    id: CallerId,
    role: Role,
    /// Attempts awaited that brought no new token.
    failures: u32,
    /// Parked until the flight ends (the generation when it started waiting).
    awaiting: Option<u64>,
    sleep_until: Option<Millis>,
}

struct Dice<'a> {
    now: Millis,
    state: &'a mut u64,
}

impl Env for Dice<'_> {
    fn now(&self) -> Millis {
        self.now
    }
    fn random(&mut self) -> f64 {
        // xorshift64*: jitter needs spread, not secrecy.
        let mut x = *self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *self.state = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Why a `refresh()` got no new token.
fn refresh_error(session: &Session<Slot>) -> Error {
    session
        .last_error()
        .unwrap_or_else(|| Error::new(Code::SignedOut, "signed out: the refresh did not produce a token"))
}

pub fn freed_error() -> Error {
    Error::new(Code::Freed, "this AuthClient was freed: create a new one (stop() pauses a client, free() ends it)")
}

/// The client's state machine. See the module documentation for the calling contract.
#[derive(Debug)]
pub struct Machine {
    /// The setup as given; the session holds its own copy of `setup.session`.
    setup: Setup,
    session: Session<Slot>,
    status: Status,
    /// What the snapshot shows as the error; `error_serial` is bumped whenever it changes.
    error: Option<Error>,
    error_serial: u32,
    freed: bool,
    stopped: bool,
    online: bool,
    flight: Flight,
    /// The last lock ticket issued.
    ticket: u32,
    /// The ticket of the lock request outstanding or held (an `Unlock` is owed for it).
    lock: Option<u32>,
    /// [`Command::Announce`] was issued.
    announced: bool,
    /// The ticket of the [`Command::FindPeers`] a start waits for.
    finding: Option<u32>,
    /// How many times `start()` was called: a sign-out's revoke that ends after a later start does not end the
    /// session begun since.
    starts: u64,
    callers: Vec<Caller>,
    /// Set when a flight ends, so that callers parked on it move in the same pass.
    moved: bool,
    /// The commands not yet polled, oldest first.
    out: VecDeque<Command>,
    rng: u64,
}

impl Machine {
    pub fn new(setup: Setup) -> Self {
        Self {
            session: Session::new(setup.session.clone(), Slot::default()),
            rng: setup.seed | 1,
            online: setup.online,
            setup,
            status: Status::Starting,
            error: None,
            error_serial: 0,
            stopped: false,
            freed: false,
            flight: Flight::Idle,
            ticket: 0,
            lock: None,
            announced: false,
            finding: None,
            starts: 0,
            moved: false,
            callers: Vec::new(),
            out: VecDeque::new(),
        }
    }

    // ---- queries (no state changes) ----

    pub fn session(&self) -> &Session<Slot> {
        &self.session
    }
    pub fn setup(&self) -> &Setup {
        &self.setup
    }
    fn config(&self) -> &Config {
        &self.setup.session
    }
    pub fn status(&self) -> Status {
        self.status
    }
    /// The snapshot's error and a number that changes whenever it does (drivers cache their JS error by it).
    pub fn error(&self) -> (Option<&Error>, u32) {
        (self.error.as_ref(), self.error_serial)
    }
    pub fn is_freed(&self) -> bool {
        self.freed
    }
    /// The header to send right now without asking the machine, when the token needs no refresh: the fetch hot
    /// path. `None` means "send [`Event::Want`] and wait".
    pub fn fresh_header(&self, now: Millis) -> Option<(&str, String)> {
        self.session.current().filter(|c| c.fresh_at(now) && !self.freed).map(|c| c.header())
    }
    /// The session's generation when its token needs no refresh at `now`, without building the header: the hot
    /// path of the authenticated fetch keeps the header it built for that generation.
    pub fn fresh_generation(&self, now: Millis) -> Option<u64> {
        self.session.current().filter(|c| c.fresh_at(now) && !self.freed).map(|_| self.session.generation())
    }
    /// The header a caller's request would carry the token in (to tell whether the caller set it itself).
    pub fn header_name(&self) -> &str {
        match self.session.current() {
            Some(c) => &c.record.header,
            None => self.config().header.as_deref().unwrap_or(crate::token::AUTHORIZATION),
        }
    }

    /// The next command to execute, in order.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.out.pop_front()
    }

    /// When the driver's one timer should fire next ([`Event::Timer`]); `None` for no timer.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.freed {
            return None;
        }
        let mut next: Option<Millis> = None;
        let mut at = |t: Millis| next = Some(next.map_or(t, |n| n.min(t)));
        if self.auto_active() {
            if let Some(t) = self.session.next_wakeup() {
                at(t);
            }
        }
        match self.flight {
            Flight::Locking { steal_at: Some(t), .. } | Flight::Settling { until: t, .. } => at(t),
            _ => {}
        }
        for c in &self.callers {
            if let Some(t) = c.sleep_until {
                at(t);
            }
            if let Role::Start { peers_until: Some(t), .. } = c.role {
                at(t);
            }
        }
        next
    }

    fn auto_active(&self) -> bool {
        self.setup.auto_refresh && !self.stopped && self.online && !self.freed
    }

    // ---- events ----

    /// Applies one event at `now`. Commands queue up for [`Machine::poll_command`].
    pub fn handle<J: Json + Clone>(&mut self, event: Event<J>, now: Millis) {
        self.apply(event, now);
        self.after(now);
    }

    fn apply<J: Json + Clone>(&mut self, event: Event<J>, now: Millis) {
        if self.freed {
            // Calls made after free() are answered (the driver refuses most before they get here).
            match event {
                Event::Start { caller, .. }
                | Event::Want { caller, .. }
                | Event::Refresh { caller }
                | Event::SignOut { caller } => self.settle(caller, Answer::Failed(freed_error())),
                _ => {}
            }
            return;
        }
        match event {
            Event::Start { caller, stored } => self.start::<J>(caller, stored, now),
            Event::Stop => self.stopped = true,
            Event::Free => self.free(),
            Event::Want { caller, want } => {
                self.announce();
                self.add_caller(caller, Role::Want(want), None);
            }
            Event::Refresh { caller } => {
                self.announce();
                self.session.reactivate();
                self.session.force_due();
                let generation = self.session.generation();
                self.begin_flight(now);
                if matches!(self.flight, Flight::Idle) {
                    // Nothing could start (no bridge call is possible now): the caller learns why at once.
                    let answer = Answer::Failed(refresh_error(&self.session));
                    self.settle(caller, answer);
                } else {
                    self.add_caller(caller, Role::Refresh { generation }, Some(generation));
                }
            }
            Event::SignOut { caller } => {
                let header = self.session.sign_out();
                self.cancel_flight();
                self.drop_token_notices();
                self.add_caller(caller, Role::SignOut { starts: self.starts }, None);
                self.out.push_back(Command::Revoke { caller, header });
            }
            Event::Revoked { caller, result } => {
                if let Some(i) =
                    self.callers.iter().position(|c| c.id == caller && matches!(c.role, Role::SignOut { .. }))
                {
                    let signing_out = self.callers.remove(i);
                    // The local session is over whatever the bridge said. Peers are told once the revoke has
                    // ended: the notice only makes them ask their bridge, which refuses if the session is over
                    // there and keeps them signed in if it is not.
                    self.post(Post::SignedOut);
                    // A `start()` made since has begun another session here: the end of the old one is not this
                    // session's end (no `signedOut`, no status change).
                    if matches!(signing_out.role, Role::SignOut { starts } if starts == self.starts) {
                        self.signed_out("signOut");
                    }
                    // The caller learns whether the bridge confirmed: if not, its session may live on (a reload
                    // would start signed in), which the application must be able to say.
                    let answer = match crate::session::revoke_outcome(&result) {
                        Ok(()) => Answer::Done,
                        Err(e) => Answer::Failed(e),
                    };
                    self.settle(caller, answer);
                }
            }
            Event::Unauthorized { value } => self.session.reject_token(&value),
            Event::Timer => self.on_timer(now),
            Event::Online(online) => {
                self.online = online;
                if online && !self.stopped {
                    self.session.clear_backoff();
                    let stale = self.session.current().is_some_and(|c| !c.valid_at(now));
                    if stale && self.setup.auto_refresh {
                        self.begin_flight(now);
                    } else {
                        self.on_timer(now);
                    }
                }
            }
            Event::Wake if !self.stopped => self.on_timer(now),
            Event::Wake => {}
            Event::Peer { kind, client, entry }
                if !self.stopped && client.as_deref() == Some(&self.config().client) =>
            {
                match kind.as_deref() {
                    Some("token") if self.setup.peers => {
                        if let Some(entry) = entry {
                            self.adopt::<J>(&entry, "peer", now);
                        }
                    }
                    // The notice only makes the session check with its bridge (see `Session::peer_signed_out`).
                    Some("signedOut") if self.session.peer_signed_out(now) && self.setup.auto_refresh => {
                        self.begin_flight(now);
                    }
                    Some("ask") if self.setup.peers => self.share_token::<J>(now),
                    _ => {}
                }
            }
            Event::Peer { .. } => {}
            Event::Storage { key, value } => {
                let ours = self.setup.shared_storage_key.is_some() && key == self.setup.shared_storage_key;
                if ours && !self.stopped {
                    match value {
                        Some(v) => self.adopt::<J>(&v, "storage", now),
                        // The shared entry went: another tab signed out, or was refused (or the browser cleared the
                        // site's storage). Untrusted like a peer's notice, it only makes the session check with its
                        // bridge (see `Session::peer_signed_out`); this also reaches a page that was in the
                        // back-forward cache when the channel carried the notice.
                        None => {
                            if self.session.peer_signed_out(now) && self.setup.auto_refresh {
                                self.begin_flight(now);
                            }
                        }
                    }
                }
            }
            Event::LockGranted { ticket } => self.lock_granted(ticket, now),
            Event::LockBusy { ticket } => {
                if let Flight::Locking { epoch, generation, ticket: t, .. } = self.flight {
                    if t == ticket {
                        // Another context is calling the bridge: queue for the lock, steal it if the holder outlives
                        // any answer it could get.
                        let ticket = self.request_lock(LockMode::Wait);
                        let steal_at = Some(now + self.setup.bridge_timeout_ms + LOCK_STEAL_GRACE_MS);
                        self.flight = Flight::Locking { epoch, generation, ticket, contended: true, steal_at };
                    }
                }
            }
            Event::LockFailed { ticket } => {
                if matches!(self.flight, Flight::Locking { ticket: t, .. } if t == ticket) {
                    self.abandon_flight();
                }
            }
            Event::Peers { ticket, present } if self.finding == Some(ticket) => self.peers_found(present, now),
            Event::Peers { .. } => {}
            Event::BridgeAnswered { attempt, result } => self.bridge_answered::<J>(attempt, &result, now),
        }
    }

    /// After every event: callers that can move do; a timer that is due runs.
    fn after(&mut self, now: Millis) {
        if self.freed {
            return;
        }
        self.sync_store();
        self.drive(now);
        self.sync_store();
    }

    fn start<J: Json + Clone>(&mut self, caller: CallerId, stored: Option<String>, now: Millis) {
        self.starts += 1;
        self.stopped = false;
        self.cancel_flight();
        self.session.store_mut().loaded = stored;
        let restored = self.session.restore::<J>(&mut Dice { now, state: &mut self.rng });
        // The entry is only read here: no copy of a token outlives its use.
        self.session.store_mut().loaded = None;
        self.announce();
        self.finding = None;
        let mut peers_until = None;
        if restored {
            self.token_notice("storage");
        } else {
            if self.status != Status::Starting {
                self.set_state(Status::Starting, None);
            }
            if self.setup.presence && (self.setup.peers || self.setup.lock) {
                // First find out whether anyone could answer an ask or hold the lock (see `peers_found`).
                self.ticket = self.ticket.wrapping_add(1);
                self.finding = Some(self.ticket);
                self.out.push_back(Command::FindPeers { ticket: self.ticket });
                peers_until = Some(now + PEER_ASK_WAIT_MS);
            } else if self.setup.peers {
                // A context with its own storage asks its peers for a valid token before calling the bridge.
                self.post(Post::Ask);
                peers_until = Some(now + PEER_ASK_WAIT_MS);
            }
        }
        let generation = self.session.generation();
        self.add_caller(caller, Role::Start { peers_until, generation }, None);
    }

    /// Once, for a client that shares its token or its lock: the other contexts can then find this one. Issued
    /// before any [`Command::FindPeers`], so that of two contexts starting together at least one finds the other
    /// (the platform answers them in the order they were made).
    fn announce(&mut self) {
        if self.setup.presence && (self.setup.peers || self.setup.lock) && !self.announced {
            self.announced = true;
            self.out.push_back(Command::Announce);
        }
    }

    /// The answer to the start's [`Command::FindPeers`]. Another context alive: ask it for its token (waiting as
    /// long as the ask allows). None: nobody can answer an ask, so the start goes on at once. Either way the flight
    /// takes the lock: a context starting at this moment may have found this one and be about to call the bridge
    /// too, and its ask can time out before this one's token arrives (a granted lock costs one round trip).
    fn peers_found(&mut self, present: bool, now: Millis) {
        self.finding = None;
        let ask = present && self.setup.peers;
        if ask {
            self.post(Post::Ask);
        }
        for c in &mut self.callers {
            if let Role::Start { peers_until, generation } = &mut c.role {
                if peers_until.is_some() {
                    if ask {
                        *peers_until = Some(now + PEER_ASK_WAIT_MS);
                    } else {
                        *peers_until = None;
                        *generation = 0;
                    }
                }
            }
        }
    }

    fn add_caller(&mut self, id: CallerId, role: Role, awaiting: Option<u64>) {
        self.callers.push(Caller { id, role, failures: 0, awaiting, sleep_until: None });
    }

    fn free(&mut self) {
        self.freed = true;
        self.stopped = true;
        self.session.detach();
        self.session.store_mut().writes.clear();
        self.release_lock();
        self.flight = Flight::Idle;
        // Nothing queued for the application is delivered any more; waiting callers learn that the client is gone.
        self.out.retain(|c| !matches!(c, Command::Notify(_) | Command::Post(_) | Command::Store(_)));
        for c in std::mem::take(&mut self.callers) {
            self.settle(c.id, Answer::Failed(freed_error()));
        }
        self.out.push_back(Command::Shutdown);
    }

    fn on_timer(&mut self, now: Millis) {
        match self.flight {
            Flight::Locking { epoch, generation, contended, steal_at: Some(at), .. } if now >= at => {
                self.release_lock();
                let ticket = self.request_lock(LockMode::Steal);
                self.flight = Flight::Locking { epoch, generation, ticket, contended, steal_at: None };
            }
            Flight::Settling { epoch, generation, until } if now >= until => self.call_or_skip(epoch, generation, now),
            _ => {}
        }
        for c in &mut self.callers {
            if c.sleep_until.is_some_and(|t| now >= t) {
                c.sleep_until = None;
            }
            // A start whose wait for peers is over decides in the next pass.
            if let Role::Start { peers_until, generation } = &mut c.role {
                if peers_until.is_some_and(|t| now >= t) {
                    *peers_until = None;
                    *generation = 0;
                    // A presence answer that comes later changes nothing: the start goes on as if peers were alive.
                    self.finding = None;
                }
            }
        }
        // Offline, nothing happens until the platform is back online: no retries are burnt.
        if self.auto_active() && self.session.auto_due(now) {
            self.begin_flight(now);
        }
    }

    // ---- the single flight and its lock ----

    fn request_lock(&mut self, mode: LockMode) -> u32 {
        self.ticket = self.ticket.wrapping_add(1);
        self.lock = Some(self.ticket);
        self.out.push_back(Command::Lock { ticket: self.ticket, mode });
        self.ticket
    }

    /// Starts the one bridge call (under the lock when coordinating), unless one is under way or none may start.
    fn begin_flight(&mut self, now: Millis) {
        if !matches!(self.flight, Flight::Idle) {
            return;
        }
        let Some(epoch) = self.session.begin_attempt() else { return };
        let generation = self.session.generation();
        if self.setup.lock {
            let ticket = self.request_lock(LockMode::IfAvailable);
            self.flight = Flight::Locking { epoch, generation, ticket, contended: false, steal_at: None };
        } else {
            self.call_or_skip(epoch, generation, now);
        }
    }

    fn lock_granted(&mut self, ticket: u32, now: Millis) {
        match self.flight {
            Flight::Locking { epoch, generation, ticket: t, contended, .. } if t == ticket => {
                // After a wait, the holder's token is on its way. It may be after a grant at once too, for a refresh
                // ahead of expiry among peers: a peer may have just made the same refresh and given the lock back
                // before its token got here. The current token is still valid then, so the pause costs no caller
                // anything; a caller without a valid token is not kept waiting.
                let ahead = self.setup.peers && self.session.current().is_some_and(|c| c.valid_at(now));
                if contended || ahead {
                    self.flight = Flight::Settling { epoch, generation, until: now + LOCK_SETTLE_MS };
                } else {
                    self.call_or_skip(epoch, generation, now);
                }
            }
            // A grant for a request given up since: given back at once. The driver was told to Unlock that ticket
            // already, and releasing a released ticket does nothing; this also covers a grant the driver delivers
            // late or twice, so that no lock is ever left held by a flight that moved on.
            _ => self.out.push_back(Command::Unlock { ticket }),
        }
    }

    /// Holding the lock (or not coordinating): call the bridge, unless a peer's token made the call moot or the
    /// platform is offline.
    fn call_or_skip(&mut self, epoch: u64, generation: u64, now: Millis) {
        let peer_delivered =
            self.session.generation() != generation && matches!(self.session.decide(now, 0), Decision::Use(..));
        if peer_delivered || !self.online {
            self.session.abandon_attempt(epoch);
            self.abandon_flight();
            return;
        }
        self.flight = Flight::Calling { epoch };
        self.out.push_back(Command::CallBridge { attempt: epoch });
    }

    fn abandon_flight(&mut self) {
        if let Flight::Locking { epoch, .. } | Flight::Settling { epoch, .. } | Flight::Calling { epoch } = self.flight
        {
            self.session.abandon_attempt(epoch);
        }
        self.release_lock();
        self.flight = Flight::Idle;
        self.flight_ended();
    }

    /// A restart or sign-out: the flight under way no longer counts (its answer will be ignored).
    fn cancel_flight(&mut self) {
        if !matches!(self.flight, Flight::Idle) {
            self.release_lock();
            self.flight = Flight::Idle;
            self.flight_ended();
        }
    }

    fn release_lock(&mut self) {
        if let Some(ticket) = self.lock.take() {
            self.out.push_back(Command::Unlock { ticket });
        }
    }

    /// Callers parked on the flight move on: a caller whose wait brought no new token counts a failure.
    fn flight_ended(&mut self) {
        self.moved = true;
        let generation = self.session.generation();
        for c in &mut self.callers {
            match (c.awaiting.take(), &c.role) {
                (Some(_), Role::Refresh { generation: g }) => {
                    let answer = match self.session.current() {
                        Some(cur) if generation != *g => Answer::Token(cur.record.token.secret().to_owned()),
                        _ => Answer::Failed(refresh_error(&self.session)),
                    };
                    c.role = Role::Ready(answer);
                }
                (Some(g), _) if g == generation => c.failures += 1,
                _ => {}
            }
        }
    }

    fn bridge_answered<J: Json + Clone>(&mut self, attempt: u64, result: &Transport<J>, now: Millis) {
        if !matches!(self.flight, Flight::Calling { epoch } if epoch == attempt) {
            return;
        }
        self.flight = Flight::Idle;
        let outcome = self.session.finish(attempt, &mut Dice { now, state: &mut self.rng }, result);
        match outcome {
            Outcome::Token => {
                self.share_token::<J>(now);
                self.token_notice("bridge");
            }
            Outcome::Failed(e) => self.report_error(e),
            // A first visit without a session: the snapshot says so; no error, nothing ended.
            Outcome::NoSession(_) => self.set_state(Status::SignedOut, None),
            Outcome::Rejected(e) => {
                self.drop_token_notices();
                // Another context signed out and the bridge confirms it: that is no error here.
                let reason = if self.session.take_peer_sign_out() {
                    "peer"
                } else {
                    self.post(Post::SignedOut);
                    self.report_error(e);
                    "rejected"
                };
                self.signed_out(reason);
            }
            Outcome::Ignored => {}
        }
        // Released after the token was posted: a context granted the lock next finds it already delivered.
        self.release_lock();
        self.flight_ended();
    }

    // ---- callers ----

    /// Moves every caller that is not parked: answers it, parks it on the flight, or puts it to sleep.
    fn drive(&mut self, now: Millis) {
        loop {
            self.moved = false;
            let mut i = 0;
            while i < self.callers.len() {
                if matches!(self.callers[i].role, Role::Ready(_)) {
                    let c = self.callers.remove(i);
                    if let Role::Ready(answer) = c.role {
                        self.settle(c.id, answer);
                    }
                    continue;
                }
                match self.step(i, now) {
                    Some(result) => {
                        let c = self.callers.remove(i);
                        self.finish_caller(c, result, now);
                    }
                    None => i += 1,
                }
            }
            // A flight that ended during the pass (at once: offline, a peer's token) releases callers passed over.
            if !self.moved {
                break;
            }
        }
    }

    fn step(&mut self, i: usize, now: Millis) -> Option<Result<(String, String), Error>> {
        loop {
            let generation = self.session.generation();
            let c = &mut self.callers[i];
            if c.awaiting.is_some() || c.sleep_until.is_some() || !matches!(c.role, Role::Want(_) | Role::Start { .. })
            {
                return None;
            }
            if let Role::Start { peers_until: until @ Some(_), generation: g } = &mut c.role {
                if *g == generation {
                    return None;
                }
                *until = None;
                *g = 0;
            }
            let failures = c.failures;
            match self.session.decide(now, failures) {
                Decision::Use(name, value) => return Some(Ok((name, value))),
                Decision::Fail(e) => return Some(Err(e)),
                Decision::Refresh if !self.online && !self.session.in_flight() => {
                    // Offline with no usable token: fail now instead of burning retries.
                    if !self.session.current().is_some_and(|cur| cur.valid_at(now)) {
                        return Some(Err(Error::new(
                            Code::Network,
                            "offline: no valid token and the bridge cannot be reached",
                        )));
                    }
                    self.callers[i].failures += 1;
                }
                Decision::Refresh => {
                    self.begin_flight(now);
                    if matches!(self.flight, Flight::Idle) {
                        // The flight ended at once (offline, or a peer's token): decide again.
                        self.callers[i].failures += 1;
                        continue;
                    }
                    self.callers[i].awaiting = Some(generation);
                    return None;
                }
                Decision::SleepUntil(at) => {
                    self.callers[i].sleep_until = Some(at);
                    return None;
                }
            }
        }
    }

    fn finish_caller(&mut self, c: Caller, result: Result<(String, String), Error>, now: Millis) {
        let start = matches!(c.role, Role::Start { .. });
        let answer = match result {
            Ok((name, value)) => match c.role {
                Role::Want(Want::Header) => Answer::Header(name, value),
                Role::Want(Want::Token) => match self.session.current() {
                    Some(cur) => Answer::Token(cur.record.token.secret().to_owned()),
                    None => Answer::Failed(Error::new(Code::SignedOut, "no token")),
                },
                Role::Start { .. } => Answer::Started(true),
                Role::Refresh { .. } | Role::SignOut { .. } | Role::Ready(_) => Answer::Done,
            },
            Err(e) if start && matches!(e.code, Code::SignedOut | Code::RefreshRejected) => {
                if self.status != Status::SignedOut {
                    self.set_state(Status::SignedOut, None);
                }
                Answer::Started(false)
            }
            Err(e) => {
                if start {
                    let signed_in = self.session.current().is_some_and(|cur| cur.valid_at(now));
                    let status = if signed_in { Status::SignedIn } else { Status::SignedOut };
                    self.set_state(status, Some(e.clone()));
                }
                Answer::Failed(e)
            }
        };
        self.settle(c.id, answer);
    }

    fn settle(&mut self, caller: CallerId, answer: Answer) {
        self.out.push_back(Command::Settle { caller, answer });
    }

    // ---- peers, storage, notices ----

    fn adopt<J: Json + Clone>(&mut self, entry: &str, source: &'static str, now: Millis) {
        let config = self.config();
        let Some(entry) = store::decode::<J>(entry, config.header.as_deref(), &config.client) else { return };
        if self.session.adopt::<J>(entry, &mut Dice { now, state: &mut self.rng }) {
            self.token_notice(source);
        }
    }

    fn share_token<J: Json>(&mut self, now: Millis) {
        if !self.setup.peers {
            return;
        }
        if let Some(entry) = self.session.entry(now) {
            let text = store::encode::<J>(&entry.token, entry.expires_at, &entry.header, &self.config().client);
            self.post(Post::Token(text));
        }
    }

    /// Queues a message to the peers (the driver drops it where there is no channel). `Ask` and `Token` are
    /// only posted by clients that share tokens.
    fn post(&mut self, post: Post) {
        self.out.push_back(Command::Post(post));
    }

    fn sync_store(&mut self) {
        self.out.extend(self.session.store_mut().writes.drain(..).map(Command::Store));
    }

    fn set_state(&mut self, status: Status, error: Option<Error>) {
        self.status = status;
        if self.error.is_some() || error.is_some() {
            self.error = error;
            self.error_serial = self.error_serial.wrapping_add(1);
        }
        self.out.push_back(Command::Notify(Notice::Changed));
    }

    fn report_error(&mut self, e: Error) {
        self.set_state(self.status, Some(e.clone()));
        self.out.push_back(Command::Notify(Notice::Error(e)));
    }

    fn token_notice(&mut self, source: &'static str) {
        self.set_state(Status::SignedIn, None);
        if let Some(c) = self.session.current() {
            let notice = Notice::Token { source, expires_at: c.record.expires_at, header: c.record.header.to_string() };
            self.out.push_back(Command::Notify(notice));
        }
    }

    fn signed_out(&mut self, reason: &'static str) {
        // A rejection keeps its error on show; a sign-out (here or a peer's) is no error.
        let error = if reason == "rejected" { self.error.clone() } else { None };
        self.set_state(Status::SignedOut, error);
        self.out.push_back(Command::Notify(Notice::SignedOut { reason }));
    }

    /// A token reported but not yet delivered must not reach the application after the session ended.
    fn drop_token_notices(&mut self) {
        self.out.retain(|c| !matches!(c, Command::Notify(Notice::Token { .. })));
    }
}
