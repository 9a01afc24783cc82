//! Native mode: which jobs the plan becomes. Top-level steps run one after the other, so
//! each is a stage; a top-level `parallel` group becomes one job per branch in its stage when
//! the branches share no host folder (separate jobs have separate workspaces), else one job
//! that runs them concurrently. Everything below a job's root is the job's script.

use super::tree::Node;
use super::yaml::ident;
use crate::plan::Kind;
use std::collections::HashSet;

/// The job that builds every image once ([`super::script::build`]).
pub const IMAGES_JOB: &str = "codeship_images";
/// The job that removes them at the end ([`super::script::cleanup`]).
pub const CLEANUP_JOB: &str = "codeship_cleanup";

pub struct Job<'n, 'a> {
    pub name: String,
    pub stage: usize,
    pub stage_name: String,
    pub root: &'n Node<'a>,
    /// The steps whose own `tag`/`exclude` decide whether the job runs (outermost first).
    pub filtered: Vec<&'n Node<'a>>,
    /// A top-level `manual` group: the job waits for approval.
    pub manual: bool,
}

pub fn jobs<'n, 'a>(cx: &super::Cx, nodes: &'n [Node<'a>]) -> Vec<Job<'n, 'a>> {
    // The images and cleanup jobs' names are taken first: a step of the same name is numbered.
    let mut used: HashSet<String> = [IMAGES_JOB, CLEANUP_JOB].into_iter().map(String::from).collect();
    let mut unique = |wanted: String| {
        let mut name = wanted.clone();
        let mut n = 2;
        while !used.insert(name.clone()) {
            name = format!("{wanted}_{n}");
            n += 1;
        }
        name
    };
    let mut out = Vec::new();
    for (i, top) in nodes.iter().enumerate() {
        let stage_name = ident(&top.planned.name);
        let split = top.planned.kind == Kind::Parallel && !shares_host_folders(cx, top);
        if split {
            for child in &top.children {
                let mut filtered = vec![top];
                if !child.expansion {
                    filtered.push(child);
                }
                let name = unique(ident(&child.planned.name));
                out.push(Job { name, stage: i, stage_name: stage_name.clone(), root: child, filtered, manual: false });
            }
        } else {
            let name = unique(ident(&top.planned.name));
            let manual = top.planned.kind == Kind::Manual;
            out.push(Job { name, stage: i, stage_name, root: top, filtered: vec![top], manual });
        }
    }
    out
}

/// Whether any step below `n` mounts a host folder (a workspace shared between steps).
fn shares_host_folders(cx: &super::Cx, n: &Node) -> bool {
    n.leaves().iter().any(|l| {
        l.planned
            .service
            .as_deref()
            .and_then(|s| cx.input.checked.services.get(s))
            .is_some_and(|svc| svc.volumes.iter().any(|v| v.host.is_some()) || !svc.volumes_from.is_empty())
    })
}
