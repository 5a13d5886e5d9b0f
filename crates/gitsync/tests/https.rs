//! `sync` over https against `git http-backend` behind a loopback rustls
//! server whose certificate authority is handed to the source.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::https::HttpsGit;
use common::{catalog_repo, commit_all, free_port, git, write};
use corral_gitsync::{Credentials, Limits, Source, SyncError, sync};

fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    }
}

fn trusted(server: &HttpsGit, name: &str) -> Source {
    Source {
        extra_ca_pem: Some(server.ca_pem.clone()),
        ..Source::new(server.url(name))
    }
}

#[test]
fn https_clone_and_fetch_through_rustls_trusting_the_given_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::https::base(tmp.path());
    let upstream = catalog_repo(&base.join("catalog"));
    let server = HttpsGit::start(&base);
    let cache = tmp.path().join("cache");
    let src = trusted(&server, "catalog");

    let one = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(one.commit, git(&upstream, &["rev-parse", "HEAD"]));
    assert_eq!(one.branch, "main");
    assert!(one.dir.join("templates/web/0/docker-compose.yml").is_file());

    write(
        &upstream,
        "templates/web/1/docker-compose.yml",
        "services: {}\n",
    );
    let second = commit_all(&upstream, "v1");
    let two = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(two.commit, second);
    assert!(two.dir.join("templates/web/1/docker-compose.yml").is_file());
}

#[test]
fn https_with_an_unknown_certificate_authority_says_the_certificate_is_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::https::base(tmp.path());
    catalog_repo(&base.join("catalog"));
    let server = HttpsGit::start(&base);
    let url = server.url("catalog");
    let err = sync(
        &Source::new(url.clone()),
        &tmp.path().join("cache"),
        &limits(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(
        matches!(err, SyncError::CertificateNotTrusted { .. }),
        "wrong error: {err:?}"
    );
    assert!(text.contains("not trusted (UnknownIssuer)"), "{text}");
}

#[test]
fn https_401_reads_as_authentication_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::https::base(tmp.path());
    catalog_repo(&base.join("private").join("catalog"));
    let server = HttpsGit::start(&base);
    let err = sync(
        &trusted(&server, "private/catalog"),
        &tmp.path().join("cache"),
        &limits(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SyncError::AuthenticationNeeded { .. }),
        "wrong error: {err:?}"
    );
    assert!(err.to_string().contains("needs authentication"), "{err}");
}

#[test]
fn https_missing_repository_is_not_a_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::https::base(tmp.path());
    std::fs::create_dir_all(&base).unwrap();
    let server = HttpsGit::start(&base);
    let err = sync(
        &trusted(&server, "nope"),
        &tmp.path().join("cache"),
        &limits(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SyncError::NotARepository { .. }),
        "wrong error: {err:?}"
    );
}

#[test]
fn https_to_a_closed_port_is_unreachable_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("https://127.0.0.1:{}/catalog", free_port());
    let started = Instant::now();
    let err = sync(&Source::new(url.clone()), tmp.path(), &limits()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, SyncError::Unreachable { .. }),
        "wrong error: {err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
}

fn with_password(server: &HttpsGit, name: &str, username: &str, password: &str) -> Source {
    Source {
        credentials: Some(Credentials::Password {
            username: username.into(),
            password: password.into(),
        }),
        ..trusted(server, name)
    }
}

#[test]
fn https_basic_auth_with_the_right_password_clones_and_fetches() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::https::base(tmp.path());
    let upstream = catalog_repo(&base.join("catalog"));
    let server = HttpsGit::start_with_basic_auth(&base, "bob", "t0ken-s3cret");
    let cache = tmp.path().join("cache");
    let src = with_password(&server, "catalog", "bob", "t0ken-s3cret");

    let one = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(one.commit, git(&upstream, &["rev-parse", "HEAD"]));
    assert!(one.dir.join("templates/web/0/docker-compose.yml").is_file());

    write(
        &upstream,
        "templates/web/1/docker-compose.yml",
        "services: {}\n",
    );
    let second = commit_all(&upstream, "v1");
    let two = sync(&src, &cache, &limits()).unwrap();
    assert_eq!(two.commit, second);
    assert!(two.dir.join("templates/web/1/docker-compose.yml").is_file());
    // Nothing about the account is kept in the cache.
    let config = std::fs::read_to_string(cache.join("repo/config")).unwrap();
    assert!(!config.contains("t0ken"), "{config}");
}

#[test]
fn https_basic_auth_with_a_wrong_password_or_none_is_authentication_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::https::base(tmp.path());
    catalog_repo(&base.join("catalog"));
    let server = HttpsGit::start_with_basic_auth(&base, "bob", "t0ken-s3cret");
    for src in [
        with_password(&server, "catalog", "bob", "wr0ng-s3cret"),
        with_password(&server, "catalog", "alice", "t0ken-s3cret"),
        trusted(&server, "catalog"),
    ] {
        let started = Instant::now();
        let err = sync(&src, &tmp.path().join("cache"), &limits()).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(err, SyncError::AuthenticationNeeded { .. }),
            "{:?}: wrong error: {err:?}",
            src.credentials
        );
        let text = err.to_string();
        assert!(text.contains(&server.url("catalog")), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
    }
}

#[test]
fn a_password_over_plain_http_is_refused_before_any_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/catalog", free_port());
    let src = Source {
        credentials: Some(Credentials::Password {
            username: "bob".into(),
            password: "s3cret".into(),
        }),
        ..Source::new(url.clone())
    };
    let err = sync(&src, tmp.path(), &limits()).unwrap_err();
    assert!(matches!(err, SyncError::InvalidUrl { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("plain http"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}
