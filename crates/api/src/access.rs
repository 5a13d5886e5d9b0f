//! Wire types of people, credentials and the audit log.

use serde::{Deserialize, Serialize};

use corral_types::Role;

/// One audited request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditRecord {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// RFC 3339, for people.
    pub time: String,
    /// `alice`, `admin-token`, `node:dev/n1`, `anonymous`, ...
    pub user: String,
    /// How the caller authenticated: `session`, `account-key`,
    /// `environment-key`, `node-credential`, `admin-token`, `none`, ...
    pub method: String,
    /// The client's address.
    pub client: String,
    pub environment: String,
    /// The HTTP method and the route (`POST /v1/environments/{env}/services`).
    pub verb: String,
    /// The object the request named (`services/web`), if any.
    pub object: String,
    /// The HTTP status of the answer.
    pub code: u16,
    /// What was asked, without secret values; for a refusal, why.
    pub summary: String,
}

/// `GET /v1/audit` parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    pub since_ms: u64,
    pub user: Option<String>,
    pub environment: Option<String>,
    pub limit: Option<usize>,
}

impl AuditQuery {
    pub const DEFAULT_LIMIT: usize = 1000;

    pub fn limit_or_default(&self) -> usize {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT).min(100_000)
    }
}

/// `POST /v1/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// A browser's login: the session goes into an `HttpOnly` cookie and
    /// the answer carries its CSRF token instead of the session's token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cookie: bool,
}

/// A new session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    /// The bearer token of the session (shown once); empty for a cookie
    /// login, whose token only the cookie holds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// A cookie login's CSRF token: what every write sends as
    /// `X-CSRF-Token`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub csrf_token: String,
    pub user: String,
    /// `local` or `ldap`.
    pub provider: String,
    /// RFC 3339.
    pub expires: String,
}

/// `GET /v1/whoami`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WhoAmI {
    pub user: String,
    pub admin: bool,
    pub method: String,
    /// The environments the caller sees, with its role in each (`admin`
    /// for admins).
    pub environments: Vec<EnvironmentRole>,
    /// The fingerprint of the CA the server's certificate chains to (what
    /// `corral agent --ca-fingerprint` pins on first contact; public like
    /// the certificate itself). Empty when the server does not know it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_fingerprint: String,
    /// The CSRF token of the session cookie the request came with (a
    /// browser's page, after a reload); empty for any other credential.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub csrf_token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvironmentRole {
    pub environment: String,
    pub role: String,
}

/// `POST /v1/users`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserCreate {
    pub name: String,
    pub password: String,
    pub admin: bool,
    pub display_name: String,
}

/// `PUT /v1/users/{user}/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub password: String,
}

/// `POST /v1/environments/{env}/members`: adds a binding or changes its role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    /// `alice` or `group:devs`.
    pub subject: String,
    pub role: Role,
}

/// `POST /v1/apikeys`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiKeyCreate {
    pub description: String,
    /// Empty: an account key; else an environment key.
    pub environment: String,
    /// The role of an environment key (default member).
    pub role: Option<Role>,
}

/// A new API key or registration token: the secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretCreated {
    /// The object's id.
    pub id: String,
    /// The bearer token (shown once, stored hashed).
    pub token: String,
    /// RFC 3339 expiry, when it has one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expires: String,
}

/// `POST /v1/environments/{env}/tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenCreate {
    /// Seconds until it expires (default 24 h, at most 30 days).
    pub ttl_s: Option<u64>,
}

/// `POST /v1/register`: an agent with a registration token asks for a
/// credential of its own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The node's name.
    pub node: String,
    /// The environment to join: a registration token's own when empty
    /// (and it must match when given); required with any other
    /// credential that may register hosts (an admin's).
    #[serde(default)]
    pub environment: String,
    /// A certificate signing request (PEM) for the node's own key: the
    /// answer then carries the node's client certificate, and the
    /// credential is bound to it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub csr_pem: String,
}

/// A node's request for a new client certificate (renewal before expiry).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CertificateRequest {
    /// A certificate signing request (PEM) for the node's key.
    pub csr_pem: String,
}

/// A node's client certificate, followed by the CA's (PEM).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeCertificate {
    pub certificate_pem: String,
}

/// The node's credential: kept by the agent (mode 0600), shown nowhere else.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub environment: String,
    pub node: String,
    /// The bearer token the agent uses from now on.
    pub credential: String,
    /// What the server presents when it calls the agent's own endpoint.
    pub endpoint_key: String,
    /// The node's client certificate and the CA's (PEM), when the request
    /// had a signing request.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate_pem: String,
}
