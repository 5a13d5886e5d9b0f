//! Reading the counters: the host's from /proc and statfs, a container's
//! from its cgroup (v1 or v2, found through `/proc/<pid>/cgroup`) and its
//! network namespace (`/proc/<pid>/net/dev`). Files only: no call to the
//! engine, which would cost the engine more than the reads cost us.

use std::path::{Path, PathBuf};

use super::counters::{self, Counters};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

fn read(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The host's counters; `disk` is the path whose filesystem is reported.
/// CPU is in clock ticks (only the ratio of busy to all time is used).
pub fn host(time_ms: u64, disk: &Path) -> Option<Counters> {
    let (busy, total, cores) = counters::proc_stat(&read("/proc/stat")?)?;
    let (memory, memory_total) = counters::meminfo(&read("/proc/meminfo")?)?;
    let (rx, tx) = read("/proc/net/dev")
        .map(|t| counters::net_dev(&t))
        .unwrap_or_default();
    let (disk_read, disk_write) = read("/proc/diskstats")
        .map(|t| counters::diskstats(&t, whole_disk))
        .unwrap_or_default();
    let (disk_used, disk_total) = rustix::fs::statfs(disk)
        .map(|s| {
            let block = u64::try_from(s.f_frsize).unwrap_or(0);
            let total = s.f_blocks * block;
            (total.saturating_sub(s.f_bfree * block), total)
        })
        .unwrap_or_default();
    Some(Counters {
        time_ms,
        cpu_ns: busy,
        cpu_total_ns: total,
        cores,
        memory_bytes: memory,
        memory_limit_bytes: memory_total,
        net_rx_bytes: rx,
        net_tx_bytes: tx,
        disk_read_bytes: disk_read,
        disk_write_bytes: disk_write,
        disk_used_bytes: disk_used,
        disk_total_bytes: disk_total,
    })
}

/// A block device that is a whole disk (listed in /sys/block), not a
/// partition, a loop device or a RAM disk.
fn whole_disk(name: &str) -> bool {
    !name.starts_with("loop")
        && !name.starts_with("ram")
        && Path::new("/sys/block").join(name).exists()
}

/// Where a process's cgroup keeps each kind of counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPaths {
    /// The unified hierarchy: one directory.
    V2(PathBuf),
    /// One directory per controller.
    V1 {
        cpu: PathBuf,
        memory: PathBuf,
        blkio: PathBuf,
    },
}

/// Reads `/proc/<pid>/cgroup` into the directories of its counters.
pub fn cgroup_paths(pid: u32) -> Option<CgroupPaths> {
    parse_cgroup(
        &read(format!("/proc/{pid}/cgroup"))?,
        Path::new(CGROUP_ROOT),
    )
}

/// The pure part of [`cgroup_paths`]: v1 when the cpuacct controller is
/// mounted on its own hierarchy, else the unified one.
pub fn parse_cgroup(text: &str, root: &Path) -> Option<CgroupPaths> {
    let mut unified = None;
    let mut v1 = std::collections::HashMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let relative = path.trim_start_matches('/');
        if controllers.is_empty() {
            unified = Some(root.join(relative));
        } else {
            for c in controllers.split(',') {
                v1.insert(c.to_string(), root.join(controllers).join(relative));
            }
        }
    }
    match (v1.get("cpuacct"), v1.get("memory"), v1.get("blkio")) {
        (Some(cpu), Some(memory), Some(blkio)) => Some(CgroupPaths::V1 {
            cpu: cpu.clone(),
            memory: memory.clone(),
            blkio: blkio.clone(),
        }),
        _ => unified.map(CgroupPaths::V2),
    }
}

/// A container's counters: its cgroup's CPU, memory and block I/O, and the
/// network of the namespace process `pid` is in. `host_memory` stands for
/// the limit of a container without one.
pub fn container(
    time_ms: u64,
    pid: u32,
    paths: &CgroupPaths,
    host_memory: u64,
) -> Option<Counters> {
    let (cpu_ns, usage, memory_stat, limit, (disk_read, disk_write)) = match paths {
        CgroupPaths::V2(dir) => (
            counters::cpu_stat_v2(&read(dir.join("cpu.stat"))?)?,
            read(dir.join("memory.current"))?
                .trim()
                .parse::<u64>()
                .ok()?,
            read(dir.join("memory.stat")).unwrap_or_default(),
            read(dir.join("memory.max")).and_then(|t| counters::memory_limit(&t)),
            read(dir.join("io.stat"))
                .map(|t| counters::io_stat_v2(&t))
                .unwrap_or_default(),
        ),
        CgroupPaths::V1 { cpu, memory, blkio } => (
            read(cpu.join("cpuacct.usage"))?
                .trim()
                .parse::<u64>()
                .ok()?,
            read(memory.join("memory.usage_in_bytes"))?
                .trim()
                .parse::<u64>()
                .ok()?,
            read(memory.join("memory.stat")).unwrap_or_default(),
            read(memory.join("memory.limit_in_bytes")).and_then(|t| counters::memory_limit(&t)),
            read(blkio.join("blkio.throttle.io_service_bytes"))
                .map(|t| counters::blkio_v1(&t))
                .unwrap_or_default(),
        ),
    };
    let (rx, tx) = read(format!("/proc/{pid}/net/dev"))
        .map(|t| counters::net_dev(&t))
        .unwrap_or_default();
    Some(Counters {
        time_ms,
        cpu_ns,
        memory_bytes: counters::memory_in_use(usage, &memory_stat),
        memory_limit_bytes: limit.unwrap_or(host_memory).min(host_memory.max(1)),
        net_rx_bytes: rx,
        net_tx_bytes: tx,
        disk_read_bytes: disk_read,
        disk_write_bytes: disk_write,
        ..Counters::default()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_v1_hierarchy_names_a_directory_per_controller() {
        let text = "4:memory:/docker/abc\n3:blkio:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/docker/abc\n";
        let paths = parse_cgroup(text, Path::new("/cg")).unwrap();
        assert_eq!(
            paths,
            CgroupPaths::V1 {
                cpu: "/cg/cpu,cpuacct/docker/abc".into(),
                memory: "/cg/memory/docker/abc".into(),
                blkio: "/cg/blkio/docker/abc".into(),
            }
        );
    }

    #[test]
    fn the_unified_hierarchy_is_one_directory() {
        let text = "0::/system.slice/docker-abc.scope\n";
        assert_eq!(
            parse_cgroup(text, Path::new("/cg")),
            Some(CgroupPaths::V2("/cg/system.slice/docker-abc.scope".into()))
        );
        assert_eq!(parse_cgroup("garbage", Path::new("/cg")), None);
    }

    #[test]
    fn this_host_can_be_read() {
        let c = host(1, Path::new("/")).unwrap();
        assert!(c.cpu_total_ns > 0 && c.cores > 0, "{c:?}");
        assert!(c.memory_limit_bytes > 0 && c.disk_total_bytes > 0, "{c:?}");
    }
}
