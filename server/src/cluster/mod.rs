//! Running on a cluster (issue 22): the run agent's image (`agent_image`), the job a node's
//! agent is given and the lines it answers with (`job`), the agent itself (`agent`), and the
//! swarm engine that places each run on a node (`swarm`).

pub mod agent;
pub mod agent_image;
pub mod job;
pub mod swarm;
