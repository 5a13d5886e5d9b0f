//! The one route table. The router, the OpenAPI document and the access
//! rule of every request are derived from it: a route is declared with
//! its rule or not at all ([`Route::new`] takes one), and the access
//! matrix test walks this table, so a new route is covered without anyone
//! remembering.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::access::guard::{Gate, check};
use crate::access::rules::Rule;
use crate::state::AppState;

/// One route: what it is, who may call it, and what serves it.
pub struct Route {
    pub method: Method,
    /// The path as axum and OpenAPI write it (`/v1/environments/{env}`).
    pub path: String,
    pub rule: Rule,
    pub summary: &'static str,
    /// The request body's schema in the OpenAPI document.
    pub body: Option<&'static str>,
    /// Audit only refusals (see `Gate::quiet`).
    pub quiet: bool,
    handler: MethodRouter<AppState>,
}

impl Route {
    pub fn new<H, T>(
        method: Method,
        path: impl Into<String>,
        rule: Rule,
        summary: &'static str,
        handler: H,
    ) -> Route
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        Route {
            method,
            path: path.into(),
            rule,
            summary,
            body: None,
            quiet: false,
            handler: on(filter, handler),
        }
    }

    pub(crate) fn body(mut self, schema: &'static str) -> Route {
        self.body = Some(schema);
        self
    }

    pub(crate) fn quiet(mut self) -> Route {
        self.quiet = true;
        self
    }
}

mod table;
mod table_catalogs;

pub use table::{resource_of, table};

/// The router: each route behind its gate; an unknown path or method of
/// the API is answered after the caller is authenticated (an anonymous
/// caller learns nothing about which paths exist). Every other GET is the
/// web UI's, public (`crate::ui`): the router's fallback, not a route.
pub fn router(state: AppState) -> Router {
    build(state, |route| route.handler)
}

/// The router with every handler replaced by one that answers 200 with
/// the route (`GET /v1/users`): the gates alone, for the access matrix
/// test, which checks every route of the table for every kind of caller
/// without running (and changing anything through) what the gates guard.
pub fn gates_only(state: AppState) -> Router {
    build(state, |route| {
        let name = format!("{} {}", route.method, route.path);
        let filter = MethodFilter::try_from(route.method.clone()).unwrap_or(MethodFilter::GET);
        on(filter, move || async move { name })
    })
}

/// The same handlers behind nothing but a comparison with the admin
/// token (what every request passed before the gates): for the
/// authorization benchmark (`cargo xtask bench auth`) only, which measures
/// what the gates cost against it.
pub fn router_without_gates(state: AppState) -> Router {
    let admin = state.admin_token.clone();
    let mut router = Router::new();
    let mut by_path: Vec<(String, MethodRouter<AppState>)> = Vec::new();
    for route in table() {
        let path = route.path.clone();
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(route.handler);
                *existing = merged;
            }
            None => by_path.push((path, route.handler)),
        }
    }
    for (path, methods) in by_path {
        router = router.route(&path, methods);
    }
    router
        .layer(axum::middleware::from_fn(
            move |mut req: axum::extract::Request, next: axum::middleware::Next| {
                let admin = admin.clone();
                async move {
                    let token = crate::access::guard::bearer(&req);
                    let ok = token.is_some_and(|t| {
                        crate::access::secrets::constant_time_eq(t.as_bytes(), admin.as_bytes())
                    });
                    if !ok {
                        return axum::response::IntoResponse::into_response(
                            crate::error::ApiError::Unauthorized("invalid token".into()),
                        );
                    }
                    req.extensions_mut().insert(crate::access::Caller::system());
                    next.run(req).await
                }
            },
        ))
        .with_state(state)
}

fn build(state: AppState, handler: impl Fn(Route) -> MethodRouter<AppState>) -> Router {
    let mut by_path: Vec<(String, MethodRouter<AppState>)> = Vec::new();
    for route in table() {
        let gate = Gate {
            state: state.clone(),
            rule: route.rule,
            route: format!("{} {}", route.method, route.path),
            quiet: route.quiet,
        };
        let path = route.path.clone();
        let guarded = handler(route).route_layer(axum::middleware::from_fn_with_state(gate, check));
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(guarded);
                *existing = merged;
            }
            None => by_path.push((path, guarded)),
        }
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        let methods = methods.fallback(crate::unmatched::method_not_allowed);
        router = router.route(&path, methods);
    }
    router.fallback(crate::ui::fallback).with_state(state)
}
