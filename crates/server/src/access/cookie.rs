//! The browser's session: an `HttpOnly`, `SameSite=Strict` cookie that
//! scripts cannot read, and a CSRF token that every write must carry.
//!
//! `POST /v1/login` with `"cookie": true` sets the cookie and answers the
//! CSRF token instead of the session's token; `GET /v1/whoami` by cookie
//! answers it again (after a reload). The token is an HMAC of the session's
//! own token, so it needs no storage and dies with the session; only a
//! page of the server's own origin learns it, so a request forged by
//! another site (which the browser may send with the cookie) lacks it. A
//! write (any method but GET, HEAD, OPTIONS) by cookie must bring it in
//! `X-CSRF-Token`; a WebSocket upgrade (a GET with effects: exec) as the
//! subprotocol `corral.csrf.<token>`, since a browser's WebSocket cannot
//! set headers. An `Authorization` header always wins over the cookie:
//! the CLI and API clients never see any of this.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::secrets::{constant_time_eq, hex};

/// The cookie's name.
pub const SESSION_COOKIE: &str = "corral_session";
/// The header a write by cookie carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A WebSocket's CSRF token, as an offered subprotocol.
pub const CSRF_PROTOCOL_PREFIX: &str = "corral.csrf.";

/// What the gate found for a request that came by cookie, handed to the
/// handlers (whoami answers the CSRF token, logout clears the cookie).
#[derive(Debug, Clone)]
pub struct CookieSession {
    pub csrf_token: String,
}

/// The session token in the request's `Cookie` headers, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The CSRF token of a session token.
pub fn csrf_token(session_token: &str) -> String {
    // Invariant: HMAC takes a key of any length, so `new_from_slice`
    // cannot fail; the fallback only keeps this free of a panic.
    match Hmac::<Sha256>::new_from_slice(session_token.as_bytes()) {
        Ok(mut mac) => {
            mac.update(b"corral csrf v1");
            hex(&mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Why a request by cookie may not go on, if it may not: a write without
/// the session's CSRF token.
pub fn csrf_refusal(method: &Method, headers: &HeaderMap, session_token: &str) -> Option<String> {
    let expected = csrf_token(session_token);
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let presented = if websocket {
        headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|p| p.trim().strip_prefix(CSRF_PROTOCOL_PREFIX))
            .map(str::to_string)
    } else if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    } else {
        headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match presented {
        Some(p) if !expected.is_empty() && constant_time_eq(p.as_bytes(), expected.as_bytes()) => {
            None
        }
        Some(_) => Some("wrong CSRF token for this session".into()),
        None if websocket => Some(format!(
            "a WebSocket by session cookie must offer the subprotocol {CSRF_PROTOCOL_PREFIX}<token>"
        )),
        None => Some(format!(
            "a write by session cookie must carry the {CSRF_HEADER} header (from login or whoami)"
        )),
    }
}

/// `Set-Cookie` for a new session of `max_age_s` seconds.
pub fn set_cookie(token: &str, max_age_s: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age_s}; HttpOnly; Secure; SameSite=Strict"
    ))
    .ok()
}

/// `Set-Cookie` that removes the cookie (logout).
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "corral_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[(
            header::COOKIE,
            "theme=dark; corral_session=crl_session_a_b; x=1",
        )]);
        assert_eq!(session_token(&h).as_deref(), Some("crl_session_a_b"));
        assert_eq!(
            session_token(&headers(&[(header::COOKIE, "corral_session=")])),
            None
        );
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn reads_need_no_csrf_token_but_writes_need_the_sessions_own() {
        let token = "crl_session_a_b";
        let good = csrf_token(token);
        assert_eq!(good.len(), 64);
        assert_ne!(good, csrf_token("crl_session_a_c"));
        assert_eq!(csrf_refusal(&Method::GET, &HeaderMap::new(), token), None);
        let missing = csrf_refusal(&Method::POST, &HeaderMap::new(), token);
        assert!(missing.unwrap().contains("x-csrf-token"));
        let with = |v: &str| headers(&[(header::HeaderName::from_static(CSRF_HEADER), v)]);
        assert_eq!(csrf_refusal(&Method::DELETE, &with(&good), token), None);
        let other = csrf_token("crl_session_other");
        assert!(csrf_refusal(&Method::PUT, &with(&other), token).is_some());
    }

    #[test]
    fn a_websocket_by_cookie_offers_its_csrf_token_as_a_subprotocol() {
        let token = "crl_session_a_b";
        let upgrade = |protocols: &str| {
            headers(&[
                (header::UPGRADE, "websocket"),
                (header::SEC_WEBSOCKET_PROTOCOL, protocols),
            ])
        };
        let good = format!("corral.exec.v1, corral.csrf.{}", csrf_token(token));
        assert_eq!(csrf_refusal(&Method::GET, &upgrade(&good), token), None);
        assert!(csrf_refusal(&Method::GET, &upgrade("corral.exec.v1"), token).is_some());
        assert!(
            csrf_refusal(
                &Method::GET,
                &upgrade("corral.exec.v1, corral.csrf.00"),
                token
            )
            .is_some()
        );
    }

    #[test]
    fn the_cookie_is_http_only_secure_and_strict() {
        let v = set_cookie("crl_session_a_b", 3600).unwrap();
        let v = v.to_str().unwrap();
        for part in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(v.contains(part), "{v}");
        }
        assert!(clear_cookie().to_str().unwrap().contains("Max-Age=0"));
    }
}
