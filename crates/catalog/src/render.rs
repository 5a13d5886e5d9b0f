//! A template version and its answers to the files and variables of a
//! stack: answers are checked against the questions, `.tpl` files go
//! through Go's text/template semantics (`.Values.x`, `.Stack.Name`), and
//! every answer is a `${variable}` for the compose loader, as Rancher did.
//! A password answer is kept out of the files and variables: it becomes
//! the marker of the secret `<stack>_<variable>` that will hold it (see
//! `corral_types::answer_secret_marker`), and its value is handed back
//! apart, for the server to store as that secret.

use std::collections::BTreeMap;

use corral_types::{
    AnswerError, QuestionType, SourceFile, VersionInfo, answer_secret_marker, answer_secret_name,
    answer_secret_of, resolve_answers, validate_secret_name,
};

/// The files and variables a stack is deployed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `docker-compose.yml` first, then `rancher-compose.yml`, `.tpl` gone.
    pub files: Vec<SourceFile>,
    /// Every question's answer (defaults filled in), for `${var}`; a
    /// password answer is its secret's marker.
    pub variables: BTreeMap<String, String>,
    /// The password answers given now, by variable: each is stored as
    /// the secret its marker names (a kept one is not here).
    pub secret_values: BTreeMap<String, String>,
}

/// Why a version could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An answer was refused; names the question.
    #[error("{0}")]
    Answer(#[from] AnswerError),
    /// A Go template failed; names the file, line and column.
    #[error("{0}")]
    Template(String),
}

/// Renders `version` for the stack `stack` with the answers `given`.
pub fn render(
    version: &VersionInfo,
    stack: &str,
    given: &BTreeMap<String, String>,
) -> Result<Rendered, RenderError> {
    let mut variables = resolve_answers(&version.meta.questions, given)?;
    let secret_values = seal_passwords(version, stack, &mut variables)?;
    let mut files = Vec::new();
    for f in &version.files {
        match f.name.strip_suffix(".tpl") {
            Some(name) => files.push(SourceFile {
                name: name.to_string(),
                content: render_go(&f.name, &f.content, stack, &variables)?,
            }),
            None => files.push(f.clone()),
        }
    }
    Ok(Rendered {
        files,
        variables,
        secret_values,
    })
}

/// Replaces each non-empty password answer by its secret's marker and
/// answers the values given now. A marker given as an answer must be the
/// one this stack's secret for that question has (an upgrade keeps the
/// password that way); another secret's marker is refused.
fn seal_passwords(
    version: &VersionInfo,
    stack: &str,
    variables: &mut BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, AnswerError> {
    let mut values = BTreeMap::new();
    for q in &version.meta.questions {
        if q.kind != QuestionType::Password {
            continue;
        }
        let Some(value) = variables.get_mut(&q.variable).filter(|v| !v.is_empty()) else {
            continue;
        };
        let secret = answer_secret_name(stack, &q.variable);
        let refused = |message: String| AnswerError {
            variable: q.variable.clone(),
            message,
        };
        validate_secret_name("secret", &secret).map_err(|e| {
            refused(format!(
                "the secret {secret:?} this password is stored as: {}",
                e.message
            ))
        })?;
        let marker = answer_secret_marker(&secret);
        match answer_secret_of(value) {
            Some(_) if *value == marker => {}
            Some(other) => {
                return Err(refused(format!(
                    "names the secret {other:?}, which is not this stack's answer to it"
                )));
            }
            None => {
                values.insert(q.variable.clone(), std::mem::replace(value, marker));
            }
        }
    }
    Ok(values)
}

fn render_go(
    name: &str,
    source: &str,
    stack: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, RenderError> {
    use corral_gotemplate::Value;
    let data = Value::map([
        (
            "Values",
            Value::map(
                values
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone()))),
            ),
        ),
        (
            "Stack",
            Value::map([("Name", Value::String(stack.to_string()))]),
        ),
    ]);
    corral_gotemplate::render(name, source, &data).map_err(|e| RenderError::Template(e.to_string()))
}
