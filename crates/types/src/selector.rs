use std::collections::BTreeMap;
use std::fmt;

/// A label selector: comma-separated terms `k=v`, `k==v`, `k!=v`, `k` (exists), `!k` (absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector term {term:?}: {reason}")]
pub struct SelectorError {
    pub term: String,
    pub reason: &'static str,
}

impl LabelSelector {
    /// Matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// A selector requiring `key=value`.
    pub fn equals(key: &str, value: &str) -> Self {
        LabelSelector {
            terms: vec![Term::Equals(key.to_string(), value.to_string())],
        }
    }

    /// Parses `k=v,k2!=v2,k3,!k4`. An empty string matches everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        for raw in s.split(',') {
            let term = raw.trim();
            if term.is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(SelectorError {
                    term: raw.to_string(),
                    reason: "empty term",
                });
            }
            let bad = |reason| SelectorError {
                term: term.to_string(),
                reason,
            };
            let parsed = if let Some((k, v)) = term.split_once("!=") {
                Term::NotEquals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = term.split_once("==") {
                Term::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = term.split_once('=') {
                Term::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some(k) = term.strip_prefix('!') {
                Term::Absent(k.trim().to_string())
            } else {
                Term::Exists(term.to_string())
            };
            let key = match &parsed {
                Term::Equals(k, _) | Term::NotEquals(k, _) | Term::Exists(k) | Term::Absent(k) => k,
            };
            if key.is_empty() {
                return Err(bad("missing key"));
            }
            if crate::validate_label_key(key).is_err() {
                return Err(bad("key has characters outside [A-Za-z0-9._/-]"));
            }
            terms.push(parsed);
        }
        Ok(LabelSelector { terms })
    }

    /// The first `key=value` term, if any: every label set the selector
    /// matches has that label. (The store indexes watches by it.)
    pub fn first_equality(&self) -> Option<(&str, &str)> {
        self.terms.iter().find_map(|t| match t {
            Term::Equals(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
    }

    /// The `key=value` terms, in order: a store can use them to narrow a
    /// read before it decodes anything (the other terms it checks with
    /// `matches` afterwards).
    pub fn equalities(&self) -> impl Iterator<Item = (&str, &str)> {
        self.terms.iter().filter_map(|t| match t {
            Term::Equals(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
    }

    /// True when every term holds for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.terms.iter().all(|t| match t {
            Term::Equals(k, v) => labels.get(k) == Some(v),
            Term::NotEquals(k, v) => labels.get(k) != Some(v),
            Term::Exists(k) => labels.contains_key(k),
            Term::Absent(k) => !labels.contains_key(k),
        })
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| match t {
                Term::Equals(k, v) => format!("{k}={v}"),
                Term::NotEquals(k, v) => format!("{k}!={v}"),
                Term::Exists(k) => k.clone(),
                Term::Absent(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selector_terms_all_must_hold() {
        let s = LabelSelector::parse("app=web, tier!=db,zone,!legacy").unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("zone", "a")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("zone", "a"), ("legacy", "")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("zone", "a"), ("tier", "db")])));
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(LabelSelector::parse("").unwrap().matches(&BTreeMap::new()));
    }

    #[test]
    fn selector_rejects_missing_key_and_empty_terms() {
        assert!(LabelSelector::parse("=v").is_err());
        assert!(LabelSelector::parse("a=b,,c").is_err());
        assert!(LabelSelector::parse("a b=c").is_err());
    }

    #[test]
    fn selector_round_trips_through_display() {
        let s = LabelSelector::parse("a=b,c!=d,e,!f").unwrap();
        assert_eq!(LabelSelector::parse(&s.to_string()).unwrap(), s);
    }
}
