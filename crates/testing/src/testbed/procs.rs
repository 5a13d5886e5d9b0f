//! Processes of the test bed: running tools, starting daemons that outlive
//! the caller, finding them again by pid file, and killing them for real.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::{Result, TestbedError};
use crate::cmd::describe;

/// Runs `command` to completion; its stdout, or an error with its stderr.
pub(crate) fn run(command: &mut Command) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| TestbedError::Spawn {
            command: describe(command),
            source,
        })?;
    if !output.status.success() {
        return Err(TestbedError::CommandFailed {
            command: describe(command),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether `command` runs and exits with 0 (its output is dropped).
pub(crate) fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts `argv` in its own session (`setsid --fork`), so that it outlives
/// this process and no Ctrl-C of ours reaches it, with stdout and stderr
/// appended to `log`. With `pid_file`, the process writes its pid there
/// before it becomes `argv` (`sh -c 'echo $$ > FILE; exec "$@"'`); this
/// returns once the file is written.
pub(crate) fn spawn_detached(
    argv: &[OsString],
    envs: &[(&str, OsString)],
    log: &Path,
    pid_file: Option<&Path>,
) -> Result<()> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| TestbedError::io("open the log", log, e))?;
    let err = out
        .try_clone()
        .map_err(|e| TestbedError::io("duplicate the log", log, e))?;
    let mut command = Command::new("setsid");
    command.arg("--fork");
    if let Some(pid_file) = pid_file {
        remove_if_present(pid_file)?;
        command
            .args(["sh", "-c", r#"echo $$ > "$0"; exec "$@""#])
            .arg(pid_file);
    }
    command
        .args(argv)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let status = command.status().map_err(|source| TestbedError::Spawn {
        command: describe(&command),
        source,
    })?;
    if !status.success() {
        return Err(TestbedError::CommandFailed {
            command: describe(&command),
            status: status.to_string(),
            stderr: format!("see {}", log.display()),
        });
    }
    if let Some(pid_file) = pid_file {
        let deadline = Instant::now() + Duration::from_secs(5);
        while read_pid(pid_file).is_none() {
            if Instant::now() > deadline {
                return Err(TestbedError::NotReady {
                    what: describe(&command),
                    event: "write its pid file",
                    seconds: 5,
                    log: log.to_path_buf(),
                    tail: crate::engine::log_tail(log, 20),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

pub(crate) fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(TestbedError::io("remove", path, e))
        }
        _ => Ok(()),
    }
}

pub(crate) fn read_pid(pid_file: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// How to recognise one of our processes by its command line, so that a
/// stale pid file never makes us kill a stranger that reused the pid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity<'a> {
    /// The program's file name (`dockerd`, `corral`).
    pub program: &'a str,
    /// A string one of its arguments contains (a path under the root).
    pub marker: &'a str,
}

/// The pid in `pid_file` if that process is alive and is `identity`.
pub(crate) fn live_pid(pid_file: &Path, identity: Identity<'_>) -> Option<u32> {
    let pid = read_pid(pid_file)?;
    (is_alive(pid) && matches_identity(pid, identity)).then_some(pid)
}

fn matches_identity(pid: u32, identity: Identity<'_>) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let program_matches = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|name| name.to_string_lossy() == identity.program);
    program_matches && args.iter().any(|a| a.contains(identity.marker))
}

/// Alive: it exists and is not a zombie waiting for its parent.
pub(crate) fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_state_and_ppid(&stat).is_some_and(|(state, _)| state != 'Z'),
        Err(_) => false,
    }
}

/// The state letter and the parent pid from a `/proc/PID/stat` line (the
/// command name in parentheses may itself hold spaces and parentheses).
fn stat_state_and_ppid(stat: &str) -> Option<(char, u32)> {
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Sends `signal` (`TERM`, `KILL`) to every pid; gone ones are ignored.
pub(crate) fn signal(pids: &[u32], signal: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = succeeds(
        Command::new("kill")
            .arg(format!("-{signal}"))
            .args(pids.iter().map(u32::to_string)),
    );
}

/// Waits until none of `pids` is alive; the ones still alive at `timeout`.
pub(crate) fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|p| is_alive(*p)).collect();
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL.
pub(crate) fn terminate(pid: u32, what: &str, grace: Duration) -> Result<()> {
    signal(&[pid], "TERM");
    if wait_gone(&[pid], grace).is_empty() {
        return Ok(());
    }
    signal(&[pid], "KILL");
    if wait_gone(&[pid], Duration::from_secs(5)).is_empty() {
        return Ok(());
    }
    Err(TestbedError::WontDie {
        what: what.to_string(),
        pid,
    })
}

/// The processes in network namespace `netns` (`ip netns pids`); empty if
/// the namespace does not exist.
pub(crate) fn netns_pids(netns: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", netns])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `roots` and all their live descendants, from the parent pids in
/// `/proc/*/stat`. Container processes live in their own namespaces but
/// descend from a containerd shim, which is in the host's.
pub(crate) fn with_descendants(roots: &[u32]) -> Vec<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            if let Some((_, ppid)) = stat_state_and_ppid(&stat) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    descendants_in(&children, roots)
}

fn descendants_in(children: &BTreeMap<u32, Vec<u32>>, roots: &[u32]) -> Vec<u32> {
    let mut seen: BTreeSet<u32> = BTreeSet::new();
    let mut todo: Vec<u32> = roots.to_vec();
    while let Some(pid) = todo.pop() {
        if seen.insert(pid)
            && let Some(kids) = children.get(&pid)
        {
            todo.extend(kids);
        }
    }
    seen.into_iter().collect()
}

/// SIGKILLs everything in `netns` and all their descendants (dockerd,
/// containerd, the shims, the containers, the agent), twice in case one
/// forked meanwhile; the pids that survived.
pub(crate) fn kill_netns(netns: &str) -> Vec<u32> {
    let mut killed = Vec::new();
    for _ in 0..2 {
        let pids = with_descendants(&netns_pids(netns));
        signal(&pids, "KILL");
        killed.extend(pids);
        std::thread::sleep(Duration::from_millis(50));
    }
    killed.sort_unstable();
    killed.dedup();
    wait_gone(&killed, Duration::from_secs(10))
}

/// Mount points at or under `root` (from `/proc/self/mountinfo`), deepest
/// first. dockerd leaves its data root bind-mounted on itself, and a killed
/// one its containers' overlays and network namespace files.
pub(crate) fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mount_path(field)))
        .filter(|path| path.starts_with(root))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    mounts.dedup();
    mounts
}

/// Mount info escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(digits) = std::str::from_utf8(&bytes[i + 1..i + 4])
            && let Ok(code) = u8::from_str_radix(digits, 8)
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts every mount under `root`, lazily if a plain unmount fails.
pub(crate) fn unmount_all_under(root: &Path) -> Result<()> {
    for mount in mounts_under(root) {
        if !succeeds(Command::new("umount").arg(&mount)) {
            run(Command::new("umount").arg("-l").arg(&mount))?;
        }
    }
    Ok(())
}

/// Removes the empty cgroups a killed engine left for its containers
/// (cgroup v1 `/sys/fs/cgroup/<controller>/docker/<id>`, v2
/// `/sys/fs/cgroup/docker/<id>`, or the systemd driver's scopes). Best effort:
/// a cgroup that is not empty stays.
pub(crate) fn remove_container_cgroups(data_root: &Path) {
    let Ok(containers) = std::fs::read_dir(data_root.join("containers")) else {
        return;
    };
    let ids: Vec<String> = containers
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    let cgroup = Path::new("/sys/fs/cgroup");
    let mut bases = vec![cgroup.to_path_buf()];
    if let Ok(controllers) = std::fs::read_dir(cgroup) {
        bases.extend(controllers.flatten().map(|e| e.path()));
    }
    for id in &ids {
        for base in &bases {
            let _ = std::fs::remove_dir(base.join("docker").join(id));
            let _ =
                std::fs::remove_dir(base.join("system.slice").join(format!("docker-{id}.scope")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let stat = "4242 (we ird) (x)) S 17 4242 4242 0 -1 4194560 0 0";
        assert_eq!(stat_state_and_ppid(stat), Some(('S', 17)));
        assert_eq!(stat_state_and_ppid("1 (z) Z 0 1"), Some(('Z', 0)));
        assert_eq!(stat_state_and_ppid("garbage"), None);
    }

    #[test]
    fn descendants_are_the_whole_subtree_and_nothing_else() {
        let mut children = BTreeMap::new();
        children.insert(1, vec![10, 20]);
        children.insert(10, vec![11]);
        children.insert(11, vec![12]);
        children.insert(20, vec![21]);
        children.insert(30, vec![31]);
        assert_eq!(descendants_in(&children, &[10]), vec![10, 11, 12]);
        assert_eq!(
            descendants_in(&children, &[10, 30]),
            vec![10, 11, 12, 30, 31]
        );
        assert_eq!(descendants_in(&children, &[99]), vec![99]);
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path(r"/a\040b/c"), "/a b/c");
        assert_eq!(unescape_mount_path(r"/plain"), "/plain");
        assert_eq!(unescape_mount_path(r"/end\04"), r"/end\04");
    }

    #[test]
    fn this_process_is_alive_and_recognised() {
        let me = std::process::id();
        assert!(is_alive(me));
        let exe = std::env::current_exe().unwrap();
        let program = exe.file_name().unwrap().to_string_lossy().into_owned();
        let yes = Identity {
            program: &program,
            marker: &program,
        };
        assert!(matches_identity(me, yes));
        let no = Identity {
            program: "dockerd",
            marker: &program,
        };
        assert!(!matches_identity(me, no));
        assert!(!is_alive(u32::MAX));
    }

    #[test]
    fn live_pid_ignores_stale_and_foreign_pid_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pid");
        std::fs::write(&file, std::process::id().to_string()).unwrap();
        let foreign = Identity {
            program: "dockerd",
            marker: "/nowhere",
        };
        assert_eq!(live_pid(&file, foreign), None);
        std::fs::write(&file, "not a pid").unwrap();
        assert_eq!(live_pid(&file, foreign), None);
    }
}
