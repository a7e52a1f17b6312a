//! A deterministic simulation of several contexts (tabs and workers) of one client: each runs a real [`Machine`]; they
//! share a fake origin-wide lock (Web Locks semantics: if-available, queue, steal, release on death), a fake
//! BroadcastChannel (delivery after a delay, to every other live context), a scriptable bridge and one clock. The
//! scenarios are the ones the browser suites can only sample: a simulated day, a dying or frozen lock holder, a
//! wake from sleep, sign-out everywhere, and the lock grant and a peer's token arriving in either order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use serde_json::{json, Value};

use crate::error::Code;
use crate::machine::*;
use crate::session::{Config, Transport};
use crate::time::Millis;
use crate::token::Format;

const T0: Millis = 1_700_000_000_000;
const CLIENT: &str = "c0ffee";
const BRIDGE_TIMEOUT_MS: Millis = 10_000;
const SECOND: Millis = 1_000;
const MINUTE: Millis = 60 * SECOND;
const HOUR: Millis = 60 * MINUTE;

fn setup(seed: u64) -> Setup {
    Setup {
        session: Config { format: Format::OAuth2, client: CLIENT.into(), ..Config::default() },
        auto_refresh: true,
        peers: true,
        lock: true,
        presence: false,
        bridge_timeout_ms: BRIDGE_TIMEOUT_MS,
        shared_storage_key: None,
        online: true,
        seed,
    }
}

#[derive(Debug)]
enum Delivery {
    Event(usize, Event<Value>),
    /// A caller of context `usize` wants a header (the app's periodic API call).
    Demand(usize),
}

struct Ctx {
    machine: Machine,
    alive: bool,
    /// Timers and deliveries are held back (a frozen or sleeping context).
    frozen: bool,
    timer: Option<Millis>,
    /// This context's own storage (sessionStorage: per tab).
    stored: Option<String>,
    /// It announced itself ([`Command::Announce`]): the others' `FindPeers` find it while it lives.
    announced: bool,
    next_caller: CallerId,
    answers: Vec<(CallerId, Answer, Millis)>,
    notices: Vec<Notice>,
}

#[derive(Default)]
struct Lock {
    holder: Option<(usize, u32)>,
    queue: VecDeque<(usize, u32)>,
}

struct Bridge {
    /// Whether the bridge still has a session (a revoke ends it).
    session: bool,
    lifetime: Millis,
    latency: Millis,
    /// The next this many token calls never answer (a provider that hangs).
    hang: u32,
    /// What the bridge answers a revoke; any status but a 2xx leaves its session alive.
    revoke_status: u16,
    /// Every token call: (when, which context).
    calls: Vec<(Millis, usize)>,
    issued: HashMap<String, Millis>,
}

struct Sim {
    now: Millis,
    seq: u64,
    queue: BinaryHeap<Reverse<(Millis, u64)>>,
    deliveries: HashMap<u64, Delivery>,
    ctxs: Vec<Ctx>,
    lock: Lock,
    bridge: Bridge,
    channel_delay: Millis,
    lock_delay: Millis,
    /// Every header any caller was given, with when, for validity checks.
    sent: Vec<(Millis, String)>,
}

