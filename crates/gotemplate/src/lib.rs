//! Go `text/template` with the sprig functions, for rendering the
//! `docker-compose.yml.tpl` and `rancher-compose.yml.tpl` files of Rancher
//! 1.x catalogs.
//!
//! ```
//! use corral_gotemplate::{render, Value};
//! let data = Value::map([("Values", Value::map([("name", "web")]))]);
//! let out = render("t", "{{- if ne .Values.name \"\" }}name: {{ .Values.name | upper }}{{ end }}", &data);
//! assert_eq!(out.as_deref(), Ok("name: WEB"));
//! ```
//!
//! The parser and evaluator follow the documentation of Go's
//! `text/template`; see the crate's README for the supported actions and
//! functions, the limits and the places where a choice had to be made.

#![warn(missing_docs)]

mod ast;
mod error;
mod eval;
mod funcs;
mod lexer;
mod parse;
mod printf;
mod sprig;
mod value;

pub use error::TemplateError;
pub use eval::{MAX_OUTPUT, MAX_STEPS, MAX_TEMPLATE_DEPTH, MAX_VALUE_WEIGHT};
pub use parse::MAX_NESTING;
pub use value::Value;

/// A parsed template, ready to execute any number of times.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    source: String,
    tree: ast::Tree,
}

/// Parses `source`; `name` is used in error messages.
pub fn parse(name: &str, source: &str) -> Result<Template, TemplateError> {
    let toks = lexer::lex(source).map_err(|e| e.locate(name, source))?;
    let tree = parse::parse(toks, &funcs::exists).map_err(|e| e.locate(name, source))?;
    Ok(Template {
        name: name.to_string(),
        source: source.to_string(),
        tree,
    })
}

/// Parses and executes `source` against `data` in one step.
pub fn render(name: &str, source: &str, data: &Value) -> Result<String, TemplateError> {
    parse(name, source)?.execute(data)
}

impl Template {
    /// The name given to [`parse`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The names of the templates defined with `define` or `block`.
    pub fn defined(&self) -> impl Iterator<Item = &str> {
        self.tree.defines.keys().map(String::as_str)
    }

    /// Executes the template with `data` as dot (and `$`).
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        eval::execute(&self.tree, &self.tree.root, data)
            .map_err(|e| e.locate(&self.name, &self.source))
    }

    /// Executes the template named `name` (a `define`d one, or this one).
    pub fn execute_named(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        if name == self.name {
            return self.execute(data);
        }
        match self.tree.defines.get(name) {
            Some(body) => eval::execute(&self.tree, body, data)
                .map_err(|e| e.locate(&self.name, &self.source)),
            None => Err(TemplateError {
                name: self.name.clone(),
                line: 1,
                col: 1,
                message: format!("no template \"{name}\" defined"),
            }),
        }
    }
}
