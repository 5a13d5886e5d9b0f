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
    ]
}

/// One node: get, replace, and delete (`?force=true` for an active node
/// that runs instances; they are rescheduled).
fn node_paths() -> Value {
    let mut delete = op(
        "remove a node (refused while active with instances, unless forced)",
        None,
        "the removed node",
    );
    delete["parameters"] = json!([{"name": "force", "in": "query", "schema": {"type": "boolean"}}]);
    json!({
        "parameters": params(&["env", "name"]),
        "get": op("get a node", None, "the node"),
        "put": op("replace a node's labels and spec", Some("Node"), "the node"),
        "delete": delete
    })
}

/// The document.
pub fn document() -> Value {
    let mut kind_list = params(&["env", "kind"]);
    if let Some(a) = kind_list.as_array_mut() {
        a.extend(list_params());
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Corral API", "version": env!("CARGO_PKG_VERSION")},
        "paths": {
            "/v1/environments": {
                "get": op("list environments", None, "a list"),
                "post": op("create an environment", Some("Environment"), "the created environment")
            },
            "/v1/environments/{env}": {
                "parameters": params(&["env"]),
                "get": op("get an environment", None, "the environment"),
                "put": op("replace an environment", Some("Environment"), "the environment"),
                "delete": op("delete an empty environment", None, "the deleted environment")
            },
            "/v1/environments/{env}/{kind}": {
                "parameters": kind_list,
                "get": op("list (or watch) nodes, services, instances, stacks or certificates", None, "a list, or a stream of events"),
                "post": op("create a service or a certificate", Some("Service"), "the created object")
            },
            "/v1/environments/{env}/{kind}/{name}": {
                "parameters": params(&["env", "kind", "name"]),
                "get": op("get an object", None, "the object"),
                "put": op("replace an object's labels and spec (meta.revision required)", Some("Service"), "the object"),
                "delete": op("delete an object", None, "the deleted object")
            },
            "/v1/environments/{env}/services/{name}/scale": {
                "parameters": params(&["env", "name"]),
                "post": op("set a service's scale", Some("ScaleRequest"), "the service")
            },
            "/v1/environments/{env}/nodes/{name}/join": {
                "parameters": params(&["env", "name"]),
                "post": op("an agent joins", Some("JoinRequest"), "the node")
            },
            "/v1/environments/{env}/nodes/{name}/heartbeat": {
                "parameters": params(&["env", "name"]),
                "post": op("an agent is alive", None, "the node")
            },
            "/v1/environments/{env}/nodes/{name}/statuses": {
                "parameters": params(&["env", "name"]),
                "post": status_batch_op()
            },
            "/v1/environments/{env}/nodes/{name}": node_paths(),
            "/v1/environments/{env}/nodes/{name}/drain": {
                "parameters": params(&["env", "name"]),
                "post": op("move every instance off a node, start-first, and place nothing new on it", None, "the node")
            },
            "/v1/environments/{env}/nodes/{name}/activate": {
                "parameters": params(&["env", "name"]),
                "post": op("make a drained or cordoned node schedulable again", None, "the node")
            },
            "/v1/environments/{env}/instances/{name}/status": {
                "parameters": params(&["env", "name"]),
                "put": op("an agent reports an instance's status", Some("InstanceStatus"), "the instance")
            },
            "/v1/environments/{env}/instances/{name}/logs": {
                "parameters": params(&["env", "name"]),
                "get": op("container output of an instance", None, "raw bytes")
            },
            "/v1/environments/{env}/services/{name}/rollback": {
                "parameters": params(&["env", "name"]),
                "post": op("roll a service back to its previous launch config", None, "the service")
            },
            "/v1/environments/{env}/services/{name}/pause": {
                "parameters": params(&["env", "name"]),
                "post": op("pause a service's upgrade", None, "the service")
            },
            "/v1/environments/{env}/services/{name}/resume": {
                "parameters": params(&["env", "name"]),
                "post": op("resume a paused upgrade", None, "the service")
            },
            "/v1/environments/{env}/stacks/{name}/deploy": {
                "parameters": params(&["env", "name"]),
                "post": op("deploy compose files as a stack (dry_run: plan only)", Some("DeployRequest"), "the plan")
            },
            "/v1/environments/{env}/stacks/{name}/export": {
                "parameters": params(&["env", "name"]),
                "get": op("compose files that deploy to the same stack again", None, "the files")
            },
            "/v1/watch": {
                "get": op("events of every kind and environment", None, "a stream of events")
            }
        },
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
                    "dry_run": {"type": "boolean"}
                }},
                "Node": object_schema(json!({"type": "object", "properties": {
                    "unschedulable": {"type": "boolean"}, "draining": {"type": "boolean"}
                }})),
                "Certificate": object_schema(json!({"type": "object", "required": ["certificate", "key"], "properties": {
                    "certificate": {"type": "string", "description": "PEM: the certificate, then its intermediates"},
                    "key": {"type": "string", "description": "PEM private key (PKCS#8, PKCS#1 or SEC1)"}
                }})),
                "ScaleRequest": {"type": "object", "required": ["scale"], "properties": {"scale": {"type": "integer", "minimum": 0}}},
                "JoinRequest": {"type": "object", "properties": {"labels": {"type": "object"}, "status": {"type": "object"}}},
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