impl Sim {
    fn new(contexts: usize, lifetime: Millis) -> Self {
        let ctxs = (0..contexts)
            .map(|i| Ctx {
                machine: Machine::new(setup(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1))),
                alive: true,
                frozen: false,
                timer: None,
                stored: None,
                announced: false,
                next_caller: 0,
                answers: Vec::new(),
                notices: Vec::new(),
            })
            .collect();
        Sim {
            now: T0,
            seq: 0,
            queue: BinaryHeap::new(),
            deliveries: HashMap::new(),
            ctxs,
            lock: Lock::default(),
            bridge: Bridge {
                session: true,
                lifetime,
                latency: 40,
                hang: 0,
                revoke_status: 204,
                calls: Vec::new(),
                issued: HashMap::new(),
            },
            channel_delay: 1,
            lock_delay: 0,
            sent: Vec::new(),
        }
    }

    fn at(&mut self, when: Millis, d: Delivery) {
        self.seq += 1;
        self.queue.push(Reverse((when, self.seq)));
        self.deliveries.insert(self.seq, d);
    }

    fn caller(&mut self, c: usize) -> CallerId {
        self.ctxs[c].next_caller += 1;
        self.ctxs[c].next_caller
    }

    /// Hands `event` to context `c` now and executes what it commands.
    fn handle(&mut self, c: usize, event: Event<Value>) {
        if !self.ctxs[c].alive {
            return;
        }
        self.ctxs[c].machine.handle(event, self.now);
        self.execute(c);
    }

    fn start(&mut self, c: usize) -> CallerId {
        let caller = self.caller(c);
        let stored = self.ctxs[c].stored.clone();
        self.handle(c, Event::Start { caller, stored });
        caller
    }

    fn want(&mut self, c: usize) -> CallerId {
        let caller = self.caller(c);
        self.handle(c, Event::Want { caller, want: Want::Header });
        caller
    }

    fn execute(&mut self, c: usize) {
        while let Some(command) = self.ctxs[c].machine.poll_command() {
            let now = self.now;
            match command {
                Command::Store(v) => self.ctxs[c].stored = v,
                Command::Post(post) => {
                    let (kind, entry) = match post {
                        Post::Ask => ("ask", None),
                        Post::Token(e) => ("token", Some(e)),
                        Post::SignedOut => ("signedOut", None),
                    };
                    for other in 0..self.ctxs.len() {
                        if other != c && self.ctxs[other].alive {
                            let event = Event::Peer {
                                kind: Some(kind.into()),
                                client: Some(CLIENT.into()),
                                entry: entry.clone(),
                            };
                            self.at(now + self.channel_delay, Delivery::Event(other, event));
                        }
                    }
                }
                Command::Lock { ticket, mode } => self.lock_request(c, ticket, mode),
                Command::Unlock { ticket } => self.unlock(c, ticket),
                Command::Announce => self.ctxs[c].announced = true,
                // Answered like a lock request (the same lock manager), from who is alive now.
                Command::FindPeers { ticket } => {
                    let present = (0..self.ctxs.len()).any(|o| o != c && self.ctxs[o].alive && self.ctxs[o].announced);
                    self.at(now + self.lock_delay, Delivery::Event(c, Event::Peers { ticket, present }));
                }
                Command::CallBridge { attempt } => {
                    self.bridge.calls.push((now, c));
                    if self.bridge.hang > 0 {
                        self.bridge.hang -= 1;
                        continue;
                    }
                    let result = if self.bridge.session {
                        let token = format!("t{}", self.bridge.calls.len());
                        self.bridge.issued.insert(token.clone(), now + self.bridge.latency + self.bridge.lifetime);
                        let body = json!({"access_token": token, "expires_in": self.bridge.lifetime / 1000, "refresh_token": "RT"});
                        Transport::Response { status: 200, retry_after_ms: None, date: None, body: Some(body) }
                    } else {
                        Transport::Response { status: 401, retry_after_ms: None, date: None, body: None }
                    };
                    self.at(now + self.bridge.latency, Delivery::Event(c, Event::BridgeAnswered { attempt, result }));
                }
                Command::Revoke { caller, .. } => {
                    let status = self.bridge.revoke_status;
                    if (200..300).contains(&status) {
                        self.bridge.session = false;
                    }
                    let result = Transport::Response { status, retry_after_ms: None, date: None, body: None };
                    self.at(now + self.bridge.latency, Delivery::Event(c, Event::Revoked { caller, result }));
                }
                Command::Notify(n) => self.ctxs[c].notices.push(n),
                Command::Settle { caller, answer } => {
                    if let Answer::Header(_, value) = &answer {
                        self.sent.push((now, value.clone()));
                    }
                    self.ctxs[c].answers.push((caller, answer, now));
                }
                Command::Shutdown => self.ctxs[c].alive = false,
            }
        }
        self.ctxs[c].timer = self.ctxs[c].machine.poll_timeout();
    }

    fn grant(&mut self, c: usize, ticket: u32) {
        self.lock.holder = Some((c, ticket));
        self.at(self.now + self.lock_delay, Delivery::Event(c, Event::LockGranted { ticket }));
    }

    fn lock_request(&mut self, c: usize, ticket: u32, mode: LockMode) {
        match mode {
            LockMode::IfAvailable if self.lock.holder.is_none() && self.lock.queue.is_empty() => self.grant(c, ticket),
            LockMode::IfAvailable => self.at(self.now, Delivery::Event(c, Event::LockBusy { ticket })),
            LockMode::Wait => {
                self.lock.queue.push_back((c, ticket));
                self.pump_lock();
            }
            // The holder loses the lock (its own request rejects; it carries on and its later release is moot).
            LockMode::Steal => self.grant(c, ticket),
        }
    }

    fn unlock(&mut self, c: usize, ticket: u32) {
        if self.lock.holder == Some((c, ticket)) {
            self.lock.holder = None;
        }
        self.lock.queue.retain(|&q| q != (c, ticket));
        self.pump_lock();
    }

    fn pump_lock(&mut self) {
        if self.lock.holder.is_none() {
            if let Some((c, ticket)) = self.lock.queue.pop_front() {
                self.grant(c, ticket);
            }
        }
    }

    /// The context is closed: its locks are released, nothing reaches it any more.
    fn kill(&mut self, c: usize) {
        self.ctxs[c].alive = false;
        if matches!(self.lock.holder, Some((h, _)) if h == c) {
            self.lock.holder = None;
        }
        self.lock.queue.retain(|&(q, _)| q != c);
        self.pump_lock();
    }

    /// Runs until `until`, delivering events and firing timers in time order; `every` > 0 makes each live context
    /// ask for a header that often.
    fn run(&mut self, until: Millis, every: Millis) {
        if every > 0 {
            for c in 0..self.ctxs.len() {
                self.at(self.now + every + c as Millis * 7, Delivery::Demand(c));
            }
        }
        loop {
            let next_delivery = self.queue.peek().map(|Reverse((t, _))| *t);
            let next_timer = (0..self.ctxs.len())
                .filter(|&c| self.ctxs[c].alive && !self.ctxs[c].frozen)
                .filter_map(|c| self.ctxs[c].timer.map(|t| (t, c)))
                .min();
            let timer_first = match (next_timer, next_delivery) {
                (Some((t, _)), Some(d)) => t < d,
                (Some(_), None) => true,
                _ => false,
            };
            let when = if timer_first { next_timer.unwrap().0 } else { next_delivery.unwrap_or(Millis::MAX) };
            if when > until {
                break;
            }
            self.now = self.now.max(when);
            if timer_first {
                let c = next_timer.unwrap().1;
                self.ctxs[c].timer = None;
                self.handle(c, Event::Timer);
                continue;
            }
            let Reverse((_, seq)) = self.queue.pop().unwrap();
            match self.deliveries.remove(&seq).unwrap() {
                Delivery::Event(c, _) if self.ctxs[c].frozen => {}
                Delivery::Event(c, event) => self.handle(c, event),
                Delivery::Demand(c) => {
                    if self.ctxs[c].alive && every > 0 {
                        self.want(c);
                        self.at(self.now + every, Delivery::Demand(c));
                    }
                }
            }
        }
        self.now = until;
        // Demands still queued stop with the run.
        self.deliveries.retain(|_, d| !matches!(d, Delivery::Demand(_)));
    }

    fn answer(&self, c: usize, caller: CallerId) -> Option<&Answer> {
        self.ctxs[c].answers.iter().find(|(id, ..)| *id == caller).map(|(_, a, _)| a)
    }

    fn answered_at(&self, c: usize, caller: CallerId) -> Option<Millis> {
        self.ctxs[c].answers.iter().find(|(id, ..)| *id == caller).map(|(.., t)| *t)
    }

    /// Starts every context in turn (the first one fetches the token, the others get it from their peers).
    fn sign_in_all(&mut self) {
        for c in 0..self.ctxs.len() {
            let caller = self.start(c);
            self.run(self.now + 500, 0);
            assert_eq!(self.answer(c, caller), Some(&Answer::Started(true)), "context {c} started");
        }
    }

    fn failures(&self) -> Vec<(usize, Answer)> {
        let mut out = Vec::new();
        for (c, ctx) in self.ctxs.iter().enumerate() {
            for (_, a, _) in &ctx.answers {
                if matches!(a, Answer::Failed(_)) {
                    out.push((c, a.clone()));
                }
            }
        }
        out
    }

    /// Every header handed out was a token the bridge issued and had not expired when it was handed out.
    fn assert_sent_valid(&self) {
        for (at, value) in &self.sent {
            let token = value.strip_prefix("Bearer ").unwrap();
            let exp = self.bridge.issued[token];
            assert!(*at < exp, "{token} handed out at +{} ms, expired at +{} ms", at - T0, exp - T0);
        }
    }
}

