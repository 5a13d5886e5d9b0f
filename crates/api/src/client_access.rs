//! The client's calls for people, credentials and the audit log.

use corral_types::RawObject;

use crate::client::{ApiError, Client};
use crate::wire::List;
use crate::{
    ApiKeyCreate, AuditQuery, AuditRecord, LoginRequest, LoginResponse, MemberRequest,
    PasswordChange, RegisterRequest, RegisterResponse, SecretCreated, TokenCreate, UserCreate,
    WhoAmI,
};

impl Client {
    pub(crate) async fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.json(self.http.post(self.url(path)).json(body)).await
    }

    pub(crate) async fn post_empty<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ApiError> {
        self.json(self.http.post(self.url(path))).await
    }

    pub(crate) async fn delete_path(&self, path: &str) -> Result<RawObject, ApiError> {
        self.json(self.http.delete(self.url(path))).await
    }

    /// `POST /v1/login`: a session token for a user name and password.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResponse, ApiError> {
        let req = LoginRequest {
            username: username.into(),
            password: password.into(),
            cookie: false,
        };
        self.post_json("/v1/login", &req).await
    }

    /// Ends the session this client's token is.
    pub async fn logout(&self) -> Result<RawObject, ApiError> {
        self.post_empty("/v1/logout").await
    }

    pub async fn whoami(&self) -> Result<WhoAmI, ApiError> {
        self.get_path("/v1/whoami").await
    }

    pub async fn users(&self) -> Result<List<RawObject>, ApiError> {
        self.get_path("/v1/users").await
    }

    pub async fn create_user(&self, req: &UserCreate) -> Result<RawObject, ApiError> {
        self.post_json("/v1/users", req).await
    }

    pub async fn remove_user(&self, name: &str) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("/v1/users/{name}")).await
    }

    pub async fn set_password(&self, name: &str, password: &str) -> Result<RawObject, ApiError> {
        let req = PasswordChange {
            password: password.into(),
        };
        self.json(
            self.http
                .put(self.url(&format!("/v1/users/{name}/password")))
                .json(&req),
        )
        .await
    }

    pub async fn sessions(&self) -> Result<List<RawObject>, ApiError> {
        self.get_path("/v1/sessions").await
    }

    pub async fn revoke_session(&self, id: &str) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("/v1/sessions/{id}")).await
    }

    pub async fn members(&self, env: &str) -> Result<List<RawObject>, ApiError> {
        self.get_path(&format!("/v1/environments/{env}/members"))
            .await
    }

    pub async fn add_member(&self, env: &str, req: &MemberRequest) -> Result<RawObject, ApiError> {
        self.post_json(&format!("/v1/environments/{env}/members"), req)
            .await
    }

    pub async fn remove_member(&self, env: &str, subject: &str) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("/v1/environments/{env}/members/{subject}"))
            .await
    }

    pub async fn apikeys(&self) -> Result<List<RawObject>, ApiError> {
        self.get_path("/v1/apikeys").await
    }

    pub async fn create_apikey(&self, req: &ApiKeyCreate) -> Result<SecretCreated, ApiError> {
        self.post_json("/v1/apikeys", req).await
    }

    pub async fn remove_apikey(&self, id: &str) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("/v1/apikeys/{id}")).await
    }

    /// Deactivates (`false`) or reactivates (`true`) an API key.
    pub async fn set_apikey_active(&self, id: &str, active: bool) -> Result<RawObject, ApiError> {
        let verb = if active { "activate" } else { "deactivate" };
        self.post_empty(&format!("/v1/apikeys/{id}/{verb}")).await
    }

    pub async fn registration_tokens(&self, env: &str) -> Result<List<RawObject>, ApiError> {
        self.get_path(&format!("/v1/environments/{env}/tokens"))
            .await
    }

    pub async fn create_registration_token(
        &self,
        env: &str,
        ttl_s: Option<u64>,
    ) -> Result<SecretCreated, ApiError> {
        self.post_json(
            &format!("/v1/environments/{env}/tokens"),
            &TokenCreate { ttl_s },
        )
        .await
    }

    pub async fn remove_registration_token(
        &self,
        env: &str,
        id: &str,
    ) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("/v1/environments/{env}/tokens/{id}"))
            .await
    }

    /// Exchanges this client's registration token (or an admin's
    /// credential, with `environment`) for a node credential.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, ApiError> {
        self.post_json("/v1/register", req).await
    }

    /// A new client certificate for node `node` (its agent renews before
    /// expiry); the node's credential is bound to it from then on.
    pub async fn renew_node_certificate(
        &self,
        env: &str,
        node: &str,
        req: &crate::CertificateRequest,
    ) -> Result<crate::NodeCertificate, ApiError> {
        self.post_json(
            &format!("/v1/environments/{env}/nodes/{node}/certificate"),
            req,
        )
        .await
    }

    pub async fn audit(&self, query: &AuditQuery) -> Result<List<AuditRecord>, ApiError> {
        let mut params: Vec<(&str, String)> = vec![("since_ms", query.since_ms.to_string())];
        if let Some(u) = &query.user {
            params.push(("user", u.clone()));
        }
        if let Some(e) = &query.environment {
            params.push(("environment", e.clone()));
        }
        if let Some(l) = query.limit {
            params.push(("limit", l.to_string()));
        }
        self.json(self.http.get(self.url("/v1/audit")).query(&params))
            .await
    }

    pub async fn set_environment_active(
        &self,
        env: &str,
        active: bool,
    ) -> Result<RawObject, ApiError> {
        let verb = if active { "activate" } else { "deactivate" };
        self.post_empty(&format!("/v1/environments/{env}/{verb}"))
            .await
    }

    pub async fn remove_environment(&self, env: &str) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("/v1/environments/{env}")).await
    }

    /// `PUT /v1/auth/ldap`: the directory users log in with (the fields of
    /// `corral_directory::LdapConfig`).
    pub async fn set_ldap(
        &self,
        config: &serde_json::Value,
    ) -> Result<serde_json::Value, ApiError> {
        self.json(self.http.put(self.url("/v1/auth/ldap")).json(config))
            .await
    }

    /// The directory settings, without the bind password.
    pub async fn ldap(&self) -> Result<serde_json::Value, ApiError> {
        self.get_path("/v1/auth/ldap").await
    }

    pub async fn remove_ldap(&self) -> Result<serde_json::Value, ApiError> {
        self.json(self.http.delete(self.url("/v1/auth/ldap"))).await
    }

    /// Looks a user up in the directory (with `password`, checks it too).
    pub async fn test_ldap(
        &self,
        username: &str,
        password: Option<&str>,
    ) -> Result<serde_json::Value, ApiError> {
        let body = serde_json::json!({"username": username, "password": password});
        self.post_json("/v1/auth/ldap/test", &body).await
    }

    /// The agent of `node` deletes an instance of its node that is being
    /// removed (its containers are gone).
    pub async fn finish_instance(
        &self,
        env: &str,
        node: &str,
        instance: &str,
    ) -> Result<(), ApiError> {
        let path = format!("/v1/environments/{env}/nodes/{node}/instances/{instance}");
        self.send(self.http.delete(self.url(&path)))
            .await
            .map(|_| ())
    }
}
