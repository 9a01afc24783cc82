//! `slipway agent` (hidden): the run agent a swarm task runs on its node (see `cluster::agent`).
//! Not for people: the server starts it with the arguments it needs.

use crate::cluster::agent;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The job folder (`job.json` and `workspace/`) in the run's image
    #[arg(long, default_value = crate::cluster::job::JOB_DIR)]
    pub job: PathBuf,
    /// The node's work folder, mounted at the same path in the task
    #[arg(long, default_value = crate::cluster::swarm::DEFAULT_NODE_WORK)]
    pub work: PathBuf,
    /// The node's Docker socket as the node names it (for the reaper's mount)
    #[arg(long, default_value = crate::cluster::swarm::DEFAULT_NODE_SOCKET)]
    pub node_socket: String,
    /// The image the reaper runs from (the agent's)
    #[arg(long)]
    pub reaper_image: Option<String>,
    /// The run's image, removed from the node at the end
    #[arg(long)]
    pub run_image: Option<String>,
    /// Be the reaper: wait for this container to exit, then remove it and --run-image
    #[arg(long, value_name = "CONTAINER")]
    pub reap: Option<String>,
    /// Be the runner the agent starts on its node: the handoff on stdin (see `cluster::runner`)
    #[arg(long)]
    pub runner: bool,
}

pub fn run(args: AgentArgs) -> Result<ExitCode> {
    if args.runner {
        return runner(&args);
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        if let Some(container) = &args.reap {
            agent::reap(container, args.run_image.as_deref().unwrap_or_default()).await?;
            return Ok(ExitCode::SUCCESS);
        }
        let ok = agent::run(&args.job, &args.work, args.run_image.as_deref(), &args.node_socket).await?;
        if let (Some(reaper), Some(image)) = (&args.reaper_image, &args.run_image) {
            agent::start_reaper(reaper, image, &args.node_socket).await;
        }
        Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// The runner: into the node's mount namespace first, while this process has one thread
/// (`setns` refuses a threaded one), then the run. Errors as the agent's error line.
fn runner(args: &AgentArgs) -> Result<ExitCode> {
    let failed = |e: anyhow::Error| {
        crate::cluster::runner::print_line(&crate::cluster::job::Line::Error(format!("{e:#}")));
        Ok(ExitCode::from(1))
    };
    let handoff = match crate::cluster::runner::enter_node(std::path::Path::new(&args.node_socket)) {
        Ok(h) => h,
        Err(e) => return failed(e),
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    match rt.block_on(crate::cluster::runner::run(handoff)) {
        Ok(ok) => Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }),
        Err(e) => failed(e),
    }
}