#[test]
fn five_contexts_one_bridge_call_per_expiry_over_a_simulated_day() {
    let mut sim = Sim::new(5, HOUR);
    sim.sign_in_all();
    assert_eq!(sim.bridge.calls.len(), 1, "the other four contexts got the first token from their peer");
    sim.run(T0 + 24 * HOUR, 10 * SECOND);
    assert_eq!(sim.failures(), vec![]);
    sim.assert_sent_valid();
    let calls = &sim.bridge.calls;
    // A 1-hour token is refreshed 5 to 7.5 minutes before it expires, 52.5 to 55 minutes after it was issued:
    // the first call and 26 to 27 refreshes in a day, each the only call for its token's expiry.
    assert!((27..=28).contains(&calls.len()), "{} bridge calls in a day", calls.len());
    for pair in calls.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= 52 * MINUTE, "two calls {} ms apart", pair[1].0 - pair[0].0);
    }
    // Every context sent tens of thousands of requests and each saw every token.
    assert!(sim.sent.len() > 5 * 8_000, "{} headers", sim.sent.len());
    for ctx in &sim.ctxs {
        let tokens = ctx.notices.iter().filter(|n| matches!(n, Notice::Token { .. })).count();
        assert!(tokens >= calls.len(), "a context saw {tokens} tokens of {}", calls.len());
    }
}

