//! Who may do what: the access rule of a route (resource, verb, scope) and
//! the pure decision for a caller. Kubernetes' RBAC authorizer and Rancher
//! 1.x's role table are the references; `docs/ACCESS.md` is the table in
//! prose, and the matrix test checks every route against it.

use corral_types::Role;

use super::principal::Principal;

/// What a route touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// The environment object itself.
    Environment,
    /// Role bindings of an environment.
    Members,
    /// Hosts: nodes and the registration tokens that add them.
    Hosts,
    /// Stacks, services and their instances.
    Workloads,
    /// Certificates (and, later, secrets and other infrastructure).
    Infrastructure,
    /// Catalogs of templates: global ones are an admin's, an
    /// environment's own are its owners'; everyone who sees the
    /// environment reads its templates.
    Catalogs,
    /// Container logs.
    Logs,
    /// Commands run in containers (`corral exec`, the UI's shell).
    Exec,
    /// What only a node's own agent does: join, heartbeat, status reports.
    Agent,
    /// Users, sessions of others, auth settings, the audit log.
    Administration,
    /// The caller's own account: who am I, own API keys, own password.
    Account,
    /// Login and the API description: anyone, no credential needed.
    Public,
    /// A registration token's one use: exchanging it for a node credential.
    Registration,
}

/// What the route does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Read,
    Write,
}

/// Which environment a route's rule is checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The `{env}` segment of the path.
    Environment,
    /// None: global objects (users, the audit log, the environment list).
    Global,
}

/// The access rule every route carries (a route cannot be declared
/// without one: see `routes/table.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    pub resource: Resource,
    pub verb: Verb,
    pub scope: Scope,
}

impl Rule {
    pub const fn env(resource: Resource, verb: Verb) -> Rule {
        Rule {
            resource,
            verb,
            scope: Scope::Environment,
        }
    }

    pub const fn global(resource: Resource, verb: Verb) -> Rule {
        Rule {
            resource,
            verb,
            scope: Scope::Global,
        }
    }

    pub fn is_write(&self) -> bool {
        self.verb == Verb::Write
    }
}

/// The answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// 401: no credential, or one that is not valid.
    Unauthenticated,
    /// 403, with the reason the CLI prints.
    Deny(String),
    /// 404: the caller may not know the environment exists.
    Hidden,
}

/// What a role may do with a resource in its environment.
pub fn role_allows(role: Role, resource: Resource, verb: Verb) -> bool {
    use Resource::*;
    use Role::*;
    match (resource, verb) {
        // Everyone who sees the environment reads all of it.
        (
            Environment | Members | Hosts | Workloads | Infrastructure | Catalogs | Logs,
            Verb::Read,
        ) => true,
        (Environment | Members | Catalogs, Verb::Write) => role == Owner,
        (Hosts | Infrastructure, Verb::Write) => matches!(role, Owner | Member),
        (Workloads, Verb::Write) => matches!(role, Owner | Member | Restricted),
        (Logs, Verb::Write) => false,
        // A shell in a container can do whatever the container can: not
        // for read-only users, and not for restricted ones either (their
        // role keeps them off host-level access, and a container may have
        // it: privileged, host network, host paths).
        (Exec, Verb::Write) => matches!(role, Owner | Member),
        (Exec, Verb::Read) => false,
        // Not granted by environment roles.
        (Agent | Administration | Account | Public | Registration, _) => false,
    }
}

/// The resources a node's credential may touch in its own environment:
/// what its DNS, metadata and balancers read, and its own agent's work.
fn node_allows(resource: Resource, verb: Verb) -> bool {
    matches!(
        (resource, verb),
        (Resource::Agent, _)
            | (
                Resource::Environment | Resource::Hosts | Resource::Workloads,
                Verb::Read
            )
            | (Resource::Infrastructure, Verb::Read)
    )
}

