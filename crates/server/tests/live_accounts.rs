//! Members, users and API keys follow like every other list: `?watch=true`
//! streams their changes (what the web UI's pages follow), without a
//! hash, and a user's watch of API keys shows only the user's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use reqwest::StatusCode;

#[tokio::test]
async fn users_and_members_can_be_watched_and_their_events_hold_no_hash() {
    let s = common::start().await;
    let users = s.get("/v1/users").await.json();
    let revision = users["revision"].as_u64().unwrap();
    let mut watch = s
        .watch(&format!("/v1/users?watch=true&revision={revision}"))
        .await;
    let members = s.get("/v1/environments/default/members").await.json();
    let member_revision = members["revision"].as_u64().unwrap();
    let mut member_watch = s
        .watch(&format!(
            "/v1/environments/default/members?watch=true&revision={member_revision}"
        ))
        .await;

    common::user(&s, "carol", "default", Some(corral_types::Role::Member)).await;
    let created = watch.next().await;
    assert_eq!(created["type"], "created", "{created}");
    assert_eq!(created["object"]["meta"]["name"], "carol");
    let text = created.to_string();
    assert!(
        !text.contains("argon2"),
        "a password hash in a watch: {text}"
    );
    let added = member_watch.next().await;
    assert_eq!(added["type"], "created", "{added}");
    assert_eq!(added["object"]["spec"]["subject"], "carol");
    assert_eq!(added["object"]["spec"]["role"], "member");
}

#[tokio::test]
async fn a_users_watch_of_api_keys_shows_only_the_users_own() {
    let s = common::start().await;
    let dave = common::user(&s, "dave", "default", Some(corral_types::Role::Member)).await;
    let listed = dave.apikeys().await.unwrap();
    let path = format!("/v1/apikeys?watch=true&revision={}", listed.revision);
    let resp = s
        .http
        .get(format!("{}{path}", s.url))
        .bearer_auth(s.client.login("dave", "dave-password").await.unwrap().token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Another user's key first, then dave's: dave's watch shows only his.
    let erin = common::user(&s, "erin", "default", None).await;
    erin.create_apikey(&corral_api::ApiKeyCreate {
        description: "erin's".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let made = dave
        .create_apikey(&corral_api::ApiKeyCreate {
            description: "dave's".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    use futures::StreamExt;
    let mut buf = Vec::new();
    let first = tokio::time::timeout(common::WAIT, async {
        loop {
            if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                return serde_json::from_slice::<serde_json::Value>(&line).unwrap();
            }
            buf.extend_from_slice(&body.next().await.unwrap().unwrap());
        }
    })
    .await
    .expect("no event in time");
    assert_eq!(first["type"], "created", "{first}");
    assert_eq!(first["object"]["meta"]["name"], made.id.as_str(), "{first}");
    assert!(!first.to_string().contains("secret_hash\":\""), "{first}");
}
