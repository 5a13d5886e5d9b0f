//! Durations (`1m30s`), sizes (`512M`), CPU counts (`0.5`) and shell words.

/// A Go-style duration (`1h2m3.5s`, `500ms`, `10s`); a bare number is seconds.
pub(crate) fn parse_duration_ms(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("{s:?} is not a duration such as 10s, 1m30s or 500ms");
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return secs.checked_mul(1000).ok_or_else(bad);
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        // Nanoseconds per unit.
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        total = total.saturating_add(scaled(num, scale).ok_or_else(bad)?);
        rest = tail;
    }
    u64::try_from(total / 1_000_000).map_err(|_| bad())
}

/// `num * scale` for a decimal `num` such as `1.5`, without floating point.
fn scaled(num: &str, scale: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let value = int.checked_mul(scale)?;
    if frac.len() > 18 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if frac.is_empty() {
        return Some(value);
    }
    let digits: u128 = frac.parse().ok()?;
    let den = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    let value = value.checked_add(digits.checked_mul(scale)? / den)?;
    Some(value)
}

/// Bytes from `1024`, `512k`, `512M`, `1.5g`, `2gb` (powers of 1024).
pub(crate) fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let bad = || format!("{s:?} is not a size such as 512m or 1g");
    let num_len = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_len);
    let scale: u128 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let v = scaled(num, scale).ok_or_else(bad)?;
    u64::try_from(v).map_err(|_| bad())
}

/// Thousandths of a CPU from `0.5`, `2`, `1.25`.
pub(crate) fn parse_cpus(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a number of CPUs such as 0.5 or 2");
    let v = scaled(s.trim(), 1000).ok_or_else(bad)?;
    u64::try_from(v).map_err(|_| bad())
}

pub(crate) fn format_cpus(millis: u64) -> String {
    let frac = millis % 1000;
    if frac == 0 {
        return (millis / 1000).to_string();
    }
    let f = format!("{frac:03}");
    format!("{}.{}", millis / 1000, f.trim_end_matches('0'))
}

pub(crate) fn format_duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Splits a command line as a POSIX shell would, without expansions:
/// blanks separate words, quotes group, a backslash escapes.
pub(crate) fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("{s:?}: unterminated single quote")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("{s:?}: unterminated double quote")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("{s:?}: unterminated double quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => word.push('\\'),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("10s"), Ok(10_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1500));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("30"), Ok(30_000));
        assert!(parse_duration_ms("10 parsecs").is_err());
        assert!(parse_duration_ms("").is_err());
        assert!(parse_duration_ms("s").is_err());
    }

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5gb"), Ok(3 << 29));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert!(parse_bytes("lots").is_err());
        assert_eq!(parse_cpus("0.5"), Ok(500));
        assert_eq!(parse_cpus("2"), Ok(2000));
        assert_eq!(format_cpus(500), "0.5");
        assert_eq!(format_cpus(1250), "1.25");
        assert_eq!(format_cpus(2000), "2");
        assert!(parse_cpus("half").is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_split(r#"sh -c 'echo "hi there"' a\ b "x\"y""#).unwrap(),
            ["sh", "-c", "echo \"hi there\"", "a b", "x\"y"]
        );
        assert_eq!(shell_split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(shell_split("''").unwrap(), [""]);
        assert!(shell_split("'open").is_err());
    }
}
