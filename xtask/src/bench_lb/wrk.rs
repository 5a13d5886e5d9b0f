//! Reading wrk's report (`wrk --latency`).

use anyhow::{Context, bail};

/// What one wrk run reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WrkFigures {
    pub requests: u64,
    pub duration_s: f64,
    pub requests_per_s: f64,
    pub latency_avg_ms: f64,
    pub latency_max_ms: f64,
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// "Non-2xx or 3xx responses".
    pub non_2xx_3xx: u64,
    pub socket_errors: SocketErrors,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

impl WrkFigures {
    /// Every failed request or connection wrk counted.
    pub fn errors(&self) -> u64 {
        let s = self.socket_errors;
        self.non_2xx_3xx + s.connect + s.read + s.write + s.timeout
    }
}

/// A wrk duration (`812.00us`, `1.36ms`, `2.01s`, `1.00m`) in milliseconds.
fn millis(text: &str) -> anyhow::Result<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in {text:?}"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("not a number: {text:?}"))?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => bail!("unknown unit in {text:?}"),
    };
    Ok(number * factor)
}

/// The words of the first line that starts with `key` (after spaces), the
/// key removed.
fn words<'a>(text: &'a str, key: &str) -> Option<Vec<&'a str>> {
    text.lines()
        .find_map(|line| line.trim_start().strip_prefix(key))
        .map(|rest| rest.split_whitespace().collect())
}

fn percentile(text: &str, p: &str) -> anyhow::Result<f64> {
    let w = words(text, &format!("{p}%")).with_context(|| format!("no {p}% latency"))?;
    millis(w.first().with_context(|| format!("empty {p}% latency"))?)
}

/// `connect 0, read 0, write 0, timeout 0`.
fn socket_errors(text: &str) -> SocketErrors {
    let mut errors = SocketErrors::default();
    let Some(w) = words(text, "Socket errors:") else {
        return errors;
    };
    for pair in w.chunks(2) {
        let count = pair
            .get(1)
            .and_then(|n| n.trim_end_matches(',').parse().ok())
            .unwrap_or(0);
        match pair.first().copied() {
            Some("connect") => errors.connect = count,
            Some("read") => errors.read = count,
            Some("write") => errors.write = count,
            Some("timeout") => errors.timeout = count,
            _ => {}
        }
    }
    errors
}

/// Reads wrk's report; it must have been run with `--latency`.
pub fn parse(text: &str) -> anyhow::Result<WrkFigures> {
    let latency = words(text, "Latency ")
        .filter(|w| w.len() >= 3)
        .context("no latency line")?;
    // "144440 requests in 3.10s, 11.16MB read"
    let total = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .context("no request count")?;
    let mut total_words = total.split_whitespace();
    let requests = total_words
        .next()
        .and_then(|n| n.parse().ok())
        .context("no request count")?;
    let duration = total_words
        .nth(2)
        .map(|d| d.trim_end_matches(','))
        .context("no duration")?;
    let rps = words(text, "Requests/sec:")
        .and_then(|w| w.first().and_then(|n| n.parse().ok()))
        .context("no Requests/sec")?;
    Ok(WrkFigures {
        requests,
        duration_s: millis(duration)? / 1000.0,
        requests_per_s: rps,
        latency_avg_ms: millis(latency[0])?,
        latency_max_ms: millis(latency[2])?,
        p50_ms: percentile(text, "50")?,
        p75_ms: percentile(text, "75")?,
        p90_ms: percentile(text, "90")?,
        p99_ms: percentile(text, "99")?,
        non_2xx_3xx: words(text, "Non-2xx or 3xx responses:")
            .and_then(|w| w.first().and_then(|n| n.parse().ok()))
            .unwrap_or(0),
        socket_errors: socket_errors(text),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const OUTPUT: &str = "\
Running 3s test @ http://127.0.0.1:18081/health
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.36ms  497.57us   7.68ms   80.43%
    Req/Sec    23.43k   749.32    24.80k    62.90%
  Latency Distribution
     50%    1.30ms
     75%    1.52ms
     90%  812.00us
     99%    3.25s
  144440 requests in 3.10s, 11.16MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  46584.80
Transfer/sec:      3.60MB
";

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_report_is_read_with_units() {
        let f = parse(OUTPUT).unwrap();
        assert_eq!(f.requests, 144_440);
        assert!(close(f.duration_s, 3.10));
        assert!(close(f.requests_per_s, 46_584.80));
        assert!(close(f.latency_avg_ms, 1.36));
        assert!(close(f.latency_max_ms, 7.68));
        assert!(close(f.p50_ms, 1.30));
        assert!(close(f.p90_ms, 0.812));
        assert!(close(f.p99_ms, 3250.0));
        assert_eq!(f.non_2xx_3xx, 12);
        let s = f.socket_errors;
        assert_eq!((s.connect, s.read, s.write, s.timeout), (1, 2, 3, 4));
        assert_eq!(f.errors(), 22);
    }

    #[test]
    fn a_clean_run_has_no_errors() {
        let text: String = OUTPUT
            .lines()
            .filter(|l| !l.contains("errors") && !l.contains("Non-2xx"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse(&text).unwrap().errors(), 0);
    }

    #[test]
    fn a_report_without_latency_distribution_is_an_error() {
        let text = OUTPUT.replace("     99%    3.25s\n", "");
        assert!(parse(&text).is_err());
    }
}
