//! Native tests of the session state machine with a fake clock, a fake bridge and a memory store.

use serde_json::{json, Value};

use crate::error::Code;
use crate::session::*;
use crate::store::{MemoryStore, TokenStore};
use crate::test_support::jwt;
use crate::time::{Env, Millis};
use crate::token::Format;

const T0: Millis = 1_700_000_000_000;

struct FakeEnv {
    now: Millis,
    dice: Vec<f64>,
    rolls: usize,
}

impl FakeEnv {
    fn new(dice: &[f64]) -> Self {
        Self { now: T0, dice: dice.to_vec(), rolls: 0 }
    }
}

impl Env for FakeEnv {
    fn now(&self) -> Millis {
        self.now
    }
    fn random(&mut self) -> f64 {
        let r = self.dice[self.rolls % self.dice.len()];
        self.rolls += 1;
        r
    }
}

/// The identity every test session has.
const CLIENT: &str = "c0ffee";

fn config() -> Config {
    Config { client: CLIENT.into(), ..Config::default() }
}

fn session() -> Session<MemoryStore> {
    Session::new(config(), MemoryStore::default())
}

fn ok(body: Value) -> Transport<Value> {
    Transport::Response { status: 200, retry_after_ms: None, date: None, body: Some(body) }
}

fn status(code: u16, retry_after_ms: Option<Millis>) -> Transport<Value> {
    Transport::Response { status: code, retry_after_ms, date: None, body: None }
}

fn oauth(token: &str, expires_in: i64) -> Value {
    json!({"access_token": token, "refresh_token": "RT-never-stored", "expires_in": expires_in, "token_type": "Bearer"})
}

/// Runs one bridge call that returns `result`, as the driver would.
fn attempt(s: &mut Session<MemoryStore>, env: &mut FakeEnv, result: Transport<Value>) -> Outcome {
    let epoch = s.begin_attempt().expect("no attempt in flight");
    s.finish_attempt(epoch, env, result)
}

fn use_value(d: Decision) -> String {
    match d {
        Decision::Use(_, v) => v,
        other => panic!("expected Use, got {other:?}"),
    }
}

#[test]
fn single_flight_one_bridge_call_for_a_thousand_callers() {
    let mut s = session();
    let mut env = FakeEnv::new(&[0.5]);
    let mut bridge_calls = 0;
    let mut waiting = 0;
    for _ in 0..1000 {
        assert_eq!(s.decide(env.now, 0), Decision::Refresh);
        if s.begin_attempt().is_some() {
            bridge_calls += 1;
        } else {
            waiting += 1;
        }
    }
    assert_eq!((bridge_calls, waiting), (1, 999));
    assert_eq!(s.finish_attempt(0, &mut env, ok(oauth("tok-1", 3600))), Outcome::Token);
    for _ in 0..1000 {
        assert_eq!(use_value(s.decide(env.now, 0)), "Bearer tok-1");
    }
}

#[test]
fn refresh_times_for_30s_1h_and_24h_tokens() {
    for (lifetime_s, earliest, latest) in
        [(30, 21_000, 24_000), (3600, 3_150_000, 3_300_000), (86_400, 85_950_000, 86_100_000)]
    {
        let mut env = FakeEnv::new(&[0.0, 0.37, 0.999]);
        let mut s = session();
        let mut times = Vec::new();
        for cycle in 0..6 {
            let issued = env.now;
            assert_eq!(attempt(&mut s, &mut env, ok(oauth(&format!("t{cycle}"), lifetime_s))), Outcome::Token);
            let at = s.next_wakeup().unwrap();
            let offset = at - issued;
            assert!((earliest..=latest).contains(&offset), "{lifetime_s}s token refreshes {offset} ms after issue");
            // Before the refresh point the token is used without a bridge call; at it, a refresh is due.
            assert!(!s.auto_due(at - 1));
            assert!(matches!(s.decide(at - 1, 0), Decision::Use(..)));
            assert!(s.auto_due(at));
            assert_eq!(s.decide(at, 0), Decision::Refresh);
            times.push(offset);
            env.now = at;
        }
        println!("{lifetime_s:>6} s token: refresh at {:?} ms after issue (expiry at {} ms)", times, lifetime_s * 1000);
    }
}

#[test]
fn jitter_spreads_clients_issued_in_the_same_second() {
    let mut at = Vec::new();
    for i in 0..1000 {
        let mut env = FakeEnv::new(&[i as f64 / 1000.0]);
        let mut s = session();
        attempt(&mut s, &mut env, ok(oauth("t", 3600)));
        at.push(s.next_wakeup().unwrap() - T0);
    }
    at.sort();
    assert_eq!((at[0], at[999]), (3_150_150, 3_300_000));
    // Uniform: each 15-second slice of the 150-second window gets about a tenth.
    for slice in 0..10 {
        let lo = 3_150_000 + slice * 15_000;
        let n = at.iter().filter(|&&t| t >= lo && t < lo + 15_000).count();
        assert!((90..=110).contains(&n), "slice {slice}: {n}");
    }
}

