//! What can go wrong while building, faulting or removing a test bed.

use std::path::PathBuf;

/// One failed operation of the multi-host test bed, with its context.
#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error("the multi-host test bed needs root (network namespaces, bridges, dockerd)")]
    NotRoot,
    #[error("{program} is not installed (package {package}): run `cargo xtask setup` as root")]
    MissingProgram {
        program: &'static str,
        package: &'static str,
    },
    #[error("a test bed has 1 to {max} hosts, not {hosts}")]
    InvalidHostCount { hosts: usize, max: usize },
    #[error(
        "the test bed root {} is {len} bytes long; at most {max} fit the unix sockets under it",
        root.display()
    )]
    RootTooLong {
        root: PathBuf,
        len: usize,
        max: usize,
    },
    #[error("a test bed is already up (or half up) at {}", root.display())]
    AlreadyUp { root: PathBuf },
    #[error("no test bed is up at {}", root.display())]
    NotUp { root: PathBuf },
    #[error("there is no host {host}: the test bed has hosts 1 to {hosts}")]
    NoSuchHost { host: usize, hosts: usize },
    #[error("no free 10.213.X.0/24 subnet for the test bed bridge")]
    NoFreeSubnet,
    #[error("cannot read the state file {}: {detail}", path.display())]
    BadState { path: PathBuf, detail: String },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{what} did not {event} within {seconds}s; end of {}:\n{tail}", log.display())]
    NotReady {
        what: String,
        event: &'static str,
        seconds: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("{what} (pid {pid}) does not die")]
    WontDie { what: String, pid: u32 },
    #[error("cannot {action} host h{host}")]
    Host {
        action: &'static str,
        host: usize,
        #[source]
        source: Box<TestbedError>,
    },
    #[error("cannot {action} the test bed at {}", root.display())]
    Testbed {
        action: &'static str,
        root: PathBuf,
        #[source]
        source: Box<TestbedError>,
    },
    #[error("the tear-down left things behind: {}", failures.join("; "))]
    Teardown { failures: Vec<String> },
}

impl TestbedError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        TestbedError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The message with its causes, `a: b: c`.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    pub(crate) fn on_host(self, action: &'static str, host: usize) -> Self {
        TestbedError::Host {
            action,
            host,
            source: Box::new(self),
        }
    }
}

pub type Result<T, E = TestbedError> = std::result::Result<T, E>;
