//! The access matrix: every route of the route table, called by every
//! kind of caller, in its own environment and in a foreign one, checked
//! against the table of what each may do (written here, apart from the
//! server's rules, and rendered into docs/ACCESS.md).
//!
//! The gates run for real (real tokens, sessions, keys, node credentials
//! and role bindings in the store); the handlers behind them are replaced
//! by ones that only answer the route (`routes::gates_only`), so no call
//! of the matrix changes anything the next one sees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use corral_api::{ApiKeyCreate, AuditQuery, RegisterRequest, UserCreate};
use corral_server::access::rules::Scope;
use corral_server::access::{Resource, Verb};
use corral_server::routes::{gates_only, table};
use corral_store::Store;
use corral_types::{GLOBAL, Kind, Role};

use common::{TOKEN, start};

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    Owner,
    Member,
    Restricted,
    ReadOnly,
    Node,
    EnvKey,
    Registration,
    NoCredential,
    ExpiredSession,
    RevokedKey,
    Garbage,
}

const EVERYONE: [Who; 12] = [
    Who::Admin,
    Who::Owner,
    Who::Member,
    Who::Restricted,
    Who::ReadOnly,
    Who::Node,
    Who::EnvKey,
    Who::Registration,
    Who::NoCredential,
    Who::ExpiredSession,
    Who::RevokedKey,
    Who::Garbage,
];

impl Who {
    fn label(self) -> &'static str {
        match self {
            Who::Admin => "admin",
            Who::Owner => "owner",
            Who::Member => "member",
            Who::Restricted => "restricted",
            Who::ReadOnly => "read-only",
            Who::Node => "node",
            Who::EnvKey => "env key (member)",
            Who::Registration => "registration token",
            Who::NoCredential => "none",
            Who::ExpiredSession => "expired session",
            Who::RevokedKey => "revoked key",
            Who::Garbage => "garbage token",
        }
    }

    fn role(self) -> Option<Role> {
        match self {
            Who::Owner => Some(Role::Owner),
            Who::Member | Who::EnvKey => Some(Role::Member),
            Who::Restricted => Some(Role::Restricted),
            Who::ReadOnly => Some(Role::ReadOnly),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allow,
    Deny,
    Hidden,
    Unauthenticated,
}

impl Expect {
    fn mark(self) -> &'static str {
        match self {
            Expect::Allow => "yes",
            Expect::Deny => "403",
            Expect::Hidden => "404",
            Expect::Unauthenticated => "401",
        }
    }
}

/// What a role may do in its environment: the table of docs/ACCESS.md.
fn role_may(role: Role, resource: Resource, verb: Verb) -> bool {
    use Resource as R;
    match (resource, verb) {
        (
            R::Environment
            | R::Members
            | R::Hosts
            | R::Workloads
            | R::Infrastructure
            | R::Catalogs
            | R::Logs,
            Verb::Read,
        ) => true,
        (R::Environment | R::Members | R::Catalogs, Verb::Write) => role == Role::Owner,
        (R::Hosts | R::Infrastructure, Verb::Write) => matches!(role, Role::Owner | Role::Member),
        (R::Workloads, Verb::Write) => role != Role::ReadOnly,
        // A shell in a container: not for read-only or restricted users.
        (R::Exec, Verb::Write) => matches!(role, Role::Owner | Role::Member),
        _ => false,
    }
}

/// The expected answer for `who` on a route with this rule, in its own
/// environment (`own`) or a foreign one.
fn expect(who: Who, resource: Resource, verb: Verb, scope: Scope, own: bool) -> Expect {
    use Resource as R;
    if resource == R::Public {
        return Expect::Allow;
    }
    match who {
        Who::NoCredential | Who::ExpiredSession | Who::RevokedKey | Who::Garbage => {
            return Expect::Unauthenticated;
        }
        Who::Admin => return Expect::Allow,
        _ => {}
    }
    if scope == Scope::Environment && !own {
        return Expect::Hidden;
    }
    let allowed = match (who, scope) {
        (Who::Node, Scope::Environment) => {
            resource == R::Agent
                || (verb == Verb::Read
                    && matches!(
                        resource,
                        R::Environment | R::Hosts | R::Workloads | R::Infrastructure
                    ))
        }
        (Who::Node, Scope::Global) => false,
        (Who::Registration, scope) => scope == Scope::Global && resource == R::Registration,
        (_, Scope::Global) => {
            resource == R::Account
                || (matches!(resource, R::Environment | R::Catalogs) && verb == Verb::Read)
        }
        (who, Scope::Environment) => who.role().is_some_and(|r| role_may(r, resource, verb)),
    };
    if allowed { Expect::Allow } else { Expect::Deny }
}