#[test]
fn static_tokens_never_schedule_a_refresh() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    attempt(&mut s, &mut env, ok(json!({"token": "afp_123", "scopes": ["a"]})));
    assert_eq!(s.next_wakeup(), None);
    assert_eq!(use_value(s.decide(T0 + 10 * 365 * 86_400_000, 0)), "Bearer afp_123");
}

#[test]
fn wazo_tokens_use_x_auth_token_and_configured_header_overrides() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    attempt(&mut s, &mut env, ok(json!({"data": {"token": "w-1", "expires_at": "2023-11-14T23:13:20.000000"}})));
    assert_eq!(s.decide(T0, 0), Decision::Use("X-Auth-Token".into(), "w-1".into()));
    let mut s = Session::new(Config { header: Some("X-Api-Key".into()), ..Config::default() }, MemoryStore::default());
    attempt(&mut s, &mut env, ok(oauth("o-1", 60)));
    assert_eq!(s.decide(T0, 0), Decision::Use("X-Api-Key".into(), "o-1".into()));
}

#[test]
fn a_configured_header_carries_restored_and_adopted_tokens_and_refuses_others() {
    let mut env = FakeEnv::new(&[0.5]);
    let config = || Config { header: Some("X-Api-Key".into()), ..config() };
    let entry = |token: &str, header: &str| {
        format!(r#"{{"token":"{token}","expiresAt":{},"header":"{header}","client":"{CLIENT}"}}"#, T0 + 60_000)
    };
    // Restored from storage: the configured header, as the entry says.
    let mut s = Session::new(config(), MemoryStore::default());
    s.store_mut().save(&entry("r-1", "X-Api-Key"));
    assert!(s.restore::<Value>(&mut env));
    assert_eq!(s.decide(T0, 0), Decision::Use("X-Api-Key".into(), "r-1".into()));
    // An entry in another header is not this client's: not restored, and deleted.
    let mut s = Session::new(config(), MemoryStore::default());
    s.store_mut().save(&entry("r-2", "Authorization"));
    assert!(!s.restore::<Value>(&mut env));
    assert_eq!(s.store().peek(), None);
    // Adopted from a peer: the same rule.
    let mut s = Session::new(config(), MemoryStore::default());
    let decode = |text: &str| crate::store::decode::<Value>(text, Some("X-Api-Key"), CLIENT).unwrap();
    assert!(!s.adopt::<Value>(decode(&entry("p-1", "Authorization")), &mut env));
    assert!(s.adopt::<Value>(decode(&entry("p-2", "X-Api-Key")), &mut env));
    assert_eq!(s.decide(T0, 0), Decision::Use("X-Api-Key".into(), "p-2".into()));
    assert_eq!(s.entry(T0).map(|e| e.header), Some("X-Api-Key".into()));
}

#[test]
fn storage_holds_only_the_access_token_after_every_operation() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    let check = |s: &Session<MemoryStore>| {
        if let Some(text) = s.store().peek() {
            let v: Value = serde_json::from_str(text).unwrap();
            let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
            assert_eq!(keys, ["client", "expiresAt", "header", "token"]);
            assert!(!text.contains("RT-never-stored") && !text.contains("refresh"), "{text}");
        }
    };
    attempt(&mut s, &mut env, ok(oauth("a1", 60)));
    check(&s);
    assert_eq!(
        s.store().peek(),
        Some(r#"{"token":"a1","expiresAt":1700000060000,"header":"Authorization","client":"c0ffee"}"#)
    );
    env.now += 50_000;
    attempt(&mut s, &mut env, status(500, None));
    check(&s);
    assert!(s.store().peek().unwrap().contains("a1"), "a failed refresh keeps the valid token");
    env.now += 5_000;
    attempt(&mut s, &mut env, ok(oauth("a2", 60)));
    check(&s);
    assert!(s.store().peek().unwrap().contains("a2"));
    s.sign_out();
    assert_eq!(s.store().peek(), None);
}

#[test]
fn restore_keeps_valid_entries_and_evicts_expired_or_malformed_ones() {
    let mut env = FakeEnv::new(&[0.0]);
    let valid =
        format!(r#"{{"token":"keep","expiresAt":{},"header":"Authorization","client":"{CLIENT}"}}"#, T0 + 600_000);
    let mut s = session();
    s.store_mut().save(&valid);
    assert!(s.restore::<Value>(&mut env));
    assert_eq!(use_value(s.decide(T0, 0)), "Bearer keep");
    // Lifetime unknown: the remaining 10 minutes stand in, so the margin is 2 minutes (+ jitter 0).
    assert_eq!(s.next_wakeup(), Some(T0 + 480_000));

    // A JWT's iat recovers the real lifetime (1 h → 5 min margin).
    let t = jwt(&json!({"alg": "HS256"}), &json!({"iat": T0 / 1000 - 3000, "exp": T0 / 1000 + 600}));
    let mut s = session();
    s.store_mut().save(&format!(
        r#"{{"token":"{t}","expiresAt":{},"header":"Authorization","client":"{CLIENT}"}}"#,
        T0 + 600_000
    ));
    assert!(s.restore::<Value>(&mut env));
    assert_eq!(s.next_wakeup(), Some(T0 + 300_000));

    let expired = format!(r#"{{"token":"old","expiresAt":{},"header":"Authorization","client":"{CLIENT}"}}"#, T0 - 1);
    // Another client's entry (two clients on one page, one storage key): never restored, and evicted.
    let foreign =
        format!(r#"{{"token":"theirs","expiresAt":{},"header":"Authorization","client":"other"}}"#, T0 + 600_000);
    let no_client = format!(r#"{{"token":"legacy","expiresAt":{},"header":"Authorization"}}"#, T0 + 600_000);
    for bad in [
        expired.as_str(),
        foreign.as_str(),
        no_client.as_str(),
        "garbage",
        r#"{"token":"t","expiresAt":null,"header":"Set-Cookie","client":"c0ffee"}"#,
    ] {
        let mut s = session();
        s.store_mut().save(bad);
        assert!(!s.restore::<Value>(&mut env), "{bad}");
        assert_eq!(s.store().peek(), None, "{bad} must be evicted");
        assert_eq!(s.decide(T0, 0), Decision::Refresh);
    }
}

#[test]
fn backoff_schedule_is_bounded_and_honours_retry_after() {
    let mut env = FakeEnv::new(&[1.0]);
    let mut s = session();
    attempt(&mut s, &mut env, ok(oauth("t", 3600)));
    env.now = s.next_wakeup().unwrap();
    let mut gates = Vec::new();
    for _ in 0..MAX_AUTO_FAILURES {
        let out = attempt(&mut s, &mut env, status(500, Some(999_000)));
        let mut unavailable = crate::Error::new(Code::BridgeUnavailable, "the bridge answered HTTP 500");
        unavailable.bridge = Some(crate::error::BridgeRefusal { status: 500, error: None });
        assert_eq!(out, Outcome::Failed(unavailable));
        let Some(at) = s.next_wakeup() else { break };
        gates.push(at - env.now);
        env.now = at;
    }
    // Full jitter with the dice at 1.0 shows the ceilings; Retry-After is ignored for a 500.
    assert_eq!(gates, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000]);
    assert_eq!(s.next_wakeup(), None, "timers stop after {MAX_AUTO_FAILURES} failures");
    // The token stayed in use throughout.
    assert!(matches!(s.decide(env.now, 1), Decision::Use(..)));

    let mut s = session();
    attempt(&mut s, &mut env, ok(oauth("t", 3600)));
    for (code, retry, expect) in [(503, Some(30_000), 30_000), (429, Some(45_000), 45_000), (502, Some(45_000), 4_000)]
    {
        attempt(&mut s, &mut env, status(code, retry));
        assert_eq!(s.next_wakeup().unwrap() - env.now, expect, "{code}");
    }
}

#[test]
fn failed_refresh_with_a_valid_token_changes_nothing_visible() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    attempt(&mut s, &mut env, ok(oauth("still-good", 600)));
    env.now = s.next_wakeup().unwrap();
    assert_eq!(s.decide(env.now, 0), Decision::Refresh);
    assert!(matches!(attempt(&mut s, &mut env, Transport::Network), Outcome::Failed(e) if e.code == Code::Network));
    // The caller that waited gets the old token; so do new callers while the bridge is failing.
    assert_eq!(use_value(s.decide(env.now, 1)), "Bearer still-good");
    assert_eq!(use_value(s.decide(env.now, 0)), "Bearer still-good");
}

#[test]
fn without_a_token_callers_wait_out_short_backoffs_then_fail() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    assert!(matches!(attempt(&mut s, &mut env, Transport::Timeout), Outcome::Failed(e) if e.code == Code::Timeout));
    assert_eq!(s.decide(env.now, 1), Decision::SleepUntil(env.now + 750));
    env.now += 750;
    assert_eq!(s.decide(env.now, 1), Decision::Refresh);
    attempt(&mut s, &mut env, Transport::Network);
    env.now += 1_500;
    attempt(&mut s, &mut env, Transport::Network);
    match s.decide(env.now, MAX_CALLER_ATTEMPTS) {
        Decision::Fail(e) => assert_eq!(e.code, Code::Network),
        other => panic!("{other:?}"),
    }
    // A backoff longer than a caller may wait fails at once instead of hanging.
    attempt(&mut s, &mut env, status(503, Some(60_000)));
    assert!(matches!(s.decide(env.now, 0), Decision::Fail(e) if e.code == Code::BridgeUnavailable));
}

#[test]
fn a_refusal_without_a_token_is_no_session_and_carries_the_bridges_answer() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    let refused = |status, body| Transport::Response { status, retry_after_ms: None, date: None, body: Some(body) };
    // A first visit: the 401 ends nothing, so it is not reported as a rejection, but the bridge's answer is kept.
    match attempt(&mut s, &mut env, refused(401, json!({"error": "no_session", "message": "x"}))) {
        Outcome::NoSession(e) => {
            assert_eq!(e.code, Code::RefreshRejected);
            assert_eq!(e.bridge, Some(crate::error::BridgeRefusal { status: 401, error: Some("no_session".into()) }));
            assert!(e.message.contains("HTTP 401") && e.message.contains("\"no_session\""), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(s.is_signed_out());
    // A 403 is the bridge refusing this page (a CSRF or CORS check): reported even on a first visit.
    s.reactivate();
    match attempt(&mut s, &mut env, refused(403, json!({"error": "csrf"}))) {
        Outcome::Rejected(e) => assert_eq!(e.bridge.unwrap().error.as_deref(), Some("csrf")),
        other => panic!("{other:?}"),
    }
    // Only a short printable code is carried: anything else could be prose, markup or a secret echoed back.
    for odd in [json!({"error": "x".repeat(65)}), json!({"error": "a\nb"}), json!({"error": 7}), json!([1])] {
        s.reactivate();
        match attempt(&mut s, &mut env, refused(401, odd)) {
            Outcome::NoSession(e) => assert_eq!(e.bridge.unwrap().error, None),
            other => panic!("{other:?}"),
        }
    }
    // With a token, the same answer ends a session.
    s.reactivate();
    attempt(&mut s, &mut env, ok(oauth("t", 60)));
    s.force_due();
    assert!(
        matches!(attempt(&mut s, &mut env, status(401, None)), Outcome::Rejected(e) if e.bridge.as_ref().unwrap().status == 401)
    );
}

#[test]
fn rejection_signs_out_and_stops_all_automatic_calls() {
    for code in [401, 403] {
        let mut env = FakeEnv::new(&[0.5]);
        let mut s = session();
        attempt(&mut s, &mut env, ok(oauth("t", 60)));
        env.now = s.next_wakeup().unwrap();
        assert!(
            matches!(attempt(&mut s, &mut env, status(code, None)), Outcome::Rejected(e) if e.code == Code::RefreshRejected)
        );
        assert!(s.is_signed_out());
        assert_eq!(s.store().peek(), None);
        assert_eq!(s.next_wakeup(), None);
        assert!(matches!(s.decide(env.now, 0), Decision::Fail(e) if e.code == Code::SignedOut));
        // The callers that awaited the rejected attempt learn why.
        assert!(matches!(s.decide(env.now, 1), Decision::Fail(e) if e.code == Code::RefreshRejected));
        assert_eq!(s.begin_attempt(), None, "no bridge call after rejection");
        // An explicit refresh() may try again.
        s.reactivate();
        assert_eq!(s.decide(env.now, 0), Decision::Refresh);
    }
}

#[test]
fn invalid_and_already_expired_responses_are_retryable_failures() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    let cases = [
        (Transport::Response { status: 200, retry_after_ms: None, date: None, body: None }, "response is not JSON"),
        (
            ok(json!({"access_token": "t", "expires_in": -3})),
            "field `expires_in` is not a positive lifetime of at most 400 days",
        ),
        (
            ok(json!({"data": {"token": "w", "expires_at": "2022-01-01T00:00:00.000000"}})),
            "the token in the response has already expired",
        ),
        (ok(json!("<html>")), crate::ResponseError::Unrecognized.message().into_owned().leak()),
        (ok(json!({"token": "two words"})), "field `token` is empty or not a valid header value"),
    ];
    for (i, (result, message)) in cases.into_iter().enumerate() {
        match attempt(&mut s, &mut env, result) {
            Outcome::Failed(e) => {
                assert_eq!((e.code, &*e.message), (Code::InvalidResponse, message))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.failures(), i as u32 + 1);
        env.now = s.decide(env.now, 0).clone().sleep_target().unwrap_or(env.now + 60_000);
    }
}

impl Decision {
    fn sleep_target(&self) -> Option<Millis> {
        match self {
            Decision::SleepUntil(t) => Some(*t),
            _ => None,
        }
    }
}

#[test]
fn a_late_answer_cannot_resurrect_a_signed_out_session() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    let epoch = s.begin_attempt().unwrap();
    assert_eq!(s.sign_out(), None);
    assert_eq!(s.finish_attempt(epoch, &mut env, ok(oauth("late", 60))), Outcome::Ignored);
    assert!(s.current().is_none());
    assert_eq!(s.store().peek(), None);
}

#[test]
fn sign_out_returns_the_header_for_the_revoke_call() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    attempt(&mut s, &mut env, ok(oauth("bye", 60)));
    assert_eq!(s.sign_out(), Some(("Authorization".into(), "Bearer bye".into())));
    assert!(s.is_signed_out());
}

#[test]
fn api_401_marks_only_the_token_it_was_sent_with() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    attempt(&mut s, &mut env, ok(oauth("one", 3600)));
    s.reject_token("Bearer other");
    assert!(matches!(s.decide(T0, 0), Decision::Use(..)));
    for _ in 0..100 {
        s.reject_token("Bearer one");
    }
    assert_eq!(s.decide(T0, 0), Decision::Refresh);
    attempt(&mut s, &mut env, ok(oauth("two", 3600)));
    s.reject_token("Bearer one");
    assert_eq!(use_value(s.decide(T0, 0)), "Bearer two");
}

#[test]
fn expiring_token_is_never_handed_out() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    attempt(&mut s, &mut env, ok(oauth("short", 30)));
    let exp = T0 + 30_000;
    attempt_fail_until(&mut s, &mut env, exp);
    assert!(!matches!(s.decide(exp - EXPIRY_SAFETY_MS, 1), Decision::Use(..)));
    assert!(!matches!(s.decide(exp + 5, 1), Decision::Use(..)));
}

