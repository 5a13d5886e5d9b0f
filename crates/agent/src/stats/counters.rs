//! The raw counters of a host (/proc) and of a container (its cgroup and
//! network namespace), parsed from the kernel's text by pure functions,
//! and the rates between two readings.

use corral_api::stats::Sample;

/// Cumulative counters and gauges read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    pub time_ms: u64,
    /// CPU time used, in nanoseconds (all cores).
    pub cpu_ns: u64,
    /// For a host: all CPU time (busy and idle) in nanoseconds; 0 for a
    /// container (its percentage is against wall time).
    pub cpu_total_ns: u64,
    /// Cores, for a host's percentage of one core.
    pub cores: u32,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    pub disk_read_bytes: u64,
    pub disk_write_bytes: u64,
    pub disk_used_bytes: u64,
    pub disk_total_bytes: u64,
}

/// The sample between two readings; `None` if time did not move forward.
pub fn rates(before: &Counters, now: &Counters) -> Option<Sample> {
    let ms = now
        .time_ms
        .checked_sub(before.time_ms)
        .filter(|ms| *ms > 0)?;
    let per_s = |a: u64, b: u64| b.saturating_sub(a).saturating_mul(1000) / ms;
    let busy = now.cpu_ns.saturating_sub(before.cpu_ns) as f64;
    let cpu_percent = if now.cpu_total_ns > 0 {
        // A host: busy share of all CPU time, times the cores (100 per core).
        let total = now.cpu_total_ns.saturating_sub(before.cpu_total_ns) as f64;
        if total > 0.0 {
            busy / total * 100.0 * f64::from(now.cores.max(1))
        } else {
            0.0
        }
    } else {
        busy / (ms as f64 * 1e6) * 100.0
    };
    Some(Sample {
        time_ms: now.time_ms,
        cpu_percent: (cpu_percent * 100.0).round() / 100.0,
        memory_bytes: now.memory_bytes,
        memory_limit_bytes: now.memory_limit_bytes,
        net_rx_bytes_per_s: per_s(before.net_rx_bytes, now.net_rx_bytes),
        net_tx_bytes_per_s: per_s(before.net_tx_bytes, now.net_tx_bytes),
        disk_read_bytes_per_s: per_s(before.disk_read_bytes, now.disk_read_bytes),
        disk_write_bytes_per_s: per_s(before.disk_write_bytes, now.disk_write_bytes),
        disk_used_bytes: now.disk_used_bytes,
        disk_total_bytes: now.disk_total_bytes,
    })
}

/// `/proc/stat`'s first line: (busy, total) CPU time in clock ticks, and
/// the number of `cpuN` lines.
pub fn proc_stat(text: &str) -> Option<(u64, u64, u32)> {
    let mut lines = text.lines();
    let first = lines.next()?;
    let mut fields = first.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
    if ticks.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is
    // already in user and nice).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks[3] + ticks.get(4).copied().unwrap_or(0);
    let cores = lines
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    Some((
        total.saturating_sub(idle),
        total,
        u32::try_from(cores).unwrap_or(1),
    ))
}

/// `/proc/meminfo`: (used, total) bytes, used = MemTotal - MemAvailable.
pub fn meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    let total = field("MemTotal")?;
    let available = field("MemAvailable").or_else(|| field("MemFree"))?;
    Some((total.saturating_sub(available), total))
}

/// `/proc/<pid>/net/dev`: received and sent bytes of every interface but
/// loopback.
pub fn net_dev(text: &str) -> (u64, u64) {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            if name.trim() == "lo" {
                return None;
            }
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            Some((*f.first()?, *f.get(8)?))
        })
        .fold((0, 0), |(rx, tx), (r, t)| (rx + r, tx + t))
}

/// `/proc/diskstats`: bytes read and written by the devices `whole` says
/// are whole disks (not partitions, which would count twice).
pub fn diskstats(text: &str, whole: impl Fn(&str) -> bool) -> (u64, u64) {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let name = *f.get(2)?;
            if !whole(name) {
                return None;
            }
            let sectors = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok());
            Some((sectors(5)? * 512, sectors(9)? * 512))
        })
        .fold((0, 0), |(r, w), (a, b)| (r + a, w + b))
}

/// A cgroup's memory use as `docker stats` shows it: the usage less the
/// inactive page cache (`inactive_file`, or v1's `total_inactive_file`).
pub fn memory_in_use(usage: u64, memory_stat: &str) -> u64 {
    let inactive = memory_stat
        .lines()
        .find_map(|l| {
            l.strip_prefix("total_inactive_file ")
                .or_else(|| l.strip_prefix("inactive_file "))
        })
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    usage.saturating_sub(inactive)
}

/// cgroup v2 `cpu.stat`: `usage_usec` in nanoseconds.
pub fn cpu_stat_v2(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|us| us * 1000)
}

