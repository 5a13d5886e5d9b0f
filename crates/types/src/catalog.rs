//! Catalogs of Rancher 1.x templates: the repository object, what a
//! template version asks (its questions) and how answers are checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A catalog: a git repository in Rancher's layout (`templates/NAME/...`),
/// global (in [`crate::GLOBAL`], added by an admin) or for one environment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSpec {
    /// `https://`, `ssh://` (or `user@host:path`), `git://` or `file://`.
    pub url: String,
    /// The branch to follow; the repository's default branch when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// How the server authenticates to a private repository (shown; the
    /// password, token or key itself is only in `sealed_credentials`).
    #[serde(skip_serializing_if = "CatalogAuth::is_none")]
    pub auth: CatalogAuth,
    /// The user name of `auth: password` (https).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// ssh host keys to trust (known_hosts lines); empty: the first key
    /// the host shows is kept and later ones must match.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ssh_known_hosts: String,
    /// The password or token (https) or private key (ssh), sealed with the
    /// server's key and bound to the catalog's environment and name; never
    /// answered by the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed_credentials: Option<crate::SealedValue>,
}

/// How a catalog's repository is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CatalogAuth {
    /// A public repository (or the server's own ssh configuration).
    #[default]
    None,
    /// https with a user name and a password or token.
    Password,
    /// ssh with a private key.
    SshKey,
}

impl CatalogAuth {
    pub fn is_none(&self) -> bool {
        *self == CatalogAuth::None
    }
}

/// What the last refresh of a catalog found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogStatus {
    /// The commit the templates were read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// When the last refresh ended (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<String>,
    /// Why the last refresh failed (the templates of the commit before stay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many templates were read.
    pub templates: usize,
    /// Templates or versions that could not be read, each naming its file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub template_errors: Vec<String>,
}

/// The kinds of question Rancher's catalog asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionType {
    #[default]
    String,
    Int,
    Boolean,
    /// A string kept as a secret when the application is launched.
    Password,
    /// One of `options`.
    Enum,
    /// A string of several lines.
    Multiline,
    /// A service of the environment, `stack/service` (or a bare name: a
    /// service of the same stack, as Rancher's defaults use it).
    Service,
    /// The name of a stored certificate.
    Certificate,
}

impl QuestionType {
    /// Parses a `type:` value; `None` for one Rancher does not know.
    pub fn parse(s: &str) -> Option<QuestionType> {
        Some(match s {
            "string" => QuestionType::String,
            "int" => QuestionType::Int,
            "boolean" => QuestionType::Boolean,
            "password" => QuestionType::Password,
            "enum" => QuestionType::Enum,
            "multiline" => QuestionType::Multiline,
            "service" => QuestionType::Service,
            "certificate" => QuestionType::Certificate,
            _ => return None,
        })
    }
}

/// One question of a template version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Question {
    /// The answer's name: `${variable}` in the files, `.Values.variable` in
    /// Go templates.
    pub variable: String,
    pub label: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The choices of an `enum`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Characters an answer may contain (all others refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_chars: Option<String>,
    /// Characters an answer may not contain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_chars: Option<String>,
}

/// The `.catalog` section of a version's rancher-compose file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogMeta {
    pub name: String,
    pub version: String,
    pub description: String,
    pub uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_rancher_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_rancher_version: Option<String>,
    /// The versions this one may replace: versions or `>=`/`<` constraints,
    /// comma-separated; any earlier version when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_from: Option<String>,
    pub questions: Vec<Question>,
}

/// Why an answer was refused: the question's variable and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerError {
    pub variable: String,
    pub message: String,
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "answer {:?}: {}", self.variable, self.message)
    }
}

impl std::error::Error for AnswerError {}

/// What a password answer is replaced by in the stack's variables and
/// files, and remembered as: a reference to the secret that holds it
/// (`CORRAL_SECRET__<secret>__`: letters, digits and `_`, so it survives
/// YAML, `${}` interpolation and Go templates unchanged).
pub fn answer_secret_marker(secret: &str) -> String {
    format!("{ANSWER_SECRET_PREFIX}{secret}{ANSWER_SECRET_SUFFIX}")
}

const ANSWER_SECRET_PREFIX: &str = "CORRAL_SECRET__";
const ANSWER_SECRET_SUFFIX: &str = "__";

