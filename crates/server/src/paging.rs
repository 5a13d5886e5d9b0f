//! Paged lists, as Kubernetes pages them: `?limit=N` answers at most N
//! objects and, while more follow, a `continue` token; `?continue=TOKEN`
//! (with the same query) answers the next page. The store reads one page
//! at a time, in key order (environment, name, kind), so a client listing
//! every instance costs the server a page's memory, not the whole list's.
//!
//! Every page answers the revision the first page was read at (the token
//! carries it): a client that lists page by page and then watches from
//! that revision sees every change made while it paged, as after an
//! unpaged list. A page is read at the store's current state, so an object
//! changed while paging may be listed as it was or as it is; the watch
//! brings it up to date either way.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

use corral_store::{ListKey, Page};

use crate::error::ApiError;

/// The most objects one page may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// What a `continue` token holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Token {
    /// The last object of the page before.
    after: ListKey,
    /// The revision of the first page.
    revision: u64,
}

/// The page `limit` and `continue` ask for (none: the whole list), and the
/// revision of the first page when this is a later one.
pub fn page(
    limit: Option<usize>,
    continue_token: Option<&str>,
) -> Result<Option<(Page, Option<u64>)>, ApiError> {
    let token = match continue_token.filter(|t| !t.is_empty()) {
        Some(t) => Some(decode(t)?),
        None => None,
    };
    let limit = match (limit, &token) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                Some("limit"),
                "continue goes with the limit of the page (limit=N)".to_string(),
            ));
        }
        (Some(n), _) if n == 0 || n > MAX_LIMIT => {
            return Err(ApiError::bad_request(
                Some("limit"),
                format!("limit {n} is not between 1 and {MAX_LIMIT}"),
            ));
        }
        (Some(n), _) => n,
    };
    let revision = token.as_ref().map(|t| t.revision);
    Ok(Some((
        Page {
            after: token.map(|t| t.after),
            limit,
        },
        revision,
    )))
}

/// The token of the page after `after`, for a list first read at `revision`.
pub fn token(after: ListKey, revision: u64) -> String {
    let json = serde_json::to_vec(&Token { after, revision }).unwrap_or_default();
    B64.encode(json)
}

fn decode(text: &str) -> Result<Token, ApiError> {
    let bad = || {
        ApiError::bad_request(
            Some("continue"),
            "continue: not a token this server gave (list again from the first page)".to_string(),
        )
    };
    let bytes = B64.decode(text).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ListKey {
        ListKey {
            environment: "default".into(),
            name: name.into(),
            kind: "Instance".into(),
        }
    }

    #[test]
    fn a_token_carries_the_key_and_the_first_pages_revision() {
        let t = token(key("web-7"), 42);
        let (page, revision) = page(Some(100), Some(&t)).unwrap().unwrap();
        assert_eq!(page.after, Some(key("web-7")));
        assert_eq!((page.limit, revision), (100, Some(42)));
    }

    #[test]
    fn no_limit_is_the_whole_list_and_bad_input_names_its_parameter() {
        assert!(page(None, None).unwrap().is_none());
        let err = |l: Option<usize>, c: Option<&str>| page(l, c).unwrap_err().to_string();
        assert!(err(Some(0), None).contains("limit"));
        assert!(err(Some(MAX_LIMIT + 1), None).contains("limit"));
        assert!(err(Some(5), Some("garbage!")).contains("continue"));
        assert!(err(None, Some(&token(key("a"), 1))).contains("limit"));
    }
}
