//! Errors and warnings, each naming a file, a 1-based line and a dotted key.

use std::fmt;

/// Where something is in the input: a file, a line, a dotted key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the input has no line to point at (an empty file).
    pub line: usize,
    /// Dotted path of the key, such as `services.web.ports[2]`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.key, self.message
        )
    }
}

/// Why a compose file was rejected. Every variant displays as `FILE:LINE: KEY: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// The YAML itself is malformed.
    #[error("{0}")]
    ParseYaml(Diagnostic),
    /// An input limit (size, nesting, alias expansion) was exceeded.
    #[error("{0}")]
    ExceedLimit(Diagnostic),
    /// A key Compose does not know.
    #[error("{0}")]
    UnknownKey(Diagnostic),
    /// A key Corral does not support (yet).
    #[error("{0}")]
    UnsupportedKey(Diagnostic),
    /// A value of the wrong type or form.
    #[error("{0}")]
    InvalidValue(Diagnostic),
    /// `${VAR:?message}` with `VAR` unset.
    #[error("{0}")]
    MissingVariable(Diagnostic),
    /// A reference to something that is not there: an undeclared volume or
    /// network, an unknown service, an env_file whose content was not given.
    #[error("{0}")]
    ResolveReference(Diagnostic),
    /// The resulting service spec failed its validation.
    #[error("{0}")]
    ValidateService(Diagnostic),
}

impl ComposeError {
    /// The file, line, key and message of this error.
    pub fn diagnostic(&self) -> &Diagnostic {
        match self {
            ComposeError::ParseYaml(d)
            | ComposeError::ExceedLimit(d)
            | ComposeError::UnknownKey(d)
            | ComposeError::UnsupportedKey(d)
            | ComposeError::InvalidValue(d)
            | ComposeError::MissingVariable(d)
            | ComposeError::ResolveReference(d)
            | ComposeError::ValidateService(d) => d,
        }
    }

    /// A short name of the kind of error, for counting.
    pub fn category(&self) -> &'static str {
        match self {
            ComposeError::ParseYaml(_) => "yaml",
            ComposeError::ExceedLimit(_) => "limit",
            ComposeError::UnknownKey(_) => "unknown key",
            ComposeError::UnsupportedKey(_) => "unsupported key",
            ComposeError::InvalidValue(_) => "invalid value",
            ComposeError::MissingVariable(_) => "missing variable",
            ComposeError::ResolveReference(_) => "unresolved reference",
            ComposeError::ValidateService(_) => "validation",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_displays_file_line_key_message() {
        let d = Diagnostic {
            file: "docker-compose.yml".into(),
            line: 12,
            key: "services.web.container_name".into(),
            message: "ignored: corral names containers".into(),
        };
        assert_eq!(
            d.to_string(),
            "docker-compose.yml:12: services.web.container_name: ignored: corral names containers"
        );
        assert_eq!(
            ComposeError::UnknownKey(d.clone()).to_string(),
            d.to_string()
        );
    }
}
