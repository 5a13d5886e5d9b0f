//! The list statement: the parts of a query SQL can answer (kind,
//! environment and the `key=value` label terms) go into the `WHERE`, so a
//! list of one node's instances reads and decodes that node's rows only,
//! not every instance of the environment. The other label terms are
//! checked on the decoded objects. A whole list has no `ORDER BY`: the
//! store sorts the decoded list (`write::sort_for_listing`), and an order
//! in SQL would lead SQLite to walk the primary key instead of the label
//! index. A page (`Query::page`) is ordered and limited in SQL, by the key
//! (environment, name, kind) its continuation names.

use corral_types::{ContainerLabels, validate_label_key};

use crate::Query;

/// The label keys with an index on `objects` (see `schema::CREATE_INDEXES`).
/// An agent lists its node's instances by this label each time it
/// (re)connects.
pub(crate) const INDEXED_LABELS: [&str; 1] = [ContainerLabels::NODE];

/// The statement and its parameters for `query`.
pub(crate) struct ListStatement {
    pub sql: String,
    pub params: Vec<String>,
}

/// SQL for `labels->key`. The key is written into the statement rather than
/// bound, so that SQLite can match it against an index on that expression;
/// only keys `validate_label_key` accepts (letters, digits, `._/-`) are
/// used, and those cannot close the quoted path.
pub(crate) fn label_expr(key: &str) -> String {
    format!("json_extract(labels, '$.\"{key}\"')")
}

pub(crate) fn list_statement(query: &Query) -> ListStatement {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    if let Some(kind) = query.kind {
        params.push(kind.as_str().to_string());
        clauses.push(format!("kind = ?{}", params.len()));
    }
    if let Some(environment) = &query.environment {
        params.push(environment.clone());
        clauses.push(format!("environment = ?{}", params.len()));
    }
    for (key, value) in query.selector.equalities() {
        if validate_label_key(key).is_err() {
            continue;
        }
        params.push(value.to_string());
        clauses.push(format!("{} = ?{}", label_expr(key), params.len()));
    }
    if let Some(after) = query.page.as_ref().and_then(|p| p.after.as_ref()) {
        params.push(after.environment.clone());
        params.push(after.name.clone());
        params.push(after.kind.clone());
        let n = params.len();
        clauses.push(format!(
            "(environment, name, kind) > (?{}, ?{}, ?{n})",
            n - 2,
            n - 1
        ));
    }
    let mut sql = String::from("SELECT revision, body FROM objects");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    if let Some(page) = &query.page {
        // A page is read in key order and stops at its limit: the cost
        // of a page is the page's, not the whole list's.
        sql.push_str(&format!(
            " ORDER BY environment, name, kind LIMIT {}",
            page.limit
        ));
    }
    ListStatement { sql, params }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use corral_types::{Kind, LabelSelector};

    use super::*;

    #[test]
    fn equality_terms_with_valid_keys_go_into_the_where_and_others_do_not() {
        let query = Query::kind(Kind::Instance)
            .in_environment("default")
            .with_selector(LabelSelector::parse("io.corral.node=n1,app!=web,tier").unwrap());
        let stmt = list_statement(&query);
        assert_eq!(
            stmt.sql,
            "SELECT revision, body FROM objects WHERE kind = ?1 AND environment = ?2 \
             AND json_extract(labels, '$.\"io.corral.node\"') = ?3"
        );
        assert_eq!(stmt.params, ["Instance", "default", "n1"]);
    }

    #[test]
    fn a_key_that_could_break_the_statement_is_left_to_the_decoded_check() {
        let query = Query::default().with_selector(LabelSelector::equals("a\"') OR 1=1 --", "x"));
        let stmt = list_statement(&query);
        assert!(!stmt.sql.contains("OR 1=1"), "{}", stmt.sql);
        assert!(stmt.params.is_empty());
    }

    #[test]
    fn a_list_of_one_nodes_instances_reads_through_the_node_label_index() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::init(&mut conn, "test").unwrap();
        let query = Query::kind(Kind::Instance)
            .in_environment("default")
            .with_selector(LabelSelector::equals(ContainerLabels::NODE, "n1"));
        let stmt = list_statement(&query);
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", stmt.sql))
            .unwrap()
            .query_map(rusqlite::params_from_iter(&stmt.params), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("USING INDEX objects_by_label_0")),
            "{plan:?}"
        );
    }
}
