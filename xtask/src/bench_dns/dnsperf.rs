//! Reading dnsperf's statistics, and the one query the bench sends itself
//! to check that a server answers right before it is loaded.

use std::collections::BTreeMap;

use anyhow::Context;

/// dnsperf's "Statistics:" block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DnsperfFigures {
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    /// Answers by response code (`NOERROR`, `NXDOMAIN`, `REFUSED`, ...).
    pub response_codes: BTreeMap<String, u64>,
    pub noerror: u64,
    pub run_time_s: f64,
    pub qps: f64,
    pub avg_latency_s: f64,
    pub min_latency_s: f64,
    pub max_latency_s: f64,
}

/// The value after `key` on the line starting with it (after spaces).
fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.trim_start().strip_prefix(key))
        .map(str::trim)
}

/// The first word of the value of `key`, as a number.
fn number<T: std::str::FromStr>(text: &str, key: &str) -> anyhow::Result<T> {
    value(text, key)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|w| w.parse().ok())
        .with_context(|| format!("no number after {key:?}"))
}

/// Reads dnsperf's output (its statistics block at the end).
pub fn parse(text: &str) -> anyhow::Result<DnsperfFigures> {
    let mut figures = DnsperfFigures {
        sent: number(text, "Queries sent:")?,
        completed: number(text, "Queries completed:")?,
        lost: number(text, "Queries lost:")?,
        run_time_s: number(text, "Run time (s):")?,
        qps: number(text, "Queries per second:")?,
        avg_latency_s: number(text, "Average Latency (s):")?,
        ..DnsperfFigures::default()
    };
    // "Response codes:       NOERROR 999968 (100.00%), NXDOMAIN 3 (0.00%)"
    let codes = value(text, "Response codes:").unwrap_or_default();
    for part in codes.split(',') {
        let mut words = part.split_whitespace();
        if let (Some(code), Some(Ok(count))) = (words.next(), words.next().map(str::parse)) {
            figures.response_codes.insert(code.to_owned(), count);
        }
    }
    figures.noerror = figures.response_codes.get("NOERROR").copied().unwrap_or(0);
    // "Average Latency (s):  0.000834 (min 0.000018, max 0.004291)"
    let latency = value(text, "Average Latency (s):").unwrap_or_default();
    figures.min_latency_s = after_word(latency, "min").unwrap_or(0.0);
    figures.max_latency_s = after_word(latency, "max").unwrap_or(0.0);
    Ok(figures)
}

/// The latencies in seconds of the answers dnsperf `-v` printed, one line
/// each: `> NOERROR name A 0.000244` (a timed-out query, `> T ...`, has no
/// latency and is not counted).
pub fn answer_latencies(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|line| line.strip_prefix("> "))
        .filter(|rest| !rest.starts_with("T "))
        .filter_map(|rest| rest.split_whitespace().last()?.parse().ok())
        .collect()
}

fn after_word(text: &str, word: &str) -> Option<f64> {
    let mut words = text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ','));
    words.find(|w| *w == word)?;
    words.find(|w| !w.is_empty())?.parse().ok()
}

/// A recursion-desired query for `name A` with id `id`.
pub fn query(id: u16, name: &str) -> Vec<u8> {
    let mut packet = Vec::with_capacity(32 + name.len());
    packet.extend_from_slice(&id.to_be_bytes());
    // Flags: RD; one question, no other records.
    packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        // At most 63 bytes: fits a u8.
        packet.push(u8::try_from(bytes.len()).unwrap_or(63));
        packet.extend_from_slice(bytes);
    }
    packet.push(0);
    packet.extend_from_slice(&[0, 1, 0, 1]); // type A, class IN
    packet
}

/// `(rcode, answer count)` of a response to query `id`; `None` when it is
/// not one.
pub fn answer_header(packet: &[u8], id: u16) -> Option<(u8, u32)> {
    if packet.len() < 12 || packet[..2] != id.to_be_bytes() || packet[2] & 0x80 == 0 {
        return None;
    }
    let rcode = packet[3] & 0x0f;
    let answers = u16::from_be_bytes([packet[6], packet[7]]);
    Some((rcode, u32::from(answers)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const OUTPUT: &str = "\
DNS Performance Testing Tool
Version 2.10.0

[Status] Testing complete (time limit)

Statistics:

  Queries sent:         233807
  Queries completed:    233800 (100.00%)
  Queries lost:         7 (0.00%)

  Response codes:       NOERROR 233790 (100.00%), NXDOMAIN 10 (0.00%)
  Average packet size:  request 52, response 100
  Run time (s):         2.000473
  Queries per second:   116875.858859

  Average Latency (s):  0.000834 (min 0.000018, max 0.004291)
  Latency StdDev (s):   0.000126
";

    #[test]
    fn the_statistics_block_is_read() {
        let f = parse(OUTPUT).unwrap();
        assert_eq!((f.sent, f.completed, f.lost), (233_807, 233_800, 7));
        assert_eq!(f.noerror, 233_790);
        assert_eq!(f.response_codes.get("NXDOMAIN"), Some(&10));
        assert!((f.qps - 116_875.858_859).abs() < 1e-6);
        assert!((f.run_time_s - 2.000_473).abs() < 1e-9);
        assert!((f.avg_latency_s - 0.000_834).abs() < 1e-12);
        assert!((f.min_latency_s - 0.000_018).abs() < 1e-12);
        assert!((f.max_latency_s - 0.004_291).abs() < 1e-12);
    }

    #[test]
    fn a_run_without_answers_has_no_response_codes() {
        let text = OUTPUT
            .replace("NOERROR 233790 (100.00%), NXDOMAIN 10 (0.00%)", "")
            .replace("233800 (100.00%)", "0 (0.00%)");
        let f = parse(&text).unwrap();
        assert_eq!((f.completed, f.noerror), (0, 0));
        assert!(f.response_codes.is_empty());
    }

    #[test]
    fn output_without_statistics_is_an_error() {
        assert!(parse("dnsperf: socket error\n").is_err());
    }

    #[test]
    fn verbose_lines_give_one_latency_per_answer() {
        let text = "[Status] Sending queries\n\
                    > NOERROR svc000.bench.default.corral.internal A 0.000244\n\
                    > T svc001.bench.default.corral.internal A\n\
                    > NXDOMAIN nope.corral.internal A 0.001\n\
                    Statistics:\n";
        assert_eq!(answer_latencies(text), vec![0.000_244, 0.001]);
    }

    #[test]
    fn a_query_encodes_the_name_as_labels() {
        let q = query(0x1234, "a.bc.");
        assert_eq!(&q[..2], &[0x12, 0x34]);
        assert_eq!(&q[12..], &[1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1]);
    }

    #[test]
    fn an_answer_header_gives_rcode_and_count() {
        let mut answer = query(9, "x");
        answer[2] |= 0x80;
        answer[3] = 0x03;
        answer[7] = 3;
        assert_eq!(answer_header(&answer, 9), Some((3, 3)));
        assert_eq!(answer_header(&answer, 8), None, "another id");
        assert_eq!(answer_header(&query(9, "x"), 9), None, "not a response");
    }
}