/// A concrete path of a route in environment `env`.
fn concrete(path: &str, env: &str) -> String {
    let named = [
        ("/instances/{instance}", "/instances/web-1"),
        ("/nodes/{name}", "/nodes/n1"),
        ("/services/{name}", "/services/web"),
        ("/instances/{name}", "/instances/web-1"),
        ("/stacks/{name}", "/stacks/shop"),
        ("/certificates/{name}", "/certificates/c1"),
        ("/secrets/{name}", "/secrets/s1"),
        ("/configs/{name}", "/configs/c1"),
        ("/members/{name}", "/members/alice"),
        ("/tokens/{name}", "/tokens/t1"),
        ("/users/{name}", "/users/alice"),
        ("/sessions/{name}", "/sessions/s1"),
        ("/apikeys/{name}", "/apikeys/k1"),
        ("/catalogs/{name}", "/catalogs/c1"),
        ("/apps/{name}", "/apps/a1"),
        ("/templates/{catalog}/{template}", "/templates/c1/t1"),
    ];
    let mut p = path.replace("{env}", env);
    for (pattern, with) in named {
        p = p.replace(pattern, with);
    }
    assert!(!p.contains('{'), "no fixture name for {path}");
    p
}

struct Callers {
    tokens: Vec<(Who, Option<String>)>,
}

