//! The `.catalog` section of a rancher-compose file (or the v2 form,
//! `version: '2'` with `catalog:`): a template version's name, version,
//! `upgrade_from` and questions, read with the line of each key so a bad
//! question is named by file and line.

use corral_types::{CatalogMeta, Question, QuestionType, SourceFile};

use crate::ctx::{Ctx, index, join};
use crate::error::{ComposeError, Diagnostic};
use crate::value::{Kind, Node};
use crate::yaml;

/// Reads the catalog section of `file`; `None` when it has none. Unknown
/// keys (the corpus has typos such as `minimun_rancher_version`) are
/// warnings, as Rancher ignored them.
pub fn catalog_meta(
    file: &SourceFile,
) -> Result<(Option<CatalogMeta>, Vec<Diagnostic>), ComposeError> {
    let mut ctx = Ctx::new(vec![file.name.clone()]);
    let Some(root) = yaml::parse(&mut ctx, 0, &file.content)? else {
        return Ok((None, Vec::new()));
    };
    let Some(section) = root.get(".catalog").or_else(|| root.get("catalog")) else {
        return Ok((None, Vec::new()));
    };
    let key = section.key.clone();
    let meta = read_meta(&mut ctx, &section.value, &key)?;
    Ok((Some(meta), ctx.warnings))
}

fn read_meta(ctx: &mut Ctx, node: &Node, at: &str) -> Result<CatalogMeta, ComposeError> {
    let mut meta = CatalogMeta::default();
    for e in node.map(ctx, at)? {
        let key = join(at, &e.key);
        let text = || scalar(ctx, &e.value, &key);
        match e.key.as_str() {
            "name" => meta.name = text()?,
            "version" => meta.version = text()?,
            "description" => meta.description = text()?,
            "uuid" => meta.uuid = text()?,
            "minimum_rancher_version" => meta.minimum_rancher_version = Some(text()?),
            "maximum_rancher_version" => meta.maximum_rancher_version = Some(text()?),
            "upgrade_from" => meta.upgrade_from = Some(text()?),
            "questions" => meta.questions = questions(ctx, &e.value, &key)?,
            _ => ctx.ignored(e.pos, &key, "not a catalog key Rancher knew"),
        }
    }
    Ok(meta)
}

/// A scalar as text (`default: 80` and `default: true` are answers too);
/// null is the empty string.
fn scalar(ctx: &Ctx, node: &Node, key: &str) -> Result<String, ComposeError> {
    Ok(node.opt_str(ctx, key)?.unwrap_or_default().to_string())
}

fn questions(ctx: &mut Ctx, node: &Node, at: &str) -> Result<Vec<Question>, ComposeError> {
    let mut out: Vec<Question> = Vec::new();
    for (i, item) in node.seq(ctx, at)?.iter().enumerate() {
        let key = index(at, i);
        let q = question(ctx, item, &key)?;
        if out.iter().any(|o| o.variable == q.variable) {
            return Err(ctx.invalid(
                item.pos,
                &key,
                format!("a second question for the variable {:?}", q.variable),
            ));
        }
        out.push(q);
    }
    Ok(out)
}

