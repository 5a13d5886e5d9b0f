//! The client's calls for configs.

use corral_types::{ConfigValueRequest, ConfigValues, RawObject};

use crate::client::{ApiError, Client};
use crate::wire::List;

impl Client {
    /// Configs of `env`, with their values (base64 in `spec.data`).
    pub async fn configs(&self, env: &str) -> Result<List<RawObject>, ApiError> {
        self.get_path(&format!("/v1/environments/{env}/configs"))
            .await
    }

    pub async fn config(&self, env: &str, name: &str) -> Result<RawObject, ApiError> {
        self.get_path(&format!("/v1/environments/{env}/configs/{name}"))
            .await
    }

    /// Creates a config; `value` is the base64 of the bytes.
    pub async fn create_config(
        &self,
        env: &str,
        req: &ConfigValueRequest,
    ) -> Result<RawObject, ApiError> {
        self.post_json(&format!("/v1/environments/{env}/configs"), req)
            .await
    }

    /// A new version of a config's value.
    pub async fn update_config(
        &self,
        env: &str,
        name: &str,
        req: &ConfigValueRequest,
    ) -> Result<RawObject, ApiError> {
        let path = format!("/v1/environments/{env}/configs/{name}");
        self.json(self.http.put(self.url(&path)).json(req)).await
    }

    pub async fn remove_config(&self, env: &str, name: &str) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("/v1/environments/{env}/configs/{name}"))
            .await
    }

    /// The agent of `node`: the values of the configs `instance` mounts.
    pub async fn config_values(
        &self,
        env: &str,
        node: &str,
        instance: &str,
    ) -> Result<ConfigValues, ApiError> {
        self.post_empty(&format!(
            "/v1/environments/{env}/nodes/{node}/instances/{instance}/configs"
        ))
        .await
    }
}