fn attempt_fail_until(s: &mut Session<MemoryStore>, env: &mut FakeEnv, until: Millis) {
    while env.now < until {
        if let Some(epoch) = s.begin_attempt() {
            s.finish_attempt(epoch, env, Transport::<Value>::Network);
        }
        env.now += 700;
    }
}

#[test]
fn custom_format_from_config() {
    let mut env = FakeEnv::new(&[0.5]);
    let format = Format::Custom(crate::token::CustomFormat {
        token: "/jwt".into(),
        expires_in: Some("/ttl".into()),
        expires_at: None,
    });
    let mut s = Session::new(Config { format, ..Config::default() }, MemoryStore::default());
    assert_eq!(attempt(&mut s, &mut env, ok(json!({"jwt": "c", "ttl": 100}))), Outcome::Token);
    assert_eq!(s.current().unwrap().record.expires_at, Some(T0 + 100_000));
}

#[test]
fn callers_probe_a_failing_bridge_every_two_seconds_but_obey_retry_after() {
    let mut env = FakeEnv::new(&[1.0]);
    let mut s = session();
    // Seven failures in a row: the backoff ceiling is now 60 s.
    for _ in 0..7 {
        attempt(&mut s, &mut env, status(500, None));
        env.now += 61_000;
    }
    attempt(&mut s, &mut env, status(500, None));
    let failed_at = env.now;
    // A new caller waits for the next probe; one that already saw an attempt fail is told at once.
    assert_eq!(s.decide(failed_at + 1, 0), Decision::SleepUntil(failed_at + DEMAND_PROBE_INTERVAL_MS));
    assert!(matches!(s.decide(failed_at + 1_999, 1), Decision::Fail(e) if e.code == Code::BridgeUnavailable));
    assert_eq!(s.decide(failed_at + DEMAND_PROBE_INTERVAL_MS, 0), Decision::Refresh);
    // The bridge healed: the probe brings a token at once.
    env.now = failed_at + DEMAND_PROBE_INTERVAL_MS;
    assert_eq!(attempt(&mut s, &mut env, ok(oauth("healed", 60))), Outcome::Token);

    // A Retry-After of a minute is obeyed by callers too.
    let mut s = session();
    attempt(&mut s, &mut env, status(503, Some(60_000)));
    assert!(matches!(s.decide(env.now + 30_000, 0), Decision::Fail(_)), "no probe inside Retry-After");
    assert_eq!(s.decide(env.now + 59_000, 0), Decision::SleepUntil(env.now + 60_000));
    assert_eq!(s.decide(env.now + 60_000, 0), Decision::Refresh);
}