/// Decides a request: `caller`, the route's `rule`, and when the rule is
/// scoped to an environment, `env_role`: the caller's role there (`None`
/// when the caller has none, or the environment does not exist).
pub fn decide(
    caller: &Principal,
    rule: &Rule,
    env: Option<&str>,
    env_role: Option<Role>,
) -> Decision {
    if rule.resource == Resource::Public {
        return Decision::Allow;
    }
    if caller.is_anonymous() {
        return Decision::Unauthenticated;
    }
    if caller.is_admin() {
        return Decision::Allow;
    }
    let what = describe(rule);
    match caller {
        Principal::Node { environment, .. } => {
            let own = env == Some(environment.as_str());
            match rule.scope {
                Scope::Environment if !own => Decision::Hidden,
                Scope::Environment if node_allows(rule.resource, rule.verb) => Decision::Allow,
                _ => Decision::Deny(format!("a node credential may not {what}")),
            }
        }
        Principal::Registration { environment, .. } => match rule.resource {
            Resource::Registration if rule.scope == Scope::Global => Decision::Allow,
            _ if rule.scope == Scope::Environment && env != Some(environment.as_str()) => {
                Decision::Hidden
            }
            _ => Decision::Deny(format!(
                "a registration token only registers hosts; it may not {what}"
            )),
        },
        _ => match rule.scope {
            Scope::Global => match rule.resource {
                Resource::Account => Decision::Allow,
                // The list of environments is filtered by the handler.
                Resource::Environment if rule.verb == Verb::Read => Decision::Allow,
                // Global catalogs: every user reads them (their templates
                // are offered in every environment); admins change them.
                Resource::Catalogs if rule.verb == Verb::Read => Decision::Allow,
                _ => Decision::Deny(format!("only an admin may {what}")),
            },
            Scope::Environment => match env_role {
                None => Decision::Hidden,
                Some(role) if role_allows(role, rule.resource, rule.verb) => Decision::Allow,
                Some(role) => Decision::Deny(format!(
                    "the role {role} in environment {:?} may not {what}",
                    env.unwrap_or_default()
                )),
            },
        },
    }
}

/// `change services` and the like, for messages.
pub fn describe(rule: &Rule) -> String {
    let verb = match rule.verb {
        Verb::Read => "read",
        Verb::Write => "change",
    };
    let what = match rule.resource {
        Resource::Environment => "the environment",
        Resource::Members => "members",
        Resource::Hosts => "hosts",
        Resource::Workloads => "stacks and services",
        Resource::Infrastructure => "certificates",
        Resource::Catalogs => "catalogs",
        Resource::Logs => "logs",
        Resource::Exec => "run commands in containers",
        Resource::Agent => "act as a node's agent",
        Resource::Administration => "users, auth settings or the audit log",
        Resource::Account => "the account",
        Resource::Public => "public endpoints",
        Resource::Registration => "register hosts",
    };
    match rule.resource {
        Resource::Agent | Resource::Registration | Resource::Exec => what.to_string(),
        _ => format!("{verb} {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_change_members() {
        for role in Role::ALL {
            assert_eq!(
                role_allows(role, Resource::Members, Verb::Write),
                role == Role::Owner,
                "{role}"
            );
        }
    }

    #[test]
    fn restricted_users_change_workloads_but_not_hosts() {
        assert!(role_allows(
            Role::Restricted,
            Resource::Workloads,
            Verb::Write
        ));
        assert!(!role_allows(Role::Restricted, Resource::Hosts, Verb::Write));
        assert!(!role_allows(
            Role::Restricted,
            Resource::Infrastructure,
            Verb::Write
        ));
    }

    #[test]
    fn read_only_users_change_nothing() {
        for resource in [
            Resource::Environment,
            Resource::Members,
            Resource::Hosts,
            Resource::Workloads,
            Resource::Infrastructure,
            Resource::Logs,
        ] {
            assert!(
                !role_allows(Role::ReadOnly, resource, Verb::Write),
                "{resource:?}"
            );
            assert!(
                role_allows(Role::ReadOnly, resource, Verb::Read),
                "{resource:?}"
            );
        }
    }

    #[test]
    fn only_owners_and_members_run_commands_in_containers() {
        for role in Role::ALL {
            assert_eq!(
                role_allows(role, Resource::Exec, Verb::Write),
                matches!(role, Role::Owner | Role::Member),
                "{role}"
            );
        }
        let node = Principal::Node {
            environment: "dev".into(),
            node: "n1".into(),
            credential: "c".into(),
            certificate: String::new(),
        };
        let exec = Rule::env(Resource::Exec, Verb::Write);
        assert!(matches!(
            decide(&node, &exec, Some("dev"), None),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn a_user_without_a_role_does_not_learn_the_environment_exists() {
        let user = Principal::test_user("alice");
        let rule = Rule::env(Resource::Workloads, Verb::Read);
        assert_eq!(decide(&user, &rule, Some("dev"), None), Decision::Hidden);
    }

    #[test]
    fn a_node_credential_reads_its_environment_and_nothing_else() {
        let node = Principal::Node {
            environment: "dev".into(),
            node: "n1".into(),
            credential: "c".into(),
            certificate: String::new(),
        };
        let read = Rule::env(Resource::Workloads, Verb::Read);
        let write = Rule::env(Resource::Workloads, Verb::Write);
        assert_eq!(decide(&node, &read, Some("dev"), None), Decision::Allow);
        assert!(matches!(
            decide(&node, &write, Some("dev"), None),
            Decision::Deny(_)
        ));
        assert_eq!(decide(&node, &read, Some("test"), None), Decision::Hidden);
        let users = Rule::global(Resource::Administration, Verb::Read);
        assert!(matches!(
            decide(&node, &users, None, None),
            Decision::Deny(_)
        ));
    }
}
