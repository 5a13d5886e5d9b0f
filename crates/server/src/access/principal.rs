//! Who a request comes from.

use corral_types::{Provider, Role};

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
}

impl Caller {
    /// A caller for code paths that act on the server's own behalf.
    pub fn system() -> Caller {
        Caller {
            principal: Principal::AdminToken,
            role: None,
            client: "server".into(),
        }
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
