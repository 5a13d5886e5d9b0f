//! A catalog app's password answers as secrets in its loaded stack: each
//! is declared as one of the stack's own secrets (`<stack>_<variable>`,
//! stored from the answer given, or kept when none was given), and every
//! environment value that is the secret's marker becomes a delivery of
//! that secret as the variable, so the value is in no service's spec, no
//! stack's files and no answer the API returns. A password in the script
//! of a shell command (`sh -c "... --password ${pw}"`, as Rancher's
//! sentry template has) becomes a reference to a variable
//! (`${CORRAL_ANSWER_pw}`) delivered the same way, which the shell expands
//! when it runs. A template that puts a password anywhere else (in a
//! label, an exec-form argument, part of a longer value) is refused,
//! naming the service and the answer: Corral would have to write the
//! password into the spec to run it.

use std::collections::BTreeMap;

use corral_compose::{FileSource, Loaded, StackFile};
use corral_types::{AppRef, SecretMount, answer_secret_of, holds_answer_secret};

/// The key a password answer's secret is declared under in the stack
/// (`answers.<variable>`: apart from the compose file's own `secrets:`).
pub fn answer_secret_key(variable: &str) -> String {
    format!("answers.{variable}")
}

/// Why an app's password answers could not be bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BindError {
    /// `services.<name>` or `answers.<variable>`.
    pub field: String,
    pub message: String,
}

/// Declares the app's password secrets in `loaded` and delivers each to the
/// environment variables whose whole value is its marker.
pub fn bind_answer_secrets(app: &AppRef, loaded: &mut Loaded) -> Result<(), BindError> {
    let secrets: BTreeMap<&str, &str> = app
        .answers
        .iter()
        .filter_map(|(var, v)| answer_secret_of(v).map(|s| (var.as_str(), s)))
        .collect();
    for (var, secret) in &secrets {
        let key = answer_secret_key(var);
        loaded.secrets.insert(
            key.clone(),
            StackFile {
                key,
                name: (*secret).to_string(),
                source: FileSource::Environment((*var).to_string()),
                line: 0,
            },
        );
    }
    for (name, spec) in &mut loaded.services {
        let mut delivered = Vec::new();
        spec.env.retain(|variable, value| {
            match answer_secret_of(value).filter(|s| secrets.values().any(|x| x == s)) {
                Some(secret) => {
                    delivered.push(SecretMount {
                        source: secret.to_string(),
                        env: variable.clone(),
                        ..SecretMount::default()
                    });
                    false
                }
                None => true,
            }
        });
        for words in [Some(&mut spec.command), spec.entrypoint.as_mut()]
            .into_iter()
            .flatten()
        {
            refer_in_shell_script(words, &secrets, &mut delivered);
        }
        spec.secrets.extend(delivered);
        let text = serde_json::to_string(&*spec).map_err(|e| BindError {
            field: format!("services.{name}"),
            message: e.to_string(),
        })?;
        if holds_answer_secret(&text) {
            let used = secrets
                .iter()
                .filter(|(_, s)| text.contains(&corral_types::answer_secret_marker(s)))
                .map(|(var, _)| *var)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(BindError {
                field: format!("services.{name}"),
                message: format!(
                    "the password answer {used} is used outside a whole environment value \
                     (in a command, a label or part of a longer value): Corral delivers a \
                     password only as a whole environment variable, so that it is in no spec"
                ),
            });
        }
    }
    Ok(())
}

/// The variable a password in a shell script is read from.
fn script_variable(variable: &str) -> String {
    format!("CORRAL_ANSWER_{variable}")
}