/// The secret a marker refers to (`None` for any other value).
pub fn answer_secret_of(value: &str) -> Option<&str> {
    value
        .strip_prefix(ANSWER_SECRET_PREFIX)?
        .strip_suffix(ANSWER_SECRET_SUFFIX)
        .filter(|s| !s.is_empty())
}

/// Whether `text` holds a marker anywhere.
pub fn holds_answer_secret(text: &str) -> bool {
    text.contains(ANSWER_SECRET_PREFIX)
}

/// The secret a stack's password answer is stored as: `<stack>_<variable>`,
/// Swarm's name for a stack's own secret.
pub fn answer_secret_name(stack: &str, variable: &str) -> String {
    format!("{stack}_{variable}")
}

/// Checks `given` against `questions` and returns every question's answer
/// (a default where none was given; an optional question without answer or
/// default gets the empty string, as Rancher passed it). An answer to no
/// question is refused, so a misspelt `-a` is not silently dropped. A
/// password answer kept as its secret's marker was checked when given.
pub fn resolve_answers(
    questions: &[Question],
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, AnswerError> {
    if let Some(extra) = given
        .keys()
        .find(|k| !questions.iter().any(|q| &q.variable == *k))
    {
        let known: Vec<&str> = questions.iter().map(|q| q.variable.as_str()).collect();
        return Err(AnswerError {
            variable: extra.clone(),
            message: format!("no such question (the questions: {})", known.join(", ")),
        });
    }
    let mut out = BTreeMap::new();
    for q in questions {
        let value = given.get(&q.variable).or(q.default.as_ref());
        let value = match value {
            Some(v) => v.clone(),
            None if q.required => {
                return Err(AnswerError {
                    variable: q.variable.clone(),
                    message: format!("required ({}) and has no default", q.label_or_variable()),
                });
            }
            None => String::new(),
        };
        let kept_secret = q.kind == QuestionType::Password && answer_secret_of(&value).is_some();
        if (!value.is_empty() || q.required) && !kept_secret {
            check_answer(q, &value).map_err(|message| AnswerError {
                variable: q.variable.clone(),
                message,
            })?;
        }
        out.insert(q.variable.clone(), value);
    }
    Ok(out)
}

impl Question {
    fn label_or_variable(&self) -> &str {
        if self.label.is_empty() {
            &self.variable
        } else {
            &self.label
        }
    }
}

/// One answer against its question's type and limits.
pub fn check_answer(q: &Question, value: &str) -> Result<(), String> {
    if q.required && value.is_empty() {
        return Err("required, and the answer is empty".into());
    }
    match q.kind {
        QuestionType::Int => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not a whole number"))?;
            if let Some(min) = q.min.filter(|m| n < *m) {
                return Err(format!("{n} is less than the minimum {min}"));
            }
            if let Some(max) = q.max.filter(|m| n > *m) {
                return Err(format!("{n} is more than the maximum {max}"));
            }
        }
        QuestionType::Boolean if !matches!(value, "true" | "false") => {
            return Err(format!("{value:?} is not true or false"));
        }
        QuestionType::Enum if !q.options.iter().any(|o| o == value) => {
            return Err(format!(
                "{value:?} is not one of the options ({})",
                q.options.join(", ")
            ));
        }
        QuestionType::Service => {
            let ok = match value.split_once('/') {
                Some((s, n)) => !s.is_empty() && !n.is_empty() && !n.contains('/'),
                None => !value.trim().is_empty(),
            };
            if !ok {
                return Err(format!(
                    "{value:?} is not a service (stack/service, or service of the same stack)"
                ));
            }
        }
        _ => {}
    }
    check_length_and_chars(q, value)
}

fn check_length_and_chars(q: &Question, value: &str) -> Result<(), String> {
    let len = value.chars().count();
    if let Some(min) = q.min_length.filter(|m| len < *m) {
        return Err(format!("{len} characters, fewer than the minimum {min}"));
    }
    if let Some(max) = q.max_length.filter(|m| len > *m) {
        return Err(format!("{len} characters, more than the maximum {max}"));
    }
    if let Some(valid) = &q.valid_chars
        && let Some(c) = value.chars().find(|c| !valid.contains(*c))
    {
        return Err(format!(
            "{c:?} is not one of the allowed characters {valid:?}"
        ));
    }
    if let Some(invalid) = &q.invalid_chars
        && let Some(c) = value.chars().find(|c| invalid.contains(*c))
    {
        return Err(format!(
            "{c:?} is one of the characters not allowed ({invalid:?})"
        ));
    }
    Ok(())
}

