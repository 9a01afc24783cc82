//! `slipway agent-image`: the run agent's root file system as a tar, for `docker import`.

use crate::cluster::agent_image::AgentRoot;
use crate::fsutil::{Existing, Output, check_output};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct AgentImageArgs {
    /// Where to write the tar (`docker import FILE slipway-agent:TAG` makes the image)
    #[arg(long, default_value = "slipway-agent.tar")]
    pub out: PathBuf,
    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: AgentImageArgs) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find this program's own file")?;
    let root = AgentRoot::of(&exe)?;
    let out = &args.out;
    let special = check_output(out, Existing::replace_if(args.force))? == Output::Special;
    if special {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(out)
            .with_context(|| format!("cannot open {}", out.display()))?;
        root.write_tar(file).with_context(|| format!("cannot write {}", out.display()))?;
    } else {
        // Through a temporary file renamed into place: never a partial tar at OUT.
        let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".slipway-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let tmp = root.write_tar(tmp).with_context(|| format!("cannot write {}", out.display()))?;
        let persisted = match Existing::replace_if(args.force) {
            Existing::Replace => tmp.persist(out).map(drop),
            Existing::Refuse => tmp.persist_noclobber(out).map(drop),
        };
        persisted.map_err(|e| e.error).with_context(|| format!("cannot write {}", out.display()))?;
    }
    eprintln!(
        "slipway: wrote {} ({} files); make the image with `docker import {} slipway-agent:{}`",
        out.display(),
        root.files.len() + 3,
        out.display(),
        root.tag()
    );
    Ok(ExitCode::SUCCESS)
}
