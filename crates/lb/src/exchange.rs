//! One request and its response on one backend connection: send the head
//! (with what the client's buffer held of the body), stream the rest of
//! the body, read the response head (1xx skipped) and stream the response
//! to the client, then give the connection back to the pool.

use std::time::Duration;

/// How long a backend that stopped taking the request body has to show
/// the answer it sent early (a 413, say) before the request fails with 502.
const EARLY_ANSWER: Duration = Duration::from_secs(1);

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::backend::{Backend, BackendConn};
use crate::body::{self, BodyState, PumpError, Recode};
use crate::h1::{self, BodyLen, ClientFraming, HeadError};
use crate::http::{Client, Next, Plan};

/// How sending a request to one backend went.
pub(crate) enum Sent {
    /// The backend answered: its response head starts the connection's buffer.
    Answered(BackendConn),
    /// The backend could not be reached, or failed before answering a
    /// request that can be sent again: try another.
    Retry,
    /// Failed after the request could no longer be sent again.
    Failed(PumpError),
}

/// How one try on a connection failed.
enum TryError {
    /// Nothing of the request could have reached the backend's application
    /// beyond what the client's write buffer still holds.
    NotSent,
    /// Sent, but no response head came.
    NoAnswer,
    Failed(PumpError),
}

/// Sends the request (its head in `c.out`) to `backend`. A pooled
/// connection that turns out closed is replaced by a new one to the same
/// backend once.
pub(crate) async fn send<IO>(
    c: &mut Client<IO>,
    plan: &Plan,
    backend: &Backend,
    body: &mut BodyState,
    complete: bool,
    idle: Duration,
) -> Sent
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    // A request without a body and with an idempotent method can be sent
    // again after it was written; others get a connection known open.
    let resendable = plan.idempotent && plan.body.is_empty();
    let mut conn = match backend.checkout(!resendable).await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::debug!(instance = %backend.instance, error = %e, "backend unreachable, trying another");
            return Sent::Retry;
        }
    };
    loop {
        let err = match try_once(c, plan, &mut conn, body, complete, idle).await {
            Ok(()) => return Sent::Answered(conn),
            Err(TryError::Failed(e)) => return Sent::Failed(e),
            Err(e) => e,
        };
        if matches!(err, TryError::NoAnswer) && !resendable {
            let e = std::io::Error::other("the backend closed before answering");
            return Sent::Failed(PumpError::Write(e));
        }
        tracing::debug!(instance = %backend.instance, reused = conn.reused, "backend failed before answering");
        if !conn.reused {
            return Sent::Retry;
        }
        conn = match backend.connect().await {
            Ok(conn) => conn,
            Err(_) => return Sent::Retry,
        };
    }
}

async fn try_once<IO>(
    c: &mut Client<IO>,
    plan: &Plan,
    conn: &mut BackendConn,
    body: &mut BodyState,
    complete: bool,
    idle: Duration,
) -> Result<(), TryError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    // `c.out` is kept: the request may be sent again from it.
    if conn.stream.write_all(&c.out).await.is_err() {
        return Err(TryError::NotSent);
    }
    if !complete {
        c.out.clear();
        if plan.expect_continue {
            let r = c.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
            r.and(c.io.flush().await)
                .map_err(|e| TryError::Failed(PumpError::Read(e)))?;
        }
        let sent = body::pump(
            body,
            &mut c.io,
            &mut c.buf,
            &mut conn.stream,
            &mut c.out,
            Some(idle),
        )
        .await;
        if let Err(e) = sent {
            // A backend may answer before the body's end and stop reading.
            let early = matches!(e, PumpError::Write(_))
                && tokio::time::timeout(EARLY_ANSWER, read_response_head(conn))
                    .await
                    .is_ok_and(|r| r.is_ok());
            if !early {
                return Err(TryError::Failed(e));
            }
        }
    }
    read_response_head(conn).await
}

