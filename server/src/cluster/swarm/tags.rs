//! The names of a run's signal tags in the cluster registry: tags of the run's image that the
//! server pushes and the agent looks for. Plain names, used by the server (`images`,
//! `service`, `registry`) and by the agent on its node (`node`).

/// The tag whose presence in the registry tells the run's agent to cancel: removing a
/// running job's service does not stop its task on Docker 20.10, and a worker cannot see
/// services, so the cancel travels as the rest of the run does, through the registry.
pub fn cancel_tag(run_image: &str) -> String {
    format!("{run_image}-cancel")
}

/// The tag whose presence in the registry tells the run's agent that the run's `n`th wait
/// for an approval (counted from 1) is approved: the approval travels as a cancel does.
pub fn approve_tag(run_image: &str, n: u32) -> String {
    format!("{}{n}", approve_prefix(run_image))
}

/// What every approval tag of the run starts with.
pub fn approve_prefix(run_image: &str) -> String {
    format!("{run_image}-approve")
}
