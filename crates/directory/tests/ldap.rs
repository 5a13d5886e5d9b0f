//! `LdapDirectory` against a real OpenLDAP slapd (a private one per test,
//! from `corral_testing::slapd`). A slapd that cannot start fails the test
//! with the reason: nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use corral_directory::{Directory, DirectoryError, DirectoryUser, LdapConfig, LdapDirectory};
use corral_testing::Slapd;
use corral_testing::slapd::{GROUPS_BASE, PEOPLE_BASE, SERVICE_DN, SERVICE_PASSWORD, seed_ldif};

fn start_slapd() -> Slapd {
    let ldif = seed_ldif().expect("seed LDIF (is slapd installed? `cargo xtask setup`)");
    Slapd::start(&ldif).expect("private slapd")
}

/// The OpenLDAP way: groups by searching `groupOfNames`, disabled by
/// ppolicy's lock attribute.
fn openldap_config(slapd: &Slapd) -> LdapConfig {
    LdapConfig {
        url: slapd.url(),
        bind_dn: SERVICE_DN.to_owned(),
        bind_password: SERVICE_PASSWORD.to_owned(),
        user_base: PEOPLE_BASE.to_owned(),
        group_base: GROUPS_BASE.to_owned(),
        disabled_filter: Some("(pwdAccountLockedTime=*)".to_owned()),
        timeout_ms: 3000,
        ..LdapConfig::default()
    }
}

fn directory(config: LdapConfig) -> LdapDirectory {
    LdapDirectory::new(config).expect("valid config")
}

#[tokio::test]
async fn right_password_returns_the_user_with_groups() {
    let slapd = start_slapd();
    let dir = directory(openldap_config(&slapd));
    let user = dir.authenticate("alice", "alice-pw").await.unwrap();
    assert_eq!(
        user,
        DirectoryUser {
            dn: format!("uid=alice,{PEOPLE_BASE}"),
            username: "alice".to_owned(),
            display_name: "Alice Liddell".to_owned(),
            groups: vec!["devs".to_owned(), "release, managers".to_owned()],
        }
    );
    let bob = dir.authenticate("bob", "bob-pw").await.unwrap();
    assert_eq!(bob.groups, ["testers"]);
}

