//! `sync` against real repositories made with the `git` command line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Daemon, catalog_repo, commit_all, file_url, free_port, git, names, write};
use corral_gitsync::{Checkout, Limits, Source, SyncError, last_checkout, sync};

fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    }
}

fn source(url: String, branch: Option<&str>) -> Source {
    Source {
        branch: branch.map(str::to_owned),
        ..Source::new(url)
    }
}

fn read(checkout: &Checkout, rel: &str) -> String {
    std::fs::read_to_string(checkout.dir.join(rel)).unwrap()
}

#[test]
fn file_url_clone_then_fetch_sees_the_new_commit_and_a_deleted_cache_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = catalog_repo(&tmp.path().join("upstream"));
    let first = git(&upstream, &["rev-parse", "HEAD"]);
    let cache = tmp.path().join("cache");
    let src = source(file_url(&upstream), None);

    let one = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(one.commit, first);
    assert_eq!(one.branch, "main");
    assert_eq!(one.dir, cache.join("trees").join(&first));
    assert_eq!(
        read(&one, "templates/web/config.yml"),
        "name: web\nversion: 1\n"
    );

    write(
        &upstream,
        "templates/web/1/docker-compose.yml",
        "services: {}\n",
    );
    let second = commit_all(&upstream, "second");
    let two = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(two.commit, second);
    assert_eq!(
        read(&two, "templates/web/1/docker-compose.yml"),
        "services: {}\n"
    );
    assert!(one.dir.is_dir(), "the previous tree is kept for readers");

    std::fs::remove_dir_all(&cache).unwrap();
    assert_eq!(last_checkout(&cache), None);
    let rebuilt = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(rebuilt.commit, second);
    assert_eq!(read(&rebuilt, "README.md"), "A test catalog\n");
}

#[test]
fn the_last_checkout_stays_readable_when_the_repository_goes_away() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = catalog_repo(&tmp.path().join("upstream"));
    let cache = tmp.path().join("cache");
    let src = source(file_url(&upstream), None);
    let got = sync(&src, &cache, &limits()).unwrap();
    std::fs::remove_dir_all(&upstream).unwrap();
    assert!(sync(&src, &cache, &limits()).is_err());
    let last = last_checkout(&cache).unwrap();
    assert_eq!(
        (&last.commit, &last.branch, &last.dir),
        (&got.commit, &got.branch, &got.dir)
    );
    assert_eq!(read(&last, "README.md"), "A test catalog\n");
}

#[test]
fn only_the_current_and_the_previous_tree_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = catalog_repo(&tmp.path().join("upstream"));
    let cache = tmp.path().join("cache");
    let src = source(upstream.display().to_string(), None);
    let mut commits = vec![sync(&src, &cache, &limits()).unwrap().commit];
    for n in 0..3 {
        write(&upstream, "n.txt", &n.to_string());
        commit_all(&upstream, "next");
        commits.push(sync(&src, &cache, &limits()).unwrap().commit);
    }
    let kept: Vec<String> = names(&cache.join("trees"))
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    let mut want = commits[2..].to_vec();
    want.sort();
    assert_eq!(kept, want);
    // Syncing again with nothing new keeps the tree and changes nothing.
    let again = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(again.commit, commits[3]);
    assert_eq!(read(&again, "n.txt"), "2");
}

#[test]
fn a_branch_other_than_the_default_is_checked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = catalog_repo(&tmp.path().join("upstream"));
    git(&upstream, &["checkout", "-q", "-b", "stable"]);
    write(&upstream, "STABLE", "yes\n");
    let stable = commit_all(&upstream, "stable only");
    git(&upstream, &["checkout", "-q", "main"]);

    let cache = tmp.path().join("cache");
    let got = sync(
        &source(file_url(&upstream), Some("stable")),
        &cache,
        &limits(),
    )
    .unwrap();
    assert_eq!(got.commit, stable);
    assert_eq!(got.branch, "stable");
    assert_eq!(read(&got, "STABLE"), "yes\n");

    let default = sync(&source(file_url(&upstream), None), &cache, &limits()).unwrap();
    assert_eq!(default.branch, "main");
    assert!(!default.dir.join("STABLE").exists());
}

