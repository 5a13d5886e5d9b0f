//! The terminal of `corral exec -t`: raw mode while the session lasts, and
//! its size for the remote pseudo-terminal.

use std::os::fd::AsFd;

use rustix::termios::{OptionalActions, Termios, isatty, tcgetattr, tcgetwinsize, tcsetattr};

/// Whether stdin is a terminal.
pub(crate) fn stdin_is_terminal() -> bool {
    isatty(std::io::stdin().as_fd())
}

/// The size of the terminal on stdout (else stdin), as (columns, rows).
pub(crate) fn size() -> Option<(u16, u16)> {
    let from = |size: rustix::termios::Winsize| {
        (size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col, size.ws_row))
    };
    tcgetwinsize(std::io::stdout().as_fd())
        .ok()
        .and_then(from)
        .or_else(|| tcgetwinsize(std::io::stdin().as_fd()).ok().and_then(from))
}

/// Stdin in raw mode (no echo, no line editing, no signals from keys: the
/// remote terminal does those) until dropped, when the settings it found
/// are put back.
pub(crate) struct RawMode {
    saved: Termios,
}

impl RawMode {
    pub(crate) fn enter() -> std::io::Result<RawMode> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, &self.saved);
    }
}