#[test]
fn a_skewed_client_clock_is_corrected_from_the_date_header() {
    for skew in [-600_000i64, 600_000] {
        // Local clock = server clock + skew.
        let mut env = FakeEnv::new(&[0.5]);
        let mut s = session();
        let server_now = T0 - skew;
        let token = jwt(&json!({"alg": "HS256"}), &json!({"iat": server_now / 1000, "exp": server_now / 1000 + 30}));
        let epoch = s.begin_attempt().unwrap();
        let result = Transport::Response {
            status: 200,
            retry_after_ms: None,
            date: Some(server_now),
            body: Some(json!({"access_token": token})),
        };
        assert_eq!(s.finish_attempt(epoch, &mut env, result), Outcome::Token, "skew {skew}");
        assert_eq!(s.clock_offset(), -skew + 500);
        // Expiry on the local clock: 30 s from now, less the Date header's half-second precision.
        let exp = s.current().unwrap().record.expires_at.unwrap();
        assert_eq!(exp, T0 + 30_000 - 500, "skew {skew}");
        let at = s.next_wakeup().unwrap();
        assert!((T0 + 20_000..T0 + 24_000).contains(&at), "skew {skew}: refresh {} ms after issue", at - T0);
    }
    // Without the Date header the same token, seen by a client 10 minutes fast, looks expired: a typed error.
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    let token = jwt(&json!({"alg": "HS256"}), &json!({"exp": (T0 - 600_000) / 1000 + 30}));
    assert!(matches!(
        attempt(&mut s, &mut env, ok(json!({"access_token": token}))),
        Outcome::Failed(e) if e.code == Code::InvalidResponse
    ));
}

