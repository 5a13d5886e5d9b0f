/// A rejected input, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// Dotted path of the field, such as `spec.ports[0].host_port`.
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Object names are DNS labels: 1 to 63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn validate_name(field: &str, name: &str) -> Result<(), ValidationError> {
    if name.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if name.len() > 63 {
        return Err(ValidationError::new(
            field,
            format!("{name:?} is longer than 63 characters"),
        ));
    }
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ends_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if !ok_chars || !ends_ok {
        return Err(ValidationError::new(
            field,
            format!(
                "{name:?} must consist of lowercase letters, digits and '-', and start and end with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// Label keys: 1 to 253 of `[A-Za-z0-9._/-]`.
pub fn validate_label_key(key: &str) -> Result<(), ValidationError> {
    if key.is_empty() || key.len() > 253 {
        return Err(ValidationError::new(
            "labels",
            format!("key {key:?} must be 1 to 253 characters"),
        ));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
    {
        return Err(ValidationError::new(
            "labels",
            format!("key {key:?} may contain only letters, digits, '.', '_', '/' and '-'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_dns_labels() {
        assert!(validate_name("name", "web-1").is_ok());
        assert!(validate_name("name", "").is_err());
        assert!(validate_name("name", "Web").is_err());
        assert!(validate_name("name", "-web").is_err());
        assert!(validate_name("name", "web_1").is_err());
        assert!(validate_name("name", &"a".repeat(64)).is_err());
    }

    #[test]
    fn validation_error_names_the_field() {
        let e = validate_name("meta.name", "A").unwrap_err();
        assert!(e.to_string().starts_with("meta.name: "));
    }
}
