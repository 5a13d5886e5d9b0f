//! Corral's domain model: the object envelope, the kinds, and their validation.
//!
//! Every object has the same envelope ([`Object`]): `kind`, `meta`, `spec`
//! (what the user wants) and `status` (what the system observed). This crate
//! depends on serde only, so the API client, the store and the CLI can all
//! share it.

mod access;
mod catalog;
mod certificate;
mod config;
mod environment;
mod instance;
mod launch;
mod lb;
mod meta;
mod namespace;
mod node;
mod secret;
mod selector;
mod service;
mod stack;
mod validate;

pub use access::{
    ApiKeySpec, ApiKeyStatus, CredentialLabels, GLOBAL, MemberSpec, NodeCredentialSpec, Provider,
    RegistrationTokenSpec, Role, SessionSpec, TokenKind, UserSpec, UserStatus,
    validate_subject_name,
};
pub use catalog::{
    AnswerError, AppRef, CatalogAuth, CatalogMeta, CatalogSpec, CatalogStatus, Question,
    QuestionType, TemplateInfo, VersionInfo, answer_secret_marker, answer_secret_name,
    answer_secret_of, check_answer, holds_answer_secret, resolve_answers,
};
pub use certificate::{
    CertificateMaterial, CertificateMaterials, CertificateSpec, CertificateStatus,
};
pub use config::{
    ConfigMount, ConfigSpec, ConfigStatus, ConfigValue, ConfigValueRequest, ConfigValues,
    MAX_CONFIG_BYTES, validate_config_mounts,
};
pub use environment::{
    DEFAULT_ENV_NETWORK, EnvironmentSpec, EnvironmentStatus, Ipv4Cidr, PlacementStrategy,
    parse_env_range,
};
pub use instance::{ContainerLabels, InstanceSpec, InstanceState, InstanceStatus, SidekickStatus};
pub use launch::{
    Dependency, DependencyCondition, FailureAction, Health, HealthCheck, HealthStrategy, JobSpec,
    Link, MountKind, NetworkAttachment, Placement, PlacementRule, Probe, RuleTarget, ServiceMode,
    Sidekick, Strength, Ulimit, UpdateConfig, UpdateOrder, VolumeMount,
};
pub use lb::{LbConfig, LbProtocol, PortRule, Stickiness};
pub use meta::{Kind, Meta, Object, RawObject, TypedObject, UnknownKind};
pub use namespace::NamespaceMode;
pub use node::{NodeSpec, NodeState, NodeStatus};
pub use secret::{
    MAX_SECRET_BYTES, SealedValue, SecretMount, SecretSpec, SecretStatus, SecretValue,
    SecretValueRequest, SecretValues, validate_secret_mounts, validate_secret_name,
};
pub use selector::{LabelSelector, SelectorError};
pub use service::{
    HISTORY_LIMIT, LaunchRevision, MAX_SCALE, NetworkMode, PortSpec, Protocol, Resources,
    RestartPolicy, ServiceSpec, ServiceStatus, UpgradeState, UpgradeStatus,
};
pub use stack::{SourceFile, StackSpec, StackStatus};
pub use validate::{ValidationError, validate_label_key, validate_name};

/// The environment created on first start.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// An environment object.
pub type Environment = Object<EnvironmentSpec, EnvironmentStatus>;
/// A node (a host running an agent).
pub type Node = Object<NodeSpec, NodeStatus>;
/// A service: desired state of a set of identical instances.
pub type Service = Object<ServiceSpec, ServiceStatus>;
/// One placed replica of a service.
pub type Instance = Object<InstanceSpec, InstanceStatus>;
/// A named group of services deployed together from compose files.
pub type Stack = Object<StackSpec, StackStatus>;
/// A TLS certificate with its key, used by load balancers.
pub type Certificate = Object<CertificateSpec, CertificateStatus>;
pub type Secret = Object<SecretSpec, SecretStatus>;
/// A value services mount as a file, readable through the API.
pub type Config = Object<ConfigSpec, ConfigStatus>;
/// A repository of catalog templates.
pub type Catalog = Object<CatalogSpec, CatalogStatus>;
/// A person.
pub type User = Object<UserSpec, UserStatus>;
/// A role binding of a user or group in an environment.
pub type Member = Object<MemberSpec, serde_json::Value>;
/// A login session.
pub type Session = Object<SessionSpec, serde_json::Value>;
/// An API key.
pub type ApiKey = Object<ApiKeySpec, ApiKeyStatus>;
/// A token that adds hosts to an environment.
pub type RegistrationToken = Object<RegistrationTokenSpec, serde_json::Value>;
/// A node's own credential.
pub type NodeCredential = Object<NodeCredentialSpec, serde_json::Value>;
