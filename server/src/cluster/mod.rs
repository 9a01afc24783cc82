//! Running on a cluster (issue 22): what a swarm's nodes need from the server. So far the run
//! agent's image; the swarm engine that places runs on nodes builds on the executor's engine
//! boundary.

pub mod agent_image;
