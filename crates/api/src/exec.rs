//! The exec protocol (`corral exec`, and later the UI's shell): a
//! WebSocket from the client to the server's
//! `GET /v1/environments/{env}/instances/{name}/exec`, and the same
//! protocol from the server on to the agent of the instance's node.
//!
//! The request's query says what to run ([`ExecOptions`]): `command`
//! (repeated, in order), `container` (a sidekick's name; the primary when
//! absent), `tty` and `stdin`; towards an agent also `instance_uid`, the
//! instance the container must belong to. Then, on the socket:
//!
//! - a binary message is one stream's bytes, after a first byte naming the
//!   stream: [`STDIN`] from the client, [`STDOUT`] and [`STDERR`] to it
//!   (with a TTY everything is [`STDOUT`]);
//! - a text message is an [`ExecControl`] as JSON: `resize` and
//!   `close_stdin` from the client; `exit` (the last message before the
//!   close) and `error` to it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};

/// The first byte of a binary message: the command's stdin.
pub const STDIN: u8 = 0;
/// The first byte of a binary message: the command's stdout (or terminal).
pub const STDOUT: u8 = 1;
/// The first byte of a binary message: the command's stderr.
pub const STDERR: u8 = 2;

/// The subprotocol of exec sockets; a client that offers subprotocols
/// must offer this one.
pub const PROTOCOL: &str = "corral.exec.v1";
/// A browser, which cannot send `Authorization` on a WebSocket, offers
/// its token as the subprotocol `corral.bearer.<token>` beside
/// [`PROTOCOL`]; the server never selects it.
pub const BEARER_PROTOCOL_PREFIX: &str = "corral.bearer.";

/// Bytes of one message at most, either way.
pub const MAX_MESSAGE: usize = 1 << 20;

/// A control message (a text message of the socket, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecControl {
    /// The client's terminal has this size (with a TTY).
    Resize { cols: u16, rows: u16 },
    /// The client has no more input: the command's stdin is closed.
    CloseStdin,
    /// The command ended with this code; `None` if the engine could not
    /// tell. The last message before the close.
    Exit { code: Option<i64> },
    /// The session failed (the engine, the agent or the server); the close
    /// follows.
    Error { message: String },
}

impl ExecControl {
    pub fn to_json(&self) -> String {
        // Serializing a plain enum of integers and strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What to run, and how it is attached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// The command and its arguments; at least one.
    pub command: Vec<String>,
    /// A sidekick of the instance; empty for the primary container.
    pub container: String,
    /// A pseudo-terminal (stdout and stderr as one stream).
    pub tty: bool,
    /// The client's stdin goes to the command.
    pub stdin: bool,
    /// Towards an agent: the uid of the instance the container must belong
    /// to; empty towards the server.
    pub instance_uid: String,
}

impl ExecOptions {
    /// The query string (without `?`).
    pub fn to_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for arg in &self.command {
            q.append_pair("command", arg);
        }
        if !self.container.is_empty() {
            q.append_pair("container", &self.container);
        }
        q.append_pair("tty", bool_str(self.tty));
        q.append_pair("stdin", bool_str(self.stdin));
        if !self.instance_uid.is_empty() {
            q.append_pair("instance_uid", &self.instance_uid);
        }
        q.finish()
    }

    /// Reads a query string; an error names the parameter at fault.
    pub fn from_query(query: &str) -> Result<ExecOptions, ExecQueryError> {
        let mut options = ExecOptions::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "command" => options.command.push(value.into_owned()),
                "container" => options.container = value.into_owned(),
                "tty" => options.tty = parse_bool("tty", &value)?,
                "stdin" => options.stdin = parse_bool("stdin", &value)?,
                "instance_uid" => options.instance_uid = value.into_owned(),
                other => {
                    return Err(ExecQueryError {
                        field: other.to_string(),
                        message: "is not a parameter of exec (command, container, tty, stdin)"
                            .into(),
                    });
                }
            }
        }
        if options.command.first().is_none_or(|c| c.is_empty()) {
            return Err(ExecQueryError {
                field: "command".into(),
                message: "is required: the program to run, then its arguments".into(),
            });
        }
        Ok(options)
    }

    /// The command line as a person would type it, for the audit log.
    pub fn command_line(&self) -> String {
        self.command
            .iter()
            .map(|arg| shell_quoted(arg))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A bad exec query, naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ExecQueryError {
    pub field: String,
    pub message: String,
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn parse_bool(field: &str, value: &str) -> Result<bool, ExecQueryError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        other => Err(ExecQueryError {
            field: field.to_string(),
            message: format!("{other:?} is not true or false"),
        }),
    }
}

