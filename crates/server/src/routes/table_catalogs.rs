//! The catalog routes of the table: global catalogs (an admin's), an
//! environment's own (its owners'), the templates an environment offers,
//! and launching one.

use axum::http::Method as M;

use super::Route;
use crate::access::rules::{Resource, Rule, Verb};
use crate::catalogs::{self, apps, templates};

const ENV: &str = "/v1/environments/{env}";

fn env_path(rest: &str) -> String {
    format!("{ENV}{rest}")
}

/// Every catalog route.
pub fn routes() -> Vec<Route> {
    let global_read = Rule::global(Resource::Catalogs, Verb::Read);
    let global_write = Rule::global(Resource::Catalogs, Verb::Write);
    let env_read = Rule::env(Resource::Catalogs, Verb::Read);
    let env_write = Rule::env(Resource::Catalogs, Verb::Write);
    vec![
        Route::new(M::GET, "/v1/catalogs", global_read, "list the global catalogs, with what their last refresh found", catalogs::list_global),
        Route::new(M::POST, "/v1/catalogs", global_write, "add a global catalog (a git repository of Rancher templates); fetched in the background", catalogs::create_global).body("CatalogRequest"),
        Route::new(M::DELETE, "/v1/catalogs/{name}", global_write, "remove a global catalog", catalogs::remove_global),
        Route::new(M::POST, "/v1/catalogs/{name}/refresh", global_write, "fetch a global catalog now; answers it with its status", catalogs::refresh_global),
        Route::new(M::GET, env_path("/catalogs"), env_read, "list the environment's own catalogs", catalogs::list),
        Route::new(M::POST, env_path("/catalogs"), env_write, "add a catalog for this environment only (https, ssh or git URLs)", catalogs::create).body("CatalogRequest"),
        Route::new(M::DELETE, env_path("/catalogs/{name}"), env_write, "remove one of the environment's catalogs", catalogs::remove),
        Route::new(M::POST, env_path("/catalogs/{name}/refresh"), env_write, "fetch one of the environment's catalogs now", catalogs::refresh),
        Route::new(M::GET, env_path("/templates"), env_read, "the templates the environment offers (?category=, ?catalog=)", templates::list),
        Route::new(M::GET, env_path("/templates/{catalog}/{template}"), env_read, "a template: its versions, questions, README and files", templates::get),
        Route::new(M::GET, env_path("/templates/{catalog}/{template}/icon"), env_read, "a template's icon", templates::icon),
        Route::new(M::POST, env_path("/apps"), Rule::env(Resource::Workloads, Verb::Write), "launch a template as a stack (dry_run: the plan only)", apps::launch).body("LaunchRequest"),
        Route::new(M::GET, env_path("/apps"), Rule::env(Resource::Workloads, Verb::Read), "the stacks launched from templates, with an upgrade when one is available", apps::list),
        Route::new(M::POST, env_path("/apps/{name}/upgrade"), Rule::env(Resource::Workloads, Verb::Write), "upgrade a stack to another version of its template (answers carried over)", apps::upgrade).body("AppUpgradeRequest"),
        Route::new(M::POST, env_path("/apps/{name}/rollback"), Rule::env(Resource::Workloads, Verb::Write), "return a stack to the version and answers before its last upgrade", apps::rollback),
    ]
}
