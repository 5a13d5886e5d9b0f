//! A template version and its answers to the files and variables of a
//! stack: answers are checked against the questions, `.tpl` files go
//! through Go's text/template semantics (`.Values.x`, `.Stack.Name`), and
//! every answer is a `${variable}` for the compose loader, as Rancher did.

use std::collections::BTreeMap;

use corral_types::{AnswerError, SourceFile, VersionInfo, resolve_answers};

/// The files and variables a stack is deployed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `docker-compose.yml` first, then `rancher-compose.yml`, `.tpl` gone.
    pub files: Vec<SourceFile>,
    /// Every question's answer (defaults filled in), for `${var}`.
    pub variables: BTreeMap<String, String>,
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
    let variables = resolve_answers(&version.meta.questions, given)?;
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
    Ok(Rendered { files, variables })
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
