//! The client's calls for catalogs, their templates and launching them.

use corral_types::{RawObject, TemplateInfo};

use crate::catalog::{AppInfo, AppUpgradeRequest, CatalogRequest, LaunchPlan, LaunchRequest};
use crate::client::{ApiError, Client};
use crate::wire::List;

/// `/v1/catalogs` for global catalogs (`env` `None`), else the
/// environment's own.
fn catalogs_path(env: Option<&str>) -> String {
    match env {
        Some(env) => format!("/v1/environments/{env}/catalogs"),
        None => "/v1/catalogs".to_string(),
    }
}

impl Client {
    pub async fn catalogs(&self, env: Option<&str>) -> Result<List<RawObject>, ApiError> {
        self.get_path(&catalogs_path(env)).await
    }

    pub async fn create_catalog(
        &self,
        env: Option<&str>,
        req: &CatalogRequest,
    ) -> Result<RawObject, ApiError> {
        self.post_json(&catalogs_path(env), req).await
    }

    pub async fn remove_catalog(
        &self,
        env: Option<&str>,
        name: &str,
    ) -> Result<RawObject, ApiError> {
        self.delete_path(&format!("{}/{name}", catalogs_path(env)))
            .await
    }

    /// Fetches a catalog now; answers it with the refresh's status.
    pub async fn refresh_catalog(
        &self,
        env: Option<&str>,
        name: &str,
    ) -> Result<RawObject, ApiError> {
        self.post_empty(&format!("{}/{name}/refresh", catalogs_path(env)))
            .await
    }

    /// The templates `env` offers, optionally of one category.
    pub async fn templates(
        &self,
        env: &str,
        category: Option<&str>,
    ) -> Result<Vec<TemplateInfo>, ApiError> {
        let mut path = format!("/v1/environments/{env}/templates");
        if let Some(c) = category {
            path.push_str("?category=");
            path.push_str(&form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>());
        }
        self.get_path(&path).await
    }

    pub async fn template(
        &self,
        env: &str,
        catalog: &str,
        template: &str,
    ) -> Result<TemplateInfo, ApiError> {
        self.get_path(&format!(
            "/v1/environments/{env}/templates/{catalog}/{template}"
        ))
        .await
    }

    pub async fn launch(&self, env: &str, req: &LaunchRequest) -> Result<LaunchPlan, ApiError> {
        self.post_json(&format!("/v1/environments/{env}/apps"), req)
            .await
    }

    pub async fn apps(&self, env: &str) -> Result<Vec<AppInfo>, ApiError> {
        self.get_path(&format!("/v1/environments/{env}/apps")).await
    }

    pub async fn upgrade_app(
        &self,
        env: &str,
        stack: &str,
        req: &AppUpgradeRequest,
    ) -> Result<LaunchPlan, ApiError> {
        self.post_json(&format!("/v1/environments/{env}/apps/{stack}/upgrade"), req)
            .await
    }

    pub async fn rollback_app(&self, env: &str, stack: &str) -> Result<LaunchPlan, ApiError> {
        self.post_empty(&format!("/v1/environments/{env}/apps/{stack}/rollback"))
            .await
    }
}
