//! Running on a cluster (issue 22): the run agent's image (`agent_image`), the job a node's
//! agent is given and the lines it answers with (`job`), the agent itself (`agent`), and the
//! swarm engine that places each run on a node (`swarm`). On a node, the agent runs the run in
//! a runner container in the node's own namespaces (`runner`, started by `swarm::runner_start`).

pub mod agent;
pub mod agent_image;
pub mod job;
pub mod runner;
pub mod swarm;
