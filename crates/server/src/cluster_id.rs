//! The cluster id: twelve random hex digits made on the server's first
//! start and kept in `<data dir>/cluster-id`. Agents receive it with every
//! join and heartbeat (`NodeAck::cluster`) and derive from it, with the
//! environment's name, everything they create on their host: the bridge
//! `cr-<tag>`, the VXLAN device `vx-<tag>` and its VNI, the chains
//! `CORRAL-<tag>`, the engine network `corral-<env>-<cluster>` and the
//! secrets directory. Two installations on one host (a leftover `corral
//! up` demo and a test bed) therefore never share one, even when both have
//! an environment `default`. Not a secret: it names things.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

/// The file in the data directory.
pub const FILE: &str = "cluster-id";

/// How many hex digits an id has.
const LEN: usize = 12;

/// A new random id.
pub fn new_id() -> String {
    crate::access::secrets::random_hex(LEN / 2)
}

/// Whether `id` is one this module makes: twelve lowercase hex digits (it
/// goes into device, chain and directory names).
fn valid(id: &str) -> bool {
    id.len() == LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads `<data_dir>/cluster-id`, creating it on first start.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            anyhow::ensure!(
                valid(id),
                "{} holds {id:?}, not a cluster id ({LEN} hex digits); it names this \
                 installation's devices on every host: restore it, or delete it to make a new one \
                 (and remove the old devices by hand)",
                path.display()
            );
            return Ok(id.to_string());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let id = new_id();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{id}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_cluster_id_is_made_once_and_kept_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert!(valid(&first), "{first}");
        assert_eq!(load_or_create(dir.path()).unwrap(), first);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_create(other.path()).unwrap(), first);
    }

    #[test]
    fn a_damaged_cluster_id_file_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "../../etc\n").unwrap();
        let err = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a cluster id"), "{err}");
    }
}
