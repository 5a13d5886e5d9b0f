//! Corral's wire types and a typed HTTP client, used by the CLI, the agent and the tests.
//!
//! Paths (every one needs `Authorization: Bearer TOKEN`):
//!
//! | method | path | what |
//! |---|---|---|
//! | GET, POST | `/v1/environments` | list, create environments |
//! | GET, PUT, DELETE | `/v1/environments/{env}` | one environment |
//! | GET, POST | `/v1/environments/{env}/{kind}` | list (`?labelSelector=`), create; `?watch=true&revision=N` streams events as JSON lines |
//! | GET, PUT, DELETE | `/v1/environments/{env}/{kind}/{name}` | one object; PUT and DELETE take the revision read |
//! | POST | `/v1/environments/{env}/services/{name}/scale` | set a service's scale |
//! | POST | `/v1/environments/{env}/nodes/{name}/join` | an agent joins (creates or updates its node) |
//! | POST | `/v1/environments/{env}/nodes/{name}/heartbeat` | an agent is alive |
//! | POST | `/v1/environments/{env}/nodes/{name}/drain` | unschedulable, and its instances move off |
//! | POST | `/v1/environments/{env}/nodes/{name}/activate` | schedulable again |
//! | DELETE | `/v1/environments/{env}/nodes/{name}` | remove a node (`?force=true` when it is active and runs instances) |
//! | POST | `/v1/environments/{env}/nodes/{name}/statuses` | an agent reports the status of several of its instances ([`StatusBatch`]) |
//! | PUT | `/v1/environments/{env}/instances/{name}/status` | an agent reports an instance's status |
//! | GET | `/v1/environments/{env}/instances/{name}/logs` | container logs (`?follow=true&tail=N`) |
//! | GET (WebSocket) | `/v1/environments/{env}/instances/{name}/exec` | a command in an instance's container ([`exec`]) |
//! | GET | `/v1/watch` | events of every kind and environment (`?revision=N`) |
//! | GET | `/openapi.json` | the OpenAPI document |

mod access;
mod catalog;
mod client;
mod client_access;
mod client_catalogs;
mod client_configs;
mod client_exec;
mod client_secrets;
pub mod exec;
pub mod stats;
mod trust;
mod wire;

pub use access::*;
pub use catalog::*;

pub use client::{ApiError, Client, EventStream};
pub use trust::Trust;
pub use wire::*;
