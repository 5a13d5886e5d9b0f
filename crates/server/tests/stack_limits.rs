//! A stack deploy (and its dry run) is refused (422, like every compose error) and stores nothing
//! when its compose files pass a bound: services, instances, or bytes after
//! expanding aliases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use corral_api::DeployRequest;
use corral_types::SourceFile;

use common::{env, start};

fn request(compose: String, dry_run: bool) -> DeployRequest {
    DeployRequest {
        files: vec![SourceFile {
            name: "docker-compose.yml".into(),
            content: compose,
        }],
        dry_run,
        ..DeployRequest::default()
    }
}

fn services(n: usize, scale: u32) -> String {
    let mut text = String::from("services:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  s{i}:\n    image: busybox\n    scale: {scale}\n"
        ));
    }
    text
}

#[tokio::test]
async fn a_deploy_past_the_services_or_instances_bound_is_refused_and_stores_nothing() {
    let s = start().await;
    env(&s, "dev").await;
    let before = s.snapshot();
    let cases = [
        (
            services(1_001, 1),
            "1001 services: a stack may have at most 1000",
        ),
        (
            services(3, 5_000),
            "services.s2: the scales of the stack's services add up to more than 10000 \
             instances, the most a stack may have",
        ),
    ];
    for (compose, message) in cases {
        for dry_run in [true, false] {
            let err = s
                .client
                .deploy_stack("dev", "big", &request(compose.clone(), dry_run))
                .await
                .unwrap_err();
            assert_eq!(err.status(), Some(422), "{err}");
            assert!(err.to_string().contains(message), "{err}");
            assert_eq!(before, s.snapshot());
        }
    }
    // At the bounds, it deploys.
    let plan = s
        .client
        .deploy_stack("dev", "big", &request(services(2, 5_000), true))
        .await
        .unwrap();
    assert_eq!(plan.created.len(), 2);
}

#[tokio::test]
async fn a_dry_run_of_aliases_expanding_past_the_byte_bound_is_refused() {
    let s = start().await;
    env(&s, "dev").await;
    let mut compose = format!("x-a0: &a0 {}\n", "x".repeat(1 << 20));
    for i in 1..=5 {
        let items = vec![format!("*a{}", i - 1); 10].join(", ");
        compose.push_str(&format!("x-a{i}: &a{i} [{items}]\n"));
    }
    compose.push_str("services:\n  web:\n    image: busybox\n");
    let before = s.snapshot();
    let err = s
        .client
        .deploy_stack("dev", "laughs", &request(compose, true))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(
        err.to_string()
            .contains("docker-compose.yml:3: yaml: more than 16777216 bytes"),
        "{err}"
    );
    assert_eq!(before, s.snapshot());
}
