//! Which versions of a template a stack may upgrade to: later version
//! folders whose `upgrade_from` (empty: any earlier version; else
//! Rancher's semver ranges: versions or `>=`/`>`/`<=`/`<`/`!=` conditions,
//! spaces between conditions that must all hold, `||` or commas between
//! alternatives) admits the stack's.

use std::cmp::Ordering;

use corral_types::TemplateInfo;

/// Whether a version whose `upgrade_from` is `rule` may replace `from`.
/// As Rancher's semver ranges: `||` (or a comma) between alternatives,
/// spaces between conditions that must all hold (`>=1.0.0 <2.0.0`), each
/// a version or `>=`, `>`, `<=`, `<`, `=`, `!=` and a version.
pub fn upgrade_allowed(rule: Option<&str>, from: &str) -> bool {
    let Some(rule) = rule.map(str::trim).filter(|r| !r.is_empty()) else {
        return true;
    };
    rule.split("||")
        .flat_map(|alt| alt.split(','))
        .map(str::trim)
        .filter(|alt| !alt.is_empty())
        .any(|alt| conditions(alt).iter().all(|(op, v)| holds(op, from, v)))
}

/// The conditions of one alternative: `>= 1.0 <2` is `[(">=", "1.0"), ("<", "2")]`.
fn conditions(alt: &str) -> Vec<(&'static str, &str)> {
    const OPS: [&str; 6] = ["<=", ">=", "!=", "<", ">", "="];
    let mut out = Vec::new();
    let mut pending: Option<&'static str> = None;
    for word in alt.split_whitespace() {
        let op = OPS.iter().find(|op| word.starts_with(**op)).copied();
        match (op, pending.take()) {
            (Some(op), _) if word.len() == op.len() => pending = Some(op),
            (Some(op), _) => out.push((op, word[op.len()..].trim())),
            (None, Some(op)) => out.push((op, word)),
            (None, None) => out.push(("=", word)),
        }
    }
    out
}

fn holds(op: &str, from: &str, v: &str) -> bool {
    let ord = compare_versions(from, v);
    match op {
        "<=" => ord != Ordering::Greater,
        ">=" => ord != Ordering::Less,
        "<" => ord == Ordering::Less,
        ">" => ord == Ordering::Greater,
        "!=" => ord != Ordering::Equal,
        _ => ord == Ordering::Equal,
    }
}

/// Compares `v1.2.10` and `1.2.9` as versions: a leading `v` ignored, the
/// numeric runs compared as numbers, other text as text.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<(u64, String)> {
        s.trim()
            .trim_start_matches('v')
            .split(['.', '-', '+', '_'])
            .map(|p| {
                let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
                (digits.parse().unwrap_or(0), p[digits.len()..].to_string())
            })
            .collect()
    };
    parts(a).cmp(&parts(b))
}

/// The newest version folder after `current` that may replace it, if any.
pub fn upgrade_available(template: &TemplateInfo, current: &str) -> Option<String> {
    let at = template.versions.iter().position(|v| v.folder == current)?;
    let from = &template.versions[at].meta.version;
    template.versions[at + 1..]
        .iter()
        .rev()
        .find(|v| upgrade_allowed(v.meta.upgrade_from.as_deref(), from))
        .map(|v| v.folder.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{CatalogMeta, VersionInfo};

    #[test]
    fn upgrade_from_takes_versions_and_constraints() {
        assert!(upgrade_allowed(None, "1.0"));
        assert!(upgrade_allowed(Some("1.0.0"), "1.0.0"));
        assert!(upgrade_allowed(Some("v1.0.0"), "1.0.0"));
        assert!(!upgrade_allowed(Some("1.0.0"), "0.9"));
        assert!(upgrade_allowed(Some(">=1.2.0"), "1.10.0"));
        assert!(!upgrade_allowed(Some(">=1.2.0"), "1.1.9"));
        assert!(upgrade_allowed(Some("0.5, 0.6"), "0.6"));
        assert!(upgrade_allowed(
            Some("0.8.0-rc.1-rancher1"),
            "0.8.0-rc.1-rancher1"
        ));
    }

    #[test]
    fn upgrade_from_takes_rancher_ranges_with_and_and_or() {
        let rule = Some(">=1.0.0 <2.0.0 || 3.1.0");
        assert!(upgrade_allowed(rule, "1.5.2"));
        assert!(!upgrade_allowed(rule, "2.0.0"));
        assert!(!upgrade_allowed(rule, "0.9"));
        assert!(upgrade_allowed(rule, "3.1.0"));
        assert!(upgrade_allowed(Some(">= 1.0 != 1.2"), "1.3"));
        assert!(!upgrade_allowed(Some(">= 1.0 != 1.2"), "1.2"));
    }

    #[test]
    fn the_newest_later_version_that_admits_the_current_one_is_offered() {
        let v = |folder: &str, version: &str, from: Option<&str>| VersionInfo {
            folder: folder.into(),
            meta: CatalogMeta {
                version: version.into(),
                upgrade_from: from.map(str::to_string),
                ..CatalogMeta::default()
            },
            ..VersionInfo::default()
        };
        let t = TemplateInfo {
            versions: vec![
                v("0", "1.0.0", None),
                v("1", "1.1.0", Some("1.0.0")),
                v("2", "2.0.0", Some(">=1.1.0")),
            ],
            ..TemplateInfo::default()
        };
        assert_eq!(upgrade_available(&t, "0").as_deref(), Some("1"));
        assert_eq!(upgrade_available(&t, "1").as_deref(), Some("2"));
        assert_eq!(upgrade_available(&t, "2"), None);
    }
}