/// What a stack launched from a catalog remembers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppRef {
    /// `CATALOG/TEMPLATE`.
    pub template: String,
    /// The version folder it was launched or last upgraded from.
    pub version: String,
    /// Every question's answer (passwords are kept as secret names).
    pub answers: BTreeMap<String, String>,
    /// The version and answers before the last upgrade, for rollback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Box<AppRef>>,
}

/// A template of a catalog, as `catalog ls` and the catalog page list it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateInfo {
    /// `CATALOG/FOLDER`.
    pub id: String,
    pub catalog: String,
    /// The template's folder under `templates/` (or `infra-templates/`).
    pub folder: String,
    /// From `infra-templates/`: listed apart.
    pub infra: bool,
    pub name: String,
    pub description: String,
    pub category: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub maintainer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub license: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project_url: String,
    /// The icon's file name in the template folder (`catalogIcon-x.svg`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// The version folder launched when none is named.
    pub default_version: String,
    /// Version folders in order, oldest first.
    pub versions: Vec<VersionInfo>,
}

/// One version folder of a template.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionInfo {
    /// The folder's name (`0`, `1`, ...): what `TEMPLATE:N` names.
    pub folder: String,
    /// The `.catalog` section (name, version, questions, ...).
    pub meta: CatalogMeta,
    /// `README.md` of the version folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readme: Option<String>,
    /// The compose files as they are in the repository (`.tpl` kept).
    pub files: Vec<crate::SourceFile>,
    /// Keys of the catalog section that were ignored, with file and line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn q(variable: &str, kind: QuestionType) -> Question {
        Question {
            variable: variable.into(),
            kind,
            required: true,
            ..Question::default()
        }
    }

    fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_fill_unanswered_questions_and_optional_ones_get_empty() {
        let mut port = q("port", QuestionType::Int);
        port.default = Some("80".into());
        let mut note = q("note", QuestionType::String);
        note.required = false;
        let got = resolve_answers(&[port, note], &BTreeMap::new()).unwrap();
        assert_eq!(got, answers(&[("port", "80"), ("note", "")]));
    }

    #[test]
    fn every_refusal_names_the_question() {
        let mut port = q("port", QuestionType::Int);
        port.min = Some(1);
        port.max = Some(65535);
        let e = resolve_answers(&[port.clone()], &answers(&[("port", "x")])).unwrap_err();
        assert_eq!(e.variable, "port");
        assert!(e.to_string().contains("not a whole number"), "{e}");
        let e = resolve_answers(&[port.clone()], &answers(&[("port", "70000")])).unwrap_err();
        assert!(e.message.contains("maximum 65535"), "{e}");
        let e = resolve_answers(&[port], &BTreeMap::new()).unwrap_err();
        assert!(e.message.contains("required"), "{e}");
    }

    #[test]
    fn an_answer_to_no_question_is_refused() {
        let e = resolve_answers(
            &[q("a", QuestionType::String)],
            &answers(&[("a", "x"), ("b", "y")]),
        )
        .unwrap_err();
        assert_eq!(e.variable, "b");
    }

    #[test]
    fn types_enums_services_and_characters_are_checked() {
        let mut e = q("size", QuestionType::Enum);
        e.options = vec!["small".into(), "large".into()];
        assert!(check_answer(&e, "large").is_ok());
        assert!(
            check_answer(&e, "huge")
                .unwrap_err()
                .contains("small, large")
        );
        assert!(check_answer(&q("b", QuestionType::Boolean), "yes").is_err());
        assert!(check_answer(&q("s", QuestionType::Service), "db/mysql").is_ok());
        assert!(check_answer(&q("s", QuestionType::Service), "mysql").is_ok());
        assert!(check_answer(&q("s", QuestionType::Service), "a/b/c").is_err());
        let mut name = q("n", QuestionType::String);
        name.valid_chars = Some("abc".into());
        name.max_length = Some(3);
        assert!(check_answer(&name, "cab").is_ok());
        assert!(check_answer(&name, "abd").unwrap_err().contains("'d'"));
        assert!(
            check_answer(&name, "abca")
                .unwrap_err()
                .contains("maximum 3")
        );
        let mut pw = q("p", QuestionType::Password);
        pw.invalid_chars = Some("$".into());
        assert!(check_answer(&pw, "a$b").is_err());
    }
}