/// In `[sh, -c, SCRIPT, ...]` (any of sh, bash, ash, dash, zsh), each
/// marker in SCRIPT becomes `${CORRAL_ANSWER_<variable>}`, delivered from
/// its secret.
fn refer_in_shell_script(
    words: &mut [String],
    secrets: &BTreeMap<&str, &str>,
    delivered: &mut Vec<SecretMount>,
) {
    let shell = words.first().map(|w| w.rsplit('/').next().unwrap_or(w));
    let is_shell = matches!(shell, Some("sh" | "bash" | "ash" | "dash" | "zsh"));
    if !is_shell || words.get(1).map(String::as_str) != Some("-c") {
        return;
    }
    let Some(script) = words.get_mut(2) else {
        return;
    };
    for (var, secret) in secrets {
        let marker = corral_types::answer_secret_marker(secret);
        if !script.contains(&marker) {
            continue;
        }
        let env = script_variable(var);
        *script = script.replace(&marker, &format!("${{{env}}}"));
        if !delivered.iter().any(|m| m.env == env) {
            delivered.push(SecretMount {
                source: (*secret).to_string(),
                env,
                ..SecretMount::default()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{SourceFile, answer_secret_marker};

    fn app(answers: &[(&str, &str)]) -> AppRef {
        AppRef {
            template: "library/db".into(),
            version: "0".into(),
            answers: answers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            previous: None,
        }
    }

    fn load(compose: &str, vars: &AppRef) -> Loaded {
        let files = [SourceFile {
            name: "docker-compose.yml".into(),
            content: compose.into(),
        }];
        corral_compose::load("shop", &files, &vars.answers).unwrap()
    }

    #[test]
    fn a_password_in_a_whole_environment_value_is_delivered_from_its_secret() {
        let marker = answer_secret_marker("shop_db_password");
        let a = app(&[("db_password", &marker), ("user", "bob")]);
        let mut loaded = load(
            "services:\n  db:\n    image: mysql\n    environment:\n      MYSQL_PASSWORD: ${db_password}\n      MYSQL_USER: ${user}\n",
            &a,
        );
        bind_answer_secrets(&a, &mut loaded).unwrap();
        let db = &loaded.services["db"];
        assert_eq!(db.env.get("MYSQL_USER").map(String::as_str), Some("bob"));
        assert!(!db.env.contains_key("MYSQL_PASSWORD"));
        assert_eq!(db.secrets.len(), 1);
        assert_eq!(db.secrets[0].source, "shop_db_password");
        assert_eq!(db.secrets[0].env, "MYSQL_PASSWORD");
        let declared = &loaded.secrets["answers.db_password"];
        assert_eq!(declared.name, "shop_db_password");
        assert_eq!(
            declared.source,
            FileSource::Environment("db_password".into())
        );
    }

    #[test]
    fn a_password_in_a_shell_script_is_read_from_a_delivered_variable() {
        let marker = answer_secret_marker("shop_pw");
        let a = app(&[("pw", &marker)]);
        let mut loaded = load(
            "services:\n  web:\n    image: sentry\n    command:\n    - /bin/bash\n    - -c\n    - createuser --password ${pw} && run\n",
            &a,
        );
        bind_answer_secrets(&a, &mut loaded).unwrap();
        let web = &loaded.services["web"];
        assert_eq!(
            web.command,
            [
                "/bin/bash",
                "-c",
                "createuser --password ${CORRAL_ANSWER_pw} && run"
            ]
        );
        assert_eq!(web.secrets.len(), 1);
        assert_eq!(web.secrets[0].env, "CORRAL_ANSWER_pw");
        assert_eq!(web.secrets[0].source, "shop_pw");
    }

    #[test]
    fn a_password_in_an_exec_form_command_is_refused_naming_the_service_and_answer() {
        let marker = answer_secret_marker("shop_pw");
        let a = app(&[("pw", &marker)]);
        let mut loaded = load(
            "services:\n  cache:\n    image: redis\n    command: redis-server --requirepass ${pw}\n",
            &a,
        );
        let err = bind_answer_secrets(&a, &mut loaded).unwrap_err();
        assert_eq!(err.field, "services.cache");
        assert!(err.message.contains("password answer pw"), "{err}");
    }

    #[test]
    fn an_app_without_passwords_is_unchanged() {
        let a = app(&[("user", "bob")]);
        let mut loaded = load(
            "services:\n  web:\n    image: w\n    environment:\n      U: ${user}\n",
            &a,
        );
        let before = loaded.services.clone();
        bind_answer_secrets(&a, &mut loaded).unwrap();
        assert_eq!(loaded.services, before);
        assert!(loaded.secrets.is_empty());
    }
}
