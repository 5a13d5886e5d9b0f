//! What can go wrong when asking the directory, one variant per failure a
//! user or an operator must tell apart. No message ever carries a password.

/// A failed directory operation.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The user exists, but the password is wrong (or empty).
    #[error("wrong password for {username}")]
    WrongPassword { username: String },
    /// No entry matches the user filter under the user base.
    #[error("user {username} not found in the directory")]
    UserNotFound { username: String },
    /// The entry matches the disabled filter, or the server says the account
    /// is disabled, expired or locked.
    #[error("user {username} is disabled in the directory")]
    UserDisabled { username: String },
    /// The user filter matches more than one entry.
    #[error("user {username} matches {count} directory entries, expected one")]
    Ambiguous { username: String, count: usize },
    /// The server cannot be reached: connection refused, timeout, TLS or
    /// StartTLS failure.
    #[error("cannot reach the directory at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The configured service account (bind DN and password) was refused.
    #[error("the directory refused the service account {bind_dn}: {message}")]
    ServiceBind { bind_dn: String, message: String },
    /// A configuration field is invalid.
    #[error("invalid directory setting {field}: {message}")]
    Config {
        field: &'static str,
        message: String,
    },
    /// The server answered something unexpected.
    #[error("directory protocol error: {message}")]
    Protocol { message: String },
}

impl DirectoryError {
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Self {
        DirectoryError::Config {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        DirectoryError::Protocol {
            message: message.into(),
        }
    }
}
