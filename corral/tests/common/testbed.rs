//! The multi-host test bed for integration tests: bring one up under
//! `target/testbed/<name>` and take it down when the test ends, also when
//! it panics (unless `CORRAL_KEEP_TESTBED` is set, to look at it afterwards).

use std::path::PathBuf;
use std::time::Duration;

use corral_api::Client;
use corral_testing::{Testbed, TestbedOptions, testbed_root};
use corral_types::NodeState;

use super::wait_for;

/// Takes the test bed down when dropped.
pub struct Down(Option<PathBuf>);

impl Down {
    /// Takes it down now (and reports how that went).
    pub fn now(&mut self) -> Result<(), corral_testing::TestbedError> {
        match self.0.take() {
            Some(root) => Testbed::down(&root),
            None => Ok(()),
        }
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        if std::env::var_os("CORRAL_KEEP_TESTBED").is_some() {
            return;
        }
        if let Err(e) = self.now() {
            eprintln!("testbed down: {}", e.chain());
        }
    }
}

/// Runs blocking work (process calls) off the async workers.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// A test bed of `hosts` hosts named `name`, and the guard that takes it down.
pub async fn bring_up(name: &'static str, hosts: usize) -> (Testbed, Down) {
    let root = testbed_root(name);
    blocking(move || {
        let engine = corral_testing::test_engine().expect("private docker engine");
        corral_testing::ensure_images(&engine).expect("test images");
        // A run that was killed may have left its test bed behind.
        Testbed::down(&root).expect("remove a leftover test bed");
        let down = Down(Some(root.clone()));
        let options = TestbedOptions {
            hosts,
            corral: env!("CARGO_BIN_EXE_corral").into(),
            images_from: Some(engine),
        };
        let bed = Testbed::up(&root, &options).unwrap_or_else(|e| panic!("{}", e.chain()));
        (bed, down)
    })
    .await
}

/// The admin client of the test bed's server.
pub fn client_of(bed: &Testbed) -> Client {
    Client::new(
        bed.server_url(),
        &bed.token().unwrap(),
        &bed.ca_pem().unwrap(),
    )
    .unwrap()
}

/// Waits until node `name` of `env` is in `state`.
pub async fn wait_node_in(
    client: &Client,
    env: &str,
    name: &str,
    state: NodeState,
    timeout: Duration,
) {
    wait_for(
        &format!("node {env}/{name} {state}"),
        timeout,
        || async move {
            let nodes = client.nodes(env).await.ok()?;
            let node = nodes.items.into_iter().find(|n| n.meta.name == name)?;
            (node.status.state == state).then_some(())
        },
    )
    .await;
}
