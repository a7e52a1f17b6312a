//! "Refresh tokens are valid for 24 hours rounded up to midnight eastern time" (pointservices seed): the next
//! midnight in America/New_York at or after issue + 24 h, by the tz database (jiff), so that a change of the
//! daylight-saving rules reaches the mock with the database, not with a code change.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

fn new_york() -> TimeZone {
    // The system's zoneinfo, or the copy bundled into the binary where the system has none.
    TimeZone::get("America/New_York").expect("the tz database has America/New_York")
}

/// The expiry of a refresh token issued at `issued` (Unix seconds): the first New York midnight at or after
/// `issued + 24 h`.
pub fn refresh_token_expiry(issued: i64) -> i64 {
    let tz = new_york();
    let Ok(t) = Timestamp::from_second(issued + 86_400) else { return issued + 86_400 };
    let local = t.to_zoned(tz.clone());
    if local.time() == jiff::civil::Time::midnight() {
        return t.as_second();
    }
    // The start of the next day: midnight, or the first instant after it should a transition ever skip it.
    local
        .date()
        .checked_add(1.day())
        .and_then(|d| d.to_zoned(tz))
        .map_or(issued + 2 * 86_400, |z| z.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        jiff::civil::date(y, mo, d).at(h, mi, 0, 0).to_zoned(TimeZone::UTC).unwrap().timestamp().as_second()
    }

    /// New York's offset from UTC in seconds at instant `t`.
    fn offset(t: i64) -> i64 {
        i64::from(new_york().to_offset(Timestamp::from_second(t).unwrap()).seconds())
    }

    #[test]
    fn dst_boundaries_2026() {
        // 2026: DST from Sunday March 8, 07:00 UTC to Sunday November 1, 06:00 UTC.
        assert_eq!(offset(utc(2026, 3, 8, 6, 59)), -5 * 3600);
        assert_eq!(offset(utc(2026, 3, 8, 7, 0)), -4 * 3600);
        assert_eq!(offset(utc(2026, 11, 1, 5, 59)), -4 * 3600);
        assert_eq!(offset(utc(2026, 11, 1, 6, 0)), -5 * 3600);
    }

    #[test]
    fn rounds_up_to_midnight_eastern() {
        // Summer (EDT, UTC-4): issued 2026-07-10 15:00 UTC → +24 h = 07-11 11:00 EDT → midnight 07-12 = 04:00 UTC.
        assert_eq!(refresh_token_expiry(utc(2026, 7, 10, 15, 0)), utc(2026, 7, 12, 4, 0));
        // Winter (EST, UTC-5): issued 2026-01-10 03:00 UTC (01-09 22:00 EST) → 01-10 22:00 EST → 01-11 05:00 UTC.
        assert_eq!(refresh_token_expiry(utc(2026, 1, 10, 3, 0)), utc(2026, 1, 11, 5, 0));
        // Exactly midnight after 24 h stays.
        assert_eq!(refresh_token_expiry(utc(2026, 1, 10, 5, 0)), utc(2026, 1, 11, 5, 0));
    }

    #[test]
    fn across_the_spring_forward() {
        // Issued Friday 2026-03-06 12:00 EST (17:00 UTC); +24 h = Saturday 03-07 12:00 EST → midnight starting
        // Sunday 03-08 is still EST (the switch is at 02:00): 05:00 UTC.
        assert_eq!(refresh_token_expiry(utc(2026, 3, 6, 17, 0)), utc(2026, 3, 8, 5, 0));
        // Issued Saturday 03-07 12:00 EST; +24 h = Sunday 03-08 13:00 EDT → midnight Monday 03-09 EDT = 04:00 UTC.
        assert_eq!(refresh_token_expiry(utc(2026, 3, 7, 17, 0)), utc(2026, 3, 9, 4, 0));
    }

    #[test]
    fn across_the_fall_back() {
        // Issued Saturday 2026-10-31 10:00 EDT (14:00 UTC); +24 h = Sunday 11-01 09:00 EST → midnight Monday 11-02
        // EST = 05:00 UTC: this day had 25 hours.
        assert_eq!(refresh_token_expiry(utc(2026, 10, 31, 14, 0)), utc(2026, 11, 2, 5, 0));
        // Issued Friday 10-30 10:00 EDT; +24 h = Saturday 10-31 10:00 EDT → midnight Sunday 11-01 EDT = 04:00 UTC.
        assert_eq!(refresh_token_expiry(utc(2026, 10, 30, 14, 0)), utc(2026, 11, 1, 4, 0));
        // Always at least 24 h, at most 48 h, and midnight in New York.
        let mut t = utc(2026, 1, 1, 0, 0);
        while t < utc(2027, 1, 1, 0, 0) {
            let e = refresh_token_expiry(t);
            assert!(e >= t + 86_400 && e < t + 2 * 86_400, "{t}");
            assert_eq!((e + offset(e)).rem_euclid(86_400), 0, "{t} → {e} is not midnight local");
            t += 3 * 3600 + 17 * 60;
        }
    }
}
