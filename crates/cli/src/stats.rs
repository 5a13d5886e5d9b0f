//! `corral stats [INSTANCE | --node NODE | --nodes | --service NAME] [--no-stream]`:
//! live CPU, memory, network and disk use, as `docker stats` shows it. The
//! table is drawn again each second while new samples arrive.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use corral_api::Client;
use corral_api::stats::{Sample, SeriesKind, StatsLine, StatsQuery};
use futures::StreamExt;

use crate::args::StatsArgs;
use crate::errors::object_error;
use crate::output::human_bytes;

/// How often a followed table is drawn again.
const REDRAW: Duration = Duration::from_secs(1);

pub(crate) async fn run(client: &Client, env: &str, args: &StatsArgs) -> anyhow::Result<()> {
    let query = StatsQuery {
        node: args.node.clone(),
        instance: args.instance.clone(),
        service: args.service.clone(),
        nodes: args.nodes,
        since_ms: 0,
        follow: !args.no_stream,
    };
    let (kind, name) = match (&args.node, &args.instance, &args.service) {
        (Some(n), _, _) => ("node", n.as_str()),
        (_, Some(i), _) => ("instance", i.as_str()),
        (_, _, Some(s)) => ("service", s.as_str()),
        _ if args.nodes => ("hosts of environment", env),
        _ => ("environment", env),
    };
    let mut stream = client
        .stats(env, &query)
        .await
        .map_err(|e| object_error(e, "read the stats of", kind, env, name))?;
    let mut latest: BTreeMap<(SeriesKind, String), Sample> = BTreeMap::new();
    let terminal = std::io::stdout().is_terminal();
    if args.no_stream {
        while let Some(line) = stream.next().await {
            take(&mut latest, line?);
        }
        if latest.is_empty() {
            eprintln!(
                "no stats yet for {kind} {name:?}: agents report every 5 s (or at their heartbeat interval)"
            );
        }
        return draw(&latest, false);
    }
    let mut tick = tokio::time::interval(REDRAW);
    let mut changed = true;
    loop {
        tokio::select! {
            line = stream.next() => match line {
                Some(line) => {
                    take(&mut latest, line?);
                    changed = true;
                }
                None => anyhow::bail!("the server ended the stats stream"),
            },
            _ = tick.tick() => {
                if changed {
                    draw(&latest, terminal)?;
                    changed = false;
                }
            }
        }
    }
}

fn take(latest: &mut BTreeMap<(SeriesKind, String), Sample>, line: StatsLine) {
    latest.insert((line.kind, line.name), line.sample);
}

/// Prints the table (after clearing the screen on a terminal).
fn draw(latest: &BTreeMap<(SeriesKind, String), Sample>, clear: bool) -> anyhow::Result<()> {
    let mut out = String::new();
    if clear {
        out.push_str("\x1b[2J\x1b[H");
    }
    out.push_str(&table(latest));
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The table `docker stats` would print, with DISK for hosts.
fn table(latest: &BTreeMap<(SeriesKind, String), Sample>) -> String {
    let hosts = latest.keys().any(|(k, _)| *k == SeriesKind::Node);
    let mut rows = vec![vec![
        "NAME".to_string(),
        "CPU %".into(),
        "MEM USAGE / LIMIT".into(),
        "MEM %".into(),
        "NET I/O (RX / TX)".into(),
        "BLOCK I/O (R / W)".into(),
    ]];
    if hosts {
        rows[0].push("DISK USED / SIZE".into());
    }
    for ((_, name), s) in latest {
        let mem_pct = if s.memory_limit_bytes > 0 {
            s.memory_bytes as f64 / s.memory_limit_bytes as f64 * 100.0
        } else {
            0.0
        };
        let mut row = vec![
            name.clone(),
            format!("{:.2}%", s.cpu_percent),
            format!(
                "{} / {}",
                human_bytes(s.memory_bytes),
                human_bytes(s.memory_limit_bytes)
            ),
            format!("{mem_pct:.2}%"),
            format!(
                "{} / {}",
                rate(s.net_rx_bytes_per_s),
                rate(s.net_tx_bytes_per_s)
            ),
            format!(
                "{} / {}",
                rate(s.disk_read_bytes_per_s),
                rate(s.disk_write_bytes_per_s)
            ),
        ];
        if hosts {
            row.push(format!(
                "{} / {}",
                human_bytes(s.disk_used_bytes),
                human_bytes(s.disk_total_bytes)
            ));
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(cells.join("   ").trim_end());
        text.push('\n');
    }
    text
}

/// Bytes per second: `1.5kB/s`, decimal units as `docker stats` uses for I/O.
fn rate(bytes_per_s: u64) -> String {
    const UNITS: [&str; 4] = ["B/s", "kB/s", "MB/s", "GB/s"];
    let mut value = bytes_per_s as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_like_docker_stats() {
        let mut latest = BTreeMap::new();
        latest.insert(
            (SeriesKind::Instance, "web-1".to_string()),
            Sample {
                time_ms: 1,
                cpu_percent: 12.5,
                memory_bytes: 64 << 20,
                memory_limit_bytes: 256 << 20,
                net_rx_bytes_per_s: 1_500,
                net_tx_bytes_per_s: 20,
                disk_read_bytes_per_s: 0,
                disk_write_bytes_per_s: 2_000_000,
                ..Sample::default()
            },
        );
        let text = table(&latest);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("NAME") && lines[0].contains("CPU %"),
            "{text}"
        );
        assert!(!lines[0].contains("DISK"), "{text}");
        for want in [
            "web-1",
            "12.50%",
            "64MiB / 256MiB",
            "25.00%",
            "1.5kB/s / 20B/s",
            "0B/s / 2MB/s",
        ] {
            assert!(lines[1].contains(want), "{want}: {text}");
        }
    }

    #[test]
    fn rates_use_decimal_units() {
        assert_eq!(rate(999), "999B/s");
        assert_eq!(rate(1_000), "1kB/s");
        assert_eq!(rate(2_500_000), "2.5MB/s");
    }
}