/// Context 0 holds the lock and its bridge call hangs; context 1 queues for the lock. Returns (sim, 1's caller,
/// when 1 asked).
fn hung_holder() -> (Sim, CallerId, Millis) {
    let mut sim = Sim::new(2, HOUR);
    sim.sign_in_all();
    sim.bridge.hang = 1;
    let c0 = sim.caller(0);
    sim.handle(0, Event::Refresh { caller: c0 });
    sim.run(sim.now + 300, 0);
    let c1 = sim.caller(1);
    sim.handle(1, Event::Refresh { caller: c1 });
    let asked = sim.now;
    sim.run(sim.now + 300, 0);
    assert_eq!(sim.bridge.calls.len(), 2, "the hung call, and nothing from the waiting context yet");
    assert_eq!(sim.answer(1, c1), None);
    (sim, c1, asked)
}

#[test]
fn the_lock_holder_dies_mid_refresh_the_next_context_takes_over_once() {
    let (mut sim, c1, _) = hung_holder();
    let died = sim.now;
    sim.kill(0);
    sim.run(sim.now + 2 * SECOND, 0);
    let answered = sim.answered_at(1, c1).expect("context 1 answered");
    assert!(matches!(sim.answer(1, c1), Some(Answer::Token(_))), "{:?}", sim.answer(1, c1));
    // Takeover: the settle pause and one bridge round trip after the holder's death.
    assert!(answered - died <= LOCK_SETTLE_MS + sim.bridge.latency, "took over {} ms after", answered - died);
    assert_eq!(sim.bridge.calls.len(), 3, "one call by the new holder (the first token, the hung call, the takeover)");
}

#[test]
fn a_frozen_lock_holder_is_stolen_from_after_the_bridge_timeout_and_grace() {
    let (mut sim, c1, asked) = hung_holder();
    sim.ctxs[0].frozen = true;
    sim.run(sim.now + BRIDGE_TIMEOUT_MS + LOCK_STEAL_GRACE_MS + SECOND, 0);
    let answered = sim.answered_at(1, c1).expect("context 1 answered");
    assert!(matches!(sim.answer(1, c1), Some(Answer::Token(_))));
    let waited = answered - asked;
    let bound = BRIDGE_TIMEOUT_MS + LOCK_STEAL_GRACE_MS;
    assert!(waited >= bound && waited <= bound + LOCK_SETTLE_MS + sim.bridge.latency, "waited {waited} ms");
    assert_eq!(sim.bridge.calls.len(), 3);
    assert_eq!(sim.lock.holder.map(|(c, _)| c), None, "the stealer released the lock");
}

#[test]
fn waking_with_an_expired_token_the_first_request_gets_a_fresh_one_with_one_call() {
    let mut sim = Sim::new(2, 10 * MINUTE);
    sim.sign_in_all();
    let before = sim.bridge.calls.len();
    // The laptop sleeps for an hour: no timer fires, no message moves.
    for ctx in &mut sim.ctxs {
        ctx.frozen = true;
    }
    sim.run(sim.now + HOUR, 0);
    for ctx in &mut sim.ctxs {
        ctx.frozen = false;
    }
    // On wake, a request in context 1 comes before any late timer or the page's wake event.
    let caller = sim.want(1);
    sim.handle(0, Event::Wake);
    sim.handle(1, Event::Wake);
    sim.run(sim.now + 5 * SECOND, 0);
    assert!(matches!(sim.answer(1, caller), Some(Answer::Header(..))), "{:?}", sim.answer(1, caller));
    sim.assert_sent_valid();
    assert_eq!(sim.bridge.calls.len() - before, 1, "one bridge call for both contexts");
    assert_eq!(sim.ctxs[0].machine.session().generation(), sim.ctxs[1].machine.session().generation());
}

#[test]
fn sign_out_in_one_context_reaches_every_context() {
    let mut sim = Sim::new(3, HOUR);
    sim.sign_in_all();
    let caller = sim.caller(1);
    sim.handle(1, Event::SignOut { caller });
    sim.run(sim.now + 2 * SECOND, 0);
    assert_eq!(sim.answer(1, caller), Some(&Answer::Done));
    for (c, ctx) in sim.ctxs.iter().enumerate() {
        assert_eq!(ctx.machine.status(), Status::SignedOut, "context {c}");
        assert_eq!(ctx.stored, None, "context {c} storage");
        let reason = if c == 1 { "signOut" } else { "peer" };
        assert!(ctx.notices.contains(&Notice::SignedOut { reason }), "context {c}: {:?}", ctx.notices);
        assert!(!ctx.notices.iter().any(|n| matches!(n, Notice::Error(_))), "a confirmed sign-out is no error");
    }
    for c in 0..3 {
        let caller = sim.want(c);
        sim.run(sim.now + SECOND, 0);
        match sim.answer(c, caller) {
            Some(Answer::Failed(e)) => assert_eq!(e.code, Code::SignedOut),
            other => panic!("context {c}: {other:?}"),
        }
    }
}

