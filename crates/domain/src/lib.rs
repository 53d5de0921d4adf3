//! Keyward's domain: the model and its rules, with no IO.
//!
//! Everything that needs the clock takes `now` as an argument. Persistence and session state are
//! reached only through the traits in [`repo`] and [`store`], which `keyward-storage` implements.

pub mod access;
pub mod api_key;
pub mod approval;
pub mod audit;
pub mod ceremony;
pub mod change;
pub mod device;
pub mod error;
pub mod handoff;
pub mod ids;
pub mod lockout;
pub mod member;
pub mod org;
pub mod paging;
pub mod pipeline_repo;
pub mod rate_limit;
pub mod repo;
pub mod security_key;
pub mod session;
pub mod session_token;
pub mod sso;
pub mod sso_groups;
pub mod step_up;
pub mod step_up_token;
pub mod store;
pub mod webauthn_policy;
pub mod webhook;

pub use error::{DomainError, StoreError};
