//! Every route of the API, with its access rule: the one table (see
//! `routes/mod.rs` for how the router, the OpenAPI document and the gates
//! come from it).

use axum::http::Method;

use corral_types::Kind;

use super::Route;
use crate::access::rules::{Resource, Rule, Verb};
use crate::{
    accounts, actions, apikeys, audit_routes, cert_keys, configs, environments, ldap, login,
    members, node_actions, node_certificates, nodes, objects, openapi, registration, secrets,
    users,
};

/// The resource a kind's objects are, for access rules.
pub fn resource_of(kind: Kind) -> Resource {
    match kind {
        Kind::Node | Kind::RegistrationToken => Resource::Hosts,
        Kind::Service | Kind::Instance | Kind::Stack => Resource::Workloads,
        Kind::Certificate | Kind::Secret | Kind::Config => Resource::Infrastructure,
        Kind::Member => Resource::Members,
        Kind::Catalog => Resource::Catalogs,
        Kind::Environment => Resource::Environment,
        Kind::User | Kind::Session | Kind::ApiKey | Kind::NodeCredential | Kind::AuthProvider => {
            Resource::Administration
        }
    }
}

const ENV: &str = "/v1/environments/{env}";

fn env_path(rest: &str) -> String {
    format!("{ENV}{rest}")
}

