//! Connecting to the Docker engine: see `executor::docker` (the only module that talks to one).

pub use crate::executor::docker::{Client, connect};
