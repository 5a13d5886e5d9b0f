//! What a route may write: the kinds its rule's resource covers, in the
//! environment its rule is checked in, and for a node's credential only
//! its own node and the instances placed on it. Pure: the admitted store
//! (`store.rs`) reads what it needs and asks [`check_write`].
//!
//! The gate decided that the caller may call the route; this decides that
//! what the route's handler then writes is what the route is for. A
//! handler that wrote a user from a service route, or an object of another
//! environment, is refused here before anything is stored.

use corral_types::{GLOBAL, Kind};

use crate::access::Principal;
use crate::access::rules::{Resource, Rule, Scope, Verb};

/// One write as admission sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteView<'a> {
    pub op: OpKind,
    pub kind: Kind,
    /// The environment the object is stored in (`_global` for global kinds).
    pub environment: &'a str,
    pub name: &'a str,
    /// For global objects of one environment (tokens, node credentials,
    /// environment keys): that environment, from their label.
    pub label_environment: Option<&'a str>,
    /// For sessions and API keys: the user they belong to, from their label.
    pub label_user: Option<&'a str>,
    /// For instances: the node they are placed on.
    pub node: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Create,
    Update,
    Delete,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Update => "update",
            OpKind::Delete => "delete",
        }
    }
}

impl WriteView<'_> {
    /// The environment the object belongs to: where it is stored, or for a
    /// global object the environment its label names (none for users,
    /// sessions and the like).
    pub fn owner_environment(&self) -> Option<&str> {
        if self.environment == GLOBAL {
            self.label_environment
        } else {
            Some(self.environment)
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} {} {}/{}",
            self.op.as_str(),
            self.kind.as_str().to_lowercase(),
            self.environment,
            self.name
        )
    }
}

/// The kinds the write routes of `resource` may write.
pub fn kinds_written_by(resource: Resource) -> &'static [Kind] {
    use Kind::*;
    match resource {
        // Creating an environment makes its owner a member; removing one
        // removes everything in it and the credentials bound to it.
        Resource::Environment => &Kind::ALL,
        Resource::Members => &[Member],
        Resource::Catalogs => &[Catalog],
        Resource::Hosts => &[Node, RegistrationToken, NodeCredential],
        // A stack deploy stores the compose file's own secrets and configs.
        Resource::Workloads => &[Stack, Service, Instance, Secret, Config],
        // A new version of a secret or config rolls the services that
        // mount it.
        Resource::Infrastructure => &[Certificate, Secret, Config, Service],
        // A join takes a slice of its environment's range; a renewal binds
        // the node's credential to its new client certificate.
        Resource::Agent => &[Node, Instance, Environment, NodeCredential],
        Resource::Registration => &[NodeCredential, RegistrationToken],
        Resource::Account => &[User, Session, ApiKey],
        // Removing a user removes its memberships too; a new
        // key-encryption key re-seals every secret.
        Resource::Administration => &[
            User,
            Session,
            ApiKey,
            AuthProvider,
            Member,
            Secret,
            Certificate,
        ],
        // A login starts a session (and records a directory user).
        Resource::Public => &[Session, User],
        Resource::Logs | Resource::Exec => &[],
    }
}

