//! Corral test bed: the project's private Docker Engine and its locally
//! built images, for integration tests and `cargo xtask`; and a private
//! OpenLDAP slapd for directory tests ([`slapd`]).
//!
//! Everything here shells out (`dockerd`, `docker`, `ip`, `tar`, `cargo`)
//! and is synchronous; call it before starting an async runtime or from
//! `spawn_blocking`. Set-up steps are idempotent and serialised across
//! processes with file locks under the engine root, so parallel test
//! binaries can all call [`ensure_engine`].

mod cmd;
mod engine;
mod images;
mod paths;
mod setup;
pub mod slapd;
mod testbed;

pub use engine::{
    PrivateEngine, TEST_DOCKER_HOST_ENV, ensure_engine, log_tail, ping, stop_engine, test_engine,
};
pub use images::{
    BUSYBOX_IMAGE, INPUT_HASH_LABEL, WHOAMI_IMAGE, ensure_busybox_image, ensure_images,
    ensure_whoami_image,
};
pub use paths::{TESTBED_DIR_ENV, choose_root, engine_root, fnv1a, workspace_root};
pub use setup::{PACKAGES, install_prerequisites, is_root, missing_prerequisites};
pub use slapd::{Slapd, TlsFiles};
pub use testbed::{
    Host, HostStatus, MAX_HOSTS, Testbed, TestbedError, TestbedOptions, default_testbed_root,
    testbed_root,
};
