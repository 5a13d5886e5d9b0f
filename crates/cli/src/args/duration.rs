//! Durations on the command line: `500ms`, `1m30s`, `24h`, `7d`.

/// The units of short durations (rollout intervals, timeouts).
const SHORT_UNITS: &[(&str, u64)] = &[("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];

/// The units of long durations (token lifetimes, how far back to look).
const LONG_UNITS: &[(&str, u64)] = &[
    ("s", 1000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// The longest a registration token may live (the server's limit too).
pub const MAX_TTL_S: u64 = 30 * 86_400;

/// A duration as milliseconds: `0`, or numbers each followed by a unit
/// (`ms`, `s`, `m`, `h`), such as `500ms`, `10s` or `1m30s`.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    parse_with_units(s, SHORT_UNITS, "500ms, 10s or 1m30s")
}

/// A long duration as milliseconds: `0`, or numbers each followed by a
/// unit (`s`, `m`, `h`, `d`), such as `30m`, `24h` or `7d`.
pub fn parse_long_duration_ms(s: &str) -> Result<u64, String> {
    parse_with_units(s, LONG_UNITS, "30m, 24h or 7d")
}

/// `--ttl`: a lifetime in seconds, above 0 and at most 30 days.
pub fn parse_ttl(s: &str) -> Result<u64, String> {
    let ms = parse_long_duration_ms(s)?;
    if ms == 0 {
        return Err(format!("{s:?} must be above 0 (such as 30m, 24h or 7d)"));
    }
    let secs = ms / 1000;
    if secs > MAX_TTL_S {
        return Err(format!("{s:?} is longer than the limit of 30d"));
    }
    Ok(secs)
}

/// `--since`: how far back, in milliseconds, above 0.
pub fn parse_since(s: &str) -> Result<u64, String> {
    let ms = parse_long_duration_ms(s)?;
    if ms == 0 {
        return Err(format!("{s:?} must be above 0 (such as 30m, 24h or 7d)"));
    }
    Ok(ms)
}

/// Numbers each followed by one of `units`, added up; `0` alone is zero.
fn parse_with_units(s: &str, units: &[(&str, u64)], examples: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a duration (such as {examples})");
    let text = s.trim();
    if text == "0" {
        return Ok(0);
    }
    let mut rest = text;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor = units
            .iter()
            .find(|(unit, _)| *unit == &rest[..unit_len])
            .map(|(_, factor)| *factor)
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
        total = n
            .checked_mul(factor)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("{s:?} is too long"))?;
    }
    Ok(total)
}

/// A duration (`30s`, `5m`) as a `Duration`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    parse_duration_ms(s).map(std::time::Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_durations_take_days_but_not_milliseconds() {
        assert_eq!(parse_long_duration_ms("30m"), Ok(1_800_000));
        assert_eq!(parse_long_duration_ms("7d"), Ok(7 * 86_400_000));
        assert_eq!(parse_long_duration_ms("1d12h"), Ok(36 * 3_600_000));
        for bad in ["", "10", "500ms", "1w", "-1d", "1.5d"] {
            let e = parse_long_duration_ms(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")) && e.contains("7d"), "{e}");
        }
    }

    #[test]
    fn ttl_is_above_zero_and_at_most_thirty_days() {
        assert_eq!(parse_ttl("30m"), Ok(1800));
        assert_eq!(parse_ttl("24h"), Ok(86_400));
        assert_eq!(parse_ttl("30d"), Ok(MAX_TTL_S));
        assert!(parse_ttl("0").unwrap_err().contains("above 0"));
        assert!(parse_ttl("30d1s").unwrap_err().contains("30d"));
        assert!(parse_ttl("31d").unwrap_err().contains("longer than"));
        assert!(parse_ttl("soon").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn since_is_above_zero() {
        assert_eq!(parse_since("1h"), Ok(3_600_000));
        assert!(parse_since("0").unwrap_err().contains("above 0"));
        assert!(
            parse_since("yesterday")
                .unwrap_err()
                .contains("not a duration")
        );
    }
}