#[test]
fn tokens_from_peers_are_adopted_only_when_better() {
    use crate::store::StoredEntry;
    use crate::token::AccessToken;
    let entry = |t: &str, exp: Millis| StoredEntry {
        token: AccessToken::new(t.into()).unwrap(),
        expires_at: Some(exp),
        header: "Authorization".into(),
    };
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    // A tab waiting to refresh gets a peer's token: its own refresh becomes moot.
    let epoch = s.begin_attempt().unwrap();
    assert!(s.adopt::<Value>(entry("peer-1", T0 + 60_000), &mut env));
    s.abandon_attempt(epoch);
    assert!(!s.in_flight());
    assert_eq!(use_value(s.decide(T0, 0)), "Bearer peer-1");
    assert_eq!(
        s.store().peek(),
        Some(r#"{"token":"peer-1","expiresAt":1700000060000,"header":"Authorization","client":"c0ffee"}"#)
    );
    // Older, equal or expired tokens are ignored.
    assert!(!s.adopt::<Value>(entry("peer-0", T0 + 30_000), &mut env));
    assert!(!s.adopt::<Value>(entry("peer-1", T0 + 60_000), &mut env));
    assert!(!s.adopt::<Value>(entry("dead", T0 - 1), &mut env));
    assert!(s.adopt::<Value>(entry("peer-2", T0 + 90_000), &mut env));
    assert_eq!(s.entry(T0).unwrap().token.secret(), "peer-2");
    // Nothing is adopted once signed out.
    s.sign_out();
    assert!(!s.adopt::<Value>(entry("peer-3", T0 + 120_000), &mut env));
}

#[test]
fn forged_peer_messages_cannot_fix_a_token_switch_the_header_or_end_the_session() {
    use crate::store::StoredEntry;
    use crate::token::AccessToken;
    let entry = |t: &str, exp: Option<Millis>, header: &'static str| StoredEntry {
        token: AccessToken::new(t.into()).unwrap(),
        expires_at: exp,
        header: header.into(),
    };
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    attempt(&mut s, &mut env, ok(oauth("mine", 600)));
    // A token without expiry would switch refreshing off: refused for a client whose tokens expire.
    assert!(!s.adopt::<Value>(entry("forged", None, "Authorization"), &mut env));
    // Another header (X-Auth-Token follows redirects in browsers): refused.
    assert!(!s.adopt::<Value>(entry("forged", Some(T0 + 900_000), "X-Auth-Token"), &mut env));
    assert_eq!(use_value(s.decide(T0, 0)), "Bearer mine");
    assert!(s.next_wakeup().is_some());
    // A client with the default `auto` format and no token yet (asking its peers at start) refuses one too.
    let mut fresh = session();
    assert!(!fresh.adopt::<Value>(entry("forged", None, "Authorization"), &mut env));
    // An explicit Point client refuses a no-expiry token even with no token of its own yet.
    let mut point = Session::new(Config { format: Format::Point, ..config() }, MemoryStore::default());
    assert!(!point.adopt::<Value>(entry("forged", None, "Authorization"), &mut env));
    let mut wazo = Session::new(Config { format: Format::Wazo, ..config() }, MemoryStore::default());
    assert!(!wazo.adopt::<Value>(entry("forged", Some(T0 + 60_000), "Authorization"), &mut env));
    assert!(wazo.adopt::<Value>(entry("w", Some(T0 + 60_000), "X-Auth-Token"), &mut env));
    // A static client takes a static token from a peer.
    let mut fixed = Session::new(Config { format: Format::Static, ..config() }, MemoryStore::default());
    assert!(fixed.adopt::<Value>(entry("afp", None, "Authorization"), &mut env));

    // A forged sign-out does not end the session: the token stops being sent and the bridge is asked.
    assert!(s.peer_signed_out(env.now));
    assert!(!s.is_signed_out());
    assert_eq!(s.decide(env.now, 0), Decision::Refresh);
    assert!(s.auto_due(env.now));
    // The bridge still issues a token: the session goes on, and the notice is not read as a sign-out.
    attempt(&mut s, &mut env, ok(oauth("mine-2", 600)));
    assert!(!s.take_peer_sign_out());
    assert_eq!(use_value(s.decide(env.now, 0)), "Bearer mine-2");
    // A flood of notices makes at most one bridge check per interval.
    env.now += 100;
    assert!(!s.peer_signed_out(env.now));
    assert_eq!(use_value(s.decide(env.now, 0)), "Bearer mine-2");
    env.now += PEER_CHECK_INTERVAL_MS;
    assert!(s.peer_signed_out(env.now));
    // A real sign-out elsewhere: the bridge refuses, and the rejection is the peer's sign-out.
    assert!(matches!(attempt(&mut s, &mut env, status(401, None)), Outcome::Rejected(_)));
    assert!(s.take_peer_sign_out());
    assert!(s.is_signed_out());
}

