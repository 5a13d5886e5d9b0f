//! The web UI's files (`corral-ui-assets`, embedded at compile time),
//! served at every path outside the API.
//!
//! They are not routes of the table (`routes/`): the table is the API, and
//! everything derived from it (the router's gates, the OpenAPI document,
//! the access matrix) is about the API. The UI's files are the same for
//! everyone and hold no data, so they are public; they are answered by the
//! router's fallback, which sees only what no route took. Paths of the API
//! (`/v1`, `/v1/...`, any other version `/vN/...`, `/openapi.json`) that
//! no route takes keep the API's answer (401 for an anonymous caller, else
//! 404), and so do methods other than GET and HEAD anywhere.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

use corral_ui_assets::Asset;

use crate::state::AppState;

/// What the pages may load: their own scripts, styles and API, no inline
/// script, and they may not be framed. Inline styles are allowed: the
/// browser's terminal (xterm.js) sizes its rows and colours with `<style>`
/// elements it writes at run time; a style cannot run code.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
     frame-ancestors 'none'";

/// Whether `path` belongs to the API rather than to the UI: `/openapi.json`,
/// or a first segment `v` and a version number (`/v1/...`, a future `/v2`).
pub fn is_api_path(path: &str) -> bool {
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let version = first.strip_prefix('v').unwrap_or_default();
    path == "/openapi.json" || (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()))
}

/// The router's fallback: a UI file, `index.html` for any other address of
/// the UI (the pages route in the browser), or the API's own answer.
pub async fn fallback(state: State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    if is_api_path(path) || !(req.method() == Method::GET || req.method() == Method::HEAD) {
        return crate::unmatched::not_found(state, req).await;
    }
    // A missing file with an extension (a stale hashed script) is a 404,
    // not the page: a browser would run HTML as a script otherwise.
    match corral_ui_assets::get(path) {
        Some(asset) => respond(asset),
        None if path.starts_with("/assets/") => {
            (axum::http::StatusCode::NOT_FOUND, "no such file").into_response()
        }
        None => respond(corral_ui_assets::index()),
    }
}

fn respond(asset: &'static Asset) -> Response {
    let cache = if asset.immutable() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp = asset.body.into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.content_type.starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_told_from_ui_paths() {
        for api in ["/v1", "/v1/", "/v1/environments", "/openapi.json"] {
            assert!(is_api_path(api), "{api}");
        }
        for ui in [
            "/",
            "/login",
            "/environments/dev",
            "/v1x",
            "/assets/index.js",
        ] {
            assert!(!is_api_path(ui), "{ui}");
        }
    }
}
