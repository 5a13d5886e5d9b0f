//! `sync` over ssh with a key, against a private `sshd` on a loopback port
//! (Debian's openssh-server; the tests fail, never skip, without it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::sshd::{Sshd, keygen};
use common::{catalog_repo, commit_all, git, write};
use corral_gitsync::{Credentials, Limits, Source, SyncError, sync};

fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    }
}

/// A work tree with a catalog and a bare clone of it to serve; returns both.
fn repos(tmp: &Path) -> (PathBuf, PathBuf) {
    let work = catalog_repo(&tmp.join("work"));
    let bare = tmp.join("served.git");
    git(tmp, &["clone", "-q", "--bare", "work", "served.git"]);
    (work, bare)
}

fn with_key(url: String, private_key: &str, known_hosts: &str) -> Source {
    Source {
        credentials: Some(Credentials::SshKey {
            private_key: private_key.to_owned(),
            known_hosts: known_hosts.to_owned(),
        }),
        ..Source::new(url)
    }
}

/// The key was only on disk during the fetch.
fn assert_no_key_left(cache: &Path) {
    let ssh = cache.join("ssh");
    for name in ["key", "pinned_known_hosts", "log"] {
        assert!(!ssh.join(name).exists(), "{} left behind", name);
    }
}

#[test]
fn ssh_key_with_accept_new_clones_fetches_and_keeps_the_host_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (work, bare) = repos(tmp.path());
    let sshd = Sshd::start(&tmp.path().join("sshd"));
    let cache = tmp.path().join("cache");
    let src = with_key(sshd.url(&bare), &sshd.client_key.private, "");

    let one =
        sync(&src, &cache, &limits()).unwrap_or_else(|e| panic!("{e}\nsshd log:\n{}", sshd.log()));
    assert_eq!(one.commit, git(&work, &["rev-parse", "HEAD"]));
    assert_eq!(one.branch, "main");
    assert!(one.dir.join("templates/web/0/docker-compose.yml").is_file());
    assert_no_key_left(&cache);
    let known = std::fs::read_to_string(cache.join("ssh/known_hosts")).unwrap();
    assert!(known.contains(&sshd.host_key.public), "{known}");

    write(
        &work,
        "templates/web/1/docker-compose.yml",
        "services: {}\n",
    );
    let second = commit_all(&work, "v1");
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let two = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(two.commit, second);
    assert!(two.dir.join("templates/web/1/docker-compose.yml").is_file());
    assert_no_key_left(&cache);
}

#[test]
fn ssh_key_with_the_servers_own_host_key_pinned_clones() {
    let tmp = tempfile::tempdir().unwrap();
    let (work, bare) = repos(tmp.path());
    let sshd = Sshd::start(&tmp.path().join("sshd"));
    let cache = tmp.path().join("cache");
    let known_hosts = format!("# the catalog server\n{}", sshd.known_hosts_line());
    let src = with_key(sshd.url(&bare), &sshd.client_key.private, &known_hosts);

    let one =
        sync(&src, &cache, &limits()).unwrap_or_else(|e| panic!("{e}\nsshd log:\n{}", sshd.log()));
    assert_eq!(one.commit, git(&work, &["rev-parse", "HEAD"]));
    assert_no_key_left(&cache);
    assert!(!cache.join("ssh/known_hosts").exists());
}

