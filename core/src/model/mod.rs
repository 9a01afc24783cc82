//! Typed configuration, lowered from the spanned YAML tree. Every value keeps its span.

pub mod container;
pub mod encrypted;
pub(crate) mod lower;
pub mod run_limits;
pub mod services;
pub mod steps;

pub use container::{ContainerSettings, HostAccess, Limits};
pub use encrypted::{EncryptedRef, encrypted_refs};
pub use services::{Build, Command, Link, Service, ServicesFile, Volume};
pub use steps::{GroupMode, Step, StepKind, StepsFile};
