//! The HTTP API contract, tested against a server over an in-memory store
//! with no controllers running.

// The helpers outside `#[tokio::test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::{SERVICES, TOKEN, TestServer, service, start, start_configured, start_with};
use corral_api::{
    JoinRequest, StatusBatchResult, StatusErrorCode, StatusReport, StatusReportError,
};
use corral_store::MemoryStore;
use corral_types::{
    Environment, EnvironmentSpec, Instance, InstanceSpec, InstanceState, InstanceStatus, Kind,
    NodeState, NodeStatus, Object, RawObject, Service, ServiceSpec, ServiceStatus,
};

async fn create_web(s: &TestServer) -> Value {
    let r = s.post(SERVICES, &service("web", "nginx")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

fn instance_in_store(s: &TestServer, name: &str) -> RawObject {
    let mut inst: Instance = Object::new(
        Kind::Instance,
        "default",
        name,
        InstanceSpec {
            service: "web".into(),
            ordinal: 1,
            node: "n1".into(),
            launch: ServiceSpec {
                image: "nginx".into(),
                scale: 1,
                ..Default::default()
            },
            service_generation: 1,
            removing: false,
            pinned_node: String::new(),
        },
    );
    inst.meta.uid = "uid-instance".into();
    inst.meta.generation = 1;
    s.store.create(inst.to_raw().unwrap()).unwrap()
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn every_endpoint_needs_the_bearer_token() {
    let s = start().await;
    create_web(&s).await;
    let endpoints: &[(Method, &str)] = &[
        (Method::GET, "/openapi.json"),
        (Method::GET, "/v1/environments"),
        (Method::POST, "/v1/environments"),
        (Method::GET, "/v1/environments/default"),
        (Method::PUT, "/v1/environments/default"),
        (Method::DELETE, "/v1/environments/default"),
        (Method::GET, "/v1/environments/default/services"),
        (Method::GET, "/v1/environments/default/services?watch=true"),
        (Method::POST, "/v1/environments/default/services"),
        (Method::GET, "/v1/environments/default/services/web"),
        (Method::PUT, "/v1/environments/default/services/web"),
        (Method::DELETE, "/v1/environments/default/services/web"),
        (Method::POST, "/v1/environments/default/services/web/scale"),
        (Method::POST, "/v1/environments/default/nodes/n1/join"),
        (Method::POST, "/v1/environments/default/nodes/n1/heartbeat"),
        (Method::POST, "/v1/environments/default/nodes/n1/statuses"),
        (
            Method::PUT,
            "/v1/environments/default/instances/web-1/status",
        ),
        (Method::GET, "/v1/environments/default/instances/web-1/logs"),
        (Method::GET, "/v1/watch"),
        (Method::GET, "/v1/environments/default/widgets"),
        (Method::GET, "/v2/no/such/path"),
        // Outside the API a GET is the web UI's page (tests/ui.rs); any
        // other method is the API's unknown path.
        (Method::POST, "/no/such/path"),
        (Method::PATCH, "/v1/environments"),
    ];
    let wrong: &[Option<&str>] = &[
        None,
        Some("Bearer wrong-token"),
        Some("Bearer test-token-and-more"),
        Some("Bearer "),
        Some("test-token"),
        Some("Basic dGVzdC10b2tlbg=="),
        Some("bearer"),
    ];
    let before = s.snapshot();
    for (method, path) in endpoints {
        for auth in wrong {
            let mut req = s
                .http
                .request(method.clone(), format!("{}{path}", s.url))
                .body(service("x", "nginx").to_string());
            if let Some(a) = auth {
                req = req.header("authorization", *a);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}"
            );
            assert_eq!(resp.headers()["www-authenticate"], "Bearer");
            let body: Value = resp.json().await.unwrap();
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{method} {path}: {body}"
            );
        }
    }
    assert_eq!(
        before,
        s.snapshot(),
        "unauthenticated requests changed the store"
    );
    // The right token opens the same door.
    assert_eq!(s.get("/openapi.json").await.status, StatusCode::OK);
}

// ---------------------------------------------------------------- openapi

#[tokio::test]
async fn openapi_document_is_served_as_openapi_3() {
    let s = start().await;
    let r = s.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.0."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/environments",
        "/v1/environments/{env}",
        "/v1/environments/{env}/services",
        "/v1/environments/{env}/services/{name}",
        "/v1/environments/{env}/certificates/{name}",
        "/v1/environments/{env}/services/{name}/scale",
        "/v1/environments/{env}/nodes/{name}/join",
        "/v1/environments/{env}/nodes/{name}/heartbeat",
        "/v1/environments/{env}/nodes/{name}/statuses",
        "/v1/environments/{env}/nodes/{name}",
        "/v1/environments/{env}/nodes/{name}/drain",
        "/v1/environments/{env}/nodes/{name}/activate",
        "/v1/environments/{env}/instances/{name}/status",
        "/v1/watch",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
    for schema in ["Service", "Node", "Certificate"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert_eq!(doc, corral_server::openapi_document());
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn create_returns_the_envelope_filled_in_by_the_server() {
    let s = start().await;
    let before = s.revision();
    let svc: Service = Object::new(
        Kind::Service,
        "default",
        "web",
        ServiceSpec {
            image: "nginx:1.27".into(),
            scale: 3,
            ..Default::default()
        },
    );
    let created = s.client.create(&svc).await.unwrap();
    assert_eq!(created.kind, Kind::Service);
    assert_eq!(created.meta.environment, "default");
    assert_eq!(created.meta.name, "web");
    assert!(!created.meta.uid.is_empty());
    assert!(created.meta.revision > before);
    assert_eq!(created.meta.revision, s.revision());
    assert_eq!(created.meta.generation, 1);
    assert!(
        time::OffsetDateTime::parse(
            &created.meta.created,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok(),
        "created {:?}",
        created.meta.created
    );
    assert_eq!(created.spec, svc.spec);
    assert_eq!(created.status, ServiceStatus::default());

    // The raw wire form has exactly the envelope's parts.
    let raw = s.get(&format!("{SERVICES}/web")).await.json();
    let keys: Vec<&str> = raw
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["kind", "meta", "spec", "status"]);
    for k in [
        "environment",
        "name",
        "uid",
        "revision",
        "generation",
        "labels",
        "created",
    ] {
        assert!(raw["meta"].get(k).is_some(), "meta lacks {k}: {raw}");
    }
}

#[tokio::test]
async fn create_takes_the_environment_from_the_path_and_ignores_status_and_identity() {
    let s = start().await;
    let body = json!({
        "meta": {"name": "web", "uid": "mine", "revision": 77, "generation": 9, "created": "yesterday"},
        "spec": {"image": "nginx"},
        "status": {"running": 5}
    });
    let r = s.post(SERVICES, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let obj = r.json();
    assert_eq!(obj["kind"], "Service");
    assert_eq!(obj["meta"]["environment"], "default");
    assert_ne!(obj["meta"]["uid"], "mine");
    assert_ne!(obj["meta"]["created"], "yesterday");
    assert_eq!(obj["meta"]["generation"], 1);
    assert_eq!(obj["meta"]["revision"], s.revision());
    assert_eq!(obj["status"], json!({}));
}

// ---------------------------------------------------------------- invalid input

#[tokio::test]
async fn malformed_json_is_400() {
    let s = start().await;
    for body in [
        &b"{"[..],
        b"{\"kind\": \"Service\",}",
        b"not json",
        b"{\"meta\":{\"name\":\"web\"},\"spec\":{\"image\":\"nginx\"}} trailing",
    ] {
        let r = s.reject(Method::POST, SERVICES, body, 400, None).await;
        assert!(
            r.json()["error"].as_str().unwrap().contains("JSON"),
            "{}",
            r.text
        );
    }
    s.reject(Method::POST, SERVICES, Vec::new(), 400, None)
        .await;
}

#[tokio::test]
async fn unknown_spec_field_is_422_naming_it() {
    let s = start().await;
    let body =
        json!({"kind": "Service", "meta": {"name": "web"}, "spec": {"image": "nginx", "scael": 3}});
    let r = s
        .reject(Method::POST, SERVICES, body.to_string(), 422, Some("scael"))
        .await;
    assert!(r.field().starts_with("spec"), "{}", r.text);
    // An unknown top-level field too.
    let body = json!({"kind": "Service", "metadata": {"name": "web"}, "spec": {"image": "nginx"}});
    s.reject(
        Method::POST,
        SERVICES,
        body.to_string(),
        422,
        Some("metadata"),
    )
    .await;
}

#[tokio::test]
async fn bad_name_is_422_naming_meta_name() {
    let s = start().await;
    for name in ["Web_1", "", "-web", "web-", &"a".repeat(64), "wéb"] {
        let r = s
            .reject(
                Method::POST,
                SERVICES,
                service(name, "nginx").to_string(),
                422,
                None,
            )
            .await;
        assert_eq!(r.field(), "meta.name", "{name:?}: {}", r.text);
    }
}

#[tokio::test]
async fn empty_image_is_422_naming_spec_image() {
    let s = start().await;
    for image in ["", "   ", "ngi nx"] {
        let r = s
            .reject(
                Method::POST,
                SERVICES,
                service("web", image).to_string(),
                422,
                None,
            )
            .await;
        assert_eq!(r.field(), "spec.image", "{}", r.text);
    }
}

#[tokio::test]
async fn duplicate_host_port_is_422_naming_the_second_port() {
    let s = start().await;
    let body = json!({"kind": "Service", "meta": {"name": "web"}, "spec": {"image": "nginx",
        "ports": [{"host_port": 8080, "container_port": 80}, {"host_port": 8080, "container_port": 81}]}});
    let r = s
        .reject(Method::POST, SERVICES, body.to_string(), 422, None)
        .await;
    assert_eq!(r.field(), "spec.ports[1].host_port", "{}", r.text);
}

#[tokio::test]
async fn wrong_type_is_422_naming_the_field() {
    let s = start().await;
    let body = json!({"kind": "Service", "meta": {"name": "web"}, "spec": {"image": "nginx", "scale": "three"}});
    let r = s
        .reject(Method::POST, SERVICES, body.to_string(), 422, None)
        .await;
    assert_eq!(r.field(), "spec.scale", "{}", r.text);
    let body = json!({"kind": "Service", "meta": {"name": "web", "labels": {"a": 1}}, "spec": {"image": "nginx"}});
    let r = s
        .reject(Method::POST, SERVICES, body.to_string(), 422, None)
        .await;
    assert_eq!(r.field(), "meta.labels.a", "{}", r.text);
}

#[tokio::test]
async fn kind_mismatch_is_422() {
    let s = start().await;
    let body = json!({"kind": "Node", "meta": {"name": "web"}, "spec": {"image": "nginx"}});
    s.reject(Method::POST, SERVICES, body.to_string(), 422, Some("kind"))
        .await;
    let body = json!({"kind": "Widget", "meta": {"name": "web"}, "spec": {"image": "nginx"}});
    s.reject(Method::POST, SERVICES, body.to_string(), 422, Some("kind"))
        .await;
    let body = json!({"kind": "Service", "meta": {"name": "staging"}, "spec": {}});
    s.reject(
        Method::POST,
        "/v1/environments",
        body.to_string(),
        422,
        Some("kind"),
    )
    .await;
}

#[tokio::test]
async fn environment_mismatch_is_422() {
    let s = start().await;
    let body = json!({"kind": "Service", "meta": {"name": "web", "environment": "prod"}, "spec": {"image": "nginx"}});
    s.reject(
        Method::POST,
        SERVICES,
        body.to_string(),
        422,
        Some("meta.environment"),
    )
    .await;
    // And on replace.
    let web = create_web(&s).await;
    let mut body = web.clone();
    body["meta"]["environment"] = json!("prod");
    s.reject(
        Method::PUT,
        &format!("{SERVICES}/web"),
        body.to_string(),
        422,
        Some("meta.environment"),
    )
    .await;
}

#[tokio::test]
async fn array_body_is_422() {
    let s = start().await;
    create_web(&s).await;
    instance_in_store(&s, "web-1");
    s.reject(Method::POST, SERVICES, "[]", 422, None).await;
    // An array shaped like the envelope is not an envelope either.
    let shaped = json!([null, {"name": "api"}, {"image": "nginx"}]);
    s.reject(Method::POST, SERVICES, shaped.to_string(), 422, None)
        .await;
    let shaped = json!(["Service", {"name": "api"}, {"image": "nginx"}, {}]);
    s.reject(Method::POST, SERVICES, shaped.to_string(), 422, None)
        .await;
    s.reject(
        Method::POST,
        &format!("{SERVICES}/web/scale"),
        "[5]",
        422,
        None,
    )
    .await;
    s.reject(
        Method::PUT,
        "/v1/environments/default/instances/web-1/status",
        "[\"running\"]",
        422,
        None,
    )
    .await;
}

#[tokio::test]
async fn huge_label_value_is_422() {
    let s = start().await;
    let body = json!({"kind": "Service", "meta": {"name": "web", "labels": {"team": "x".repeat(100_000)}},
        "spec": {"image": "nginx"}});
    s.reject(
        Method::POST,
        SERVICES,
        body.to_string(),
        422,
        Some("meta.labels"),
    )
    .await;
    let body = json!({"kind": "Service", "meta": {"name": "web", "labels": {"bad key": "x"}},
        "spec": {"image": "nginx"}});
    s.reject(
        Method::POST,
        SERVICES,
        body.to_string(),
        422,
        Some("meta.labels"),
    )
    .await;
}

// ---------------------------------------------------------------- not found, method

#[tokio::test]
async fn unknown_environment_is_404() {
    let s = start().await;
    s.reject(Method::GET, "/v1/environments/nope", "", 404, None)
        .await;
    s.reject(Method::GET, "/v1/environments/nope/services", "", 404, None)
        .await;
    s.reject(
        Method::GET,
        "/v1/environments/nope/services?watch=true",
        "",
        404,
        None,
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/nope/services",
        service("web", "nginx").to_string(),
        404,
        None,
    )
    .await;
    s.reject(
        Method::GET,
        "/v1/environments/nope/services/web",
        "",
        404,
        None,
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/nope/nodes/n1/join",
        json!({"status": {}}).to_string(),
        404,
        None,
    )
    .await;
    let err = s
        .client
        .get::<ServiceSpec, ServiceStatus>("nope", Kind::Service, "web")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn unknown_service_is_404() {
    let s = start().await;
    s.reject(Method::GET, &format!("{SERVICES}/web"), "", 404, None)
        .await;
    s.reject(Method::DELETE, &format!("{SERVICES}/web"), "", 404, None)
        .await;
    s.reject(
        Method::PUT,
        &format!("{SERVICES}/web"),
        json!({"meta": {"name": "web", "revision": 1}, "spec": {"image": "nginx"}}).to_string(),
        404,
        None,
    )
    .await;
    let err = s
        .client
        .get::<ServiceSpec, ServiceStatus>("default", Kind::Service, "web")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn unknown_resource_type_is_404() {
    let s = start().await;
    s.reject(
        Method::GET,
        "/v1/environments/default/widgets",
        "",
        404,
        None,
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/default/widgets",
        "{}",
        404,
        None,
    )
    .await;
    s.reject(
        Method::GET,
        "/v1/environments/default/widgets/w",
        "",
        404,
        None,
    )
    .await;
    // Environments are not a kind inside an environment.
    s.reject(
        Method::GET,
        "/v1/environments/default/environments",
        "",
        404,
        None,
    )
    .await;
    s.reject(Method::GET, "/v2/anything", "", 404, None).await;
}

#[tokio::test]
async fn unknown_action_is_404_and_wrong_method_on_an_action_is_405() {
    let s = start().await;
    create_web(&s).await;
    s.reject(
        Method::POST,
        &format!("{SERVICES}/web/restart"),
        "{}",
        404,
        None,
    )
    .await;
    s.reject(
        Method::POST,
        &format!("{SERVICES}/web/join"),
        "{}",
        404,
        None,
    )
    .await;
    s.reject(Method::GET, &format!("{SERVICES}/web/scale"), "", 405, None)
        .await;
    s.reject(
        Method::PUT,
        &format!("{SERVICES}/web/scale"),
        "{\"scale\":2}",
        405,
        None,
    )
    .await;
    s.reject(
        Method::GET,
        "/v1/environments/default/nodes/n1/join",
        "",
        405,
        None,
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/default/instances/web-1/status",
        "{}",
        405,
        None,
    )
    .await;
}

#[tokio::test]
async fn nodes_and_instances_cannot_be_created_or_replaced_by_users() {
    let s = start().await;
    let node = json!({"kind": "Node", "meta": {"name": "n1"}, "spec": {}});
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes",
        node.to_string(),
        405,
        Some("join"),
    )
    .await;
    instance_in_store(&s, "web-1");
    let inst = s
        .get("/v1/environments/default/instances/web-1")
        .await
        .json();
    s.reject(
        Method::POST,
        "/v1/environments/default/instances",
        inst.to_string(),
        405,
        None,
    )
    .await;
    s.reject(
        Method::PUT,
        "/v1/environments/default/instances/web-1",
        inst.to_string(),
        405,
        None,
    )
    .await;
}

// ---------------------------------------------------------------- conflicts, replace

#[tokio::test]
async fn duplicate_create_is_409() {
    let s = start().await;
    create_web(&s).await;
    s.reject(
        Method::POST,
        SERVICES,
        service("web", "redis").to_string(),
        409,
        None,
    )
    .await;
    let err = s
        .client
        .create(&Service::new(
            Kind::Service,
            "default",
            "web",
            ServiceSpec {
                image: "redis".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
}

#[tokio::test]
async fn replace_with_a_stale_revision_is_409_and_changes_nothing() {
    let s = start().await;
    let first = create_web(&s).await;
    let mut second = first.clone();
    second["spec"]["scale"] = json!(2);
    let r = s.put(&format!("{SERVICES}/web"), &second).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // `first` carries the revision before that write.
    let mut stale = first.clone();
    stale["spec"]["scale"] = json!(5);
    stale["meta"]["labels"] = json!({"a": "b"});
    let r = s
        .reject(
            Method::PUT,
            &format!("{SERVICES}/web"),
            stale.to_string(),
            409,
            None,
        )
        .await;
    assert!(r.text.contains("revision"), "{}", r.text);
    // A revision from the future is no better.
    stale["meta"]["revision"] = json!(s.revision() + 100);
    s.reject(
        Method::PUT,
        &format!("{SERVICES}/web"),
        stale.to_string(),
        409,
        None,
    )
    .await;
    let now: Service = s.client.get("default", Kind::Service, "web").await.unwrap();
    assert_eq!(now.spec.scale, 2);
}

#[tokio::test]
async fn replace_without_a_revision_is_422() {
    let s = start().await;
    create_web(&s).await;
    let mut body = service("web", "redis");
    let r = s
        .reject(
            Method::PUT,
            &format!("{SERVICES}/web"),
            body.to_string(),
            422,
            None,
        )
        .await;
    assert_eq!(r.field(), "meta.revision", "{}", r.text);
    body["meta"]["revision"] = json!(0);
    s.reject(
        Method::PUT,
        &format!("{SERVICES}/web"),
        body.to_string(),
        422,
        Some("meta.revision"),
    )
    .await;
    // A name that is not the path's is 422 too.
    let mut other = s.get(&format!("{SERVICES}/web")).await.json();
    other["meta"]["name"] = json!("api");
    s.reject(
        Method::PUT,
        &format!("{SERVICES}/web"),
        other.to_string(),
        422,
        Some("meta.name"),
    )
    .await;
}

#[tokio::test]
async fn replace_bumps_generation_only_when_the_spec_changes() {
    let s = start().await;
    create_web(&s).await;
    let mut svc: Service = s.client.get("default", Kind::Service, "web").await.unwrap();
    let uid = svc.meta.uid.clone();
    let created = svc.meta.created.clone();

    // Labels only: same generation, new revision.
    svc.meta.labels.insert("team".into(), "blue".into());
    let labelled = s.client.update(&svc).await.unwrap();
    assert_eq!(labelled.meta.generation, 1);
    assert!(labelled.meta.revision > svc.meta.revision);
    assert_eq!(labelled.meta.labels["team"], "blue");
    assert_eq!(labelled.meta.uid, uid);
    assert_eq!(labelled.meta.created, created);

    // Identical resubmission: the spec did not change either.
    let same = s.client.update(&labelled).await.unwrap();
    assert_eq!(same.meta.generation, 1);

    // Spec change: generation + 1.
    let mut changed = same.clone();
    changed.spec.image = "nginx:2".into();
    let changed = s.client.update(&changed).await.unwrap();
    assert_eq!(changed.meta.generation, 2);
    assert_eq!(changed.spec.image, "nginx:2");
    assert_eq!(changed.meta.labels["team"], "blue");
    assert_eq!(changed.meta.uid, uid);
    assert_eq!(changed.meta.revision, s.revision());
}

// ---------------------------------------------------------------- scale

#[tokio::test]
async fn scale_sets_the_scale_and_bumps_generation() {
    let s = start().await;
    create_web(&s).await;
    let svc = s.client.scale_service("default", "web", 7).await.unwrap();
    assert_eq!(svc.spec.scale, 7);
    assert_eq!(svc.meta.generation, 2);
    assert_eq!(svc.spec.image, "nginx");
    // The same scale again changes nothing.
    let rev = s.revision();
    let again = s.client.scale_service("default", "web", 7).await.unwrap();
    assert_eq!(again.meta.generation, 2);
    assert_eq!(s.revision(), rev);
    let zero = s.client.scale_service("default", "web", 0).await.unwrap();
    assert_eq!(zero.spec.scale, 0);
    assert_eq!(zero.meta.generation, 3);
    let max = s
        .client
        .scale_service("default", "web", corral_types::MAX_SCALE)
        .await
        .unwrap();
    assert_eq!(max.spec.scale, corral_types::MAX_SCALE);
}

#[tokio::test]
async fn scale_above_the_maximum_is_422() {
    let s = start().await;
    create_web(&s).await;
    let path = format!("{SERVICES}/web/scale");
    for body in [
        "{\"scale\": 10001}",
        "{\"scale\": 4294967295}",
        "{\"scale\": 4294967296}",
        "{\"scale\": -1}",
        "{\"scale\": 1e30}",
        "{\"scale\": 2.5}",
        "{\"scale\": \"3\"}",
        "{\"scale\": null}",
        "{}",
    ] {
        s.reject(Method::POST, &path, body, 422, Some("scale"))
            .await;
    }
    s.reject(
        Method::POST,
        &path,
        "{\"scale\": 10001}",
        422,
        Some("scale"),
    )
    .await;
    let err = s
        .client
        .scale_service("default", "web", 10_001)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
}

#[tokio::test]
async fn scale_of_an_unknown_service_is_404() {
    let s = start().await;
    s.reject(
        Method::POST,
        &format!("{SERVICES}/nope/scale"),
        "{\"scale\": 2}",
        404,
        None,
    )
    .await;
    let err = s
        .client
        .scale_service("default", "nope", 2)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

// ---------------------------------------------------------------- nodes

fn join_request(address: &str, labels: &[(&str, &str)]) -> JoinRequest {
    JoinRequest {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        status: NodeStatus {
            state: NodeState::Disconnected,
            address: address.into(),
            hostname: "host-1".into(),
            cpu_millis: 4000,
            memory_bytes: 8 << 30,
            engine_version: "27.0".into(),
            agent_url: format!("http://{address}:7481"),
            last_heartbeat: String::new(),
            subnet: String::new(),
            network_error: String::new(),
        },
    }
}

#[tokio::test]
async fn joins_and_heartbeats_carry_the_cluster_id_and_the_node_shows_its_network_error() {
    let s = start_configured(MemoryStore::new(), |state| {
        state.cluster_id = "3f9a0c12ab45".into();
    })
    .await;
    let mut req = join_request("10.0.0.1", &[]);
    req.status.network_error = "the range 10.42.0.0/16 overlaps the route 10.42.1.0/24".into();
    let ack = s.client.join_node("default", "n1", &req).await.unwrap();
    assert_eq!(ack.cluster, "3f9a0c12ab45");
    assert_eq!(ack.node.status.network_error, req.status.network_error);
    let beat = s.client.heartbeat("default", "n1").await.unwrap();
    assert_eq!(beat.cluster, "3f9a0c12ab45");
    req.status.network_error.clear();
    let ack = s.client.join_node("default", "n1", &req).await.unwrap();
    assert_eq!(ack.node.status.network_error, "");
}

#[tokio::test]
async fn join_creates_an_active_node_and_join_again_updates_it() {
    let s = start().await;
    let ack = s
        .client
        .join_node("default", "n1", &join_request("10.0.0.1", &[("zone", "a")]))
        .await
        .unwrap();
    assert_eq!(ack.heartbeat_interval_s, 2);
    let node = ack.node;
    assert_eq!(node.kind, Kind::Node);
    assert_eq!(node.meta.environment, "default");
    assert_eq!(node.meta.name, "n1");
    assert!(!node.meta.uid.is_empty());
    assert!(!node.meta.created.is_empty());
    assert_eq!(node.meta.generation, 1);
    assert_eq!(node.status.state, NodeState::Active);
    assert_eq!(node.status.address, "10.0.0.1");
    assert_eq!(node.status.hostname, "host-1");
    assert_eq!(node.status.cpu_millis, 4000);
    assert_eq!(node.status.memory_bytes, 8 << 30);
    assert_eq!(node.status.engine_version, "27.0");
    assert!(!node.status.last_heartbeat.is_empty());
    assert_eq!(node.meta.labels["zone"], "a");

    let stored = s.store.get(Kind::Node, "default", "n1").unwrap();
    assert_eq!(stored.status["state"], "active");

    let again = s
        .client
        .join_node(
            "default",
            "n1",
            &join_request("10.0.0.2", &[("disk", "ssd")]),
        )
        .await
        .unwrap()
        .node;
    assert_eq!(again.meta.uid, node.meta.uid);
    assert_eq!(again.meta.created, node.meta.created);
    assert!(again.meta.revision > node.meta.revision);
    assert_eq!(again.status.address, "10.0.0.2");
    assert_eq!(again.status.state, NodeState::Active);
    assert_eq!(again.meta.labels["disk"], "ssd");

    let nodes = s.client.nodes("default").await.unwrap();
    assert_eq!(nodes.items.len(), 1);
    assert_eq!(nodes.items[0].status.address, "10.0.0.2");
}

#[tokio::test]
async fn join_rejects_bad_names_labels_and_bodies() {
    let s = start().await;
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes/Bad_Node/join",
        json!({"status": {}}).to_string(),
        422,
        Some("name"),
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes/n1/join",
        json!({"labels": {"bad key": "x"}, "status": {}}).to_string(),
        422,
        Some("labels"),
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes/n1/join",
        json!({"labels": {"zone": "a".repeat(2000)}, "status": {}}).to_string(),
        422,
        Some("labels.zone"),
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes/n1/join",
        json!({"status": {"cpu_millis": -5}}).to_string(),
        422,
        Some("status.cpu_millis"),
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes/n1/join",
        "",
        400,
        None,
    )
    .await;
}

#[tokio::test]
async fn heartbeat_of_an_unknown_node_is_404_and_of_a_known_node_200() {
    let s = start().await;
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes/n1/heartbeat",
        "",
        404,
        None,
    )
    .await;
    let err = s.client.heartbeat("default", "n1").await.unwrap_err();
    assert!(err.is_not_found());
    s.client
        .join_node("default", "n1", &join_request("10.0.0.1", &[]))
        .await
        .unwrap();
    let rev = s.revision();
    let ack = s.client.heartbeat("default", "n1").await.unwrap();
    assert_eq!(ack.node.meta.name, "n1");
    assert_eq!(ack.heartbeat_interval_s, 2);
    // Heartbeats live in memory: they write nothing.
    assert_eq!(s.revision(), rev);
}

// ---------------------------------------------------------------- instance status

#[tokio::test]
async fn instance_status_report_changes_status_and_keeps_spec() {
    let s = start().await;
    let before = instance_in_store(&s, "web-1");
    let status = InstanceStatus {
        state: InstanceState::Running,
        container_id: "abc123".into(),
        reason: String::new(),
        exit_code: None,
        restarts: 2,
        started_at: "2025-01-01T00:00:00Z".into(),
        ..InstanceStatus::default()
    };
    let inst = s
        .client
        .report_instance_status("default", "web-1", &status)
        .await
        .unwrap();
    assert_eq!(inst.status, status);
    let stored =
        Instance::from_raw(s.store.get(Kind::Instance, "default", "web-1").unwrap()).unwrap();
    assert_eq!(stored.status, status);
    assert_eq!(
        stored.spec,
        Instance::from_raw(before.clone()).unwrap().spec
    );
    assert_eq!(stored.meta.generation, before.meta.generation);
    assert_eq!(stored.meta.uid, before.meta.uid);
    assert!(stored.meta.revision > before.meta.revision);

    // The same report again writes nothing.
    let rev = s.revision();
    s.client
        .report_instance_status("default", "web-1", &status)
        .await
        .unwrap();
    assert_eq!(s.revision(), rev);

    // Bad reports are rejected and change nothing.
    let path = "/v1/environments/default/instances/web-1/status";
    s.reject(
        Method::PUT,
        path,
        json!({"state": "exploded"}).to_string(),
        422,
        Some("state"),
    )
    .await;
    s.reject(
        Method::PUT,
        path,
        json!({"exit_code": 1e30}).to_string(),
        422,
        Some("exit_code"),
    )
    .await;
    s.reject(Method::PUT, path, "{", 400, None).await;
    s.reject(
        Method::PUT,
        "/v1/environments/default/instances/web-9/status",
        json!({"state": "running"}).to_string(),
        404,
        None,
    )
    .await;
}

// ---------------------------------------------------------------- status batches

const STATUSES: &str = "/v1/environments/default/nodes/n1/statuses";

/// An instance of service `web` placed on `node`, with uid `uid-<name>`.
fn instance_on(s: &TestServer, name: &str, node: &str) -> Instance {
    let mut inst: Instance = Object::new(
        Kind::Instance,
        "default",
        name,
        InstanceSpec {
            service: "web".into(),
            node: node.into(),
            launch: ServiceSpec {
                image: "nginx".into(),
                scale: 1,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    inst.meta.uid = format!("uid-{name}");
    inst.meta.generation = 1;
    Instance::from_raw(s.store.create(inst.to_raw().unwrap()).unwrap()).unwrap()
}

fn stored(s: &TestServer, name: &str) -> Instance {
    Instance::from_raw(s.store.get(Kind::Instance, "default", name).unwrap()).unwrap()
}

fn running(container: &str) -> InstanceStatus {
    InstanceStatus {
        state: InstanceState::Running,
        container_id: container.into(),
        started_at: "2025-01-01T00:00:00Z".into(),
        ..InstanceStatus::default()
    }
}

fn report(instance: &str, status: InstanceStatus) -> StatusReport {
    StatusReport {
        instance: instance.into(),
        uid: String::new(),
        status,
    }
}

#[tokio::test]
async fn a_status_batch_writes_every_changed_instance_in_one_transaction() {
    let s = start().await;
    let before: Vec<Instance> = ["web-1", "web-2", "web-3"]
        .iter()
        .map(|n| instance_on(&s, n, "n1"))
        .collect();
    let rev = s.revision();
    let reports: Vec<StatusReport> = ["web-1", "web-2", "web-3"]
        .iter()
        .map(|n| report(n, running(&format!("c-{n}"))))
        .collect();
    let result = s
        .client
        .report_statuses("default", "n1", &reports)
        .await
        .unwrap();
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    let names: Vec<&str> = result
        .instances
        .iter()
        .map(|i| i.meta.name.as_str())
        .collect();
    assert_eq!(names, ["web-1", "web-2", "web-3"], "request order");
    // One revision per instance, all from one transaction: consecutive, and
    // nothing else written.
    let revisions: Vec<u64> = result.instances.iter().map(|i| i.meta.revision).collect();
    assert_eq!(revisions, [rev + 1, rev + 2, rev + 3]);
    assert_eq!(s.revision(), rev + 3);
    for (inst, old) in result.instances.iter().zip(&before) {
        assert_eq!(inst.status, running(&format!("c-{}", old.meta.name)));
        assert_eq!(
            *inst,
            stored(&s, &old.meta.name),
            "the answer is what is stored"
        );
        // Only the status changed.
        assert_eq!(inst.spec, old.spec);
        assert_eq!(inst.meta.uid, old.meta.uid);
        assert_eq!(inst.meta.generation, old.meta.generation);
    }
}

#[tokio::test]
async fn a_status_batch_skips_unchanged_instances_but_still_lists_them() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    instance_on(&s, "web-2", "n1");
    let first = [
        report("web-1", running("c1")),
        report("web-2", running("c2")),
    ];
    s.client
        .report_statuses("default", "n1", &first)
        .await
        .unwrap();
    let rev = s.revision();

    // The same statuses again: nothing is written.
    let again = s
        .client
        .report_statuses("default", "n1", &first)
        .await
        .unwrap();
    assert_eq!(s.revision(), rev);
    assert_eq!(again.instances.len(), 2);
    assert_eq!(again.instances[0], stored(&s, "web-1"));

    // One changed, one not: one write.
    let mixed = [
        report("web-1", running("c1")),
        report("web-2", running("c3")),
    ];
    let result = s
        .client
        .report_statuses("default", "n1", &mixed)
        .await
        .unwrap();
    assert_eq!(s.revision(), rev + 1);
    assert_eq!(
        result.instances[0].meta.revision,
        stored(&s, "web-1").meta.revision
    );
    assert_eq!(result.instances[1].meta.revision, rev + 1);
}

#[tokio::test]
async fn an_empty_status_batch_is_ok_and_changes_nothing() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    let before = s.snapshot();
    let r = s.post(STATUSES, &json!({"statuses": []})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), json!({"instances": [], "errors": []}));
    assert_eq!(before, s.snapshot());
}

#[tokio::test]
async fn a_missing_instance_in_a_status_batch_is_an_error_of_that_item_only() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    let result = s
        .client
        .report_statuses(
            "default",
            "n1",
            &[
                report("web-9", running("c9")),
                report("web-1", running("c1")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(result.instances.len(), 1);
    assert_eq!(result.instances[0].meta.name, "web-1");
    assert_eq!(stored(&s, "web-1").status, running("c1"));
    let [
        StatusReportError {
            instance,
            code,
            reason,
        },
    ] = &result.errors[..]
    else {
        panic!("{:?}", result.errors);
    };
    assert_eq!(instance, "web-9");
    assert_eq!(*code, StatusErrorCode::NotFound);
    assert!(reason.contains("web-9"), "{reason}");
}

#[tokio::test]
async fn a_status_report_about_another_instance_of_the_same_name_is_not_found() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    let rev = s.revision();
    let stale = StatusReport {
        uid: "uid-of-a-deleted-web-1".into(),
        ..report("web-1", running("c1"))
    };
    let result = s
        .client
        .report_statuses("default", "n1", &[stale])
        .await
        .unwrap();
    assert!(result.instances.is_empty());
    assert_eq!(result.errors[0].code, StatusErrorCode::NotFound);
    assert_eq!(s.revision(), rev);
    // With the right uid it is taken.
    let fresh = StatusReport {
        uid: "uid-web-1".into(),
        ..report("web-1", running("c1"))
    };
    let result = s
        .client
        .report_statuses("default", "n1", &[fresh])
        .await
        .unwrap();
    assert_eq!(result.instances.len(), 1);
}

#[tokio::test]
async fn a_node_cannot_report_the_status_of_another_nodes_instance() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    let theirs = instance_on(&s, "web-2", "n2");
    let unplaced = instance_on(&s, "web-3", "");
    let result = s
        .client
        .report_statuses(
            "default",
            "n1",
            &[
                report("web-1", running("c1")),
                report("web-2", running("c2")),
                report("web-3", running("c3")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(result.instances.len(), 1);
    assert_eq!(result.instances[0].meta.name, "web-1");
    let rejected: Vec<(&str, StatusErrorCode)> = result
        .errors
        .iter()
        .map(|e| (e.instance.as_str(), e.code))
        .collect();
    assert_eq!(
        rejected,
        [
            ("web-2", StatusErrorCode::WrongNode),
            ("web-3", StatusErrorCode::WrongNode)
        ]
    );
    assert!(
        result.errors[0].reason.contains("n2"),
        "{:?}",
        result.errors
    );
    assert_eq!(
        stored(&s, "web-2"),
        theirs,
        "another node's instance is untouched"
    );
    assert_eq!(stored(&s, "web-3"), unplaced);
}

#[tokio::test]
async fn an_instance_named_twice_in_a_status_batch_gets_the_last_report() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    let rev = s.revision();
    let result = s
        .client
        .report_statuses(
            "default",
            "n1",
            &[
                report("web-1", running("old")),
                report("web-1", running("new")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(result.instances.len(), 1);
    assert_eq!(stored(&s, "web-1").status, running("new"));
    assert_eq!(s.revision(), rev + 1);
}

#[tokio::test]
async fn a_status_batch_over_the_limit_is_422_naming_statuses() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    let item = json!({"instance": "web-1", "status": {"state": "running"}});
    let too_many = json!({"statuses": vec![item.clone(); corral_api::MAX_STATUS_BATCH + 1]});
    let r = s
        .reject(
            Method::POST,
            STATUSES,
            too_many.to_string(),
            422,
            Some("statuses"),
        )
        .await;
    assert_eq!(r.field(), "statuses");
    // The limit itself is fine.
    let at_limit = json!({"statuses": vec![item; corral_api::MAX_STATUS_BATCH]});
    assert_eq!(s.post(STATUSES, &at_limit).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_malformed_status_batch_is_rejected_naming_the_field_and_changes_nothing() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    // Not JSON: 400.
    for body in ["{", "{\"statuses\": [}", "not json", ""] {
        s.reject(Method::POST, STATUSES, body, 400, None).await;
    }
    // JSON of the wrong shape: 422 naming the field.
    let cases = [
        (json!({}), "statuses"),
        (json!({"statuses": {}}), "statuses"),
        (json!({"statuses": [{"status": {}}]}), "statuses[0]"),
        (json!({"statuses": [{"instance": "web-1"}]}), "statuses[0]"),
        (
            json!({"statuses": [{"instance": "web-1", "status": {}}, {"instance": "web-1", "status": {"state": "exploded"}}]}),
            "statuses[1].status.state",
        ),
        (
            json!({"statuses": [{"instance": "web-1", "status": {"restarts": -1}}]}),
            "statuses[0].status.restarts",
        ),
        (
            json!({"statuses": [{"instance": "web-1", "status": {}, "colour": "red"}]}),
            "statuses[0]",
        ),
        (
            json!({"statuses": [{"instance": "web-1", "status": {}}, {"instance": "Web_2", "status": {}}]}),
            "statuses[1].instance",
        ),
        (json!({"statuses": [], "node": "n2"}), "node"),
    ];
    for (body, field) in cases {
        s.reject(Method::POST, STATUSES, body.to_string(), 422, Some(field))
            .await;
    }
    // A bad node name, an unknown environment, the wrong method.
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes/N_1/statuses",
        json!({"statuses": []}).to_string(),
        422,
        Some("name"),
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/nope/nodes/n1/statuses",
        json!({"statuses": []}).to_string(),
        404,
        None,
    )
    .await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        s.reject(method, STATUSES, "", 405, None).await;
    }
}

#[tokio::test]
async fn an_unauthenticated_status_batch_is_401_and_changes_nothing() {
    let s = start().await;
    instance_on(&s, "web-1", "n1");
    let before = s.snapshot();
    let body = json!({"statuses": [{"instance": "web-1", "status": {"state": "running"}}]});
    for auth in [None, Some("Bearer wrong-token")] {
        let mut req = s.http.post(format!("{}{STATUSES}", s.url)).json(&body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    assert_eq!(before, s.snapshot());
}

#[tokio::test]
async fn the_status_batch_route_leaves_the_other_node_routes_alone() {
    let s = start().await;
    s.client
        .join_node("default", "n1", &join_request("10.0.0.1", &[]))
        .await
        .unwrap();
    s.client.heartbeat("default", "n1").await.unwrap();
    assert_eq!(
        s.get("/v1/environments/default/nodes/n1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        s.get("/v1/environments/default/nodes").await.status,
        StatusCode::OK
    );
    s.reject(
        Method::POST,
        "/v1/environments/default/nodes/n1/restart",
        "{}",
        404,
        None,
    )
    .await;
    // `statuses` is a node action only.
    s.reject(
        Method::POST,
        "/v1/environments/default/services/web/statuses",
        json!({"statuses": []}).to_string(),
        404,
        None,
    )
    .await;
    let result: StatusBatchResult = s
        .client
        .report_statuses("default", "n1", &[])
        .await
        .unwrap();
    assert_eq!(result, StatusBatchResult::default());
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_filters_by_label_selector() {
    let s = start().await;
    for (name, app, tier) in [
        ("web", "web", "front"),
        ("api", "web", "back"),
        ("db", "db", "back"),
    ] {
        let mut body = service(name, "nginx");
        body["meta"]["labels"] = json!({"app": app, "tier": tier});
        assert_eq!(s.post(SERVICES, &body).await.status, StatusCode::OK);
    }
    let names = |l: corral_api::List<Service>| -> Vec<String> {
        l.items.into_iter().map(|o| o.meta.name).collect()
    };
    let all = s.client.services("default").await.unwrap();
    assert_eq!(all.revision, s.revision());
    assert_eq!(names(all), ["api", "db", "web"]);
    let web = s
        .client
        .list::<ServiceSpec, ServiceStatus>("default", Kind::Service, "app=web")
        .await
        .unwrap();
    assert_eq!(names(web), ["api", "web"]);
    let back_not_db = s
        .client
        .list::<ServiceSpec, ServiceStatus>("default", Kind::Service, "tier=back,app!=db")
        .await
        .unwrap();
    assert_eq!(names(back_not_db), ["api"]);
    let none = s
        .client
        .list::<ServiceSpec, ServiceStatus>("default", Kind::Service, "!app")
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

#[tokio::test]
async fn bad_label_selector_is_400_naming_it() {
    let s = start().await;
    for sel in ["a=b,,c", "=v", "a%20b=c", "!"] {
        let r = s
            .reject(
                Method::GET,
                &format!("{SERVICES}?labelSelector={sel}"),
                "",
                400,
                None,
            )
            .await;
        assert_eq!(r.field(), "labelSelector", "{sel}: {}", r.text);
    }
    let err = s
        .client
        .list::<ServiceSpec, ServiceStatus>("default", Kind::Service, "a=b,,c")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
}

// ---------------------------------------------------------------- watch

#[tokio::test]
async fn watch_resumes_after_a_revision_then_streams_live() {
    let s = start().await;
    let a = create_web(&s).await;
    let a_rev = a["meta"]["revision"].as_u64().unwrap();
    let b = s.post(SERVICES, &service("api", "redis")).await.json();
    let mut w = s
        .watch(&format!("{SERVICES}?watch=true&revision={a_rev}"))
        .await;
    let ev = w.next().await;
    assert_eq!(ev["type"], "created");
    assert_eq!(ev["object"]["meta"]["name"], "api");
    assert_eq!(ev["object"], b);

    // A live update of A follows.
    let mut a2 = a.clone();
    a2["spec"]["scale"] = json!(4);
    let updated = s.put(&format!("{SERVICES}/web"), &a2).await.json();
    let ev = w.next().await;
    assert_eq!(ev["type"], "updated");
    assert_eq!(ev["object"], updated);

    // Other kinds are not in this watch; deletes are.
    s.client
        .join_node("default", "n1", &join_request("10.0.0.1", &[]))
        .await
        .unwrap();
    s.client
        .delete("default", Kind::Service, "api")
        .await
        .unwrap();
    let ev = w.next().await;
    assert_eq!(ev["type"], "deleted");
    assert_eq!(ev["object"]["meta"]["name"], "api");
    assert_eq!(ev["object"]["meta"]["revision"], s.revision());
}

/// Creates services `names`, then reads their events with the typed
/// client's watch from the revision before them.
async fn services_created_then_watched(
    s: &TestServer,
    names: &[String],
) -> Vec<corral_api::WatchEvent<corral_types::Service>> {
    let start_rev = s.revision();
    for name in names {
        s.post(SERVICES, &service(name, "nginx")).await;
    }
    let mut events = s
        .client
        .watch::<ServiceSpec, ServiceStatus>("default", Kind::Service, "", start_rev)
        .await
        .unwrap();
    use futures::StreamExt;
    let mut seen = Vec::new();
    for _ in names {
        let ev = tokio::time::timeout(common::WAIT, events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push(ev);
    }
    seen
}

#[tokio::test]
async fn watch_with_the_typed_client_sees_events_in_order() {
    let s = start().await;
    let start_rev = s.revision();
    let names = ["s1", "s2", "s3"].map(String::from);
    let events = services_created_then_watched(&s, &names).await;
    let mut last = start_rev;
    for (ev, name) in events.iter().zip(&names) {
        assert_eq!(ev.event_type, corral_api::WatchEventType::Created);
        assert_eq!(&ev.object.meta.name, name);
        assert!(ev.object.meta.revision > last);
        last = ev.object.meta.revision;
    }
}

#[tokio::test]
async fn a_burst_of_events_larger_than_one_chunk_arrives_whole_and_in_order() {
    let s = start().await;
    // Several hundred kilobytes of events waiting at once: the stream
    // packs them into chunks of about 64 KiB, never splitting an event.
    let names: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
    let events = services_created_then_watched(&s, &names).await;
    for (ev, name) in events.iter().zip(&names) {
        assert_eq!(&ev.object.meta.name, name);
    }
}

#[tokio::test]
async fn watch_with_a_selector_sees_only_matching_objects() {
    let s = start().await;
    let mut w = s
        .watch(&format!("{SERVICES}?watch=true&labelSelector=app=web"))
        .await;
    let mut other = service("db", "postgres");
    other["meta"]["labels"] = json!({"app": "db"});
    s.post(SERVICES, &other).await;
    let mut mine = service("web", "nginx");
    mine["meta"]["labels"] = json!({"app": "web"});
    s.post(SERVICES, &mine).await;
    let ev = w.next().await;
    assert_eq!(ev["object"]["meta"]["name"], "web");
}

#[tokio::test]
async fn watch_without_a_revision_sees_only_new_events() {
    let s = start().await;
    create_web(&s).await;
    s.post(SERVICES, &service("api", "redis")).await;
    let mut w = s.watch(&format!("{SERVICES}?watch=true")).await;
    w.assert_quiet(Duration::from_millis(200)).await;
    s.post(SERVICES, &service("db", "postgres")).await;
    let ev = w.next().await;
    assert_eq!(ev["type"], "created");
    assert_eq!(ev["object"]["meta"]["name"], "db");

    // The all-kinds watch too.
    let mut all = s.watch("/v1/watch").await;
    s.client
        .join_node("default", "n1", &join_request("10.0.0.1", &[]))
        .await
        .unwrap();
    let ev = all.next().await;
    assert_eq!(ev["object"]["kind"], "Node");
}

#[tokio::test]
async fn watch_from_a_compacted_revision_is_410() {
    let s = start_with(MemoryStore::with_history_limit(2)).await;
    for name in ["s1", "s2", "s3", "s4"] {
        assert_eq!(
            s.post(SERVICES, &service(name, "nginx")).await.status,
            StatusCode::OK
        );
    }
    // Revisions 1 (default environment) to 5; only 4 and 5 are kept.
    assert_eq!(s.revision(), 5);
    for path in [
        format!("{SERVICES}?watch=true&revision=1"),
        format!("{SERVICES}?watch=true&revision=0"),
        "/v1/watch?revision=1".to_string(),
        "/v1/environments?watch=true&revision=1".to_string(),
    ] {
        let r = s.reject(Method::GET, &path, "", 410, None).await;
        assert!(r.text.contains("compacted"), "{path}: {}", r.text);
    }
    // From the oldest kept revision on, the watch works.
    let mut w = s.watch(&format!("{SERVICES}?watch=true&revision=3")).await;
    assert_eq!(w.next().await["object"]["meta"]["name"], "s3");
    assert_eq!(w.next().await["object"]["meta"]["name"], "s4");
}

#[tokio::test]
async fn watch_from_a_future_revision_is_400_naming_revision() {
    let s = start().await;
    let future = s.revision() + 100;
    for path in [
        format!("{SERVICES}?watch=true&revision={future}"),
        format!("/v1/watch?revision={future}"),
        format!("{SERVICES}?watch=true&revision={}", u64::MAX),
    ] {
        let r = s.reject(Method::GET, &path, "", 400, None).await;
        assert_eq!(r.field(), "revision", "{path}: {}", r.text);
    }
    // The current revision itself is fine: the events after it come.
    let mut w = s
        .watch(&format!("{SERVICES}?watch=true&revision={}", s.revision()))
        .await;
    create_web(&s).await;
    assert_eq!(w.next().await["object"]["meta"]["name"], "web");
}

#[tokio::test]
async fn watch_with_a_bad_query_is_400() {
    let s = start().await;
    for q in [
        "watch=true&revision=abc",
        "watch=true&revision=-1",
        "watch=maybe",
    ] {
        let r = s.call(Method::GET, &format!("{SERVICES}?{q}"), "").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.text);
    }
    s.reject(Method::GET, "/v1/watch?kind=widgets", "", 400, Some("kind"))
        .await;
}

// ---------------------------------------------------------------- environments

#[tokio::test]
async fn environments_can_be_created_listed_and_deleted_when_empty() {
    let s = start().await;
    let env: Environment = Object::new(
        Kind::Environment,
        "staging",
        "staging",
        EnvironmentSpec {
            description: "for tests".into(),
            ..EnvironmentSpec::default()
        },
    );
    let created = s.client.create(&env).await.unwrap();
    assert_eq!(created.meta.name, "staging");
    assert_eq!(created.meta.environment, "staging");
    assert_eq!(created.meta.generation, 1);
    assert!(!created.meta.uid.is_empty());
    let names: Vec<String> = s
        .client
        .environments()
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.meta.name)
        .collect();
    assert_eq!(names, ["default", "staging"]);
    // Objects in it live apart from default's.
    let svc = s
        .post(
            "/v1/environments/staging/services",
            &service("web", "nginx"),
        )
        .await;
    assert_eq!(svc.status, StatusCode::OK);
    assert_eq!(svc.json()["meta"]["environment"], "staging");
    assert!(s.client.services("default").await.unwrap().items.is_empty());

    s.reject(
        Method::POST,
        "/v1/environments",
        json!({"kind": "Environment", "meta": {"name": "staging"}, "spec": {}}).to_string(),
        409,
        None,
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments",
        json!({"meta": {"name": "Bad_Env"}, "spec": {}}).to_string(),
        422,
        Some("meta.name"),
    )
    .await;

    // Active: 409, nothing deleted.
    let r = s
        .reject(Method::DELETE, "/v1/environments/staging", "", 409, None)
        .await;
    assert!(r.text.contains("deactivate"), "{}", r.text);
    let r = s
        .call(Method::POST, "/v1/environments/staging/deactivate", "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Deactivated: nothing new is deployed, nothing scaled.
    s.reject(
        Method::POST,
        "/v1/environments/staging/services",
        service("api", "nginx").to_string(),
        409,
        None,
    )
    .await;
    s.reject(
        Method::POST,
        "/v1/environments/staging/services/web/scale",
        "{\"scale\": 3}",
        409,
        None,
    )
    .await;
    // Removed with everything in it.
    s.client
        .delete("", Kind::Environment, "staging")
        .await
        .unwrap();
    assert!(
        s.store
            .list(&corral_store::Query::default().in_environment("staging"))
            .unwrap()
            .items
            .is_empty()
    );
    s.reject(Method::GET, "/v1/environments/staging", "", 404, None)
        .await;
    s.reject(Method::DELETE, "/v1/environments/staging", "", 404, None)
        .await;
    assert_eq!(s.client.environments().await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn an_active_environment_is_not_deleted_and_activate_opens_it_again() {
    let s = start().await;
    create_web(&s).await;
    let r = s
        .reject(Method::DELETE, "/v1/environments/default", "", 409, None)
        .await;
    assert!(r.text.contains("default"), "{}", r.text);
    s.call(Method::POST, "/v1/environments/default/deactivate", "")
        .await;
    s.call(Method::POST, "/v1/environments/default/activate", "")
        .await;
    s.reject(Method::DELETE, "/v1/environments/default", "", 409, None)
        .await;
    let r = s
        .post(
            "/v1/environments/default/services",
            &service("api", "nginx"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn delete_with_a_stale_revision_is_409() {
    let s = start().await;
    let web = create_web(&s).await;
    let rev = web["meta"]["revision"].as_u64().unwrap();
    s.client.scale_service("default", "web", 2).await.unwrap();
    s.reject(
        Method::DELETE,
        &format!("{SERVICES}/web?revision={rev}"),
        "",
        409,
        None,
    )
    .await;
    let r = s
        .call(
            Method::DELETE,
            &format!("{SERVICES}/web?revision={}", s.revision()),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["meta"]["name"], "web");
}

// ---------------------------------------------------------------- no 500s

#[tokio::test]
async fn no_bad_input_gets_a_5xx_or_changes_anything() {
    let s = start().await;
    create_web(&s).await;
    instance_in_store(&s, "web-1");
    s.client
        .join_node("default", "n1", &join_request("10.0.0.1", &[]))
        .await
        .unwrap();
    let web_rev = s.revision() - 2;

    let deep_array = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(1000), "}".repeat(1000));
    let deep_in_status = format!(
        "{{\"kind\":\"Service\",\"meta\":{{\"name\":\"x\"}},\"spec\":{{\"image\":\"a\"}},\"status\":{deep_array}}}"
    );
    let deep_in_spec = format!(
        "{{\"kind\":\"Service\",\"meta\":{{\"name\":\"x\"}},\"spec\":{{\"image\":\"a\",\"env\":{deep_object}}}}}"
    );
    let huge_string = format!("\"{}\"", "x".repeat(2 * 1024 * 1024));
    let huge_image = format!(
        "{{\"meta\":{{\"name\":\"x\"}},\"spec\":{{\"image\":\"{}\"}}}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let odd: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"1".to_vec(),
        b"-1e400".to_vec(),
        b"true".to_vec(),
        b"\"text\"".to_vec(),
        b"[{}]".to_vec(),
        b"{\"spec\":null}".to_vec(),
        b"{\"meta\":null,\"spec\":null}".to_vec(),
        b"{\"meta\":[],\"spec\":[]}".to_vec(),
        deep_array.into_bytes(),
        deep_object.into_bytes(),
        deep_in_status.into_bytes(),
        deep_in_spec.into_bytes(),
        huge_string.into_bytes(),
        huge_image.into_bytes(),
        b"\xff\xfe\xfd".to_vec(),
        b"{\"meta\":{\"name\":\"\xff\"},\"spec\":{\"image\":\"a\"}}".to_vec(),
        b"{\"meta\":{\"name\":\"web\"},\"spec\":{\"image\":\"a\"}}\x00".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
    ];
    let body_endpoints: &[(Method, &str)] = &[
        (Method::POST, "/v1/environments"),
        (Method::PUT, "/v1/environments/default"),
        (Method::POST, SERVICES),
        (Method::PUT, "/v1/environments/default/services/web"),
        (Method::POST, "/v1/environments/default/services/web/scale"),
        (Method::POST, "/v1/environments/default/nodes/n1/join"),
        (Method::PUT, "/v1/environments/default/nodes/n1"),
        (Method::POST, "/v1/environments/default/nodes"),
        (Method::POST, "/v1/environments/default/instances"),
        (Method::PUT, "/v1/environments/default/instances/web-1"),
        (
            Method::PUT,
            "/v1/environments/default/instances/web-1/status",
        ),
        (Method::POST, "/v1/environments/default/nodes/n1/statuses"),
    ];
    let mut cases: Vec<(Method, String, Vec<u8>)> = Vec::new();
    for (m, p) in body_endpoints {
        for b in &odd {
            cases.push((m.clone(), p.to_string(), b.clone()));
        }
    }
    let svc =
        |spec: Value| json!({"kind": "Service", "meta": {"name": "x"}, "spec": spec}).to_string();
    let put_web = |spec: Value| {
        json!({"kind": "Service", "meta": {"name": "web", "revision": web_rev}, "spec": spec})
            .to_string()
    };
    let long_join = format!("/v1/environments/default/nodes/n-{}/join", "a".repeat(100));
    let long_path = "/v1/environments/default/services/a".repeat(50);
    let fields: Vec<(Method, &str, String)> = vec![
        (Method::POST, SERVICES, svc(json!({"image": "a", "scale": 1e30}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "scale": -1}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "scale": 10001}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "scale": 4_294_967_296_u64}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "ports": [{"container_port": 70000}]}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "ports": [{"host_port": 70000, "container_port": 80}]}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "ports": [{"container_port": 0}]}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "ports": [{"container_port": -80}]}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "ports": [{"container_port": 80, "protocol": "sctp"}]}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "ports": [{"host_port": 80}]}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "ports": [80]}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "restart": "sometimes"}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "env": {"A=B": "c"}}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "env": {"": "c"}}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "env": {"A": 1}}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "command": "ls -l"}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "container_labels": {"io.corral.service": "x"}}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "resources": {"cpu_millis": -1}}))),
        (Method::POST, SERVICES, svc(json!({"image": "a", "resources": {"gpus": 1}}))),
        (Method::POST, SERVICES, svc(json!({"image": 5}))),
        (Method::POST, SERVICES, svc(json!({"image": null}))),
        (Method::POST, SERVICES, svc(json!([]))),
        (Method::POST, SERVICES, svc(json!("nginx"))),
        (Method::POST, SERVICES, json!({"kind": "Service", "meta": {"name": "x", "generation": 1e30}, "spec": {"image": "a"}}).to_string()),
        (Method::POST, SERVICES, json!({"kind": "Service", "meta": {"name": "x", "revision": -1}, "spec": {"image": "a"}}).to_string()),
        (Method::POST, SERVICES, json!({"kind": "Service", "meta": {"name": "x", "labels": []}, "spec": {"image": "a"}}).to_string()),
        (Method::POST, SERVICES, json!({"kind": "Service", "meta": {"name": "x", "labels": {"": "v"}}, "spec": {"image": "a"}}).to_string()),
        (Method::POST, SERVICES, json!({"kind": "Service", "meta": {"name": 7}, "spec": {"image": "a"}}).to_string()),
        (Method::POST, SERVICES, json!({"kind": "service", "meta": {"name": "x"}, "spec": {"image": "a"}}).to_string()),
        (Method::POST, SERVICES, json!({"kind": null, "meta": {"name": "x"}, "spec": {"image": "a"}, "extra": 1}).to_string()),
        (Method::PUT, "/v1/environments/default/services/web", put_web(json!({"image": "a", "scale": 1e30}))),
        (Method::PUT, "/v1/environments/default/services/web", put_web(json!({"image": ""}))),
        (Method::PUT, "/v1/environments/default/services/web", put_web(json!({"image": "a", "scael": 1}))),
        (Method::PUT, "/v1/environments/default/services/x", put_web(json!({"image": "a"}))),
        (Method::PUT, "/v1/environments/default/services/web", json!({"meta": {"name": "web", "revision": 1e30}, "spec": {"image": "a"}}).to_string()),
        (Method::PUT, "/v1/environments/default", json!({"meta": {"name": "default", "revision": 1}, "spec": {"description": 5}}).to_string()),
        (Method::PUT, "/v1/environments/default", json!({"meta": {"name": "default", "revision": 1}, "spec": {"colour": "red"}}).to_string()),
        (Method::PUT, "/v1/environments/default", json!({"meta": {"name": "prod", "revision": 1}, "spec": {}}).to_string()),
        (Method::POST, "/v1/environments", json!({"meta": {"name": "x", "environment": "y"}, "spec": {}}).to_string()),
        (Method::POST, "/v1/environments", json!({"meta": {"name": "default"}, "spec": {}}).to_string()),
        (Method::POST, "/v1/environments/default/services/web/scale", "{\"scale\": 1e30}".to_string()),
        (Method::POST, "/v1/environments/default/services/web/scale", "{\"scale\": -1}".to_string()),
        (Method::POST, "/v1/environments/default/services/web/scale", "{\"scale\": 99999999999999999999999}".to_string()),
        (Method::POST, "/v1/environments/default/nodes/n1/join", json!({"status": {"state": "sleeping"}}).to_string()),
        (Method::POST, "/v1/environments/default/nodes/n1/join", json!({"status": {"memory_bytes": 1e30}}).to_string()),
        (Method::POST, "/v1/environments/default/nodes/n1/join", json!({"labels": {"a": 1}, "status": {}}).to_string()),
        (Method::POST, "/v1/environments/default/nodes/n1/join", json!({"labels": {"a b": "c"}, "status": {}}).to_string()),
        (Method::POST, &long_join, json!({"status": {}}).to_string()),
        (Method::PUT, "/v1/environments/default/instances/web-1/status", json!({"restarts": -1}).to_string()),
        (Method::PUT, "/v1/environments/default/instances/web-1/status", json!({"state": 1}).to_string()),
        (Method::PUT, "/v1/environments/default/instances/nope/status", json!({"state": "running"}).to_string()),
        (Method::POST, "/v1/environments/default/nodes/n1/statuses", json!({"statuses": [{"instance": "web-1", "status": {"state": "exploded"}}]}).to_string()),
        (Method::POST, "/v1/environments/default/nodes/n1/statuses", json!({"statuses": [{"instance": "Web_1", "status": {}}]}).to_string()),
        (Method::POST, "/v1/environments/default/nodes/n1/statuses", json!({"statuses": {"web-1": {}}}).to_string()),
        (Method::POST, "/v1/environments/default/nodes/n1/statuses", json!({"statuses": [{"instance": "web-1"}]}).to_string()),
        (Method::POST, "/v1/environments/default/nodes/N1/statuses", json!({"statuses": []}).to_string()),
        (Method::PUT, "/v1/environments/default/nodes/n1/statuses", json!({"statuses": []}).to_string()),
        (Method::POST, "/v1/environments/nope/nodes/n1/statuses", json!({"statuses": []}).to_string()),
        (Method::DELETE, "/v1/environments/default/services/web?revision=abc", String::new()),
        (Method::DELETE, "/v1/environments/default/services/web?revision=1", String::new()),
        (Method::DELETE, "/v1/environments/default/services/nope", String::new()),
        (Method::DELETE, "/v1/environments/default", String::new()),
        (Method::DELETE, "/v1/environments/nope", String::new()),
        (Method::DELETE, "/v1/environments/default/widgets/x", String::new()),
        (Method::GET, "/v1/environments/default/services?labelSelector=,", String::new()),
        (Method::GET, "/v1/environments/default/services?watch=true&revision=abc", String::new()),
        (Method::GET, "/v1/environments/default/services?watch=1", String::new()),
        (Method::GET, "/v1/watch?revision=-5", String::new()),
        (Method::GET, "/v1/watch?kind=Widget", String::new()),
        (Method::GET, "/v1/environments/%FF/services", String::new()),
        (Method::GET, "/v1/environments/default/services/%FF%FE", String::new()),
        (Method::POST, "/v1/environments/%FF/services", svc(json!({"image": "a"}))),
        (Method::GET, &long_path, String::new()),
        (Method::PATCH, "/v1/environments/default/services/web", "{}".to_string()),
        (Method::DELETE, "/v1/environments/default/services", String::new()),
        (Method::PUT, "/v1/environments", "{}".to_string()),
        (Method::POST, "/openapi.json", "{}".to_string()),
        (Method::DELETE, "/v1/watch", String::new()),
        (Method::GET, "/v1/environments/default/instances/web-1/logs?tail=-1", String::new()),
        (Method::GET, "/v1/environments/default/instances/web-1/logs?follow=perhaps", String::new()),
        (Method::GET, "/v1/environments/default/instances/nope/logs", String::new()),
        (Method::DELETE, "/v1/environments/default/nodes/n1/join", String::new()),
    ];
    for (m, p, b) in fields {
        cases.push((m, p.to_string(), b.into_bytes()));
    }

    let before = s.snapshot();
    let mut seen = BTreeMap::<u16, usize>::new();
    for (method, path, body) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        let resp = s
            .http
            .request(method.clone(), format!("{}{path}", s.url))
            .bearer_auth(TOKEN)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} {shown:?}: no answer: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        // Status reports are lenient by design (statuses do not deny unknown
        // fields, every field has a default): an object such as `{}` is a
        // complete report of the default status, which the instance already
        // has, so it is accepted and changes nothing.
        let lenient_status_report = path.ends_with("/status") && shown.starts_with('{');
        assert!(
            status.is_client_error() || (lenient_status_report && status == StatusCode::OK),
            "{method} {path} {shown:?} answered {status}: {text}"
        );
        *seen.entry(status.as_u16()).or_default() += 1;
        assert_eq!(
            before,
            s.snapshot(),
            "{method} {path} {shown:?} answered {status} but changed the store"
        );
    }
    // The server is still serving.
    assert_eq!(
        s.get(&format!("{SERVICES}/web")).await.status,
        StatusCode::OK
    );
    // Sanity: the table did exercise the main rejections.
    for code in [400, 404, 405, 409, 413, 422] {
        assert!(
            seen.contains_key(&code),
            "no case answered {code}: {seen:?}"
        );
    }
}
