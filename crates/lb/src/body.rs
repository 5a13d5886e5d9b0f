//! Moving a body from one connection to the other as it comes, never
//! whole: by Content-Length, chunked (decoded and written again, so a bad
//! chunk size is caught here and not passed on), or until the sender closes.

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::h1::BodyLen;

/// Longest chunk-size line (extensions included) and trailer section.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;
/// Room kept free in a read buffer before a read.
const READ_CHUNK: usize = 16 * 1024;

/// A chunked body that is not well formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadChunk(pub &'static str);

/// How a chunked body is written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recode {
    /// As chunks again (HTTP/1.1 on the other side).
    Chunked,
    /// As the bare data (an HTTP/1.0 client, the connection closed after).
    Decoded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    LineStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

/// The decoder of a chunked body, fed what arrives.
#[derive(Debug, Clone)]
pub(crate) struct Dechunk {
    st: St,
    size: u64,
    digits: u8,
    line: usize,
    trailers: usize,
    recode: Recode,
}

impl Dechunk {
    pub fn new(recode: Recode) -> Self {
        Dechunk {
            st: St::Size,
            size: 0,
            digits: 0,
            line: 0,
            trailers: 0,
            recode,
        }
    }

    /// Decodes from `src`, appending the data (re-chunked or bare) to
    /// `out`. Returns the bytes used and whether the body ended; trailers
    /// are read and dropped.
    pub fn feed(&mut self, src: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), BadChunk> {
        let chunked = self.recode == Recode::Chunked;
        let mut i = 0;
        while i < src.len() {
            if self.st == St::Data {
                let n = usize::try_from(self.size)
                    .unwrap_or(usize::MAX)
                    .min(src.len() - i);
                out.extend_from_slice(&src[i..i + n]);
                self.size -= n as u64;
                i += n;
                if self.size == 0 {
                    self.st = St::DataCr;
                }
                continue;
            }
            let b = src[i];
            i += 1;
            self.st = match (self.st, b) {
                (St::Size, _) if b.is_ascii_hexdigit() => {
                    if self.digits == 16 {
                        return Err(BadChunk("chunk size too large"));
                    }
                    self.digits += 1;
                    let d = (b as char).to_digit(16).unwrap_or(0);
                    self.size = (self.size << 4) | u64::from(d);
                    St::Size
                }
                (St::Size, b';' | b' ' | b'\t') if self.digits > 0 => St::Ext,
                (St::Size, b'\r') if self.digits > 0 => St::SizeLf,
                (St::Size, _) => return Err(BadChunk("bad chunk size")),
                (St::Ext, b'\r') => St::SizeLf,
                (St::Ext, _) => {
                    self.line += 1;
                    if self.line > MAX_CHUNK_LINE || (b.is_ascii_control() && b != b'\t') {
                        return Err(BadChunk("bad chunk extension"));
                    }
                    St::Ext
                }
                (St::SizeLf, b'\n') if self.size == 0 => St::LineStart,
                (St::SizeLf, b'\n') => {
                    if chunked {
                        let _ = io::Write::write_fmt(out, format_args!("{:x}\r\n", self.size));
                    }
                    St::Data
                }
                (St::DataCr, b'\r') => St::DataLf,
                (St::DataLf, b'\n') => {
                    if chunked {
                        out.extend_from_slice(b"\r\n");
                    }
                    self.digits = 0;
                    self.line = 0;
                    St::Size
                }
                (St::LineStart, b'\r') => St::EndLf,
                (St::Trailer, b'\r') => St::TrailerLf,
                (St::LineStart | St::Trailer, _) => {
                    self.trailers += 1;
                    if self.trailers > MAX_TRAILERS || (b.is_ascii_control() && b != b'\t') {
                        return Err(BadChunk("bad trailer"));
                    }
                    St::Trailer
                }
                (St::TrailerLf, b'\n') => St::LineStart,
                (St::EndLf, b'\n') => {
                    if chunked {
                        out.extend_from_slice(b"0\r\n\r\n");
                    }
                    self.st = St::Done;
                    return Ok((i, true));
                }
                (St::Done, _) => return Ok((i - 1, true)),
                _ => return Err(BadChunk("bad line end in a chunked body")),
            };
        }
        Ok((i, self.st == St::Done))
    }
}

/// Where a body being moved stands.
#[derive(Debug, Clone)]
pub(crate) enum BodyState {
    /// Bytes still to come.
    Length(u64),
    Chunked(Dechunk),
    UntilClose,
    Done,
}

impl BodyState {
    pub fn new(len: BodyLen, recode: Recode) -> Self {
        match len {
            BodyLen::None | BodyLen::Length(0) => BodyState::Done,
            BodyLen::Length(n) => BodyState::Length(n),
            BodyLen::Chunked => BodyState::Chunked(Dechunk::new(recode)),
            BodyLen::UntilClose => BodyState::UntilClose,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, BodyState::Done)
    }

    /// Moves what `src` holds of the body to `out` (bytes past its end
    /// stay, the next message's); true once the body ended.
    pub fn take(&mut self, src: &mut BytesMut, out: &mut Vec<u8>) -> Result<bool, BadChunk> {
        match self {
            BodyState::Done => return Ok(true),
            BodyState::Length(left) => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(src.len());
                out.extend_from_slice(&src[..n]);
                src.advance(n);
                *left -= n as u64;
                if *left == 0 {
                    *self = BodyState::Done;
                }
            }
            BodyState::Chunked(d) => {
                let (used, done) = d.feed(src, out)?;
                src.advance(used);
                if done {
                    *self = BodyState::Done;
                }
            }
            BodyState::UntilClose => {
                out.extend_from_slice(src);
                src.clear();
            }
        }
        Ok(self.is_done())
    }
}

/// Why moving a body stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PumpError {
    /// The sender's bytes were not a well-formed body.
    #[error("bad chunked body: {0}")]
    Framing(BadChunk),
    /// The sender closed before the body's end.
    #[error("the body ended early")]
    Truncated,
    /// Reading failed (or was idle for the timeout).
    #[error("read: {0}")]
    Read(io::Error),
    #[error("write: {0}")]
    Write(io::Error),
}

/// Reads more into `buf`; 0 at end of stream. With `idle`, a read that
/// waits that long fails with `TimedOut`.
pub(crate) async fn read_more<R: AsyncRead + Unpin>(
    src: &mut R,
    buf: &mut BytesMut,
    idle: Option<Duration>,
) -> io::Result<usize> {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    match idle {
        None => src.read_buf(buf).await,
        Some(idle) => match tokio::time::timeout(idle, src.read_buf(buf)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing received for {idle:?}"),
            )),
        },
    }
}

/// Writes `out` (what is already there first, a head for instance),
/// then moves the body from `src` to `dst` until its end; `out` is left
/// empty.
pub(crate) async fn pump<R, W>(
    state: &mut BodyState,
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    out: &mut Vec<u8>,
    idle: Option<Duration>,
) -> Result<(), PumpError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let done = state.take(buf, out).map_err(PumpError::Framing)?;
        if !out.is_empty() {
            dst.write_all(out).await.map_err(PumpError::Write)?;
            dst.flush().await.map_err(PumpError::Write)?;
            out.clear();
        }
        if done {
            return Ok(());
        }
        match read_more(src, buf, idle).await {
            Ok(0) if matches!(state, BodyState::UntilClose) => {
                *state = BodyState::Done;
                return Ok(());
            }
            Ok(0) => return Err(PumpError::Truncated),
            Ok(_) => {}
            Err(e) => return Err(PumpError::Read(e)),
        }
    }
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
