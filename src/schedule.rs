//! When to refresh and how long to back off: pure functions of lifetimes and a random number.

use crate::time::Millis;

/// The default margin never exceeds five minutes: a 24-hour token refreshes minutes, not hours, early.
pub const MAX_DEFAULT_MARGIN_MS: Millis = 5 * 60_000;
/// First backoff ceiling after a failed refresh.
pub const BACKOFF_BASE_MS: Millis = 1_000;
/// Largest backoff ceiling.
pub const BACKOFF_CAP_MS: Millis = 60_000;
/// A `Retry-After` longer than this is treated as this.
pub const MAX_RETRY_AFTER_MS: Millis = 10 * 60_000;

/// How long before expiry to refresh: a fifth of the lifetime, at most five minutes by default; a configured
/// margin is capped at half the lifetime so that a short token can never refresh in a loop.
pub fn margin_ms(lifetime: Millis, configured: Option<Millis>) -> Millis {
    let lifetime = lifetime.max(0);
    match configured {
        Some(m) => m.clamp(0, lifetime / 2),
        None => (lifetime / 5).min(MAX_DEFAULT_MARGIN_MS),
    }
}

/// The moment to refresh a token: `margin` before expiry, plus up to half a margin of jitter (from
/// `random` in `[0, 1)`) so that clients given tokens in the same second spread their refreshes out.
pub fn refresh_at(expires_at: Millis, lifetime: Millis, configured: Option<Millis>, random: f64) -> Millis {
    let margin = margin_ms(lifetime, configured);
    let jitter = (random.clamp(0.0, 1.0) * (margin / 2) as f64) as Millis;
    expires_at - margin - jitter
}

/// Delay before the next attempt after `failures` consecutive failures (≥ 1): exponential backoff with equal
/// jitter (between half and all of a ceiling that doubles), at least the server's `Retry-After` when it sent
/// one. The half-ceiling floor bounds the call rate: attempts are at least 0.5 s, 1 s, 2 s, … apart.
pub fn backoff_ms(failures: u32, random: f64, retry_after: Option<Millis>) -> Millis {
    let ceiling = (BACKOFF_BASE_MS << failures.saturating_sub(1).min(16)).min(BACKOFF_CAP_MS);
    let delay = ceiling / 2 + (random.clamp(0.0, 1.0) * (ceiling / 2) as f64) as Millis;
    match retry_after {
        Some(wait) => delay.max(wait.clamp(0, MAX_RETRY_AFTER_MS)),
        None => delay,
    }
}

/// Parses a `Retry-After` value given in seconds (the HTTP-date form is parsed by the caller's platform).
pub fn parse_retry_after_seconds(value: &str) -> Option<Millis> {
    let v = value.trim();
    // Digits only (`str::parse` would also take a sign); at most nine of them, so the product cannot overflow.
    if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<Millis>().ok().map(|seconds| seconds * 1000)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn margins_scale_with_lifetime() {
        assert_eq!(margin_ms(30_000, None), 6_000);
        assert_eq!(margin_ms(3_600_000, None), 300_000);
        assert_eq!(margin_ms(86_400_000, None), 300_000);
        assert_eq!(margin_ms(30_000, Some(60_000)), 15_000);
        assert_eq!(margin_ms(3_600_000, Some(60_000)), 60_000);
        assert_eq!(margin_ms(-5, None), 0);
    }

    #[test]
    fn refresh_window_bounds() {
        for (lifetime, lo, hi) in
            [(30_000, 21_000, 24_000), (3_600_000, 3_150_000, 3_300_000), (86_400_000, 85_950_000, 86_100_000)]
        {
            let earliest = refresh_at(lifetime, lifetime, None, 0.999_999);
            let latest = refresh_at(lifetime, lifetime, None, 0.0);
            assert!(earliest >= lo && earliest <= lo + 1, "{lifetime}: {earliest}");
            assert_eq!(latest, hi, "{lifetime}");
        }
    }

    #[test]
    fn backoff_is_equal_jitter_under_a_growing_capped_ceiling() {
        assert_eq!(backoff_ms(1, 0.0, None), 500);
        assert_eq!(backoff_ms(1, 0.5, None), 750);
        assert_eq!(backoff_ms(2, 0.0, None), 1_000);
        assert_eq!(backoff_ms(2, 0.5, None), 1_500);
        assert_eq!(backoff_ms(4, 0.999, None), 7_996);
        assert_eq!(backoff_ms(7, 1.0, None), 60_000);
        assert_eq!(backoff_ms(u32::MAX, 1.0, None), 60_000);
        assert_eq!(backoff_ms(1, 0.1, Some(30_000)), 30_000);
        assert_eq!(backoff_ms(1, 0.1, Some(86_400_000)), MAX_RETRY_AFTER_MS);
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after_seconds(" 120 "), Some(120_000));
        assert_eq!(parse_retry_after_seconds("0"), Some(0));
        assert_eq!(parse_retry_after_seconds("000000042"), Some(42_000));
        assert_eq!(parse_retry_after_seconds("\t999999999\n"), Some(999_999_999_000));
        for bad in ["", "-1", "+1", "1.5", "1 2", " ", "٣", "Wed, 21 Oct 2015 07:28:00 GMT", "9999999999"] {
            assert_eq!(parse_retry_after_seconds(bad), None, "{bad}");
        }
    }
}
