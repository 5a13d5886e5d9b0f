//! The catalogs' checked-out templates, in memory: a refresh fetches a
//! catalog's repository (behind [`Fetcher`]), reads its templates and
//! records what it found in the catalog's status. The clones are a cache
//! under `<data dir>/catalogs`, rebuilt from the store's objects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use corral_catalog::{Repository, read_repository};
use corral_gitsync::Credentials;
use corral_store::Query;
use corral_types::{CatalogSpec, CatalogStatus, Kind, Object};

use crate::access::Caller;
use crate::admission::{Admission, Edit};
use crate::error::ApiError;
use crate::state::AppState;

/// How often every catalog is fetched again.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(300);

/// A checked-out commit of a repository.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub commit: String,
    /// The tree of that commit, as plain files.
    pub root: PathBuf,
}

/// Brings a repository's branch into `cache` (blocking; called on a
/// blocking thread). The error is a sentence for `catalog sources`.
pub trait Fetcher: Send + Sync {
    fn fetch(
        &self,
        spec: &CatalogSpec,
        credentials: Option<&Credentials>,
        cache: &Path,
    ) -> Result<Fetched, String>;

    /// The last good checkout in `cache`, without the network (read when
    /// a fetch fails and nothing is loaded yet: after a restart).
    fn last(&self, _cache: &Path) -> Option<Fetched> {
        None
    }
}

/// A catalog's templates as last read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub root: PathBuf,
    pub repo: Arc<Repository>,
}

/// Held while a catalog is fetched.
type FetchLock = Arc<std::sync::Mutex<()>>;

/// Every catalog's last good read, by (environment, name).
pub struct CatalogBook {
    dir: Option<PathBuf>,
    fetcher: Arc<dyn Fetcher>,
    loaded: RwLock<BTreeMap<(String, String), Loaded>>,
    /// One fetch at a time per catalog: its cache directory is not shared
    /// (an `add` refreshes in the background while the CLI asks for one).
    fetching: std::sync::Mutex<BTreeMap<(String, String), FetchLock>>,
}

impl CatalogBook {
    /// A book caching clones under `dir` (`None`: refreshes fail, for
    /// servers made in tests without a data directory).
    pub fn new(dir: Option<PathBuf>, fetcher: Arc<dyn Fetcher>) -> Self {
        CatalogBook {
            dir,
            fetcher,
            loaded: RwLock::new(BTreeMap::new()),
            fetching: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// The templates of catalog `name` of `env` (`GLOBAL` for a global one).
    pub fn get(&self, env: &str, name: &str) -> Option<Loaded> {
        let map = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        map.get(&(env.to_string(), name.to_string())).cloned()
    }

    /// Every catalog of `envs`, in name order within each.
    pub fn of(&self, envs: &[&str]) -> Vec<(String, Loaded)> {
        let map = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter(|((e, _), _)| envs.contains(&e.as_str()))
            .map(|((_, n), l)| (n.clone(), l.clone()))
            .collect()
    }

    pub fn forget(&self, env: &str, name: &str) {
        let mut map = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        map.remove(&(env.to_string(), name.to_string()));
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(cache_dir(dir, env, name));
        }
    }

    fn fetch_lock(&self, env: &str, name: &str) -> FetchLock {
        let mut map = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((env.to_string(), name.to_string()))
            .or_default()
            .clone()
    }

    fn put(&self, env: &str, name: &str, loaded: Loaded) {
        let mut map = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        map.insert((env.to_string(), name.to_string()), loaded);
    }
}

fn cache_dir(dir: &Path, env: &str, name: &str) -> PathBuf {
    dir.join(env).join(name)
}

/// Fetches and reads catalog `name` of `env` now, and records the outcome
/// in its status (a failed fetch keeps the templates read before). Answers
/// the status written.
pub async fn refresh(state: &AppState, env: &str, name: &str) -> Result<CatalogStatus, ApiError> {
    let raw = crate::objects::get_object(state, Kind::Catalog, env, name).await?;
    let catalog: Object<CatalogSpec, CatalogStatus> =
        Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let book = state.catalogs.clone();
    let (e, n, spec) = (env.to_string(), name.to_string(), catalog.spec.clone());
    let outcome = match super::credentials::open(state, env, name, &spec) {
        Ok(credentials) => tokio::task::spawn_blocking(move || {
            fetch_and_read(&book, &e, &n, &spec, credentials.as_ref())
        })
        .await
        .map_err(|e| ApiError::Internal(format!("catalog refresh: {e}")))?,
        Err(e) => Err(e),
    };
    let mut status = catalog.status.clone();
    status.refreshed_at = Some(state.clock.now_rfc3339());
    match outcome {
        Ok((commit, repo)) => {
            status.commit = Some(commit);
            status.error = None;
            status.templates = repo.templates.len();
            status.template_errors = repo.errors.clone();
        }
        Err(e) => status.error = Some(e),
    }
    let admission = Admission::new(state, &Caller::system());
    let written = status.clone();
    let stored = admission
        .edit::<CatalogSpec, CatalogStatus>(Kind::Catalog, env, name, |c| {
            c.status = written.clone();
            Ok(Edit::Write)
        })
        .await;
    if let Err(ApiError::NotFound(_)) = &stored {
        // Removed while it was fetched: offer none of its templates.
        state.catalogs.forget(env, name);
    }
    stored?;
    Ok(status)
}

fn fetch_and_read(
    book: &CatalogBook,
    env: &str,
    name: &str,
    spec: &CatalogSpec,
    credentials: Option<&Credentials>,
) -> Result<(String, Arc<Repository>), String> {
    let dir = book
        .dir
        .as_ref()
        .ok_or_else(|| "this server keeps no catalog cache".to_string())?;
    let cache = cache_dir(dir, env, name);
    let lock = book.fetch_lock(env, name);
    let _one_at_a_time = lock.lock().unwrap_or_else(|p| p.into_inner());
    let fetched = match book.fetcher.fetch(spec, credentials, &cache) {
        Ok(f) => f,
        Err(e) => {
            if book.get(env, name).is_none()
                && let Some(last) = book.fetcher.last(&cache)
            {
                let repo = Arc::new(read_repository(name, &last.root));
                book.put(
                    env,
                    name,
                    Loaded {
                        root: last.root,
                        repo,
                    },
                );
            }
            return Err(e);
        }
    };
    let repo = Arc::new(read_repository(name, &fetched.root));
    book.put(
        env,
        name,
        Loaded {
            root: fetched.root,
            repo: repo.clone(),
        },
    );
    Ok((fetched.commit, repo))
}

/// Refreshes every catalog at start and then every `interval`, until the
/// server stops. One catalog's failure is its own status, not the others'.
pub async fn refresh_forever(state: AppState, interval: Duration) {
    let mut stop = state.shutdown.clone();
    loop {
        let q = Query::kind(Kind::Catalog);
        if let Ok(listing) = state.store(move |s| s.list(&q)).await {
            for c in listing.items {
                if let Err(e) = refresh(&state, &c.meta.environment, &c.meta.name).await {
                    tracing::warn!("catalog {}/{}: {e}", c.meta.environment, c.meta.name);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
