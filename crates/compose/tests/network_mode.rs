//! `network_mode` / `net`: host and bridge choose those modes, the rest
//! keeps the environment's managed network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use corral_types::NetworkMode;

fn mode_of(yaml: &str) -> NetworkMode {
    load_ok(&[src("docker-compose.yml", yaml)]).services["web"].network_mode
}

#[test]
fn host_and_bridge_network_modes_are_kept_and_default_is_managed() {
    let v2 = |mode: &str| format!("services:\n  web:\n    image: a\n    network_mode: {mode}\n");
    assert_eq!(mode_of(&v2("host")), NetworkMode::Host);
    assert_eq!(mode_of(&v2("bridge")), NetworkMode::Bridge);
    assert_eq!(mode_of(&v2("default")), NetworkMode::Managed);
    assert_eq!(
        mode_of("web:\n  image: a\n  net: host\n"),
        NetworkMode::Host
    );
    assert_eq!(
        mode_of("services:\n  web:\n    image: a\n"),
        NetworkMode::Managed
    );
    assert!(
        load_err(&v2("overlay")).starts_with("docker-compose.yml:4: services.web.network_mode:")
    );
}
