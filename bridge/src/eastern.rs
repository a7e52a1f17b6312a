//! "Refresh tokens are valid for 24 hours rounded up to midnight eastern time" (pointservices seed):
//! the next midnight in America/New_York at or after issue + 24 h, with US daylight saving time.

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// Day number of the `n`-th Sunday of a month (n = 1, 2…).
fn nth_sunday(year: i64, month: i64, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    let weekday = (first + 4).rem_euclid(7); // 1970-01-01 was a Thursday; 0 = Sunday
    first + (7 - weekday) % 7 + 7 * (n - 1)
}

/// Whether New York observes daylight time at the instant `t` (Unix seconds). Since 2007 DST runs from the
/// second Sunday of March, 02:00 EST (07:00 UTC), to the first Sunday of November, 02:00 EDT (06:00 UTC).
pub fn is_dst(t: i64) -> bool {
    let (year, _, _) = civil_from_days(t.div_euclid(86_400));
    let start = nth_sunday(year, 3, 2) * 86_400 + 7 * 3600;
    let end = nth_sunday(year, 11, 1) * 86_400 + 6 * 3600;
    t >= start && t < end
}

/// New York's offset from UTC in seconds at instant `t`.
pub fn offset(t: i64) -> i64 {
    if is_dst(t) {
        -4 * 3600
    } else {
        -5 * 3600
    }
}

/// The expiry of a refresh token issued at `issued` (Unix seconds): the first New York midnight at or after
/// `issued + 24 h`.
pub fn refresh_token_expiry(issued: i64) -> i64 {
    let t = issued + 86_400;
    let local = t + offset(t);
    if local.rem_euclid(86_400) == 0 {
        return t;
    }
    let next_day = local.div_euclid(86_400) + 1;
    // Midnight is never inside a DST transition (they happen at 02:00), so the offset at
    // "midnight local, taken as UTC, shifted by 5 h" is the offset of that midnight.
    let guess = next_day * 86_400 + 5 * 3600;
    next_day * 86_400 - offset(guess)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    #[test]
    fn civil_round_trip() {
        for z in [-1000, 0, 18_993, 20_000, 50_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn dst_boundaries_2026() {
        // 2026: DST from Sunday March 8, 07:00 UTC to Sunday November 1, 06:00 UTC.
        assert!(!is_dst(utc(2026, 3, 8, 6, 59)));
        assert!(is_dst(utc(2026, 3, 8, 7, 0)));
        assert!(is_dst(utc(2026, 11, 1, 5, 59)));
        assert!(!is_dst(utc(2026, 11, 1, 6, 0)));
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
        // Always at least 24 h, at most 48 h.
        let mut t = utc(2026, 1, 1, 0, 0);
        while t < utc(2027, 1, 1, 0, 0) {
            let e = refresh_token_expiry(t);
            assert!(e >= t + 86_400 && e < t + 2 * 86_400, "{t}");
            let local = e + offset(e);
            assert_eq!(local.rem_euclid(86_400), 0, "{t} → {e} is not midnight local");
            t += 3 * 3600 + 17 * 60;
        }
    }
}
