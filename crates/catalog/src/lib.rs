//! Rancher 1.x catalog repositories, read unchanged: `templates/NAME/
//! config.yml` and `templates/NAME/N/{docker-compose.yml[.tpl],
//! rancher-compose.yml[.tpl], README.md}` (and `infra-templates/`, listed
//! apart). [`read_repository`] lists the templates of a checked-out tree;
//! [`render`] turns a version and its answers into the compose files and
//! variables a stack is deployed from; [`bind_answer_secrets`] delivers its
//! password answers from secrets.

mod read;
mod render;
mod secrets;
mod upgrade;

pub use read::{Repository, read_icon, read_repository};
pub use render::{RenderError, Rendered, render};
pub use secrets::{BindError, answer_secret_key, bind_answer_secrets};
pub use upgrade::{compare_versions, upgrade_allowed, upgrade_available};