/// A clock and a seeded xorshift generator, for long simulations.
struct SimEnv {
    now: Millis,
    state: u64,
}

impl SimEnv {
    fn next(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Env for SimEnv {
    fn now(&self) -> Millis {
        self.now
    }
    fn random(&mut self) -> f64 {
        self.next()
    }
}

#[test]
fn soak_seven_days_of_five_minute_tokens_with_five_percent_failures() {
    const WEEK: Millis = 7 * 86_400_000;
    let mut env = SimEnv { now: T0, state: 0x9e37_79b9_7f4a_7c15 };
    let mut s = session();
    let (mut successes, mut failures, mut demands, mut calls) = (0u64, 0u64, 0u64, 0u64);
    let epoch = s.begin_attempt().unwrap();
    assert_eq!(s.finish_attempt(epoch, &mut env, ok(oauth("t0", 300))), Outcome::Token);
    let store_len = s.store().peek().unwrap().len();
    let mut next_demand = T0;
    let mut last_success = T0;
    // Bytes this thread holds at the start of each simulated day.
    let mut daily_live_bytes = Vec::with_capacity(8);
    while env.now < T0 + WEEK {
        if (env.now - T0) / 86_400_000 >= daily_live_bytes.len() as i64 {
            daily_live_bytes.push(crate::test_support::live_bytes());
        }
        let wake = s.next_wakeup().expect("a timer is always armed while signed in");
        // The app asks for a token every ~7 s in between: it must always get a valid one, without waiting.
        while next_demand < wake {
            match s.decide(next_demand, 0) {
                Decision::Use(..) => {
                    let exp = s.current().unwrap().record.expires_at.unwrap();
                    assert!(next_demand + EXPIRY_SAFETY_MS < exp, "expired token handed out");
                }
                other => panic!("at +{} s the app was told {other:?}", (next_demand - T0) / 1000),
            }
            demands += 1;
            next_demand += 7_000;
        }
        env.now = wake;
        assert!(s.auto_due(env.now));
        let epoch = s.begin_attempt().expect("never two bridge calls at once");
        calls += 1;
        assert_eq!(s.begin_attempt(), None);
        let result = if env.next() < 0.05 { status(503, None) } else { ok(oauth(&format!("t{successes}"), 300)) };
        match s.finish_attempt(epoch, &mut env, result) {
            Outcome::Token => {
                // No token is replaced before its refresh time: 60-90 s before the expiry of a 5-minute token.
                assert!(
                    env.now - last_success >= 210_000,
                    "refreshed {} ms after the last token",
                    env.now - last_success
                );
                last_success = env.now;
                successes += 1;
            }
            Outcome::Failed(_) => failures += 1,
            other => panic!("{other:?}"),
        }
        // The stored entry never grows: one token, its expiry, its header.
        let len = s.store().peek().unwrap().len();
        assert!(len.abs_diff(store_len) <= 8, "stored entry grew to {len} bytes");
    }
    let attempts = calls;
    // A 5-minute token refreshes 60-90 s early: one success every 210-240 s.
    let (lo, hi) = (WEEK / 240_000, WEEK / 210_000 + 1);
    println!("7 days: {attempts} bridge calls, {successes} tokens, {failures} failures retried, {demands} app requests served");
    println!("live bytes at the start of each day: {daily_live_bytes:?}");
    // Memory is flat: after the first day, the bytes held vary by a token's length at most.
    let days = &daily_live_bytes[1..];
    let spread = days.iter().max().unwrap() - days.iter().min().unwrap();
    assert!(spread <= 64, "memory grew: {daily_live_bytes:?}");
    assert_eq!(daily_live_bytes.len(), 7);
    assert!((lo as u64..=hi as u64).contains(&successes), "{successes} refreshes, expected {lo}..={hi}");
    let rate = failures as f64 / attempts as f64;
    assert!((0.035..0.065).contains(&rate), "failure rate {rate}");
    // Bookkeeping: every bridge call ended as a token or a failure (the spacing check above is what rules out
    // duplicate refreshes).
    assert_eq!(attempts, successes + failures);
    assert_eq!(s.generation(), successes + 1);
}

#[test]
fn debug_output_never_shows_a_token() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    let token = jwt(&json!({"alg": "HS256"}), &json!({"sub": "u", "exp": T0 / 1000 + 600}));
    attempt(&mut s, &mut env, ok(json!({"access_token": token, "refresh_token": "RT-never", "expires_in": 600})));
    let shown = format!("{s:?} {:?} {:?}", s.current(), s.entry(env.now));
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains(&token[..20]) && !shown.contains("RT-never"), "{shown}");
}

