//! The OpenAPI 3.0 document of the API, served at `/openapi.json`.

use axum::Json;
use serde_json::{Value, json};

fn object_schema(spec: Value) -> Value {
    json!({
        "type": "object",
        "required": ["meta", "spec"],
        "properties": {
            "kind": {"type": "string"},
            "meta": {"$ref": "#/components/schemas/Meta"},
            "spec": spec,
            "status": {"type": "object"}
        }
    })
}

fn op(summary: &str, body: Option<&str>, ok: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": ok, "content": {"application/json": {}}},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
            "409": {"$ref": "#/components/responses/Error"},
            "422": {"$ref": "#/components/responses/Error"}
        }
    });
    if let Some(schema) = body {
        o["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
        });
    }
    o
}

/// The batch of status reports: its answer has a schema of its own.
fn status_batch_op() -> Value {
    let mut o = op(
        "an agent reports the status of several of its instances (one transaction)",
        Some("StatusBatch"),
        "the instances taken, and an error per report not taken",
    );
    o["responses"]["200"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/StatusBatchResult"});
    o
}

fn params(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect(),
    )
}

fn list_params() -> Vec<Value> {
    vec![
        json!({"name": "labelSelector", "in": "query", "schema": {"type": "string"}, "description": "k=v,k!=v,k,!k"}),
        json!({"name": "watch", "in": "query", "schema": {"type": "boolean"}, "description": "stream events as JSON lines"}),
        json!({"name": "revision", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "watch events after this revision"}),
        json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": crate::paging::MAX_LIMIT}, "description": "page: at most this many objects; the answer's `continue` names the next page"}),
        json!({"name": "continue", "in": "query", "schema": {"type": "string"}, "description": "page: the `continue` token of the page before (with limit)"}),
    ]
}

