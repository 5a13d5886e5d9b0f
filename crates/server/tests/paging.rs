//! Paged lists (`?limit=N&continue=TOKEN`), against a server over an
//! in-memory store: every object once, in key order, each page answering
//! the first page's revision, and bad parameters refused naming them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use reqwest::StatusCode;

use common::{SERVICES, TestServer, service, start};
use corral_types::{Kind, Service};

async fn create(s: &TestServer, n: usize) {
    for i in 0..n {
        let r = s
            .post(SERVICES, &service(&format!("web{i:02}"), "nginx"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

#[tokio::test]
async fn a_paged_list_gives_every_object_once_with_the_first_pages_revision() {
    let s = start().await;
    create(&s, 25).await;
    let (mut names, mut token, mut revisions, mut pages) =
        (Vec::new(), None::<String>, Vec::new(), 0);
    loop {
        let path = match &token {
            Some(t) => format!("{SERVICES}?limit=10&continue={t}"),
            None => format!("{SERVICES}?limit=10"),
        };
        let r = s.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let body = r.json();
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 10);
        names.extend(
            items
                .iter()
                .map(|i| i["meta"]["name"].as_str().unwrap().to_string()),
        );
        revisions.push(body["revision"].as_u64().unwrap());
        pages += 1;
        // A write between pages: the later pages still answer the first revision.
        if pages == 1 {
            create_one(&s, "zz-late").await;
        }
        match body["continue"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25)
        .map(|i| format!("web{i:02}"))
        .chain(["zz-late".to_string()])
        .collect();
    assert_eq!(names, expected, "each once, in key order");
    assert_eq!(pages, 3);
    assert!(
        revisions.iter().all(|r| *r == revisions[0]),
        "{revisions:?}"
    );

    // The client's list reads in pages and answers the same objects.
    let all = s
        .client
        .list::<corral_types::ServiceSpec, corral_types::ServiceStatus>(
            "default",
            Kind::Service,
            "",
        )
        .await
        .unwrap();
    let listed: Vec<String> = all
        .items
        .iter()
        .map(|x: &Service| x.meta.name.clone())
        .collect();
    assert_eq!(listed, expected);
}

async fn create_one(s: &TestServer, name: &str) {
    let r = s.post(SERVICES, &service(name, "nginx")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_bad_limit_or_continue_token_is_400_naming_it() {
    let s = start().await;
    create(&s, 3).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=100000000", "limit"),
        ("limit=abc", "limit"),
        ("limit=2&continue=not-a-token", "continue"),
        ("continue=eyJ4IjoxfQ", "continue"),
    ] {
        let r = s.get(&format!("{SERVICES}?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert!(r.text.contains(field), "{query}: {}", r.text);
    }
    // No limit: the whole list, no continue.
    let r = s.get(SERVICES).await;
    assert!(r.json().get("continue").is_none(), "{}", r.text);
}
