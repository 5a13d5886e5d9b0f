//! The real [`Fetcher`]: the embedded built-in catalog, or git through
//! `corral-gitsync`.

use std::path::Path;

use corral_types::CatalogSpec;

use super::book::{Fetched, Fetcher};
use super::builtin;

/// Fetches catalogs: `builtin://library` from the binary, others with git.
pub struct CatalogFetcher;

impl Fetcher for CatalogFetcher {
    fn fetch(&self, spec: &CatalogSpec, cache: &Path) -> Result<Fetched, String> {
        if spec.url == builtin::URL {
            return builtin::fetch(cache);
        }
        Err("fetching catalogs is not wired yet".into())
    }
}
