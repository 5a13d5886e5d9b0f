//! Turning API errors into one-line messages that say what failed and why.
//!
//! Messages are built as one string (no `context` chain) so they read the
//! same however the binary prints them.

use corral_api::ApiError;

/// What to do about a credential the server does not accept.
const LOGIN_HINT: &str = " (check CORRAL_TOKEN, run `corral login URL --username NAME`, \
     or run `corral up` again to refresh the config)";

/// The server's message, with the field at fault when it names one.
fn server_message(err: &ApiError) -> String {
    match err {
        ApiError::Status {
            status,
            message,
            field,
        } => {
            let mut text = match field {
                Some(field) if !field.is_empty() && !message.contains(field.as_str()) => {
                    format!("{field}: {message}")
                }
                _ => message.clone(),
            };
            // A 403 says what the role may not do: the credential is fine.
            if *status == 401 {
                text.push_str(LOGIN_HINT);
            }
            text
        }
        other => other.to_string(),
    }
}

/// An error about one named object: `service "web" not found in environment "default"`.
pub(crate) fn object_error(
    err: ApiError,
    action: &str,
    kind: &str,
    env: &str,
    name: &str,
) -> anyhow::Error {
    match err.status() {
        Some(404) => anyhow::anyhow!("{kind} {name:?} not found in environment {env:?}"),
        Some(409) if action == "create" => {
            anyhow::anyhow!("{kind} {name:?} already exists in environment {env:?}")
        }
        Some(_) => anyhow::anyhow!("cannot {action} {kind} {name:?}: {}", server_message(&err)),
        None => anyhow::anyhow!("{}", server_message(&err)),
    }
}

/// An error of a request about people, credentials or settings: a
/// refusal (403), or something not there (404), is the server's message
/// as is, since it says what was refused and why (`only an admin may list
/// users`, `no user "bob"`); anything else is `cannot <action>: <message>`.
pub(crate) fn request_error(err: ApiError, action: &str) -> anyhow::Error {
    match err.status() {
        Some(403 | 404) => anyhow::anyhow!("{}", server_message(&err)),
        Some(_) => anyhow::anyhow!("cannot {action}: {}", server_message(&err)),
        None => anyhow::anyhow!("{}", server_message(&err)),
    }
}

/// Runs `f` for every id given, printing each one done; a failure does not
/// stop the others, and the failures are reported together at the end.
pub(crate) async fn for_each<F, Fut>(ids: &[String], what: &str, mut f: F) -> anyhow::Result<()>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let mut failures = Vec::new();
    for id in ids {
        match f(id.clone()).await {
            Ok(()) => crate::output::print(&format!("{id}\n"))?,
            Err(e) => failures.push(request_error(e, &format!("{what} {id:?}")).to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{}", failures.join("; ")))
    }
}

/// An error listing the objects of a kind (`nodes`) in an environment.
pub(crate) fn list_error(err: ApiError, what: &str, env: &str) -> anyhow::Error {
    match err.status() {
        Some(404) => anyhow::anyhow!("environment {env:?} not found"),
        Some(_) => anyhow::anyhow!(
            "cannot list {what} in environment {env:?}: {}",
            server_message(&err)
        ),
        None => anyhow::anyhow!("{}", server_message(&err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, message: &str, field: Option<&str>) -> ApiError {
        ApiError::Status {
            status,
            message: message.into(),
            field: field.map(String::from),
        }
    }

    #[test]
    fn not_found_names_the_object_and_environment() {
        let e = object_error(
            status(404, "not found", None),
            "get",
            "service",
            "default",
            "web",
        );
        assert_eq!(
            e.to_string(),
            r#"service "web" not found in environment "default""#
        );
    }

    #[test]
    fn conflict_on_create_says_it_exists() {
        let e = object_error(
            status(409, "exists", None),
            "create",
            "service",
            "prod",
            "web",
        );
        assert_eq!(
            e.to_string(),
            r#"service "web" already exists in environment "prod""#
        );
    }

    #[test]
    fn other_statuses_keep_the_server_message_and_field() {
        let e = object_error(
            status(400, "must not be empty", Some("spec.image")),
            "create",
            "service",
            "default",
            "web",
        );
        assert_eq!(
            e.to_string(),
            r#"cannot create service "web": spec.image: must not be empty"#
        );
        let e = list_error(status(401, "invalid token", None), "nodes", "default");
        assert!(e.to_string().starts_with(
            r#"cannot list nodes in environment "default": invalid token (check CORRAL_TOKEN"#
        ));
    }

    #[test]
    fn refusals_are_the_servers_message_alone() {
        let e = request_error(
            status(403, "only an admin may list users", None),
            "list users",
        );
        assert_eq!(e.to_string(), "only an admin may list users");
        let e = list_error(
            status(
                403,
                "the role read-only in environment \"d\" may not write",
                None,
            ),
            "services",
            "d",
        );
        assert!(!e.to_string().contains("CORRAL_TOKEN"), "{e}");
        let e = request_error(status(404, r#"no user "bob""#, None), "remove user");
        assert_eq!(e.to_string(), r#"no user "bob""#);
        let e = request_error(status(401, "session expired", None), "list users");
        let e = e.to_string();
        assert!(
            e.starts_with("cannot list users: session expired (check CORRAL_TOKEN")
                && e.contains("corral login"),
            "{e}"
        );
        let e = request_error(
            status(422, "must be at least 8 characters", Some("password")),
            r#"create user "bob""#,
        );
        assert_eq!(
            e.to_string(),
            r#"cannot create user "bob": password: must be at least 8 characters"#
        );
    }

    #[test]
    fn transport_errors_are_shown_as_is() {
        let err = ApiError::Transport {
            url: "http://127.0.0.1:1".into(),
            message: "connection refused".into(),
        };
        let e = list_error(err, "services", "default");
        assert_eq!(
            e.to_string(),
            "cannot reach the corral server at http://127.0.0.1:1: connection refused"
        );
    }
}