#[test]
fn a_missing_branch_names_it_and_lists_the_branches_the_remote_has() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = catalog_repo(&tmp.path().join("upstream"));
    for b in ["b1", "b2", "b3", "b4", "b5", "b6"] {
        git(&upstream, &["branch", b]);
    }
    let cache = tmp.path().join("cache");
    let url = file_url(&upstream);
    let err = sync(&source(url.clone(), Some("nope")), &cache, &limits()).unwrap_err();
    match &err {
        SyncError::BranchNotFound {
            branch,
            available,
            total,
            ..
        } => {
            assert_eq!(branch, "nope");
            assert_eq!(available, &["b1", "b2", "b3", "b4", "b5"]);
            assert_eq!(*total, 7);
        }
        other => panic!("wrong error: {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("branch \"nope\" not found"), "{text}");
    assert!(text.contains("\"b1\"") && text.contains("2 more"), "{text}");
}

#[test]
fn git_daemon_transport_clones_and_fetches() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    let upstream = catalog_repo(&base.join("catalog"));
    let daemon = Daemon::start(&base);
    let src = source(daemon.url("catalog"), None);
    let cache = tmp.path().join("cache");

    let one = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(one.commit, git(&upstream, &["rev-parse", "HEAD"]));
    assert_eq!(
        read(&one, "templates/web/config.yml"),
        "name: web\nversion: 1\n"
    );

    write(
        &upstream,
        "templates/web/config.yml",
        "name: web\nversion: 2\n",
    );
    let second = commit_all(&upstream, "v2");
    let two = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(two.commit, second);
    assert_eq!(
        read(&two, "templates/web/config.yml"),
        "name: web\nversion: 2\n"
    );

    let err = sync(
        &source(daemon.url("missing"), None),
        &tmp.path().join("c2"),
        &limits(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SyncError::NotARepository { .. }),
        "wrong error: {err:?}"
    );
}

#[test]
fn a_closed_port_is_unreachable_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("git://127.0.0.1:{}/catalog", free_port());
    let started = Instant::now();
    let err = sync(&source(url.clone(), None), tmp.path(), &limits()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, SyncError::Unreachable { .. }),
        "wrong error: {err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&url) && text.contains("unreachable"),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
}

#[test]
fn a_server_that_never_answers_is_cut_off_at_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("git://127.0.0.1:{port}/catalog");
    let limits = Limits {
        timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let started = Instant::now();
    let err = sync(&source(url, None), tmp.path(), &limits).unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert!(
        matches!(err, SyncError::TimedOut { .. }),
        "wrong error: {err:?}"
    );
    assert!(err.to_string().contains("no answer within 2s"), "{err}");
    drop(listener);
}

#[test]
fn a_path_that_is_not_a_repository_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    for url in [file_url(&plain), file_url(&tmp.path().join("absent"))] {
        let err = sync(
            &source(url.clone(), None),
            &tmp.path().join("cache"),
            &limits(),
        )
        .unwrap_err();
        assert!(
            matches!(err, SyncError::NotARepository { .. }),
            "{url}: wrong error: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&url) && text.contains("not a git repository"),
            "{text}"
        );
    }
}

#[test]
fn a_repository_over_the_size_or_file_limit_is_refused_and_leaves_no_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = catalog_repo(&tmp.path().join("upstream"));
    write(&upstream, "big.bin", &"x".repeat(64 * 1024));
    commit_all(&upstream, "big");
    let cache = tmp.path().join("cache");
    let src = source(file_url(&upstream), None);

    let tiny_bytes = Limits {
        max_bytes: 1024,
        ..limits()
    };
    let err = sync(&src, &cache, &tiny_bytes).unwrap_err();
    assert!(
        matches!(err, SyncError::TooLarge { .. }),
        "wrong error: {err:?}"
    );
    assert!(err.to_string().contains("too large"), "{err}");

    let few_files = Limits {
        max_files: 2,
        ..limits()
    };
    let err = sync(&src, &cache, &few_files).unwrap_err();
    assert!(err.to_string().contains("more than 2 files"), "{err}");
    let left: Vec<String> = names(&cache.join("trees"));
    assert!(left.is_empty(), "partial trees left behind: {left:?}");

    assert!(sync(&src, &cache, &limits()).is_ok());
}