/// The path parameters of `path` (`{env}`, `{name}`).
fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The paths of the route table, each operation with its summary, body
/// schema and the access rule it is checked against (`x-corral-access`).
fn paths() -> Value {
    let mut paths = serde_json::Map::new();
    for route in crate::routes::table() {
        let entry = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
        let mut parameters = params(&path_params(&route.path));
        let mut operation = op(route.summary, route.body, "the answer");
        if route.body == Some("StatusBatch") {
            operation = status_batch_op();
        }
        if route.method == axum::http::Method::GET
            && route.summary.starts_with("list (?labelSelector=)")
            && let Some(a) = parameters.as_array_mut()
        {
            a.extend(list_params());
        }
        operation["parameters"] = parameters;
        if route.rule.resource == crate::access::Resource::Public {
            operation["security"] = json!([]);
        }
        operation["x-corral-access"] = json!({
            "resource": format!("{:?}", route.rule.resource),
            "verb": format!("{:?}", route.rule.verb),
            "scope": format!("{:?}", route.rule.scope),
        });
        entry[route.method.as_str().to_lowercase()] = operation;
    }
    Value::Object(paths)
}

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Corral API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "an error naming the field at fault",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}, "field": {"type": "string"}}},
                "Meta": {"type": "object", "properties": {
                    "environment": {"type": "string"}, "name": {"type": "string"}, "uid": {"type": "string"},
                    "revision": {"type": "integer"}, "generation": {"type": "integer"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "created": {"type": "string"}
                }},
                "Environment": object_schema(json!({"type": "object", "properties": {"description": {"type": "string"}}})),
                "Service": object_schema(json!({"type": "object", "properties": {
                    "image": {"type": "string"},
                    "command": {"type": "array", "items": {"type": "string"}},
                    "env": {"type": "object", "additionalProperties": {"type": "string"}},
                    "ports": {"type": "array", "items": {"type": "object", "required": ["container_port"], "properties": {
                        "host_port": {"type": "integer", "minimum": 0, "maximum": 65535},
                        "container_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "protocol": {"type": "string", "enum": ["tcp", "udp"]}
                    }}},
                    "scale": {"type": "integer", "minimum": 0, "maximum": corral_types::MAX_SCALE},
                    "restart": {"type": "string", "enum": ["always", "on-failure", "never"]},
                    "resources": {"type": "object", "properties": {"cpu_millis": {"type": "integer"}, "memory_bytes": {"type": "integer"}}},
                    "container_labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }})),
                "DeployRequest": {"type": "object", "required": ["files"], "properties": {
                    "files": {"type": "array", "items": {"type": "object", "required": ["name", "content"], "properties": {
                        "name": {"type": "string"}, "content": {"type": "string"}}}},
                    "variables": {"type": "object", "additionalProperties": {"type": "string"}},
                    "dry_run": {"type": "boolean"},
                    "secrets": {"type": "object", "additionalProperties": {"type": "string"}, "description": "values of the stack's own secrets (file:, environment:) by key, base64"},
                    "configs": {"type": "object", "additionalProperties": {"type": "string"}, "description": "values of the stack's own configs (file:, environment:) by key, base64"}
                }},
                "Node": object_schema(json!({"type": "object", "properties": {
                    "unschedulable": {"type": "boolean"}, "draining": {"type": "boolean"}
                }})),
                "Certificate": object_schema(json!({"type": "object", "required": ["certificate", "key"], "properties": {
                    "certificate": {"type": "string", "description": "PEM: the certificate, then its intermediates"},
                    "key": {"type": "string", "description": "PEM private key (PKCS#8, PKCS#1 or SEC1)"}
                }})),
                "ScaleRequest": {"type": "object", "required": ["scale"], "properties": {"scale": {"type": "integer", "minimum": 0}}},
                "SecretValueRequest": {"type": "object", "required": ["value"], "properties": {
                    "name": {"type": "string", "description": "the secret's name (create only)"},
                    "value": {"type": "string", "description": "the value, base64; at most 500 KiB decoded"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }},
                "ConfigValueRequest": {"type": "object", "required": ["value"], "properties": {
                    "name": {"type": "string", "description": "the config's name (create only)"},
                    "value": {"type": "string", "description": "the value, base64; at most 500 KiB decoded"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }},
                "CatalogRequest": {"type": "object", "required": ["name", "url"], "properties": {
                    "name": {"type": "string"},
                    "url": {"type": "string", "description": "https://, ssh:// or user@host:path, git://, or file:// (global catalogs only)"},
                    "branch": {"type": "string", "description": "the branch to follow; the repository's default when absent"},
                    "username": {"type": "string", "description": "https: the user name that goes with password"},
                    "password": {"type": "string", "description": "https: a password or token; sealed, never answered"},
                    "ssh_key": {"type": "string", "description": "ssh: an unencrypted private key (OpenSSH or PEM); sealed, never answered"},
                    "ssh_known_hosts": {"type": "string", "description": "ssh: known_hosts lines of the host keys to trust; absent: the first key seen is kept"}
                }},
                "LaunchRequest": {"type": "object", "required": ["name", "template"], "properties": {
                    "name": {"type": "string", "description": "the stack's name"},
                    "template": {"type": "string", "description": "CATALOG/TEMPLATE or TEMPLATE, optionally :VERSION (a version folder)"},
                    "answers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "dry_run": {"type": "boolean"}
                }},
                "AppUpgradeRequest": {"type": "object", "properties": {
                    "version": {"type": "string", "description": "the version folder; the newest that may replace the stack's when absent"},
                    "answers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "dry_run": {"type": "boolean"}
                }},
                "JoinRequest": {"type": "object", "properties": {"labels": {"type": "object"}, "status": {"type": "object"}}},
                "StatsReport": {"type": "object", "required": ["host", "instances"], "properties": {
                    "host": {"type": "array", "maxItems": corral_api::stats::MAX_SAMPLES_PER_SERIES, "items": {"$ref": "#/components/schemas/Sample"}},
                    "instances": {"type": "array", "maxItems": corral_api::stats::MAX_INSTANCES_PER_REPORT, "items": {"type": "object", "required": ["instance", "service", "samples"], "properties": {
                        "instance": {"type": "string"}, "service": {"type": "string"},
                        "samples": {"type": "array", "maxItems": corral_api::stats::MAX_SAMPLES_PER_SERIES, "items": {"$ref": "#/components/schemas/Sample"}}
                    }}}
                }},
                "Sample": {"type": "object", "required": ["time_ms", "cpu_percent", "memory_bytes", "memory_limit_bytes", "net_rx_bytes_per_s", "net_tx_bytes_per_s", "disk_read_bytes_per_s", "disk_write_bytes_per_s"], "properties": {
                    "time_ms": {"type": "integer", "minimum": 0}, "cpu_percent": {"type": "number", "minimum": 0, "description": "percent of one core"},
                    "memory_bytes": {"type": "integer", "minimum": 0}, "memory_limit_bytes": {"type": "integer", "minimum": 0},
                    "net_rx_bytes_per_s": {"type": "integer", "minimum": 0}, "net_tx_bytes_per_s": {"type": "integer", "minimum": 0},
                    "disk_read_bytes_per_s": {"type": "integer", "minimum": 0}, "disk_write_bytes_per_s": {"type": "integer", "minimum": 0},
                    "disk_used_bytes": {"type": "integer", "minimum": 0}, "disk_total_bytes": {"type": "integer", "minimum": 0}
                }},
                "StatusBatch": {"type": "object", "required": ["statuses"], "properties": {
                    "statuses": {"type": "array", "maxItems": corral_api::MAX_STATUS_BATCH, "items": {"$ref": "#/components/schemas/StatusReport"}}
                }},
                "StatusReport": {"type": "object", "required": ["instance", "status"], "properties": {
                    "instance": {"type": "string"},
                    "uid": {"type": "string", "description": "when set, only the instance with this uid takes the report"},
                    "status": {"$ref": "#/components/schemas/InstanceStatus"}
                }},
                "StatusBatchResult": {"type": "object", "required": ["instances", "errors"], "properties": {
                    "instances": {"type": "array", "items": {"type": "object"}, "description": "the instances whose report was taken, as stored now"},
                    "errors": {"type": "array", "items": {"type": "object", "required": ["instance", "code", "reason"], "properties": {
                        "instance": {"type": "string"},
                        "code": {"type": "string", "enum": ["not-found", "wrong-node"]},
                        "reason": {"type": "string"}
                    }}}
                }},
                "InstanceStatus": {"type": "object", "properties": {
                    "state": {"type": "string", "enum": ["pending", "starting", "running", "stopping", "exited", "failed"]},
                    "container_id": {"type": "string"}, "reason": {"type": "string"},
                    "exit_code": {"type": "integer", "nullable": true}, "restarts": {"type": "integer"},
                    "started_at": {"type": "string"}
                }}
            }
        }
    })
}

pub async fn serve() -> Json<Value> {
    Json(document())
}
