//! The one admission path, through the real handlers: what a route's
//! writes may touch, what a deactivated environment still allows, host
//! access a service already had, and the audit entry naming what was
//! stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use corral_api::{AuditQuery, DeployRequest};
use corral_types::{Kind, Object, Role, Service, ServiceSpec, SourceFile};

use common::{env, start, user};

fn service(env: &str, name: &str) -> Service {
    Object::new(
        Kind::Service,
        env,
        name,
        ServiceSpec {
            image: "nginx".into(),
            scale: 1,
            ..ServiceSpec::default()
        },
    )
}

#[tokio::test]
async fn the_audit_entry_of_a_write_names_the_objects_it_stored() {
    let s = start().await;
    env(&s, "dev").await;
    let mia = user(&s, "mia", "dev", Some(Role::Member)).await;
    mia.create(&service("dev", "web")).await.unwrap();
    let req = DeployRequest {
        files: vec![SourceFile {
            name: "docker-compose.yml".into(),
            content: "services:\n  api:\n    image: busybox\n".into(),
        }],
        ..DeployRequest::default()
    };
    mia.deploy_stack("dev", "shop", &req).await.unwrap();
    let records = s.client.audit(&AuditQuery::default()).await.unwrap().items;
    let create = records
        .iter()
        .find(|r| r.user == "mia" && r.verb.starts_with("POST") && r.verb.ends_with("/services"))
        .expect("the create is recorded");
    assert!(
        create.summary.contains("stored service dev/web@"),
        "{}",
        create.summary
    );
    let deploy = records
        .iter()
        .find(|r| r.user == "mia" && r.verb.contains("/deploy"))
        .expect("the deploy is recorded");
    assert!(
        deploy.summary.contains("stack dev/shop@")
            && deploy.summary.contains("service dev/shop-api@"),
        "{}",
        deploy.summary
    );
}

#[tokio::test]
async fn a_restricted_user_may_scale_a_privileged_service_but_not_add_host_access() {
    let s = start().await;
    env(&s, "dev").await;
    let mia = user(&s, "mia", "dev", Some(Role::Member)).await;
    let rita = user(&s, "rita", "dev", Some(Role::Restricted)).await;
    let mut root = service("dev", "root");
    root.spec.privileged = true;
    mia.create(&root).await.unwrap();
    // What a member gave it stays when a restricted user scales it...
    rita.scale_service("dev", "root", 2).await.unwrap();
    // ...but a restricted user adds no host access of its own.
    let mut stored: Service = rita.get("dev", Kind::Service, "root").await.unwrap();
    stored.spec.cap_add = vec!["NET_ADMIN".into()];
    let before = s.snapshot();
    let err = rita.update(&stored).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("spec.cap_add"), "{err}");
    assert_eq!(before, s.snapshot());
}

#[tokio::test]
async fn a_deactivated_environment_allows_removal_and_nothing_else() {
    let s = start().await;
    env(&s, "dev").await;
    s.client.create(&service("dev", "web")).await.unwrap();
    s.client.set_environment_active("dev", false).await.unwrap();
    let before = s.snapshot();
    let scale = s.client.scale_service("dev", "web", 3).await.unwrap_err();
    assert_eq!(scale.status(), Some(409), "{scale}");
    assert!(scale.to_string().contains("deactivated"), "{scale}");
    let create = s.client.create(&service("dev", "api")).await.unwrap_err();
    assert_eq!(create.status(), Some(409), "{create}");
    assert_eq!(before, s.snapshot());
    s.client.delete("dev", Kind::Service, "web").await.unwrap();
}