/// Every route of the API.
pub fn table() -> Vec<Route> {
    use Method as M;
    let mut routes = vec![
        Route::new(
            M::GET,
            "/openapi.json",
            Rule::global(Resource::Account, Verb::Read),
            "the OpenAPI document",
            openapi::serve,
        ),
        // People and sessions.
        Route::new(
            M::POST,
            "/v1/login",
            Rule::global(Resource::Public, Verb::Write),
            "log in with a user name and password; answers a session token",
            login::login,
        )
        .body("LoginRequest"),
        Route::new(
            M::POST,
            "/v1/logout",
            Rule::global(Resource::Account, Verb::Write),
            "end the caller's session",
            login::logout,
        ),
        Route::new(
            M::GET,
            "/v1/whoami",
            Rule::global(Resource::Account, Verb::Read),
            "the caller, and its role in each environment it sees",
            accounts::whoami,
        ),
        Route::new(
            M::GET,
            "/v1/users",
            Rule::global(Resource::Administration, Verb::Read),
            "list users",
            users::list,
        ),
        Route::new(
            M::POST,
            "/v1/users",
            Rule::global(Resource::Administration, Verb::Write),
            "create a local user",
            users::create,
        )
        .body("UserCreate"),
        Route::new(
            M::GET,
            "/v1/users/{name}",
            Rule::global(Resource::Administration, Verb::Read),
            "get a user",
            users::get,
        ),
        Route::new(
            M::DELETE,
            "/v1/users/{name}",
            Rule::global(Resource::Administration, Verb::Write),
            "remove a user (never the last admin)",
            users::remove,
        ),
        Route::new(
            M::PUT,
            "/v1/users/{name}/password",
            Rule::global(Resource::Account, Verb::Write),
            "set a local user's password (the user itself, or an admin)",
            users::set_password,
        )
        .body("PasswordChange"),
        Route::new(
            M::GET,
            "/v1/sessions",
            Rule::global(Resource::Administration, Verb::Read),
            "list sessions",
            login::sessions,
        ),
        Route::new(
            M::DELETE,
            "/v1/sessions/{name}",
            Rule::global(Resource::Administration, Verb::Write),
            "revoke a session",
            login::revoke,
        ),
        Route::new(
            M::GET,
            "/v1/apikeys",
            Rule::global(Resource::Account, Verb::Read),
            "the caller's API keys (every key for an admin)",
            apikeys::list,
        ),
        Route::new(
            M::POST,
            "/v1/apikeys",
            Rule::global(Resource::Account, Verb::Write),
            "create an API key (the secret is answered once)",
            apikeys::create,
        )
        .body("ApiKeyCreate"),
        Route::new(
            M::DELETE,
            "/v1/apikeys/{name}",
            Rule::global(Resource::Account, Verb::Write),
            "remove an API key",
            apikeys::remove,
        ),
        Route::new(
            M::POST,
            "/v1/apikeys/{name}/deactivate",
            Rule::global(Resource::Account, Verb::Write),
            "deactivate an API key",
            apikeys::deactivate,
        ),
        Route::new(
            M::POST,
            "/v1/apikeys/{name}/activate",
            Rule::global(Resource::Account, Verb::Write),
            "reactivate an API key",
            apikeys::activate,
        ),
        Route::new(
            M::GET,
            "/v1/audit",
            Rule::global(Resource::Administration, Verb::Read),
            "the audit log, newest first (?since_ms=&user=&environment=&limit=)",
            audit_routes::list,
        ),
        Route::new(
            M::GET,
            "/v1/auth/ldap",
            Rule::global(Resource::Administration, Verb::Read),
            "the directory settings (never the bind password)",
            ldap::show,
        ),
        Route::new(
            M::PUT,
            "/v1/auth/ldap",
            Rule::global(Resource::Administration, Verb::Write),
            "set the directory (LDAP or Active Directory) users log in with",
            ldap::set,
        )
        .body("LdapConfig"),
        Route::new(
            M::DELETE,
            "/v1/auth/ldap",
            Rule::global(Resource::Administration, Verb::Write),
            "remove the directory settings",
            ldap::remove,
        ),
        Route::new(
            M::POST,
            "/v1/auth/ldap/test",
            Rule::global(Resource::Administration, Verb::Read),
            "find a user in the directory (and check a password when one is given)",
            ldap::test,
        ),
        Route::new(
            M::POST,
            "/v1/register",
            Rule::global(Resource::Registration, Verb::Write),
            "exchange a registration token for a node credential",
            registration::register,
        )
        .body("RegisterRequest"),
        // Environments.
        Route::new(
            M::GET,
            "/v1/environments",
            Rule::global(Resource::Environment, Verb::Read),
            "list the environments the caller sees",
            environments::list,
        ),
        Route::new(
            M::POST,
            "/v1/environments",
            Rule::global(Resource::Environment, Verb::Write),
            "create an environment",
            environments::create,
        )
        .body("Environment"),
        Route::new(
            M::GET,
            ENV,
            Rule::env(Resource::Environment, Verb::Read),
            "get an environment",
            environments::get,
        ),
        Route::new(
            M::PUT,
            ENV,
            Rule::env(Resource::Environment, Verb::Write),
            "replace an environment's description and settings",
            environments::replace,
        )
        .body("Environment"),
        Route::new(
            M::DELETE,
            ENV,
            Rule::env(Resource::Environment, Verb::Write),
            "remove a deactivated environment and everything in it",
            environments::delete,
        ),
        Route::new(
            M::POST,
            env_path("/deactivate"),
            Rule::env(Resource::Environment, Verb::Write),
            "deactivate an environment",
            environments::deactivate,
        ),
        Route::new(
            M::POST,
            env_path("/activate"),
            Rule::env(Resource::Environment, Verb::Write),
            "activate an environment again",
            environments::activate,
        ),
        Route::new(
            M::GET,
            env_path("/members"),
            Rule::env(Resource::Members, Verb::Read),
            "list the members of an environment",
            members::list,
        ),
        Route::new(
            M::POST,
            env_path("/members"),
            Rule::env(Resource::Members, Verb::Write),
            "add a member (a user or group:NAME) or change its role",
            members::add,
        )
        .body("MemberRequest"),
        Route::new(
            M::DELETE,
            env_path("/members/{name}"),
            Rule::env(Resource::Members, Verb::Write),
            "remove a member",
            members::remove,
        ),
        Route::new(
            M::GET,
            env_path("/tokens"),
            Rule::env(Resource::Hosts, Verb::Read),
            "list registration tokens",
            registration::list,
        ),
        Route::new(
            M::POST,
            env_path("/tokens"),
            Rule::env(Resource::Hosts, Verb::Write),
            "make a registration token (the secret is answered once)",
            registration::create,
        )
        .body("TokenCreate"),
        Route::new(
            M::DELETE,
            env_path("/tokens/{name}"),
            Rule::env(Resource::Hosts, Verb::Write),
            "revoke a registration token",
            registration::remove,
        ),
        // Nodes: the agent's own routes, and what an operator does.
        Route::new(
            M::POST,
            env_path("/nodes/{name}/join"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent joins (creates or updates its node)",
            nodes::join_route,
        )
        .body("JoinRequest"),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/certificate"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent gets a new client certificate for its node (renewal before expiry)",
            node_certificates::renew,
        )
        .body("CertificateRequest"),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/heartbeat"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent is alive",
            nodes::heartbeat_route,
        )
        .quiet(),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/stats"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent reports the live stats of its host and instances (kept in memory for an hour)",
            crate::stats::report,
        )
        .body("StatsReport")
        .quiet(),
        Route::new(
            M::GET,
            env_path("/stats"),
            Rule::env(Resource::Workloads, Verb::Read),
            "live stats as JSON lines: ?node=|instance=|service=|nodes=true (none: every instance's latest), since_ms=, follow=true",
            crate::stats::read,
        ),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/statuses"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent reports the status of several of its instances (one transaction)",
            nodes::statuses,
        )
        .body("StatusBatch")
        .quiet(),
        Route::new(
            M::DELETE,
            env_path("/nodes/{name}/instances/{instance}"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent deletes an instance of its node once it is removed (marked removing, containers gone)",
            actions::finish_instance,
        ),
        Route::new(
            M::PUT,
            env_path("/instances/{name}/status"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent reports an instance's status",
            actions::instance_status,
        )
        .body("InstanceStatus")
        .quiet(),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/drain"),
            Rule::env(Resource::Hosts, Verb::Write),
            "move every instance off a node, start-first, and place nothing new on it",
            node_actions::drain,
        ),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/activate"),
            Rule::env(Resource::Hosts, Verb::Write),
            "make a drained or cordoned node schedulable again",
            node_actions::activate,
        ),
        Route::new(
            M::DELETE,
            env_path("/nodes/{name}"),
            Rule::env(Resource::Hosts, Verb::Write),
            "remove a node and revoke its credential (refused while active with instances, unless ?force=true)",
            node_actions::remove,
        ),
        // Verbs of services, stacks and instances.
        Route::new(
            M::POST,
            env_path("/services/{name}/scale"),
            Rule::env(Resource::Workloads, Verb::Write),
            "set a service's scale",
            actions::scale,
        )
        .body("ScaleRequest"),
        Route::new(
            M::POST,
            env_path("/services/{name}/rollback"),
            Rule::env(Resource::Workloads, Verb::Write),
            "roll a service back to its previous launch config",
            actions::rollback,
        ),
        Route::new(
            M::POST,
            env_path("/services/{name}/pause"),
            Rule::env(Resource::Workloads, Verb::Write),
            "pause a service's upgrade",
            actions::pause,
        ),
        Route::new(
            M::POST,
            env_path("/services/{name}/resume"),
            Rule::env(Resource::Workloads, Verb::Write),
            "resume a paused upgrade",
            actions::resume,
        ),
        Route::new(
            M::POST,
            env_path("/stacks/{name}/deploy"),
            Rule::env(Resource::Workloads, Verb::Write),
            "deploy compose files as a stack (dry_run: plan only)",
            actions::deploy,
        )
        .body("DeployRequest"),
        Route::new(
            M::GET,
            env_path("/stacks/{name}/export"),
            Rule::env(Resource::Workloads, Verb::Read),
            "compose files that deploy to the same stack again",
            actions::export,
        ),
        Route::new(
            M::GET,
            env_path("/instances/{name}/logs"),
            Rule::env(Resource::Logs, Verb::Read),
            "container output of an instance (?follow=true&tail=N)",
            actions::logs,
        ),
        Route::new(
            M::GET,
            env_path("/instances/{name}/exec"),
            Rule::env(Resource::Exec, Verb::Write),
            "run a command in an instance's container: a WebSocket (?command=...&command=...&container=&tty=&stdin=; see corral_api::exec)",
            crate::exec::exec,
        ),
        // Secrets: values sealed at rest, never answered but to an agent.
        Route::new(
            M::GET,
            env_path("/secrets"),
            Rule::env(Resource::Infrastructure, Verb::Read),
            "list secrets (metadata only: version, size, digest)",
            secrets::list,
        ),
        Route::new(
            M::POST,
            env_path("/secrets"),
            Rule::env(Resource::Infrastructure, Verb::Write),
            "create a secret (the value base64; sealed at rest, never returned)",
            secrets::create,
        )
        .body("SecretValueRequest"),
        Route::new(
            M::GET,
            env_path("/secrets/{name}"),
            Rule::env(Resource::Infrastructure, Verb::Read),
            "a secret's metadata",
            secrets::get,
        ),
        Route::new(
            M::PUT,
            env_path("/secrets/{name}"),
            Rule::env(Resource::Infrastructure, Verb::Write),
            "a new version of a secret's value; rolls the services that mount it",
            secrets::update,
        )
        .body("SecretValueRequest"),
        Route::new(
            M::DELETE,
            env_path("/secrets/{name}"),
            Rule::env(Resource::Infrastructure, Verb::Write),
            "remove a secret no service mounts",
            secrets::remove,
        ),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/instances/{instance}/secrets"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent fetches the values of the secrets an instance placed on its node mounts",
            secrets::values_for_instance,
        ),
        // Configs: values stored as they are, readable by whoever reads the
        // environment (as services are), written as secrets are.
        Route::new(
            M::GET,
            env_path("/configs"),
            Rule::env(Resource::Infrastructure, Verb::Read),
            "list configs, with their values (base64 in spec.data)",
            configs::list,
        ),
        Route::new(
            M::POST,
            env_path("/configs"),
            Rule::env(Resource::Infrastructure, Verb::Write),
            "create a config (the value base64; readable through the API)",
            configs::create,
        )
        .body("ConfigValueRequest"),
        Route::new(
            M::GET,
            env_path("/configs/{name}"),
            Rule::env(Resource::Infrastructure, Verb::Read),
            "a config, with its value",
            configs::get,
        ),
        Route::new(
            M::PUT,
            env_path("/configs/{name}"),
            Rule::env(Resource::Infrastructure, Verb::Write),
            "a new version of a config's value; rolls the services that mount it",
            configs::update,
        )
        .body("ConfigValueRequest"),
        Route::new(
            M::DELETE,
            env_path("/configs/{name}"),
            Rule::env(Resource::Infrastructure, Verb::Write),
            "remove a config no service mounts",
            configs::remove,
        ),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/instances/{instance}/configs"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent fetches the values of the configs an instance placed on its node mounts",
            configs::values_for_instance,
        ),
        Route::new(
            M::POST,
            env_path("/nodes/{name}/instances/{instance}/certificates"),
            Rule::env(Resource::Agent, Verb::Write),
            "an agent fetches the chains and keys of the certificates a balancer instance placed on its node names",
            cert_keys::material_for_instance,
        ),
        Route::new(
            M::POST,
            "/v1/secrets/rotate-key",
            Rule::global(Resource::Administration, Verb::Write),
            "a new key-encryption key; every secret is re-sealed under it",
            secrets::rotate_key,
        ),
        Route::new(
            M::GET,
            "/v1/watch",
            Rule::global(Resource::Environment, Verb::Read),
            "events of every kind in the environments the caller sees (?revision=&kind=&environment=)",
            crate::watch_all,
        ),
    ];
    for kind in Kind::WORKLOAD {
        routes.extend(kind_routes(kind));
    }
    routes.extend(super::table_catalogs::routes());
    routes
}

