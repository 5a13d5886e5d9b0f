//! The web UI's files at every path outside the API: public, with their
//! content types and caching; the API's unknown paths keep the API's
//! answers (401 for an anonymous caller).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;

async fn anonymous(
    s: &common::TestServer,
    method: reqwest::Method,
    path: &str,
) -> reqwest::Response {
    s.http
        .request(method, format!("{}{path}", s.url))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_ui_is_public_and_every_page_address_answers_its_index() {
    let s = common::start().await;
    for path in [
        "/",
        "/login",
        "/environments/dev",
        "/environments/dev/services/web",
    ] {
        let resp = anonymous(&s, reqwest::Method::GET, path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let headers = resp.headers().clone();
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let body = resp.text().await.unwrap();
        assert_eq!(body.as_bytes(), corral_ui_assets::index().body, "{path}");
    }
    if !corral_ui_assets::built() {
        let body = anonymous(&s, reqwest::Method::GET, "/")
            .await
            .text()
            .await
            .unwrap();
        assert!(body.contains("cargo xtask ui build"), "{body}");
    }
}

#[tokio::test]
async fn hashed_files_are_cached_for_good_and_missing_ones_are_404() {
    let s = common::start().await;
    for asset in corral_ui_assets::all() {
        let resp = anonymous(&s, reqwest::Method::GET, asset.path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", asset.path);
        assert_eq!(resp.headers()["content-type"], asset.content_type);
        let cache = resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_string();
        if asset.immutable() {
            assert!(cache.contains("immutable"), "{}: {cache}", asset.path);
        }
        assert_eq!(resp.bytes().await.unwrap().as_ref(), asset.body);
    }
    let resp = anonymous(&s, reqwest::Method::GET, "/assets/index-gone.js").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_apis_unknown_paths_and_other_methods_keep_the_apis_answers() {
    let s = common::start().await;
    for path in ["/v1", "/v1/nothing", "/v1/environments/default/nothing"] {
        let resp = anonymous(&s, reqwest::Method::GET, path).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let resp = anonymous(&s, reqwest::Method::POST, "/").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let reply = s.get("/v1/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.text.contains("no such endpoint"), "{}", reply.text);
    let resp = anonymous(&s, reqwest::Method::GET, "/openapi.json").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