/// Reads until the connection's buffer starts with a final response head
/// (informational answers skipped; a `101` is never asked for, so an error).
async fn read_response_head(conn: &mut BackendConn) -> Result<(), TryError> {
    loop {
        if !conn.buf.is_empty() {
            let mut slots = h1::slots();
            let skip = match h1::parse_response(&conn.buf, &mut slots) {
                Ok(Some(r)) if r.code == 101 => return Err(TryError::NoAnswer),
                Ok(Some(r)) if (100..200).contains(&r.code) => r.len,
                Ok(Some(_)) => return Ok(()),
                Ok(None) => 0,
                Err(_) => return Err(TryError::NoAnswer),
            };
            if skip > 0 {
                conn.buf.advance(skip);
                continue;
            }
        }
        match body::read_more(&mut conn.stream, &mut conn.buf, None).await {
            Ok(0) | Err(_) => return Err(TryError::NoAnswer),
            Ok(_) => {}
        }
    }
}

/// What the response's head says of its body and both connections.
struct RespPlan {
    head_len: usize,
    body: BodyLen,
    recode: Recode,
    backend_reusable: bool,
    client_close: bool,
}

/// What the exchange left of the request when the response came.
#[derive(Clone, Copy)]
pub(crate) struct Sending {
    /// The request body was sent to its end (else it was answered early:
    /// both connections close after the response).
    pub request_done: bool,
    /// The balancer is shutting down: the client connection closes.
    pub closing: bool,
}

/// Writes the response head for the client into `out`.
fn response_plan(
    buf: &[u8],
    plan: &Plan,
    set_cookie: Option<&str>,
    sending: Sending,
    out: &mut Vec<u8>,
) -> Result<RespPlan, HeadError> {
    let mut slots = h1::slots();
    let resp =
        h1::parse_response(buf, &mut slots)?.ok_or(HeadError::Malformed("incomplete head"))?;
    let (body, length) = h1::response_body(resp.code, plan.head_method, resp.headers)?;
    let backend_keeps = if resp.minor == 0 {
        h1::connection_has(resp.headers, "keep-alive")
    } else {
        !h1::connection_has(resp.headers, "close")
    };
    // An HTTP/1.0 client cannot take chunks: the data, then the close.
    let decoded = body == BodyLen::Chunked && plan.http10;
    let client_close = sending.closing
        || !sending.request_done
        || !plan.keep_alive
        || body == BodyLen::UntilClose
        || decoded;
    let framing = ClientFraming {
        length,
        keep_transfer_encoding: !decoded,
        set_cookie,
        connection: match (client_close, plan.http10) {
            (true, _) => Some(true),
            (false, true) => Some(false),
            (false, false) => None,
        },
    };
    out.clear();
    h1::write_response_head(&resp, &framing, out);
    Ok(RespPlan {
        head_len: resp.len,
        body,
        recode: if decoded {
            Recode::Decoded
        } else {
            Recode::Chunked
        },
        backend_reusable: backend_keeps && body != BodyLen::UntilClose && sending.request_done,
        client_close,
    })
}

/// Sends the response whose head starts `conn`'s buffer to the client,
/// then pools the backend connection when the exchange left it clean.
pub(crate) async fn relay<IO>(
    c: &mut Client<IO>,
    plan: &Plan,
    backend: &Backend,
    mut conn: BackendConn,
    set_cookie: Option<&str>,
    sending: Sending,
) -> Next
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let rp = match response_plan(&conn.buf, plan, set_cookie, sending, &mut c.out) {
        Ok(rp) => rp,
        Err(e) => {
            tracing::debug!(instance = %backend.instance, error = ?e, "bad response head");
            let text = "the backend's answer could not be read\n";
            return c.answer(502, text, !plan.head_method, true).await;
        }
    };
    conn.buf.advance(rp.head_len);
    let mut state = BodyState::new(rp.body, rp.recode);
    let moved = body::pump(
        &mut state,
        &mut conn.stream,
        &mut conn.buf,
        &mut c.io,
        &mut c.out,
        None,
    )
    .await;
    c.out.clear();
    if let Err(e) = moved {
        tracing::debug!(instance = %backend.instance, error = %e, "response not relayed to its end");
        return Next::Close;
    }
    if rp.backend_reusable {
        backend.put_idle(conn);
    }
    if rp.client_close {
        let _ = c.io.shutdown().await;
        return Next::Close;
    }
    Next::KeepAlive
}
