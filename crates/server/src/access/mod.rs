//! Access: who a request comes from ([`principal`], [`authenticate`]),
//! what a route allows ([`rules`]), and the gate every route passes
//! ([`guard`]). See docs/ACCESS.md.

pub mod authenticate;
pub mod cache;
pub mod cookie;
pub mod guard;
pub mod principal;
pub mod rules;
pub mod secrets;

pub use principal::{Caller, Principal};
pub use rules::{Resource, Rule, Verb};
