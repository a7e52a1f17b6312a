//! Time: the clock abstraction and ISO 8601 timestamps.

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// One day in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// The longest lifetime a token response may claim (400 days): anything longer is a bug, not a token.
pub const MAX_LIFETIME_MS: Millis = 400 * DAY_MS;

/// The session's view of time and chance, injected so that tests run with a fake clock and fixed dice.
pub trait Env {
    /// Wall-clock time in epoch milliseconds.
    fn now(&self) -> Millis;
    /// A uniformly distributed number in `[0, 1)`.
    fn random(&mut self) -> f64;
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let end = self.i.checked_add(n)?;
        let chunk = self.s.get(self.i..end)?;
        let mut v = 0u32;
        for &b in chunk {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(b - b'0');
        }
        self.i = end;
        Some(v)
    }
    fn eat(&mut self, any_of: &[u8]) -> bool {
        match self.s.get(self.i) {
            Some(b) if any_of.iter().any(|a| a == b) => {
                self.i += 1;
                true
            }
            _ => false,
        }
    }
    /// Consumes one of `any_of`, or fails.
    fn expect(&mut self, any_of: &[u8]) -> Option<()> {
        self.eat(any_of).then_some(())
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
}

/// Parses an ISO 8601 / RFC 3339 date-time to epoch milliseconds.
///
/// Accepts `YYYY-MM-DDTHH:MM[:SS[.fraction]]` with `T` or a space, then `Z`, `±HH:MM`, `±HHMM`, `±HH` or
/// nothing. A timestamp without a zone is taken as UTC, as Wazo's `expires_at` is.
pub fn parse_iso8601(text: &str) -> Option<Millis> {
    let mut c = Cursor { s: text.as_bytes(), i: 0 };
    let year = i64::from(c.digits(4)?);
    c.expect(b"-")?;
    let month = c.digits(2)?;
    c.expect(b"-")?;
    let day = c.digits(2)?;
    c.expect(b"Tt ")?;
    let hour = c.digits(2)?;
    c.expect(b":")?;
    let minute = c.digits(2)?;
    let mut second = 0;
    let mut millis = 0;
    if c.eat(b":") {
        second = c.digits(2)?;
        if c.eat(b".,") {
            let start = c.i;
            let mut scale = 100;
            while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                millis += u32::from(b - b'0') * scale;
                scale /= 10;
                c.i += 1;
            }
            if c.i == start {
                return None;
            }
        }
    }
    let offset_minutes: i64 = match c.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let h = i64::from(c.digits(2)?);
            let m = if c.peek().is_none() {
                0
            } else {
                c.eat(b":");
                i64::from(c.digits(2)?)
            };
            if h > 23 || m > 59 {
                return None;
            }
            if sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        Some(_) => return None,
    };
    let valid = c.i == text.len()
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second.min(59))
        - offset_minutes * 60;
    Some(seconds * 1000 + i64::from(millis))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2022, 1, 1), 18_993);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn wazo_and_rfc3339_forms() {
        let jan1 = 1_640_995_200_000; // 2022-01-01T00:00:00Z
        assert_eq!(parse_iso8601("2022-01-01T00:00:00.000000"), Some(jan1));
        assert_eq!(parse_iso8601("2022-01-01T00:00:00Z"), Some(jan1));
        assert_eq!(parse_iso8601("2022-01-01 00:00:00"), Some(jan1));
        assert_eq!(parse_iso8601("2022-01-01T00:00"), Some(jan1));
        assert_eq!(parse_iso8601("2022-01-01T01:30:00+01:30"), Some(jan1));
        assert_eq!(parse_iso8601("2021-12-31T19:00:00-0500"), Some(jan1));
        assert_eq!(parse_iso8601("2021-12-31T19:00:00-05"), Some(jan1));
        assert_eq!(parse_iso8601("2022-01-01T00:00:01.250999Z"), Some(jan1 + 1_250));
        assert_eq!(parse_iso8601("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        for bad in [
            "",
            "2022-01-01",
            "2022-13-01T00:00:00",
            "2022-02-29T00:00:00",
            "2022-01-32T00:00:00",
            "2022-01-01T24:00:00",
            "2022-01-01T00:60:00",
            "2022-01-01T00:00:00.",
            "2022-01-01T00:00:00+25:00",
            "2022-01-01T00:00:00 UTC",
            "22-01-01T00:00:00",
            "2022-01-01T00:00:00Zjunk",
            "２０２２-01-01T00:00:00",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}
