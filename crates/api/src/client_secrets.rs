//! The client's calls for secrets.

use corral_types::{CertificateMaterials, RawObject, SecretValueRequest, SecretValues};

use crate::client::{ApiError, Client};
use crate::wire::List;

impl Client {
    /// Secrets of `env`: metadata only.
    pub async fn secrets(&self, env: &str) -> Result<List<RawObject>, ApiError> {
        self.get_path(&format!("/v1/environments/{env}/secrets"))
            .await
    }

    pub async fn secret(&self, env: &str, name: &str) -> Result<RawObject, ApiError> {
        self.get_path(&format!("/v1/environments/{env}/secrets/{name}"))
            .await
    }

    /// Creates a secret; `value` is the base64 of the bytes.
    pub async fn create_secret(
        &self,
        env: &str,
        req: &SecretValueRequest,
    ) -> Result<RawObject, ApiError> {
        self.post_json(&format!("/v1/environments/{env}/secrets"), req)
            .await
    }

    /// A new version of a secret's value.
    pub async fn update_secret(
        &self,
        env: &str,
        name: &str,
        req: &SecretValueRequest,
    ) -> Result<RawObject, ApiError> {
        let path = format!("/v1/environments/{env}/secrets/{name}");
        self.json(self.http.put(self.url(&path)).json(req)).await
    }

    pub async fn remove_secret(&self, env: &str, name: &str) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("/v1/environments/{env}/secrets/{name}"))
            .await
    }

    /// Re-seals every secret under a new key-encryption key (admins).
    pub async fn rotate_secret_key(&self) -> Result<serde_json::Value, ApiError> {
        self.post_empty("/v1/secrets/rotate-key").await
    }

    /// The agent of `node`: the chains and keys of the certificates balancer
    /// instance `instance` names.
    pub async fn certificate_material(
        &self,
        env: &str,
        node: &str,
        instance: &str,
    ) -> Result<CertificateMaterials, ApiError> {
        self.post_empty(&format!(
            "/v1/environments/{env}/nodes/{node}/instances/{instance}/certificates"
        ))
        .await
    }

    /// The agent of `node`: the values of the secrets `instance` mounts.
    pub async fn secret_values(
        &self,
        env: &str,
        node: &str,
        instance: &str,
    ) -> Result<SecretValues, ApiError> {
        self.post_empty(&format!(
            "/v1/environments/{env}/nodes/{node}/instances/{instance}/secrets"
        ))
        .await
    }
}
