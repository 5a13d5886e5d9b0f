//! The real [`Fetcher`]: the embedded built-in catalog, or git through
//! `corral-gitsync` (https, ssh, git:// and file URLs).

use std::path::Path;

use corral_gitsync::Credentials;
use corral_types::CatalogSpec;

use super::book::{Fetched, Fetcher};
use super::builtin;

/// Fetches catalogs: `builtin://library` from the binary, others with git.
pub struct CatalogFetcher;

impl Fetcher for CatalogFetcher {
    fn fetch(
        &self,
        spec: &CatalogSpec,
        credentials: Option<&Credentials>,
        cache: &Path,
    ) -> Result<Fetched, String> {
        if spec.url == builtin::URL {
            return builtin::fetch(cache);
        }
        let mut source = corral_gitsync::Source::new(spec.url.clone());
        source.branch = spec.branch.clone();
        source.credentials = credentials.cloned();
        let checkout = corral_gitsync::sync(&source, cache, &corral_gitsync::Limits::default())
            .map_err(|e| e.to_string())?;
        Ok(Fetched {
            commit: checkout.commit,
            root: checkout.dir,
        })
    }

    fn last(&self, cache: &Path) -> Option<Fetched> {
        corral_gitsync::last_checkout(cache).map(|c| Fetched {
            commit: c.commit,
            root: c.dir,
        })
    }
}
