//! `LdapDirectory` over TLS (StartTLS and ldaps) against a real slapd with
//! a certificate from a test CA.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use corral_directory::{Directory, DirectoryError, LdapConfig, LdapDirectory};
use corral_testing::slapd::{GROUPS_BASE, PEOPLE_BASE, SERVICE_DN, SERVICE_PASSWORD, seed_ldif};
use corral_testing::{Slapd, TlsFiles};

/// A CA (PEM) and a certificate for 127.0.0.1 signed by it.
fn test_ca() -> (String, TlsFiles) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let files = TlsFiles {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    };
    (ca.pem(), files)
}

fn config(url: String, ca_pem: String) -> LdapConfig {
    LdapConfig {
        url,
        bind_dn: SERVICE_DN.to_owned(),
        bind_password: SERVICE_PASSWORD.to_owned(),
        user_base: PEOPLE_BASE.to_owned(),
        group_base: GROUPS_BASE.to_owned(),
        ca_pem: Some(ca_pem),
        timeout_ms: 3000,
        ..LdapConfig::default()
    }
}

fn start(tls: &TlsFiles) -> Slapd {
    Slapd::start_tls(&seed_ldif().unwrap(), tls).expect("private slapd with TLS")
}

#[tokio::test]
async fn start_tls_trusting_the_configured_ca_logs_in() {
    let (ca, tls) = test_ca();
    let slapd = start(&tls);
    let config = LdapConfig {
        start_tls: true,
        ..config(slapd.url(), ca)
    };
    let user = LdapDirectory::new(config)
        .unwrap()
        .authenticate("alice", "alice-pw")
        .await;
    assert_eq!(
        user.unwrap().groups,
        ["devs", "release, managers"],
        "{}",
        slapd.log()
    );
}

#[tokio::test]
async fn ldaps_trusting_the_configured_ca_logs_in() {
    let (ca, tls) = test_ca();
    let slapd = start(&tls);
    let config = config(slapd.ldaps_url().unwrap(), ca);
    let user = LdapDirectory::new(config).unwrap().lookup("bob").await;
    assert_eq!(user.unwrap().groups, ["testers"], "{}", slapd.log());
}

#[tokio::test]
async fn server_certificate_from_another_ca_is_unreachable() {
    let (_, tls) = test_ca();
    let (other_ca, _) = test_ca();
    let slapd = start(&tls);
    for config in [
        config(slapd.ldaps_url().unwrap(), other_ca.clone()),
        LdapConfig {
            start_tls: true,
            ..config(slapd.url(), other_ca.clone())
        },
    ] {
        let err = LdapDirectory::new(config)
            .unwrap()
            .authenticate("alice", "alice-pw")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DirectoryError::Unreachable { message, .. } if message.contains("certificate")),
            "{err:?}"
        );
    }
}