#[test]
fn ssh_pinned_host_key_that_is_not_the_servers_is_host_key_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let (_work, bare) = repos(tmp.path());
    let sshd = Sshd::start(&tmp.path().join("sshd"));
    let other = keygen(&tmp.path().join("other_host_key"));
    let cache = tmp.path().join("cache");
    let url = sshd.url(&bare);
    let known_hosts = format!("[127.0.0.1]:{} {}\n", sshd.port, other.public);
    let src = with_key(url.clone(), &sshd.client_key.private, &known_hosts);

    let err = sync(&src, &cache, &limits()).unwrap_err();
    assert!(
        matches!(err, SyncError::HostKeyNotTrusted { .. }),
        "wrong error: {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("host key is not the one trusted"), "{text}");
    assert!(text.contains("not among the known_hosts given"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert_no_key_left(&cache);

    // A host the known_hosts given say nothing about.
    let src = with_key(
        url,
        &sshd.client_key.private,
        "[other.example]:22 ssh-ed25519 AAAA\n",
    );
    let err = sync(&src, &cache, &limits()).unwrap_err();
    assert!(
        err.to_string().contains("have no key for this host"),
        "wrong error: {err:?}"
    );
    assert_no_key_left(&cache);
}

#[test]
fn ssh_host_key_that_changed_since_the_first_fetch_is_host_key_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let (_work, bare) = repos(tmp.path());
    let sshd = Sshd::start(&tmp.path().join("sshd"));
    let other = keygen(&tmp.path().join("other_host_key"));
    let cache = tmp.path().join("cache");
    // What a first fetch from an impostor would have kept.
    std::fs::create_dir_all(cache.join("ssh")).unwrap();
    std::fs::write(
        cache.join("ssh/known_hosts"),
        format!("[127.0.0.1]:{} {}\n", sshd.port, other.public),
    )
    .unwrap();
    let src = with_key(sshd.url(&bare), &sshd.client_key.private, "");

    let err = sync(&src, &cache, &limits()).unwrap_err();
    assert!(
        matches!(err, SyncError::HostKeyNotTrusted { .. }),
        "wrong error: {err:?}"
    );
    assert!(err.to_string().contains("first fetch"), "{err}");
    assert_no_key_left(&cache);
}

#[test]
fn ssh_key_the_server_does_not_accept_is_authentication_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let (_work, bare) = repos(tmp.path());
    let sshd = Sshd::start(&tmp.path().join("sshd"));
    let stranger = keygen(&tmp.path().join("stranger"));
    let cache = tmp.path().join("cache");
    let url = sshd.url(&bare);
    let src = with_key(url.clone(), &stranger.private, "");

    let err = sync(&src, &cache, &limits()).unwrap_err();
    assert!(
        matches!(err, SyncError::AuthenticationNeeded { .. }),
        "wrong error: {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("refused the credentials given"), "{text}");
    assert!(!format!("{err:?}").contains("PRIVATE KEY"));
    assert_no_key_left(&cache);
}

#[test]
fn ssh_without_credentials_fails_without_a_prompt_and_writes_no_ssh_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (_work, bare) = repos(tmp.path());
    let sshd = Sshd::start(&tmp.path().join("sshd"));
    let cache = tmp.path().join("cache");
    let url = sshd.url(&bare);
    // No credentials: the plain BatchMode ssh of a public repository, which
    // knows neither this host's key nor a key the server accepts.
    let err = sync(&Source::new(url.clone()), &cache, &limits()).unwrap_err();
    assert!(err.to_string().contains(&url), "{err}");
    assert!(
        !matches!(err, SyncError::TimedOut { .. }),
        "wrong error: {err:?}"
    );
    assert!(!cache.join("ssh").exists());
}

#[test]
fn ssh_key_that_ssh_cannot_load_says_so_without_quoting_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (_work, bare) = repos(tmp.path());
    let sshd = Sshd::start(&tmp.path().join("sshd"));
    let cache = tmp.path().join("cache");
    let garbled = "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5secretbits\n-----END OPENSSH PRIVATE KEY-----\n";
    let src = with_key(sshd.url(&bare), garbled, &sshd.known_hosts_line());

    let err = sync(&src, &cache, &limits()).unwrap_err();
    assert!(
        matches!(err, SyncError::InvalidUrl { .. }),
        "wrong error: {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("its ssh key cannot be used"), "{text}");
    assert!(
        !text.contains("secretbits") && !text.contains("ssh/key"),
        "{text}"
    );
    assert_no_key_left(&cache);
}
