//! The state file: what `up` built, for the `down`, `status` and faults
//! that run in other processes. One `key=value` per line.
//!
//! It is written before anything is created, so that `down` after a
//! half-failed `up` knows the subnet and the host count; the server URL is
//! added once the server answers.

use std::path::{Path, PathBuf};

use super::error::{Result, TestbedError};
use super::names::Subnet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub hosts: usize,
    pub subnet: Subnet,
    /// The `corral` binary the server and the agents run.
    pub corral: PathBuf,
    /// `http://10.213.X.1:PORT`, empty until the server answered.
    pub server_url: String,
}

impl State {
    pub fn format(&self) -> String {
        format!(
            "# corral test bed (corral-testing); `cargo xtask testbed down` removes it\n\
             hosts={}\nsubnet={}\ncorral={}\nserver_url={}\n",
            self.hosts,
            self.subnet,
            self.corral.display(),
            self.server_url
        )
    }

    pub fn parse(text: &str) -> std::result::Result<State, String> {
        let mut hosts = None;
        let mut subnet = None;
        let mut corral = None;
        let mut server_url = String::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: no `=` in `{line}`", number + 1))?;
            match key {
                "hosts" => {
                    hosts = Some(value.parse::<usize>().map_err(|_| {
                        format!("line {}: hosts `{value}` is not a number", number + 1)
                    })?)
                }
                "subnet" => {
                    subnet = Some(
                        value
                            .parse::<Subnet>()
                            .map_err(|e| format!("line {}: {e}", number + 1))?,
                    )
                }
                "corral" => corral = Some(PathBuf::from(value)),
                "server_url" => server_url = value.to_string(),
                // Keys of a later version are ignored.
                _ => {}
            }
        }
        Ok(State {
            hosts: hosts.ok_or("no `hosts`")?,
            subnet: subnet.ok_or("no `subnet`")?,
            corral: corral.ok_or("no `corral`")?,
            server_url,
        })
    }

    /// The state at `path`; `None` if there is no file.
    pub fn read(path: &Path) -> Result<Option<State>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TestbedError::io("read", path, e)),
        };
        State::parse(&text)
            .map(Some)
            .map_err(|detail| TestbedError::BadState {
                path: path.to_path_buf(),
                detail,
            })
    }

    /// Writes the file whole (a temporary file renamed over it).
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.format()).map_err(|e| TestbedError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| TestbedError::io("replace", path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        State {
            hosts: 3,
            subnet: Subnet(45),
            corral: PathBuf::from("/work/main/target/debug/corral"),
            server_url: "http://10.213.45.1:41234".into(),
        }
    }

    #[test]
    fn state_survives_a_round_trip() {
        let state = sample();
        assert_eq!(State::parse(&state.format()), Ok(state));
    }

    #[test]
    fn a_half_written_state_has_no_server_yet() {
        let mut state = sample();
        state.server_url.clear();
        assert_eq!(State::parse(&state.format()), Ok(state));
    }

    #[test]
    fn bad_lines_are_named() {
        let err = State::parse("hosts=x\n").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        let err = State::parse("hosts=2\n").unwrap_err();
        assert!(err.contains("subnet"), "{err}");
    }

    #[test]
    fn read_of_a_missing_file_is_none_and_write_then_read_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        assert_eq!(State::read(&path).unwrap(), None);
        sample().write(&path).unwrap();
        assert_eq!(State::read(&path).unwrap(), Some(sample()));
    }
}
