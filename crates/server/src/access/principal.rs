//! Who a request comes from.

use std::sync::{Arc, Mutex};

use corral_types::{Provider, Role};

use super::rules::Rule;

/// The caller of a request, as its credential says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credential.
    Anonymous,
    /// The break-glass admin token of the data directory.
    AdminToken,
    /// A person, through a login session or an account API key.
    User {
        name: String,
        admin: bool,
        provider: Provider,
        groups: Vec<String>,
        /// How: `session` or `apikey`.
        via: Via,
    },
    /// An environment API key: limited to one environment and one role.
    EnvKey {
        key: String,
        user: String,
        environment: String,
        role: Role,
    },
    /// A node's agent, with the credential it got at registration.
    Node {
        environment: String,
        node: String,
        credential: String,
        /// The fingerprint of the client certificate the credential is
        /// bound to (empty: none, a credential from before TLS).
        certificate: String,
    },
    /// A registration token, good only for registering a host.
    Registration { environment: String, token: String },
}

/// How a user authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session(String),
    ApiKey(String),
}

impl Principal {
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Principal::Anonymous)
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Principal::AdminToken | Principal::User { admin: true, .. }
        )
    }

    /// The name the audit log gives the caller.
    pub fn who(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::AdminToken => "admin-token".into(),
            Principal::User { name, .. } => format!("user:{name}"),
            Principal::EnvKey { key, user, .. } => format!("apikey:{key} (user:{user})"),
            Principal::Node {
                environment, node, ..
            } => format!("node:{environment}/{node}"),
            Principal::Registration { token, .. } => format!("registration-token:{token}"),
        }
    }

    /// How the caller authenticated, for the audit log.
    pub fn method(&self) -> &'static str {
        match self {
            Principal::Anonymous => "none",
            Principal::AdminToken => "admin-token",
            Principal::User {
                via: Via::Session(_),
                provider: Provider::Ldap,
                ..
            } => "session (ldap)",
            Principal::User {
                via: Via::Session(_),
                ..
            } => "session",
            Principal::User {
                via: Via::ApiKey(_),
                ..
            } => "account-key",
            Principal::EnvKey { .. } => "environment-key",
            Principal::Node { .. } => "node-credential",
            Principal::Registration { .. } => "registration-token",
        }
    }

    /// The user behind a person's credential.
    pub fn user(&self) -> Option<&str> {
        match self {
            Principal::User { name, .. } | Principal::EnvKey { user: name, .. } => Some(name),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn test_user(name: &str) -> Principal {
        Principal::User {
            name: name.into(),
            admin: false,
            provider: Provider::Local,
            groups: Vec::new(),
            via: Via::Session("s".into()),
        }
    }
}

/// The role of a user with `groups` in an environment with `bindings`
/// (subject, role): the highest of the user's own and its groups'.
pub fn role_from_bindings<'a>(
    user: &str,
    groups: &[String],
    bindings: impl IntoIterator<Item = (&'a str, Role)>,
) -> Option<Role> {
    bindings
        .into_iter()
        .filter(|(subject, _)| match subject.strip_prefix("group:") {
            Some(group) => groups.iter().any(|g| g.eq_ignore_ascii_case(group)),
            None => subject.eq_ignore_ascii_case(user),
        })
        .map(|(_, role)| role)
        .max()
}

/// The request's caller and what was decided, handed to handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The caller's role in the route's environment (`None` for admins,
    /// nodes and global routes).
    pub role: Option<Role>,
    /// The client's address.
    pub client: String,
    /// The rule of the route called: what its writes may touch (see
    /// `admission`). `None` only for the server acting on its own behalf.
    pub rule: Option<Rule>,
    /// The route's `{env}`, if it has one.
    pub env: Option<String>,
    /// What admission stored for this request, for its audit entry.
    pub written: Arc<Mutex<Vec<String>>>,
}

impl Caller {
    /// The caller of a request to a route with `rule`, decided by the gate.
    pub fn new(
        principal: Principal,
        role: Option<Role>,
        client: String,
        rule: Rule,
        env: Option<String>,
    ) -> Caller {
        Caller {
            principal,
            role,
            client,
            rule: Some(rule),
            env,
            written: Arc::default(),
        }
    }

    /// A caller for code paths that act on the server's own behalf.
    pub fn system() -> Caller {
        Caller {
            principal: Principal::AdminToken,
            role: None,
            client: "server".into(),
            rule: None,
            env: None,
            written: Arc::default(),
        }
    }

    /// Notes objects admission stored for this request.
    pub fn note_written(&self, objects: impl Iterator<Item = String>) {
        if let Ok(mut w) = self.written.lock() {
            w.extend(objects);
        }
    }

    /// What admission stored for this request, as the audit log says it:
    /// the first few objects and how many more.
    pub fn written_summary(&self) -> Option<String> {
        const SHOWN: usize = 8;
        let w = self.written.lock().ok()?;
        if w.is_empty() {
            return None;
        }
        let mut out = w.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
        if w.len() > SHOWN {
            out.push_str(&format!(" and {} more", w.len() - SHOWN));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_of_own_and_group_roles_wins() {
        let groups = vec!["devs".to_string()];
        let bindings = [
            ("alice", Role::ReadOnly),
            ("group:devs", Role::Member),
            ("group:ops", Role::Owner),
        ];
        assert_eq!(
            role_from_bindings("alice", &groups, bindings),
            Some(Role::Member)
        );
        assert_eq!(role_from_bindings("bob", &[], bindings), None);
    }
}