#[tokio::test]
async fn wrong_password_is_wrong_password() {
    let slapd = start_slapd();
    let dir = directory(openldap_config(&slapd));
    let err = dir.authenticate("alice", "bob-pw").await.unwrap_err();
    assert!(
        matches!(&err, DirectoryError::WrongPassword { username } if username == "alice"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("bob-pw"), "{err}");
}

#[tokio::test]
async fn unknown_user_is_user_not_found() {
    let slapd = start_slapd();
    let dir = directory(openldap_config(&slapd));
    let err = dir.authenticate("mallory", "whatever").await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::UserNotFound { .. }),
        "{err:?}"
    );
    let err = dir.lookup("mallory").await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::UserNotFound { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn locked_user_is_disabled_even_with_the_right_password() {
    let slapd = start_slapd();
    let dir = directory(openldap_config(&slapd));
    let err = dir.authenticate("carol", "carol-pw").await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::UserDisabled { .. }),
        "{err:?}"
    );
    let err = dir.lookup("carol").await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::UserDisabled { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn empty_password_is_refused_before_any_bind() {
    // An unreachable server proves no connection (so no bind) is attempted:
    // the answer is WrongPassword, not Unreachable.
    let config = LdapConfig {
        url: format!("ldap://127.0.0.1:{}/", closed_port()),
        ..openldap_config_without_server()
    };
    let err = directory(config)
        .authenticate("alice", "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::WrongPassword { .. }),
        "{err:?}"
    );
    // And against the real server, an existing user is still refused.
    let slapd = start_slapd();
    let err = directory(openldap_config(&slapd))
        .authenticate("alice", "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::WrongPassword { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn filter_characters_in_the_login_cannot_match_other_users() {
    let slapd = start_slapd();
    let dir = directory(openldap_config(&slapd));
    for login in ["*", "a*", "*)(uid=*", "alice)(|(uid=*", "\\2a"] {
        let err = dir.authenticate(login, "alice-pw").await.unwrap_err();
        assert!(
            matches!(err, DirectoryError::UserNotFound { .. }),
            "{login}: {err:?}"
        );
    }
    let err = dir.lookup("*").await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::UserNotFound { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_filter_matching_two_entries_is_ambiguous() {
    let slapd = start_slapd();
    let config = LdapConfig {
        user_filter: "(|(uid={0})(uid=bob))".to_owned(),
        ..openldap_config(&slapd)
    };
    let err = directory(config)
        .authenticate("alice", "alice-pw")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::Ambiguous { count: 2, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn closed_port_is_unreachable_quickly() {
    let config = LdapConfig {
        url: format!("ldap://127.0.0.1:{}/", closed_port()),
        ..openldap_config_without_server()
    };
    let started = Instant::now();
    let err = directory(config)
        .authenticate("alice", "alice-pw")
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Unreachable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn server_that_never_answers_is_unreachable_within_the_timeout() {
    // Accepts connections (the kernel does, from the backlog) but never reads.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = LdapConfig {
        url: format!("ldap://{}/", silent.local_addr().unwrap()),
        timeout_ms: 300,
        ..openldap_config_without_server()
    };
    let started = Instant::now();
    let err = directory(config).lookup("alice").await.unwrap_err();
    assert!(
        matches!(&err, DirectoryError::Unreachable { message, .. } if message.contains("300 ms")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn start_tls_refused_by_the_server_is_unreachable() {
    let slapd = start_slapd();
    let config = LdapConfig {
        start_tls: true,
        ..openldap_config(&slapd)
    };
    let err = directory(config)
        .authenticate("alice", "alice-pw")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DirectoryError::Unreachable { message, .. } if message.contains("StartTLS")),
        "{err:?}"
    );
}

#[tokio::test]
async fn wrong_service_password_is_service_bind() {
    let slapd = start_slapd();
    let config = LdapConfig {
        bind_password: "not-the-service-pw".to_owned(),
        ..openldap_config(&slapd)
    };
    let err = directory(config)
        .authenticate("alice", "alice-pw")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DirectoryError::ServiceBind { bind_dn, .. } if bind_dn == SERVICE_DN),
        "{err:?}"
    );
    assert!(!err.to_string().contains("not-the-service-pw"), "{err}");
}

#[tokio::test]
async fn missing_user_base_names_the_setting() {
    let slapd = start_slapd();
    let config = LdapConfig {
        user_base: "ou=nobody,dc=corral,dc=test".to_owned(),
        ..openldap_config(&slapd)
    };
    let err = directory(config).lookup("alice").await.unwrap_err();
    assert!(
        matches!(
            err,
            DirectoryError::Config {
                field: "user_base",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn lookup_returns_the_user_without_a_password() {
    let slapd = start_slapd();
    let user = directory(openldap_config(&slapd))
        .lookup("bob")
        .await
        .unwrap();
    assert_eq!(user.dn, format!("uid=bob,{PEOPLE_BASE}"));
    assert_eq!(user.display_name, "Bob Builder");
    assert_eq!(user.groups, ["testers"]);
}

#[tokio::test]
async fn active_directory_style_groups_come_from_member_of() {
    // slapd's dynlist overlay computes memberOf from the groupOfNames groups,
    // as AD stores it; no group search (empty group_base).
    let slapd = start_slapd();
    let config = LdapConfig {
        user_filter: "(&(objectClass=inetOrgPerson)(uid={0}))".to_owned(),
        member_of_attribute: Some("memberOf".to_owned()),
        group_base: String::new(),
        // Matched on the user entry itself, as AD's userAccountControl bit.
        disabled_filter: Some("(description=disabled)".to_owned()),
        ..openldap_config(&slapd)
    };
    let dir = directory(config);
    let alice = dir.authenticate("alice", "alice-pw").await.unwrap();
    assert_eq!(alice.groups, ["devs", "release, managers"]);
    let bob = dir.lookup("bob").await.unwrap();
    assert_eq!(bob.groups, ["testers"]);
    let err = dir.authenticate("carol", "carol-pw").await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::UserDisabled { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn without_a_disabled_filter_a_locked_user_still_cannot_log_in() {
    // ppolicy refuses the bind itself; the directory then says wrong password.
    let slapd = start_slapd();
    let config = LdapConfig {
        disabled_filter: None,
        ..openldap_config(&slapd)
    };
    let err = directory(config)
        .authenticate("carol", "carol-pw")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::WrongPassword { .. }),
        "{err:?}"
    );
}

/// A config for tests that never reach slapd.
fn openldap_config_without_server() -> LdapConfig {
    LdapConfig {
        url: "ldap://127.0.0.1:1/".to_owned(),
        bind_dn: SERVICE_DN.to_owned(),
        bind_password: SERVICE_PASSWORD.to_owned(),
        user_base: PEOPLE_BASE.to_owned(),
        timeout_ms: 3000,
        ..LdapConfig::default()
    }
}

/// A port nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
