//! The client's side of exec: the socket to an instance's command.

use std::sync::Arc;

use crate::exec::{ExecConnectError, ExecOptions, ExecSocket, connect};
use crate::{ApiError, Client};

impl Client {
    /// Starts `options.command` in instance `name`'s container (or its
    /// sidekick `options.container`) and returns the socket to it (see
    /// [`crate::exec`]).
    pub async fn exec(
        &self,
        env: &str,
        name: &str,
        options: &ExecOptions,
    ) -> Result<ExecSocket, ApiError> {
        let url = self.url(&format!(
            "/v1/environments/{env}/instances/{name}/exec?{}",
            options.to_query()
        ));
        let tls = if url.starts_with("https://") {
            let config = self
                .trust()
                .rustls_config()
                .map_err(|message| ApiError::Transport {
                    url: url.clone(),
                    message,
                })?;
            Some(Arc::new(config))
        } else {
            None
        };
        connect(&url, self.token(), tls).await.map_err(|e| match e {
            ExecConnectError::Status { status, message } => ApiError::Status {
                status,
                message,
                field: None,
            },
            ExecConnectError::Transport(message) => ApiError::Transport {
                url: url.clone(),
                message,
            },
        })
    }
}
