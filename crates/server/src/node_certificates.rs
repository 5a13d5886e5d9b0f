//! `POST {env}/nodes/{name}/certificate`: a node's agent gets a new client
//! certificate (before the old one expires, or a first one for a credential
//! made before TLS), and its credential is bound to it from then on.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};

use corral_api::{CertificateRequest, NodeCertificate};
use corral_types::{GLOBAL, Kind, NodeCredential};

use crate::access::{Caller, Principal};
use crate::admission::{Admission, Edit};
use crate::error::{ApiError, decode_body};
use crate::registration::sign_node_request;
use crate::state::AppState;

pub async fn renew(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, node)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<NodeCertificate>, ApiError> {
    let req: CertificateRequest = decode_body(&body)?;
    let Principal::Node { credential, .. } = &caller.principal else {
        return Err(ApiError::Forbidden(
            "only the node's own agent, with its credential, renews its certificate".into(),
        ));
    };
    if req.csr_pem.trim().is_empty() {
        return Err(ApiError::invalid("csr_pem", "required"));
    }
    let Some(issued) = sign_node_request(&state, &req.csr_pem, &env, &node)? else {
        return Err(ApiError::invalid(
            "csr_pem",
            "this server issues no certificates",
        ));
    };
    let fingerprint = issued.fingerprint.clone();
    let id = credential.clone();
    Admission::new(&state, &caller)
        .edit(
            Kind::NodeCredential,
            GLOBAL,
            &id,
            |cred: &mut NodeCredential| {
                cred.spec.certificate = fingerprint.clone();
                Ok(Edit::Write)
            },
        )
        .await?;
    state.auth_cache.invalidate();
    tracing::info!(
        "node {env}/{node}: new client certificate {}",
        issued.fingerprint
    );
    Ok(Json(NodeCertificate {
        certificate_pem: issued.chain_pem,
    }))
}
