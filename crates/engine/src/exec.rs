//! Interactive exec: a command started in a running container with its
//! stdin, stdout and stderr attached (and a TTY when asked), for `corral
//! exec` and the UI's shell. The health checks' run-to-the-end exec is
//! [`crate::ContainerEngine::exec`].

use std::pin::Pin;

use futures::Stream;

use crate::EngineError;

/// What to run, and how it is attached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    /// The command and its arguments; at least one element.
    pub cmd: Vec<String>,
    /// A pseudo-terminal: stdout and stderr arrive as one stream.
    pub tty: bool,
    /// Keep stdin open for [`ExecSession::input`].
    pub stdin: bool,
}

/// One piece of a running command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecChunk {
    /// Stdout, or everything the terminal printed when there is a TTY.
    Stdout(bytes::Bytes),
    Stderr(bytes::Bytes),
}

pub type ExecOutput = Pin<Box<dyn Stream<Item = Result<ExecChunk, EngineError>> + Send>>;
pub type ExecInput = Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// A started command: its output until it exits, and its stdin (shutting
/// the input down closes the command's stdin).
pub struct ExecSession {
    /// The engine's id of this exec, for resizing and the exit code.
    pub exec_id: String,
    pub output: ExecOutput,
    pub input: ExecInput,
}

impl std::fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSession")
            .field("exec_id", &self.exec_id)
            .finish_non_exhaustive()
    }
}
