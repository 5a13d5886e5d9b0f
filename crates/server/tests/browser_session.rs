//! A browser's session: the login sets an HttpOnly, SameSite=Strict cookie
//! and answers a CSRF token in place of the session's token; reads by
//! cookie need nothing more, writes need the token (and are refused and
//! recorded without it), and logout clears the cookie.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Browser {
    url: String,
    http: reqwest::Client,
    cookie: String,
}

impl Browser {
    async fn send(
        &self,
        method: Method,
        path: &str,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("cookie", format!("theme=dark; {}", self.cookie));
        if let Some(csrf) = csrf {
            req = req.header("x-csrf-token", csrf);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

async fn cookie_login(s: &common::TestServer, user: &str) -> (Browser, String) {
    let resp = s
        .http
        .post(format!("{}/v1/login", s.url))
        .json(&json!({"username": user, "password": format!("{user}-password"), "cookie": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("token").is_none(),
        "the body must not carry the session token: {body}"
    );
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("corral_session=crl_s_"), "{cookie}");
    let browser = Browser {
        url: s.url.clone(),
        http: s.http.clone(),
        cookie,
    };
    (browser, csrf)
}

#[tokio::test]
async fn a_cookie_session_reads_freely_and_writes_only_with_its_csrf_token() {
    let s = common::start().await;
    common::user(&s, "alice", "default", Some(corral_types::Role::Member)).await;
    let (browser, csrf) = cookie_login(&s, "alice").await;

    // Reads by cookie alone; whoami gives the CSRF token back (a reload).
    let (status, me) = browser.send(Method::GET, "/v1/whoami", None, None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"], "alice");
    assert_eq!(me["csrf_token"], csrf.as_str());
    let (status, _) = browser
        .send(Method::GET, "/v1/environments/default/services", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // A write without the token (what a forged request would be) is
    // refused, recorded, and changes nothing.
    let before = s.snapshot();
    let service = common::service("web", "nginx");
    let path = "/v1/environments/default/services";
    let (status, err) = browser
        .send(Method::POST, path, None, Some(service.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert!(err.to_string().contains("x-csrf-token"), "{err}");
    let (status, _) = browser
        .send(Method::POST, path, Some("0123"), Some(service.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.snapshot(), before);
    let refused = s
        .client
        .audit(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|r| r.user == "alice" && r.code == 403 && r.summary.to_lowercase().contains("csrf"))
        .count();
    assert_eq!(refused, 2);

    // With it, the write goes through.
    let (status, made) = browser
        .send(Method::POST, path, Some(&csrf), Some(service))
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");

    // Logout (a write too) revokes the session and clears the cookie.
    let resp = browser
        .http
        .post(format!("{}/v1/logout", browser.url))
        .header("cookie", &browser.cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cleared = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _) = browser.send(Method::GET, "/v1/whoami", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bearer_token_needs_no_csrf_token_and_wins_over_a_cookie() {
    let s = common::start().await;
    common::user(&s, "bob", "default", Some(corral_types::Role::ReadOnly)).await;
    let (browser, _) = cookie_login(&s, "bob").await;
    // The admin's header, with bob's cookie beside it: the header decides.
    let resp = s
        .http
        .post(format!("{}/v1/environments/default/services", s.url))
        .bearer_auth(common::TOKEN)
        .header("cookie", &browser.cookie)
        .json(&common::service("api", "nginx"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The CSRF token of a session is useless with another session's cookie.
    let (_, other_csrf) = cookie_login(&s, "bob").await;
    let (status, me) = browser.send(Method::GET, "/v1/whoami", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(me["csrf_token"], other_csrf.as_str());
    // A login by a user who has a cookie already is not a write by cookie.
    let resp = s
        .http
        .post(format!("{}/v1/login", s.url))
        .header("cookie", &browser.cookie)
        .json(&json!({"username": "bob", "password": "bob-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
