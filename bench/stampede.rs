//! Stampede at scale: 100,000 clients whose tokens were all issued in the same second, driven through the real
//! session state machine and scheduler with a fake clock. Prints, as JSON, the per-second refresh histogram of
//! three refresh rounds and its peak-to-mean ratio over each round's refresh window, next to a fixed margin
//! without jitter (what a library with a constant "refresh N s early" does).
//!
//! `cargo run --release --example stampede [clients] [lifetime_s]`

// Native only: the simulation needs serde_json, which the wasm build (and `wasm-pack test`) does not have.
#[cfg(not(target_arch = "wasm32"))]
mod simulation {
    use authbridge::session::{Config, Session, Transport};
    use authbridge::store::MemoryStore;
    use authbridge::time::{Env, Millis};
    use serde_json::json;

    const T0: Millis = 1_700_000_000_000;

    /// Each client has its own clock reading and its own random numbers (xorshift64*), as separate browsers do.
    struct Client {
        now: Millis,
        state: u64,
    }

    impl Client {
        /// Client `i`, its clock at the moment its token was issued: some millisecond of the second T0.
        fn issued(i: usize) -> Self {
            let mut client = Client { now: T0, state: (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1 };
            client.now = T0 + (client.random() * 1000.0) as Millis;
            client
        }
    }

    impl Env for Client {
        fn now(&self) -> Millis {
            self.now
        }
        fn random(&mut self) -> f64 {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn token_response(lifetime_s: i64) -> Transport<serde_json::Value> {
        let body = json!({"access_token": "opaque-access-token", "token_type": "Bearer", "expires_in": lifetime_s});
        Transport::Response { status: 200, retry_after_ms: None, date: None, body: Some(body) }
    }

    /// Peak per-second count over the mean per-second count, between the first and the last refresh.
    fn summarise(times: &[Millis]) -> serde_json::Value {
        let first = *times.iter().min().unwrap() / 1000;
        let last = *times.iter().max().unwrap() / 1000;
        let mut per_second = vec![0u32; (last - first + 1) as usize];
        for t in times {
            per_second[(t / 1000 - first) as usize] += 1;
        }
        let window_s = per_second.len();
        let mean = times.len() as f64 / window_s as f64;
        let peak = *per_second.iter().max().unwrap();
        json!({
            "windowSeconds": window_s,
            "meanPerSecond": (mean * 10.0).round() / 10.0,
            "peakPerSecond": peak,
            "peakToMean": ((peak as f64 / mean) * 100.0).round() / 100.0,
            "startsAfterIssueSeconds": first - T0 / 1000,
            "histogram": per_second,
        })
    }

    pub fn main() {
        let mut args = std::env::args().skip(1);
        let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
        let lifetime_s: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3_600);

        let mut sessions: Vec<(Session<MemoryStore>, Client)> = (0..clients)
            .map(|i| (Session::new(Config::default(), MemoryStore::default()), Client::issued(i)))
            .collect();
        for (session, env) in &mut sessions {
            let epoch = session.begin_attempt().expect("idle");
            session.finish_attempt(epoch, env, token_response(lifetime_s));
        }

        let mut rounds = Vec::new();
        for _ in 0..3 {
            let mut times = Vec::with_capacity(clients);
            for (session, env) in &mut sessions {
                let at = session.next_wakeup().expect("a refresh is scheduled");
                times.push(at);
                // Each client refreshes at its scheduled time and gets a new token.
                env.now = at;
                let epoch = session.begin_attempt().expect("idle");
                session.finish_attempt(epoch, env, token_response(lifetime_s));
            }
            rounds.push(summarise(&times));
        }
        // Without jitter: every client refreshes a fixed margin before its expiry.
        let margin = authbridge::schedule::margin_ms(lifetime_s * 1000, None);
        let fixed: Vec<Millis> = (0..clients).map(|i| Client::issued(i).now + lifetime_s * 1000 - margin).collect();
        let out = json!({"clients": clients, "lifetimeSeconds": lifetime_s, "rounds": rounds, "fixedMargin": summarise(&fixed)});
        println!("{out}");
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    simulation::main();
}
