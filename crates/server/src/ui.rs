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
//!
//! For work on the UI, `CORRAL_UI_DIR=ui/dist` makes the server read the
//! files from that directory on every request instead (rebuilt by `npm run
//! build`, no new binary needed); see docs/UI.md.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
    if let Some(dir) = ui_dir() {
        return from_dir(dir, path).await;
    }
    // A missing file under /assets/ (a stale hashed script) is a 404, not
    // the page: a browser would run HTML as a script otherwise.
    match corral_ui_assets::get(path) {
        Some(asset) => respond(
            Body::from(asset.body),
            asset.content_type,
            asset.immutable(),
        ),
        None if path.starts_with("/assets/") => not_found(),
        None => {
            let index = corral_ui_assets::index();
            respond(Body::from(index.body), index.content_type, false)
        }
    }
}

/// The directory named by `CORRAL_UI_DIR`, read once.
fn ui_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os("CORRAL_UI_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    })
    .as_deref()
}

/// The same answers as the embedded files, read from `dir` now. Only plain
/// names below `dir` are read: no `..`, `.` or empty segment.
async fn from_dir(dir: &Path, path: &str) -> Response {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let plain = segments
        .iter()
        .all(|s| !s.is_empty() && *s != "." && *s != ".." && !s.contains('\\'));
    if plain && let Ok(body) = tokio::fs::read(dir.join(segments.join("/"))).await {
        return respond(
            Body::from(body),
            corral_ui_assets::content_type(path),
            false,
        );
    }
    if path.starts_with("/assets/") {
        return not_found();
    }
    match tokio::fs::read(dir.join("index.html")).await {
        Ok(body) => respond(
            Body::from(body),
            corral_ui_assets::content_type("index.html"),
            false,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("CORRAL_UI_DIR {}: index.html: {e}", dir.display()),
        )
            .into_response(),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such file").into_response()
}

fn respond(body: Body, content_type: &'static str, immutable: bool) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if content_type.starts_with("text/html") {
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

    async fn body_of(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn a_ui_dir_serves_only_files_below_it() {
        let root = tempfile::tempdir().unwrap();
        let dist = root.path().join("dist");
        std::fs::create_dir_all(dist.join("assets")).unwrap();
        std::fs::write(dist.join("index.html"), "the page").unwrap();
        std::fs::write(dist.join("assets/a.js"), "the script").unwrap();
        std::fs::write(root.path().join("secret"), "not served").unwrap();

        let script = from_dir(&dist, "/assets/a.js").await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(body_of(script).await, "the script");
        assert_eq!(body_of(from_dir(&dist, "/hosts").await).await, "the page");
        assert_eq!(
            body_of(from_dir(&dist, "/../secret").await).await,
            "the page"
        );
        let missing = from_dir(&dist, "/assets/../../secret").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