/// A revoke the bridge does not confirm (503): the local session ends all the same (nothing stored, no token),
/// but `signOut()` fails with the status, so that the application can say the session may live on and retry.
/// The peers ask the bridge, which still issues tokens: they stay signed in.
#[test]
fn an_unconfirmed_sign_out_ends_the_local_session_and_fails() {
    let mut sim = Sim::new(2, HOUR);
    sim.sign_in_all();
    sim.bridge.revoke_status = 503;
    let caller = sim.caller(1);
    sim.handle(1, Event::SignOut { caller });
    sim.run(sim.now + 2 * SECOND, 0);
    match sim.answer(1, caller) {
        Some(Answer::Failed(e)) => {
            assert_eq!(e.code, Code::BridgeUnavailable);
            assert_eq!(e.bridge.as_ref().map(|b| b.status), Some(503));
            assert!(e.message.contains("did not confirm the sign-out"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    let ctx = &sim.ctxs[1];
    assert_eq!(ctx.machine.status(), Status::SignedOut);
    assert_eq!(ctx.stored, None);
    assert!(ctx.machine.session().current().is_none());
    assert!(ctx.notices.contains(&Notice::SignedOut { reason: "signOut" }));
    assert_eq!(sim.ctxs[0].machine.status(), Status::SignedIn, "the bridge session lives on: the peer keeps it");
}

/// Context 0 refreshes holding the lock; context 1 wants a token meanwhile and queues. The lock's release and
/// 0's token reach context 1 in the order the delays give.
fn grant_and_token(channel_delay: Millis, lock_delay: Millis) -> Sim {
    let mut sim = Sim::new(2, HOUR);
    sim.sign_in_all();
    let before = sim.bridge.calls.len();
    sim.channel_delay = channel_delay;
    sim.lock_delay = lock_delay;
    let c0 = sim.caller(0);
    sim.handle(0, Event::Refresh { caller: c0 });
    let c1 = sim.caller(1);
    sim.handle(1, Event::Refresh { caller: c1 });
    sim.run(sim.now + 2 * SECOND, 0);
    assert!(matches!(sim.answer(0, c0), Some(Answer::Token(_))));
    assert!(matches!(sim.answer(1, c1), Some(Answer::Token(_))), "{:?}", sim.answer(1, c1));
    assert_eq!(
        sim.bridge.calls.len() - before,
        1,
        "one bridge call (channel {channel_delay} ms, lock {lock_delay} ms)"
    );
    assert_eq!(sim.ctxs[0].machine.session().current().map(|c| c.record.token.secret().to_owned()), Some("t2".into()));
    assert_eq!(sim.ctxs[1].machine.session().current().map(|c| c.record.token.secret().to_owned()), Some("t2".into()));
    sim
}

#[test]
fn the_peer_token_before_the_lock_grant_makes_no_second_call() {
    grant_and_token(1, 10);
}

#[test]
fn the_lock_grant_before_the_peer_token_makes_no_second_call() {
    grant_and_token(LOCK_SETTLE_MS - 10, 0);
}

/// Context 0 refreshes and gives the lock back; its token is slow to reach context 1, whose own refresh ahead of
/// expiry begins in between and finds the lock free. (Seen in WebKit on a loaded machine: two tabs' bridge calls 19
/// ms apart for one expiry.)
#[test]
fn a_refresh_that_finds_the_lock_free_just_after_a_peers_refresh_makes_no_second_call() {
    let mut sim = Sim::new(2, HOUR);
    sim.sign_in_all();
    let before = sim.bridge.calls.len();
    sim.channel_delay = LOCK_SETTLE_MS - 20;
    let c0 = sim.caller(0);
    sim.handle(0, Event::Refresh { caller: c0 });
    // Until context 0's call has been answered and the lock given back; its token is still on the channel.
    let until = sim.now + SECOND;
    while !(sim.bridge.calls.len() > before && sim.lock.holder.is_none()) && sim.now < until {
        sim.run(sim.now + 1, 0);
    }
    assert_eq!(sim.lock.holder, None);
    assert_eq!(sim.ctxs[1].machine.session().current().map(|c| c.record.token.secret().to_owned()), Some("t1".into()));
    let c1 = sim.caller(1);
    sim.handle(1, Event::Refresh { caller: c1 });
    sim.run(sim.now + 2 * SECOND, 0);
    assert!(matches!(sim.answer(1, c1), Some(Answer::Token(t)) if t == "t2"), "{:?}", sim.answer(1, c1));
    assert_eq!(sim.bridge.calls.len() - before, 1, "one bridge call for the two refreshes");
}

#[test]
fn a_cold_start_asks_peers_and_waits_no_longer_than_the_ask_window() {
    let mut sim = Sim::new(1, HOUR);
    let caller = sim.start(0);
    sim.run(sim.now + SECOND, 0);
    assert_eq!(sim.answer(0, caller), Some(&Answer::Started(true)));
    let at = sim.bridge.calls[0].0 - T0;
    assert_eq!(at, PEER_ASK_WAIT_MS, "the bridge is called when the ask window closes");
}

/// A simulation whose contexts can tell whether a peer is alive (Web Locks' `query`), each answer taking 3 ms.
fn sim_with_presence(contexts: usize) -> Sim {
    let mut sim = Sim::new(contexts, HOUR);
    for c in &mut sim.ctxs {
        let mut given = c.machine.setup().clone();
        given.presence = true;
        c.machine = Machine::new(given);
    }
    sim.lock_delay = 3;
    sim
}

#[test]
fn a_first_visit_alone_calls_the_bridge_once_it_holds_the_lock_without_asking_peers() {
    let mut sim = sim_with_presence(1);
    let caller = sim.ctxs[0].next_caller + 1;
    sim.ctxs[0].next_caller = caller;
    sim.ctxs[0].machine.handle::<Value>(Event::Start { caller, stored: None }, sim.now);
    let commands: Vec<Command> = std::iter::from_fn(|| sim.ctxs[0].machine.poll_command()).collect();
    assert_eq!(commands[..2], [Command::Announce, Command::FindPeers { ticket: 1 }], "{commands:?}");
    assert!(!commands.iter().any(|c| matches!(c, Command::Post(Post::Ask) | Command::Lock { .. })), "{commands:?}");
    sim.ctxs[0].machine.handle::<Value>(Event::Peers { ticket: 1, present: false }, sim.now + 3);
    let commands: Vec<Command> = std::iter::from_fn(|| sim.ctxs[0].machine.poll_command()).collect();
    assert!(
        matches!(commands[..], [Command::Lock { ticket: 2, mode: LockMode::IfAvailable }]),
        "no ask; the lock: {commands:?}"
    );
    sim.ctxs[0].machine.handle::<Value>(Event::LockGranted { ticket: 2 }, sim.now + 4);
    let commands: Vec<Command> = std::iter::from_fn(|| sim.ctxs[0].machine.poll_command()).collect();
    assert!(matches!(commands[..], [Command::CallBridge { .. }]), "{commands:?}");

    // The same through the simulation: the bridge is called once the presence answer and the lock are in, not
    // after the ask window.
    let mut sim = sim_with_presence(1);
    let caller = sim.start(0);
    sim.run(sim.now + SECOND, 0);
    assert_eq!(sim.answer(0, caller), Some(&Answer::Started(true)));
    assert_eq!(sim.bridge.calls[0].0 - T0, 6, "called once the presence answer and the lock came (3 ms each)");
    assert_eq!(sim.lock.holder, None, "and the lock given back");
}

#[test]
fn with_a_peer_alive_a_start_asks_it_and_takes_its_token() {
    let mut sim = sim_with_presence(2);
    let first = sim.start(0);
    sim.run(sim.now + SECOND, 0);
    assert_eq!(sim.answer(0, first), Some(&Answer::Started(true)));
    let second = sim.start(1);
    sim.run(sim.now + SECOND, 0);
    assert_eq!(sim.answer(1, second), Some(&Answer::Started(true)));
    assert_eq!(sim.bridge.calls.len(), 1, "the second context got the first one's token");
}

#[test]
fn two_contexts_starting_together_with_presence_make_one_bridge_call() {
    let mut sim = sim_with_presence(2);
    let (a, b) = (sim.start(0), sim.start(1));
    sim.run(sim.now + SECOND, 0);
    assert_eq!(sim.answer(0, a), Some(&Answer::Started(true)));
    assert_eq!(sim.answer(1, b), Some(&Answer::Started(true)));
    assert_eq!(sim.bridge.calls.len(), 1, "the one that found the other asked it and waited for its token");
}

/// Two contexts starting together where one finds no peer (the other had not announced itself yet) and the other
/// finds it: the bridge answers slower than a peer ask waits, so the second cannot count on the first one's token
/// arriving in time. The Web Lock keeps it to one call: the first holds it through its call.
#[test]
fn two_contexts_starting_together_make_one_bridge_call_however_slow_the_bridge() {
    let mut sim = sim_with_presence(2);
    sim.bridge.latency = 4 * PEER_ASK_WAIT_MS;
    let (a, b) = (sim.start(0), sim.start(1));
    sim.run(sim.now + 5 * SECOND, 0);
    assert_eq!(sim.answer(0, a), Some(&Answer::Started(true)));
    assert_eq!(sim.answer(1, b), Some(&Answer::Started(true)));
    assert_eq!(sim.bridge.calls.len(), 1, "{:?}", sim.bridge.calls);
}

#[test]
fn a_presence_answer_that_never_comes_delays_the_start_no_longer_than_the_ask_window() {
    let mut m = Machine::new(Setup { presence: true, ..setup(1) });
    m.handle::<Value>(Event::Start { caller: 1, stored: None }, T0);
    while m.poll_command().is_some() {}
    assert_eq!(m.poll_timeout(), Some(T0 + PEER_ASK_WAIT_MS));
    m.handle::<Value>(Event::Timer, T0 + PEER_ASK_WAIT_MS);
    let lock = std::iter::from_fn(|| m.poll_command()).find_map(|c| match c {
        Command::Lock { ticket, mode } => Some((ticket, mode)),
        _ => None,
    });
    assert!(lock.is_some(), "not knowing, the start takes the lock as usual");
    m.handle::<Value>(Event::Peers { ticket: 1, present: false }, T0 + PEER_ASK_WAIT_MS + 1);
    assert!(
        !std::iter::from_fn(|| m.poll_command()).any(|c| matches!(c, Command::CallBridge { .. })),
        "a late answer changes nothing"
    );
}

/// `signOut()`, then `start()` before the revoke has ended: when the revoke ends, the sign-out's caller is answered
/// and the peers are told, but the session begun since goes on (no `signedOut`, status and token kept).
#[test]
fn a_revoke_that_ends_after_a_new_start_does_not_end_the_new_session() {
    let mut sim = Sim::new(1, HOUR);
    sim.sign_in_all();
    sim.bridge.latency = 300;
    let out = sim.caller(0);
    sim.handle(0, Event::SignOut { caller: out });
    sim.run(sim.now + 10, 0);
    sim.bridge.latency = 40;
    sim.bridge.session = true;
    let again = sim.start(0);
    sim.run(sim.now + SECOND, 0);
    assert_eq!(sim.answer(0, again), Some(&Answer::Started(true)));
    assert_eq!(sim.answer(0, out), Some(&Answer::Done), "the sign-out's caller is answered");
    assert!(!sim.ctxs[0].notices.iter().any(|n| matches!(n, Notice::SignedOut { .. })), "{:?}", sim.ctxs[0].notices);
    assert_eq!(sim.ctxs[0].machine.status(), Status::SignedIn);
    assert!(sim.ctxs[0].machine.fresh_header(sim.now).is_some());
}

#[test]
fn offline_no_calls_and_back_online_one_call() {
    let mut sim = Sim::new(2, 4 * SECOND);
    sim.sign_in_all();
    let before = sim.bridge.calls.len();
    for c in 0..2 {
        sim.handle(c, Event::Online(false));
    }
    sim.run(sim.now + 10 * SECOND, 0);
    assert_eq!(sim.bridge.calls.len(), before, "no bridge calls while offline");
    let caller = sim.want(0);
    sim.run(sim.now + 100, 0);
    match sim.answer(0, caller) {
        Some(Answer::Failed(e)) => assert_eq!(e.code, Code::Network),
        other => panic!("{other:?}"),
    }
    for c in 0..2 {
        sim.handle(c, Event::Online(true));
    }
    sim.run(sim.now + SECOND, 0);
    assert_eq!(sim.bridge.calls.len(), before + 1, "one call for both contexts once back online");
}

#[test]
fn peer_messages_for_another_client_or_while_stopped_change_nothing() {
    let mut sim = Sim::new(2, HOUR);
    sim.sign_in_all();
    let generation = sim.ctxs[1].machine.session().generation();
    let forged = crate::store::encode::<Value>(
        &crate::token::AccessToken::new("forged".into()).unwrap(),
        Some(sim.now + 2 * HOUR),
        "Authorization",
        "another-client",
    );
    sim.handle(
        1,
        Event::Peer { kind: Some("token".into()), client: Some("another-client".into()), entry: Some(forged) },
    );
    sim.handle(1, Event::Peer { kind: Some("signedOut".into()), client: Some("another-client".into()), entry: None });
    sim.handle(1, Event::Stop);
    sim.handle(1, Event::Peer { kind: Some("signedOut".into()), client: Some(CLIENT.into()), entry: None });
    sim.run(sim.now + SECOND, 0);
    assert_eq!(sim.ctxs[1].machine.session().generation(), generation);
    assert_eq!(sim.ctxs[1].machine.status(), Status::SignedIn);
}

#[test]
fn free_settles_every_waiting_caller_and_silences_the_client() {
    let mut sim = Sim::new(1, HOUR);
    sim.bridge.hang = 1;
    let start = sim.start(0);
    sim.run(sim.now + SECOND, 0);
    let want = sim.want(0);
    let notices = sim.ctxs[0].notices.len();
    sim.handle(0, Event::Free);
    for caller in [start, want] {
        match sim.answer(0, caller) {
            Some(Answer::Failed(e)) => assert_eq!(e.code, Code::Freed),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sim.ctxs[0].notices.len(), notices);
    assert_eq!(sim.lock.holder, None, "the lock is released");
    assert_eq!(sim.ctxs[0].machine.poll_timeout(), None);
}

#[test]
fn a_stale_lock_grant_is_given_back() {
    let mut m = Machine::new(setup(1));
    m.handle::<Value>(Event::Start { caller: 1, stored: None }, T0);
    m.handle::<Value>(Event::Timer, T0 + PEER_ASK_WAIT_MS);
    let lock = std::iter::from_fn(|| m.poll_command()).find_map(|c| match c {
        Command::Lock { ticket, mode } => Some((ticket, mode)),
        _ => None,
    });
    let (ticket, mode) = lock.expect("a lock request");
    assert_eq!(mode, LockMode::IfAvailable);
    m.handle::<Value>(Event::LockGranted { ticket: ticket + 7 }, T0 + PEER_ASK_WAIT_MS);
    assert_eq!(m.poll_command(), Some(Command::Unlock { ticket: ticket + 7 }), "given back, no bridge call");
    assert_eq!(m.poll_command(), None);
    m.handle::<Value>(Event::LockGranted { ticket }, T0 + PEER_ASK_WAIT_MS);
    assert!(matches!(m.poll_command(), Some(Command::CallBridge { .. })));
}

#[test]
fn setup_reads_back_as_given() {
    let mut given = setup(7);
    given.session.header = Some("X-Api-Key".into());
    given.session.refresh_margin_ms = Some(30_000);
    given.shared_storage_key = Some("k".into());
    let m = Machine::new(given.clone());
    assert_eq!(format!("{:?}", m.setup()), format!("{given:?}"));
    assert_eq!(format!("{:?}", m.session().config()), format!("{:?}", given.session));
    assert_eq!(m.header_name(), "X-Api-Key");
}

/// The shared entry removed (a sign-out in another tab, seen as a `storage` event or re-read when the page comes
/// back from the back-forward cache, after the channel's notice was missed): like a peer's notice, the token stops
/// being sent and the bridge is asked once; its refusal ends the session. An entry that is still ours changes
/// nothing.
#[test]
fn a_removed_shared_entry_makes_the_session_check_with_its_bridge() {
    let mut given = setup(3);
    given.shared_storage_key = Some("k".into());
    given.peers = false;
    given.lock = false;
    let mut m = Machine::new(given);
    let entry = crate::store::encode::<Value>(
        &crate::token::AccessToken::new("mine".into()).unwrap(),
        Some(T0 + HOUR),
        "Authorization",
        CLIENT,
    );
    m.handle::<Value>(Event::Start { caller: 1, stored: Some(entry.clone()) }, T0);
    while m.poll_command().is_some() {}
    assert_eq!(m.status(), Status::SignedIn);
    // Our own entry, re-read: nothing happens.
    m.handle::<Value>(Event::Storage { key: Some("k".into()), value: Some(entry) }, T0 + SECOND);
    assert!(!std::iter::from_fn(|| m.poll_command()).any(|c| matches!(c, Command::CallBridge { .. })));
    // Another key's removal: nothing either.
    m.handle::<Value>(Event::Storage { key: Some("other".into()), value: None }, T0 + SECOND);
    assert!(!std::iter::from_fn(|| m.poll_command()).any(|c| matches!(c, Command::CallBridge { .. })));
    // Ours removed: one bridge call, and no token is handed out meanwhile.
    m.handle::<Value>(Event::Storage { key: Some("k".into()), value: None }, T0 + 2 * SECOND);
    let attempt = std::iter::from_fn(|| m.poll_command()).find_map(|c| match c {
        Command::CallBridge { attempt } => Some(attempt),
        _ => None,
    });
    let attempt = attempt.expect("the session checks with its bridge");
    assert!(m.fresh_header(T0 + 2 * SECOND).is_none(), "the token is not sent while the bridge is asked");
    let refused = Transport::Response { status: 401, retry_after_ms: None, date: None, body: None };
    m.handle::<Value>(Event::BridgeAnswered { attempt, result: refused }, T0 + 2 * SECOND + 40);
    let notices: Vec<Command> = std::iter::from_fn(|| m.poll_command()).collect();
    assert_eq!(m.status(), Status::SignedOut);
    assert!(notices.contains(&Command::Notify(Notice::SignedOut { reason: "peer" })), "{notices:?}");
}