/// List (and watch), create, get, replace and delete of one kind.
fn kind_routes(kind: Kind) -> Vec<Route> {
    use Method as M;
    let res = resource_of(kind);
    let list = env_path(&format!("/{}", kind.plural()));
    let one = format!("{list}/{{name}}");
    let schema = match kind {
        Kind::Node => "Node",
        Kind::Certificate => "Certificate",
        _ => "Service",
    };
    let mut routes = vec![
        Route::new(
            M::GET,
            list.clone(),
            Rule::env(res, Verb::Read),
            "list (?labelSelector=), or watch (?watch=true&revision=N) as JSON lines",
            move |st, p, q| objects::list(kind, st, p, q),
        ),
        Route::new(
            M::POST,
            list,
            Rule::env(res, Verb::Write),
            "create an object",
            move |st, c, p, b| objects::create(kind, st, c, p, b),
        )
        .body(schema),
        Route::new(
            M::GET,
            one.clone(),
            Rule::env(res, Verb::Read),
            "get an object",
            move |st, p| objects::get(kind, st, p),
        ),
        Route::new(
            M::PUT,
            one.clone(),
            Rule::env(res, Verb::Write),
            "replace an object's labels and spec (meta.revision required)",
            move |st, c, p, b| objects::replace(kind, st, c, p, b),
        )
        .body(schema),
    ];
    if kind != Kind::Node {
        routes.push(Route::new(
            M::DELETE,
            one,
            Rule::env(res, Verb::Write),
            "delete an object (?revision=N)",
            move |st, c, p, q| objects::delete(kind, st, c, p, q),
        ));
    }
    routes
}
