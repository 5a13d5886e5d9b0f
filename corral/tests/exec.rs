//! `corral exec` as a user runs it, on the project's private engine:
//! through the server and the node's agent to the engine's exec API,
//! with stdin, a real pseudo-terminal that is resized, the command's exit
//! code as the CLI's, refusals by role, and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BUSYBOX, Cluster, wait_for};
use corral_api::{AuditQuery, MemberRequest, UserCreate};
use corral_types::{Role, ServiceSpec, Sidekick};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// A service of one busybox instance that sleeps, with a sidekick `side`.
async fn sleeper(c: &Cluster, name: &str) {
    let spec = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        command: vec!["sleep".into(), "3600".into()],
        sidekicks: vec![Sidekick {
            name: "side".into(),
            image: BUSYBOX.into(),
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo sidekick > /tmp/who; exec sleep 3600".into(),
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    c.create_service_spec(name, spec).await;
    c.wait_running(name, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_returns_the_commands_output_streams_and_exit_code() {
    let c = Cluster::start("it-exec").await;
    sleeper(&c, "box").await;

    let out = c.cli(&[
        "exec",
        "box-1",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");

    let out = c.cli(&["exec", "box-1", "hostname"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());

    // stdin goes to the command with -i, and its end closes the command's stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["exec", "-i", "box-1", "--", "sh", "-c", "wc -c; exit 0"])
        .env("CORRAL_URL", c.url())
        .env("CORRAL_TOKEN", c.token())
        .env("CORRAL_CA_FILE", c.data_dir.join("ca.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = vec![b'x'; 100_000];
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "100000");

    // A sidekick by name.
    let out = c.cli(&["exec", "box-1", "-c", "side", "--", "cat", "/tmp/who"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "sidekick\n");

    // Bad input: one clear line naming what is wrong, exit 1.
    let cases: [(&[&str], &str); 2] = [
        (&["exec", "nosuch-1", "ls"], "nosuch-1"),
        (&["exec", "box-1", "-c", "other", "ls"], "other"),
    ];
    for (args, needle) in cases {
        let out = c.cli(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?} should name {needle}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // A program that is not there: the engine's message and its code, 126,
    // as `docker exec` gives them.
    let out = c.cli(&["exec", "box-1", "--", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(said.contains("/no/such/program"), "{said}");

    // The audit log has the command line of each exec.
    let audit = c.client.audit(&AuditQuery::default()).await.unwrap().items;
    assert!(
        audit
            .iter()
            .any(|r| r.summary == "exec box-1 -c side: cat /tmp/who" && r.code == 101),
        "{audit:#?}"
    );
    assert!(
        audit.iter().any(|r| r
            .summary
            .contains("exec box-1: sh -c 'echo out; echo err >&2; exit 3'")),
        "{audit:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_restricted_users_may_not_exec_and_are_recorded() {
    let c = Cluster::start("it-exec-roles").await;
    sleeper(&c, "guarded").await;
    for (user, role) in [("rita", Role::ReadOnly), ("remy", Role::Restricted)] {
        c.client
            .create_user(&UserCreate {
                name: user.into(),
                password: format!("{user}-password-1"),
                admin: false,
                display_name: String::new(),
            })
            .await
            .unwrap();
        c.client
            .add_member(
                "default",
                &MemberRequest {
                    subject: user.into(),
                    role,
                },
            )
            .await
            .unwrap();
        let token = c
            .client
            .login(user, &format!("{user}-password-1"))
            .await
            .unwrap()
            .token;
        let out = c.cli_env(
            &["exec", "guarded-1", "--", "touch", "/tmp/pwned"],
            &[("CORRAL_TOKEN", &token)],
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("run commands in containers"), "{err}");
        // Its logs are still readable to it.
        let out = c.cli_env(&["logs", "guarded-1"], &[("CORRAL_TOKEN", &token)]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // Nothing ran: the file is not there.
    let out = c.cli(&["exec", "guarded-1", "--", "ls", "/tmp/pwned"]);
    assert_ne!(out.status.code(), Some(0));
    let audit = c.client.audit(&AuditQuery::default()).await.unwrap().items;
    for user in ["rita", "remy"] {
        assert!(
            audit
                .iter()
                .any(|r| r.user == user && r.code == 403 && r.verb.ends_with("/exec")),
            "{user}: {audit:#?}"
        );
    }
}

/// The CLI on a real pseudo-terminal: raw mode, the window size passed
/// on and changed with SIGWINCH, and the shell's exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_session_follows_the_window_size_and_exits_with_the_shells_code() {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use rustix::termios::{Winsize, tcsetwinsize};

    let c = Cluster::start("it-exec-tty").await;
    sleeper(&c, "term").await;

    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let size = |rows: u16, cols: u16| Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    tcsetwinsize(master.as_fd(), size(24, 80)).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["exec", "-it", "term-1", "--", "sh"])
        .env("CORRAL_URL", c.url())
        .env("CORRAL_TOKEN", c.token())
        .env("CORRAL_CA_FILE", c.data_dir.join("ca.pem"))
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let mut writer = std::fs::File::from(master.try_clone().unwrap());
    let mut reader = std::fs::File::from(master);
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&text(&buf[..n]));
        }
    });
    let wait_seen = |needle: &'static str| {
        let seen = seen.clone();
        async move {
            wait_for(needle, Duration::from_secs(20), || {
                let seen = seen.clone();
                async move { seen.lock().unwrap().contains(needle).then_some(()) }
            })
            .await;
        }
    };

    writer.write_all(b"stty size; tty\n").unwrap();
    wait_seen("24 80").await;
    wait_seen("/dev/pts/").await;

    tcsetwinsize(writer.as_fd(), size(40, 120)).unwrap();
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::WINCH).unwrap();
    // The resize is a message of its own; ask until the shell sees it.
    wait_for("the new window size", Duration::from_secs(20), || {
        writer.write_all(b"stty size\n").unwrap();
        let seen = seen.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            seen.lock().unwrap().contains("40 120").then_some(())
        }
    })
    .await;

    writer.write_all(b"exit 7\n").unwrap();
    let status = wait_for("the CLI to exit", Duration::from_secs(20), || {
        let status = child.try_wait().unwrap();
        async move { status }
    })
    .await;
    assert_eq!(status.code(), Some(7), "{}", seen.lock().unwrap());
}