/// cgroup v2 `io.stat`: bytes read and written, all devices.
pub fn io_stat_v2(text: &str) -> (u64, u64) {
    let mut read = 0;
    let mut written = 0;
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            read += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            written += v.parse::<u64>().unwrap_or(0);
        }
    }
    (read, written)
}

/// cgroup v1 `blkio.throttle.io_service_bytes`: bytes read and written.
pub fn blkio_v1(text: &str) -> (u64, u64) {
    let mut read = 0;
    let mut written = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [_, op, value] = f.as_slice() {
            let v = value.parse::<u64>().unwrap_or(0);
            match *op {
                "Read" => read += v,
                "Write" => written += v,
                _ => {}
            }
        }
    }
    (read, written)
}

/// A memory limit file (`memory.max`, `memory.limit_in_bytes`): `None`
/// for no limit (`max`, or v1's page-rounded huge number).
pub fn memory_limit(text: &str) -> Option<u64> {
    let v = text.trim().parse::<u64>().ok()?;
    (v < (1 << 60)).then_some(v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn proc_stat_counts_busy_time_and_cores() {
        let text = "cpu  100 5 50 800 40 1 4 0 0 0\ncpu0 50 2 25 400 20 0 2 0 0 0\ncpu1 50 3 25 400 20 1 2 0 0 0\nintr 1\n";
        assert_eq!(proc_stat(text), Some((160, 1000, 2)));
        assert_eq!(proc_stat("intr 1\n"), None);
    }

    #[test]
    fn meminfo_uses_available_memory() {
        let text = "MemTotal:       2048 kB\nMemFree:         512 kB\nMemAvailable:   1024 kB\n";
        assert_eq!(meminfo(text), Some((1024 * 1024, 2048 * 1024)));
    }

    #[test]
    fn net_dev_sums_every_interface_but_loopback() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n  eth0: 200 2 0 0 0 0 0 0 300 3 0 0 0 0 0 0\n  eth1: 5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n";
        assert_eq!(net_dev(text), (205, 307));
    }

    #[test]
    fn diskstats_counts_whole_disks_only() {
        let text = " 254 0 vda 10 0 100 5 20 0 200 9 0 1 1\n 254 1 vda1 10 0 100 5 20 0 200 9 0 1 1\n   7 0 loop0 1 0 8 0 0 0 0 0 0 0 0\n";
        assert_eq!(diskstats(text, |n| n == "vda"), (100 * 512, 200 * 512));
    }

    #[test]
    fn container_memory_leaves_out_inactive_page_cache() {
        assert_eq!(
            memory_in_use(1000, "cache 10\ntotal_inactive_file 300\n"),
            700
        );
        assert_eq!(memory_in_use(1000, "anon 5\ninactive_file 100\n"), 900);
        assert_eq!(memory_in_use(50, "inactive_file 100\n"), 0);
    }

    #[test]
    fn cgroup_files_of_both_versions_parse() {
        assert_eq!(
            cpu_stat_v2("usage_usec 1500\nuser_usec 1000\n"),
            Some(1_500_000)
        );
        assert_eq!(
            io_stat_v2("8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n"),
            (11, 22)
        );
        assert_eq!(
            blkio_v1("8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Total 30\nTotal 30\n"),
            (10, 20)
        );
        assert_eq!(memory_limit("max\n"), None);
        assert_eq!(memory_limit("9223372036854771712\n"), None);
        assert_eq!(memory_limit("1048576\n"), Some(1_048_576));
    }

    #[test]
    fn rates_are_per_second_and_cpu_is_per_core() {
        let before = Counters {
            time_ms: 1_000,
            cpu_ns: 0,
            net_rx_bytes: 1_000,
            disk_write_bytes: 0,
            ..Counters::default()
        };
        let now = Counters {
            time_ms: 3_000,
            // One core busy for the 2 s.
            cpu_ns: 2_000_000_000,
            net_rx_bytes: 5_000,
            disk_write_bytes: 4_096,
            memory_bytes: 7,
            ..Counters::default()
        };
        let s = rates(&before, &now).unwrap();
        assert_eq!(s.cpu_percent, 100.0);
        assert_eq!(s.net_rx_bytes_per_s, 2_000);
        assert_eq!(s.disk_write_bytes_per_s, 2_048);
        assert_eq!(s.memory_bytes, 7);
        assert_eq!(rates(&now, &now), None);
        // A host: a quarter of all time busy on 2 cores is 50 % of one core.
        let host_before = Counters {
            time_ms: 0,
            cpu_total_ns: 1,
            cores: 2,
            ..Counters::default()
        };
        let host_now = Counters {
            time_ms: 1_000,
            cpu_ns: 250,
            cpu_total_ns: 1_001,
            cores: 2,
            ..Counters::default()
        };
        assert_eq!(rates(&host_before, &host_now).unwrap().cpu_percent, 50.0);
    }
}