/// Whether the handler of a route with `rule`, called by `principal` for
/// environment `route_env`, may make the write `w`; the reason if not.
pub fn check_write(
    principal: &Principal,
    rule: &Rule,
    route_env: Option<&str>,
    w: &WriteView<'_>,
) -> Result<(), String> {
    let refuse = |why: String| Err(format!("{} refused: {why}", w.describe()));
    if rule.verb == Verb::Read {
        return refuse("the route only reads".into());
    }
    if !kinds_written_by(rule.resource).contains(&w.kind) {
        return refuse(format!(
            "a route for {} does not write {}",
            crate::access::rules::describe(rule),
            w.kind.plural()
        ));
    }
    if rule.scope == Scope::Environment {
        let Some(env) = route_env else {
            return refuse("the route names no environment".into());
        };
        if w.owner_environment() != Some(env) {
            return refuse(format!("it is not in environment {env:?}"));
        }
    }
    match principal {
        Principal::Node {
            environment,
            node,
            credential,
            ..
        } => {
            if w.owner_environment() != Some(environment.as_str()) {
                return refuse(format!(
                    "node {node:?} belongs to environment {environment:?}"
                ));
            }
            let own = match w.kind {
                Kind::Node => w.name == node,
                Kind::Instance => w.node == Some(node.as_str()),
                // The slice of the range its join takes.
                Kind::Environment => w.op == OpKind::Update,
                // Its own credential, renewed with a new certificate.
                Kind::NodeCredential => w.op == OpKind::Update && w.name == credential,
                _ => false,
            };
            if !own {
                return refuse(format!(
                    "the credential of node {node:?} writes only its node, the instances placed on it, its own credential and its slice of the environment's range"
                ));
            }
        }
        Principal::Registration { environment, .. }
            if w.owner_environment() != Some(environment.as_str()) =>
        {
            return refuse(format!(
                "the registration token adds hosts to environment {environment:?} only"
            ));
        }
        // A person acting on their own account writes only their own
        // sessions, keys and user (an admin may act on anyone's).
        _ if rule.resource == Resource::Account && !principal.is_admin() => {
            let user = principal.user().unwrap_or_default();
            let theirs = match w.kind {
                Kind::User => w.name == user,
                _ => w.label_user == Some(user),
            };
            if !theirs {
                return refuse(format!("it does not belong to user {user:?}"));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::principal::Via;
    use corral_types::Provider;

    fn view<'a>(kind: Kind, env: &'a str, name: &'a str) -> WriteView<'a> {
        WriteView {
            op: OpKind::Update,
            kind,
            environment: env,
            name,
            label_environment: None,
            label_user: None,
            node: None,
        }
    }

    fn node(name: &str) -> Principal {
        Principal::Node {
            environment: "dev".into(),
            node: name.into(),
            credential: "c".into(),
            certificate: String::new(),
        }
    }

    const AGENT: Rule = Rule::env(Resource::Agent, Verb::Write);
    const WORKLOADS: Rule = Rule::env(Resource::Workloads, Verb::Write);

    #[test]
    fn a_route_writes_only_the_kinds_its_resource_covers() {
        let admin = Principal::AdminToken;
        let svc = view(Kind::Service, "dev", "web");
        assert!(check_write(&admin, &WORKLOADS, Some("dev"), &svc).is_ok());
        let user = view(Kind::User, GLOBAL, "mallory");
        let err = check_write(&admin, &WORKLOADS, Some("dev"), &user).unwrap_err();
        assert!(err.contains("does not write users"), "{err}");
        let read = Rule::env(Resource::Workloads, Verb::Read);
        assert!(check_write(&admin, &read, Some("dev"), &svc).is_err());
    }

    #[test]
    fn configs_are_written_by_infrastructure_and_stack_routes_but_never_by_agents() {
        let admin = Principal::AdminToken;
        let config = view(Kind::Config, "dev", "nginx.conf");
        let infra = Rule::env(Resource::Infrastructure, Verb::Write);
        assert!(check_write(&admin, &infra, Some("dev"), &config).is_ok());
        assert!(check_write(&admin, &WORKLOADS, Some("dev"), &config).is_ok());
        let err = check_write(&node("n1"), &AGENT, Some("dev"), &config).unwrap_err();
        assert!(err.contains("does not write configs"), "{err}");
        let members = Rule::env(Resource::Members, Verb::Write);
        assert!(check_write(&admin, &members, Some("dev"), &config).is_err());
    }

    #[test]
    fn a_route_of_one_environment_writes_nothing_in_another() {
        let admin = Principal::AdminToken;
        let svc = view(Kind::Service, "prod", "web");
        let err = check_write(&admin, &WORKLOADS, Some("dev"), &svc).unwrap_err();
        assert!(err.contains("not in environment \"dev\""), "{err}");
        // A global object bound to an environment counts as in it.
        let hosts = Rule::env(Resource::Hosts, Verb::Write);
        let mut token = view(Kind::RegistrationToken, GLOBAL, "t1");
        token.label_environment = Some("dev");
        assert!(check_write(&admin, &hosts, Some("dev"), &token).is_ok());
        token.label_environment = Some("prod");
        assert!(check_write(&admin, &hosts, Some("dev"), &token).is_err());
    }

    #[test]
    fn a_node_credential_writes_only_its_node_and_its_instances() {
        let mut inst = view(Kind::Instance, "dev", "web-1");
        inst.node = Some("n1");
        assert!(check_write(&node("n1"), &AGENT, Some("dev"), &inst).is_ok());
        let err = check_write(&node("n2"), &AGENT, Some("dev"), &inst).unwrap_err();
        assert!(err.contains("instances placed on it"), "{err}");
        let n1 = view(Kind::Node, "dev", "n1");
        assert!(check_write(&node("n1"), &AGENT, Some("dev"), &n1).is_ok());
        assert!(check_write(&node("n2"), &AGENT, Some("dev"), &n1).is_err());
    }

    #[test]
    fn an_account_route_writes_only_the_callers_own_credentials() {
        let alice = Principal::User {
            name: "alice".into(),
            admin: false,
            provider: Provider::Local,
            groups: Vec::new(),
            via: Via::Session("s".into()),
        };
        let account = Rule::global(Resource::Account, Verb::Write);
        let mut key = view(Kind::ApiKey, GLOBAL, "k1");
        key.label_user = Some("alice");
        assert!(check_write(&alice, &account, None, &key).is_ok());
        key.label_user = Some("bob");
        assert!(check_write(&alice, &account, None, &key).is_err());
        assert!(check_write(&Principal::AdminToken, &account, None, &key).is_ok());
        let bob = view(Kind::User, GLOBAL, "bob");
        assert!(check_write(&alice, &account, None, &bob).is_err());
    }

    #[test]
    fn a_registration_token_adds_hosts_to_its_own_environment_only() {
        let token = Principal::Registration {
            environment: "dev".into(),
            token: "t".into(),
        };
        let register = Rule::global(Resource::Registration, Verb::Write);
        let mut cred = view(Kind::NodeCredential, GLOBAL, "c");
        cred.op = OpKind::Create;
        cred.label_environment = Some("dev");
        assert!(check_write(&token, &register, None, &cred).is_ok());
        cred.label_environment = Some("prod");
        assert!(check_write(&token, &register, None, &cred).is_err());
    }
}