/// `arg` as a POSIX shell would need it to read it back as one word.
fn shell_quoted(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A byte stream a WebSocket can run over: TCP, or TLS over TCP.
pub trait ExecIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ExecIo for T {}

/// An open exec socket (client side).
pub type ExecSocket = WebSocketStream<Box<dyn ExecIo>>;

/// Why an exec socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ExecConnectError {
    /// The server answered the upgrade with this status and message.
    #[error("{message}")]
    Status { status: u16, message: String },
    #[error("{0}")]
    Transport(String),
}

/// Opens the exec socket at `url` (`https://` or `http://`, with its query)
/// with `token` as the bearer, over TLS with `tls` for `https://`.
pub async fn connect(
    url: &str,
    token: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<ExecSocket, ExecConnectError> {
    let transport = |m: String| ExecConnectError::Transport(format!("{url}: {m}"));
    let (secure, rest) = match url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => return Err(transport("not an http:// or https:// URL".into())),
    };
    let ws_url = format!("{}://{rest}", if secure { "wss" } else { "ws" });
    let uri: Uri = ws_url.parse().map_err(|e| transport(format!("{e}")))?;
    let host = uri
        .host()
        .ok_or_else(|| transport("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let mut request = ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| transport(e.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| transport("the token is not a valid header value".into()))?;
    request.headers_mut().insert("authorization", bearer);
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| transport("connect timed out after 5 s".into()))?
    .map_err(|e| transport(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn ExecIo> = if secure {
        let config = tls.ok_or_else(|| transport("no TLS configuration for https".into()))?;
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|e| transport(e.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| transport(e.to_string()))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    match tokio_tungstenite::client_async_with_config(request, io, Some(config)).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            Err(ExecConnectError::Status {
                status,
                message: error_message(status, &body),
            })
        }
        Err(e) => Err(transport(e.to_string())),
    }
}

/// The `error` of a JSON error body, or the body as it is.
fn error_message(status: u16, body: &str) -> String {
    #[derive(Deserialize)]
    struct Body {
        error: String,
    }
    match serde_json::from_str::<Body>(body) {
        Ok(b) => b.error,
        Err(_) if body.trim().is_empty() => format!("the server answered {status}"),
        Err(_) => body.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn options_survive_the_query_string_in_order() {
        let options = ExecOptions {
            command: vec!["sh".into(), "-c".into(), "echo a&b=c; exit 3".into()],
            container: "log".into(),
            tty: true,
            stdin: false,
            instance_uid: "u-1".into(),
        };
        assert_eq!(ExecOptions::from_query(&options.to_query()), Ok(options));
    }

    #[test]
    fn a_query_without_command_or_with_a_bad_flag_names_the_parameter() {
        let err = ExecOptions::from_query("tty=true").unwrap_err();
        assert_eq!(err.field, "command");
        let err = ExecOptions::from_query("command=ls&tty=yes").unwrap_err();
        assert_eq!(err.field, "tty");
        let err = ExecOptions::from_query("command=ls&user=root").unwrap_err();
        assert_eq!(err.field, "user");
        let err = ExecOptions::from_query("command=").unwrap_err();
        assert_eq!(err.field, "command");
    }

    #[test]
    fn the_command_line_reads_back_as_the_same_words() {
        let options = ExecOptions {
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo 'hi' $HOME".into(),
                "".into(),
            ],
            ..ExecOptions::default()
        };
        assert_eq!(
            options.command_line(),
            r#"sh -c 'echo '\''hi'\'' $HOME' ''"#
        );
    }

    #[test]
    fn control_messages_are_tagged_json() {
        let resize = ExecControl::Resize { cols: 80, rows: 24 };
        assert_eq!(resize.to_json(), r#"{"type":"resize","cols":80,"rows":24}"#);
        let exit: ExecControl = serde_json::from_str(r#"{"type":"exit","code":3}"#).unwrap();
        assert_eq!(exit, ExecControl::Exit { code: Some(3) });
    }

    #[test]
    fn an_error_body_gives_its_message() {
        assert_eq!(error_message(403, r#"{"error":"no"}"#), "no");
        assert_eq!(error_message(502, ""), "the server answered 502");
        assert_eq!(error_message(400, "plain"), "plain");
    }
}