/// Environments `dev` (where the users have their roles and the node
/// lives) and `test`, and a credential of every kind.
async fn callers(s: &common::TestServer) -> Callers {
    for env in ["dev", "test"] {
        let r = s
            .post(
                "/v1/environments",
                &json!({"meta": {"name": env}, "spec": {}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let admin = &s.client;
    let mut tokens = Vec::new();
    for (who, name) in [
        (Who::Admin, "root"),
        (Who::Owner, "olga"),
        (Who::Member, "mia"),
        (Who::Restricted, "rita"),
        (Who::ReadOnly, "rob"),
    ] {
        admin
            .create_user(&UserCreate {
                name: name.into(),
                password: format!("{name}-password"),
                admin: who == Who::Admin,
                display_name: String::new(),
            })
            .await
            .unwrap();
        if let Some(role) = who.role() {
            admin
                .add_member(
                    "dev",
                    &corral_api::MemberRequest {
                        subject: name.into(),
                        role,
                    },
                )
                .await
                .unwrap();
        }
        let session = admin
            .login(name, &format!("{name}-password"))
            .await
            .unwrap();
        tokens.push((who, Some(session.token)));
    }
    let node = admin
        .register(&RegisterRequest {
            node: "n1".into(),
            environment: "dev".into(),
            ..RegisterRequest::default()
        })
        .await
        .unwrap();
    tokens.push((Who::Node, Some(node.credential)));
    let mia =
        corral_api::Client::with_trust(&s.url, tokens[2].1.as_deref().unwrap(), Default::default())
            .unwrap();
    let key = mia
        .create_apikey(&ApiKeyCreate {
            description: "ci".into(),
            environment: "dev".into(),
            role: Some(Role::Member),
        })
        .await
        .unwrap();
    tokens.push((Who::EnvKey, Some(key.token)));
    let reg = admin
        .create_registration_token("dev", Some(3600))
        .await
        .unwrap();
    tokens.push((Who::Registration, Some(reg.token)));
    tokens.push((Who::NoCredential, None));
    // A session whose expiry has passed.
    let expired = admin.login("rob", "rob-password").await.unwrap();
    let (_, id, _) = corral_types::TokenKind::parse(&expired.token).unwrap();
    let mut raw = s.store.get(Kind::Session, GLOBAL, id).unwrap();
    raw.spec["expires"] = json!("2001-01-01T00:00:00Z");
    s.store.update(raw).unwrap();
    tokens.push((Who::ExpiredSession, Some(expired.token)));
    let revoked = mia.create_apikey(&ApiKeyCreate::default()).await.unwrap();
    mia.set_apikey_active(&revoked.id, false).await.unwrap();
    tokens.push((Who::RevokedKey, Some(revoked.token)));
    tokens.push((
        Who::Garbage,
        Some(format!("crl_k_{}_{}", "0".repeat(32), "f".repeat(64))),
    ));
    Callers { tokens }
}

/// A server with the gates of every route and no handlers, on `store`.
async fn gates(store: Arc<dyn Store>) -> String {
    let state = corral_server::AppState::new(
        store,
        Arc::new(corral_controllers::Liveness::with_interval(2)),
        Arc::new(corral_controllers::SystemClock),
        TOKEN,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = gates_only(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_access_table_says() {
    let s = start().await;
    let callers = callers(&s).await;
    let url = gates(s.store.clone()).await;
    let http = reqwest::Client::new();
    // A key's first use records when it was used (once a minute at most):
    // let that write happen before the store is compared.
    let key = callers
        .tokens
        .iter()
        .find(|(w, _)| *w == Who::EnvKey)
        .and_then(|(_, t)| t.clone())
        .unwrap();
    let r = http
        .get(format!("{url}/v1/whoami"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let key_used = || {
        s.store
            .list(&corral_store::Query::kind(Kind::ApiKey).in_environment(GLOBAL))
            .unwrap()
            .items
            .iter()
            .any(|k| k.status["last_used"].is_string())
    };
    let deadline = std::time::Instant::now() + common::WAIT;
    while !key_used() {
        assert!(
            std::time::Instant::now() < deadline,
            "the key's use was never recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = s.snapshot();
    let mut failures = Vec::new();
    let mut checked = 0;
    for route in table() {
        let envs: &[(&str, bool)] = match route.rule.scope {
            Scope::Environment => &[("dev", true), ("test", false)],
            Scope::Global => &[("", true)],
        };
        for &(env, own) in envs {
            let path = concrete(&route.path, env);
            for (who, token) in &callers.tokens {
                let want = expect(
                    *who,
                    route.rule.resource,
                    route.rule.verb,
                    route.rule.scope,
                    own,
                );
                let mut req = http.request(route.method.clone(), format!("{url}{path}"));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let resp = req.send().await.unwrap();
                let status = resp.status();
                let text = resp.text().await.unwrap();
                let ok = match want {
                    Expect::Allow => status == StatusCode::OK,
                    Expect::Deny => status == StatusCode::FORBIDDEN,
                    Expect::Hidden => {
                        status == StatusCode::NOT_FOUND
                            && text.contains(&format!("environment \\\"{env}\\\" not found"))
                    }
                    Expect::Unauthenticated => status == StatusCode::UNAUTHORIZED,
                };
                checked += 1;
                if !ok {
                    failures.push(format!(
                        "{} {path} as {}: expected {:?}, got {status} {text}",
                        route.method,
                        who.label(),
                        want
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 1000, "only {checked} calls");
    assert_eq!(before, s.snapshot(), "the gates changed the store");
}

#[tokio::test]
async fn refused_requests_are_recorded_in_the_audit_log() {
    let s = start().await;
    let callers = callers(&s).await;
    let node = callers
        .tokens
        .iter()
        .find(|(w, _)| *w == Who::Node)
        .and_then(|(_, t)| t.clone())
        .unwrap();
    let as_node = corral_api::Client::with_trust(&s.url, &node, Default::default()).unwrap();
    let svc: corral_types::Service = corral_types::Object::new(
        Kind::Service,
        "dev",
        "web",
        corral_types::ServiceSpec {
            image: "nginx".into(),
            scale: 1,
            ..Default::default()
        },
    );
    let err = as_node.create(&svc).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("node credential"), "{err}");
    let records = s.client.audit(&AuditQuery::default()).await.unwrap().items;
    let refusal = records
        .iter()
        .find(|r| r.code == 403 && r.user == "node:dev/n1")
        .unwrap_or_else(|| panic!("no record of the refusal in {records:#?}"));
    assert_eq!(refusal.environment, "dev");
    assert_eq!(refusal.method, "node-credential");
    assert!(
        refusal
            .verb
            .starts_with("POST /v1/environments/{env}/services"),
        "{refusal:?}"
    );
    // Every login was recorded, with the user it was for.
    assert!(
        records
            .iter()
            .any(|r| r.user == "mia" && r.summary.contains("login"))
    );
}

/// docs/ACCESS.md holds the table this test checks against.
#[test]
fn the_access_document_holds_the_table_the_matrix_checks() {
    let mut rows: Vec<(Resource, Verb, Scope)> = Vec::new();
    for route in table() {
        let key = (route.rule.resource, route.rule.verb, route.rule.scope);
        if !rows.contains(&key) {
            rows.push(key);
        }
    }
    rows.sort_by_key(|(r, v, s)| (format!("{s:?}"), format!("{r:?}"), format!("{v:?}")));
    let mut md = String::from("| scope | resource | verb |");
    for who in EVERYONE {
        let _ = write!(md, " {} |", who.label());
    }
    md.push_str("\n|---|---|---|");
    for _ in EVERYONE {
        md.push_str("---|");
    }
    for (resource, verb, scope) in rows {
        let _ = write!(md, "\n| {scope:?} | {resource:?} | {verb:?} |");
        for who in EVERYONE {
            let own = expect(who, resource, verb, scope, true);
            let cell = match scope {
                Scope::Environment => {
                    let foreign = expect(who, resource, verb, scope, false);
                    format!("{} / {}", own.mark(), foreign.mark())
                }
                Scope::Global => own.mark().to_string(),
            };
            let _ = write!(md, " {cell} |");
        }
    }
    md.push('\n');
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ACCESS.md");
    let doc = std::fs::read_to_string(doc_path).unwrap_or_default();
    if std::env::var_os("CORRAL_WRITE_ACCESS_TABLE").is_some() {
        let start = doc
            .find("<!-- access table -->")
            .map(|i| i + "<!-- access table -->\n".len());
        let end = doc.find("<!-- end of access table -->");
        if let (Some(start), Some(end)) = (start, end) {
            let updated = format!("{}{md}{}", &doc[..start], &doc[end..]);
            std::fs::write(doc_path, updated).unwrap();
            return;
        }
    }
    assert!(
        doc.contains(&md),
        "docs/ACCESS.md does not hold the access table; run this test with \
         CORRAL_WRITE_ACCESS_TABLE=1 to write it between the markers:\n{md}"
    );
}