/// A far-future expiry from storage or a peer (any script of the origin can write one) would pin a forged token:
/// it is accepted only within the longest lifetime this client's bridge has issued, or within
/// [`MAX_UNSEEN_LIFETIME_MS`] before the bridge has issued one. With one-hour tokens, the next refresh stays
/// within the hour.
#[test]
fn far_future_expiries_from_storage_or_peers_are_refused() {
    use crate::store::StoredEntry;
    use crate::token::AccessToken;
    let entry = |t: &str, exp: Millis| StoredEntry {
        token: AccessToken::new(t.into()).unwrap(),
        expires_at: Some(exp),
        header: "Authorization".into(),
    };
    const YEAR_5138: Millis = 99_999_999_999_999;
    let stored = |exp: Millis| {
        format!(r#"{{"token":"planted","expiresAt":{exp},"header":"Authorization","client":"{CLIENT}"}}"#)
    };
    let mut env = FakeEnv::new(&[0.5]);

    // A reload with a planted entry: refused and evicted; one within the documented limit is restored.
    let mut s = session();
    s.store_mut().save(&stored(YEAR_5138));
    assert!(!s.restore::<Value>(&mut env));
    assert_eq!(s.store().peek(), None, "the planted entry is evicted");
    s.store_mut().save(&stored(T0 + MAX_UNSEEN_LIFETIME_MS + MIN_CLOCK_SKEW_MS + 1));
    assert!(!s.restore::<Value>(&mut env));
    s.store_mut().save(&stored(T0 + MAX_UNSEEN_LIFETIME_MS));
    assert!(s.restore::<Value>(&mut env));
    assert!(s.next_wakeup().unwrap() < T0 + 2 * 86_400_000);

    // A peer's token before this client has any: the same limit.
    let mut s = session();
    assert!(!s.adopt::<Value>(entry("forged", YEAR_5138), &mut env));
    assert!(s.current().is_none());

    // Once the bridge has issued one-hour tokens, an hour is the limit: a forged 5-hour token is refused, a
    // peer's token from the same bridge is taken, and the next refresh stays within the hour.
    attempt(&mut s, &mut env, ok(oauth("mine", 3600)));
    env.now += 60_000;
    assert!(!s.adopt::<Value>(entry("forged", YEAR_5138), &mut env));
    assert!(!s.adopt::<Value>(entry("forged", env.now + 5 * 3_600_000), &mut env));
    assert_eq!(use_value(s.decide(env.now, 0)), "Bearer mine");
    assert!(s.adopt::<Value>(entry("peer", env.now + 3_600_000), &mut env));
    assert_eq!(use_value(s.decide(env.now, 0)), "Bearer peer");
    assert!(s.next_wakeup().unwrap() <= env.now + 3_600_000);
    // A restart of the same session (start() again) keeps that limit for storage.
    s.store_mut().save(&stored(env.now + 5 * 3_600_000));
    s.reject_token("Bearer peer");
    assert!(!s.restore::<Value>(&mut env));
}

/// A redirect from the bridge is never a token: an `invalid_response` that names it (status and target origin),
/// counted as a failure with backoff.
#[test]
fn a_bridge_redirect_is_an_invalid_response() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut s = session();
    let out = attempt(&mut s, &mut env, Transport::Redirect { status: 307, to: Some("https://evil.example".into()) });
    let Outcome::Failed(e) = out else { panic!("{out:?}") };
    assert_eq!(e.code, Code::InvalidResponse);
    assert!(e.message.contains("redirect (HTTP 307 to https://evil.example)"), "{}", e.message);
    assert_eq!(s.failures(), 1);
    let out = attempt(&mut s, &mut env, Transport::Redirect { status: 0, to: None });
    let Outcome::Failed(e) = out else { panic!("{out:?}") };
    assert!(e.message.contains("hidden by the browser"), "{}", e.message);
    // The revoke of a sign-out: the same error; only a 2xx confirms.
    assert!(revoke_outcome(&Transport::<Value>::Redirect { status: 302, to: None }).is_err());
    assert!(revoke_outcome(&status(204, None)).is_ok());
    assert_eq!(revoke_outcome(&status(503, None)).unwrap_err().code, Code::BridgeUnavailable);
    assert_eq!(revoke_outcome(&Transport::<Value>::Network).unwrap_err().code, Code::Network);
    assert_eq!(revoke_outcome(&Transport::<Value>::Timeout).unwrap_err().code, Code::Timeout);
}

/// A refusal's message fits where the client runs: a page hears about CSRF and CORS, a server about its
/// credentials.
#[test]
fn a_refusal_speaks_of_pages_or_of_credentials() {
    let mut env = FakeEnv::new(&[0.5]);
    let mut page = session();
    let Outcome::NoSession(e) = attempt(&mut page, &mut env, status(401, None)) else { panic!() };
    assert!(e.message.contains("refused this page (check its CSRF and CORS settings)"), "{}", e.message);
    let mut server = Session::new(Config { server: true, ..config() }, MemoryStore::default());
    let Outcome::NoSession(e) = attempt(&mut server, &mut env, status(401, None)) else { panic!() };
    assert!(e.message.contains("refused this client's credentials (check bridgeHeaders)"), "{}", e.message);
    assert!(!e.message.contains("page"), "{}", e.message);
}