fn question(ctx: &mut Ctx, node: &Node, at: &str) -> Result<Question, ComposeError> {
    let mut q = Question::default();
    let mut typed = false;
    for e in node.map(ctx, at)? {
        let key = join(at, &e.key);
        let v = &e.value;
        match e.key.as_str() {
            "variable" => q.variable = scalar(ctx, v, &key)?,
            "label" => q.label = scalar(ctx, v, &key)?,
            "description" => q.description = scalar(ctx, v, &key)?,
            "type" => {
                let t = scalar(ctx, v, &key)?;
                q.kind = QuestionType::parse(&t).ok_or_else(|| {
                    ctx.invalid(v.pos, &key, format!("{t:?} is not a question type (string, int, boolean, password, enum, multiline, service, certificate)"))
                })?;
                typed = true;
            }
            "required" => q.required = !v.is_null_node() && v.bool(ctx, &key)?,
            "default" => q.default = Some(scalar(ctx, v, &key)?).filter(|_| !v.is_null_node()),
            "options" => q.options = v.strings(ctx, &key)?,
            "min" => q.min = Some(v.i64(ctx, &key)?),
            "max" => q.max = Some(v.i64(ctx, &key)?),
            "min_length" => q.min_length = Some(length(ctx, v, &key)?),
            "max_length" => q.max_length = Some(length(ctx, v, &key)?),
            "valid_chars" => q.valid_chars = Some(scalar(ctx, v, &key)?),
            "invalid_chars" => q.invalid_chars = Some(scalar(ctx, v, &key)?),
            "group" => {}
            _ => ctx.ignored(e.pos, &key, "not a question key Rancher knew"),
        }
    }
    if q.variable.trim().is_empty() {
        return Err(ctx.invalid(node.pos, at, "a question needs a variable"));
    }
    if !typed {
        ctx.warn(node.pos, at, "no type: asked as a string");
    }
    if q.kind == QuestionType::Enum && q.options.is_empty() {
        return Err(ctx.invalid(node.pos, at, "an enum question needs options"));
    }
    Ok(q)
}

fn length(ctx: &Ctx, node: &Node, key: &str) -> Result<usize, ComposeError> {
    let n = node.u64(ctx, key)?;
    usize::try_from(n).map_err(|_| ctx.invalid(node.pos, key, format!("{n} is too large")))
}

impl Node {
    fn is_null_node(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn file(content: &str) -> SourceFile {
        SourceFile {
            name: "rancher-compose.yml".into(),
            content: content.into(),
        }
    }

    #[test]
    fn both_forms_give_the_questions_with_their_types_and_defaults() {
        for text in [
            ".catalog:\n  name: App\n  version: v1\n  questions:\n    - variable: port\n      type: int\n      default: 80\n      required: true\n",
            "version: '2'\ncatalog:\n  name: App\n  version: v1\n  questions:\n    - variable: port\n      type: int\n      default: 80\n      required: true\n",
        ] {
            let (meta, warnings) = catalog_meta(&file(text)).unwrap();
            let meta = meta.unwrap();
            assert!(warnings.is_empty(), "{warnings:?}");
            assert_eq!((meta.name.as_str(), meta.version.as_str()), ("App", "v1"));
            let q = &meta.questions[0];
            assert_eq!(q.kind, QuestionType::Int);
            assert_eq!(q.default.as_deref(), Some("80"));
            assert!(q.required);
        }
    }

    #[test]
    fn a_bad_question_is_named_by_file_line_and_key() {
        let text = ".catalog:\n  questions:\n    - variable: a\n      type: string\n    - variable: b\n      type: colour\n";
        let e = catalog_meta(&file(text)).unwrap_err().to_string();
        assert!(
            e.starts_with("rancher-compose.yml:6: .catalog.questions[1].type:"),
            "{e}"
        );
        let text = ".catalog:\n  questions:\n    - variable: a\n    - variable: a\n";
        let e = catalog_meta(&file(text)).unwrap_err().to_string();
        assert!(e.contains("second question"), "{e}");
    }

    #[test]
    fn misspelt_keys_are_warnings_not_errors() {
        let text = ".catalog:\n  name: A\n  minimun_rancher_version: v1.0\n  questions:\n    - variable: a\n      type: string\n      descrition: x\n";
        let (meta, warnings) = catalog_meta(&file(text)).unwrap();
        assert_eq!(meta.unwrap().questions.len(), 1);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(warnings[0].line, 3);
    }

    #[test]
    fn a_file_without_a_catalog_section_has_none() {
        let (meta, _) = catalog_meta(&file("services:\n  web:\n    scale: 2\n")).unwrap();
        assert!(meta.is_none());
    }
}
