//! Every failure of a request becomes one of these, and each has one status code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use corral_api::ErrorBody;
use corral_store::StoreError;
use corral_types::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request (not JSON, bad query parameter).
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    /// Well-formed but invalid content.
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// No credential, or one that is not valid (the message says which).
    #[error("{0}")]
    Unauthorized(String),
    /// A valid caller asked for what its role does not allow.
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed logins.
    #[error("{0}")]
    TooManyRequests(String),
    /// The watch cannot resume from the requested revision.
    #[error("{0}")]
    Gone(String),
    /// An agent or the engine behind it failed.
    #[error("{0}")]
    BadGateway(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            field: field.map(str::to_string),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(ValidationError::new(field, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::AlreadyExists { .. } | StoreError::Conflict { .. } => {
                ApiError::Conflict(e.to_string())
            }
            StoreError::Compacted { .. } => ApiError::Gone(e.to_string()),
            StoreError::Backend(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("{self}");
        }
        let field = match &self {
            ApiError::BadRequest { field, .. } => field.clone(),
            ApiError::Invalid(v) => Some(v.field.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: self.to_string(),
            field,
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// Decodes a JSON body into `T`, naming the field at fault:
/// not JSON at all is 400, JSON of the wrong shape is 422.
pub fn decode_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            None,
            "request body is empty; expected JSON",
        ));
    }
    // serde's derived structs also accept a sequence of their fields in
    // order; a body is an object, so an array is refused outright.
    let is_array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let not_an_object = || ApiError::invalid("body", "expected a JSON object, not an array");
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => {
            de.end().map_err(|e| {
                ApiError::bad_request(None, format!("request body is not valid JSON: {e}"))
            })?;
            if is_array {
                return Err(not_an_object());
            }
            Ok(v)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                Err(ApiError::bad_request(
                    None,
                    format!("request body is not valid JSON: {inner}"),
                ))
            } else if is_array {
                Err(not_an_object())
            } else if path == "." || path.is_empty() {
                Err(ApiError::invalid(
                    "body",
                    strip_position(&inner.to_string()),
                ))
            } else {
                Err(ApiError::invalid(path, strip_position(&inner.to_string())))
            }
        }
    }
}

/// serde_json appends ` at line L column C`; for a one-line body the field path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