#[test]
fn symlinks_and_submodules_are_skipped_and_nothing_is_written_outside_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = catalog_repo(&tmp.path().join("sub"));
    let upstream = catalog_repo(&tmp.path().join("upstream"));
    std::os::unix::fs::symlink("/etc/passwd", upstream.join("passwd")).unwrap();
    std::os::unix::fs::symlink("../../outside", upstream.join("templates/escape")).unwrap();
    write(&upstream, "run.sh", "#!/bin/sh\n");
    set_mode(&upstream.join("run.sh"), 0o755);
    git(
        &upstream,
        &["submodule", "add", "-q", &file_url(&sub), "vendor/sub"],
    );
    commit_all(&upstream, "links");

    let got = sync(
        &source(file_url(&upstream), None),
        &tmp.path().join("cache"),
        &limits(),
    )
    .unwrap();
    let mut skipped = got.skipped.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            "passwd (symlink)",
            "templates/escape (symlink)",
            "vendor/sub (submodule)"
        ]
    );
    assert!(std::fs::symlink_metadata(got.dir.join("passwd")).is_err());
    assert!(!tmp.path().join("outside").exists());
    assert!(got.dir.join(".gitmodules").is_file());
    assert!(is_executable(&got.dir.join("run.sh")));
    assert!(!is_executable(&got.dir.join("README.md")));
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

#[test]
fn an_empty_repository_says_it_has_nothing_to_check_out() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    git(&empty, &["init", "-q"]);
    let err = sync(
        &source(file_url(&empty), None),
        &tmp.path().join("cache"),
        &limits(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SyncError::Empty { .. }),
        "wrong error: {err:?}"
    );
}

#[test]
fn ssh_to_a_closed_port_is_unreachable_without_a_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    for url in [
        format!("ssh://git@127.0.0.1:{}/catalog.git", free_port()),
        "git@no-such-host.invalid:org/catalog.git".to_owned(),
    ] {
        let started = Instant::now();
        let err = sync(&source(url.clone(), None), tmp.path(), &limits()).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(err, SyncError::Unreachable { .. }),
            "{url}: wrong error: {err:?}"
        );
    }
}

#[test]
fn a_cache_repository_with_too_many_packs_or_broken_is_cloned_afresh() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = catalog_repo(&tmp.path().join("upstream"));
    let cache = tmp.path().join("cache");
    let src = source(file_url(&upstream), None);
    let first = sync(&src, &cache, &limits()).unwrap();
    let packs = cache.join("repo/objects/pack");
    for n in 0..70 {
        std::fs::write(packs.join(format!("pack-junk{n}.pack")), b"junk").unwrap();
    }
    let again = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(again.commit, first.commit);
    assert!(names(&packs).iter().all(|n| !n.contains("junk")));

    std::fs::write(cache.join("repo/HEAD"), b"garbage").unwrap();
    std::fs::remove_dir_all(&first.dir).unwrap();
    let rebuilt = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(read(&rebuilt, "README.md"), "A test catalog\n");
}

#[test]
fn a_tree_entry_named_dot_dot_refuses_the_commit_and_writes_nothing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let upstream = tmp.path().join("upstream");
    std::fs::create_dir_all(&upstream).unwrap();
    git(&upstream, &["init", "-q"]);
    // Only plumbing can make such a tree; `git fsck` would flag it.
    let blob = git_stdin(&upstream, &["hash-object", "-w", "--stdin"], "pwned\n");
    let inner = git_stdin(&upstream, &["mktree"], &format!("100644 blob {blob}\t..\n"));
    let outer = git_stdin(
        &upstream,
        &["mktree"],
        &format!("040000 tree {inner}\tevil\n"),
    );
    let commit = git(&upstream, &["commit-tree", &outer, "-m", "evil"]);
    git(&upstream, &["update-ref", "refs/heads/main", &commit]);

    let cache = tmp.path().join("cache");
    let err = sync(&source(file_url(&upstream), None), &cache, &limits()).unwrap_err();
    match &err {
        SyncError::UnsafePath { path, .. } => assert_eq!(path, "evil/.."),
        other => panic!("wrong error: {other:?}"),
    }
    assert!(err.to_string().contains("unsafe path"), "{err}");
    let left: Vec<String> = names(&cache.join("trees"));
    assert!(left.is_empty(), "partial trees left behind: {left:?}");
}

fn git_stdin(dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
