//! `slipway lsp`

use super::plan::CiArgs;
use anyhow::Result;
use clap::Args;
use slipway_core::plan::PlanOptions;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct LspArgs {
    /// The build tag hovers test `tag`/`exclude` filters against [default: --ci-branch, else
    /// the checked-out branch of the project's folder].
    #[arg(long)]
    pub tag: Option<String>,
    #[command(flatten)]
    pub ci: CiArgs,
}

pub fn run(args: LspArgs) -> Result<ExitCode> {
    let LspArgs { tag, ci } = args;
    // Build values per project folder, as `slipway plan` works them out; a folder whose
    // values cannot be read (a bad SOURCE_DATE_EPOCH) gets defaults rather than no analysis.
    let options = move |dir: &std::path::Path| match ci.build(dir, tag.as_deref()) {
        Ok(b) => PlanOptions { tag: b.tag, push: true, vars: b.vars },
        Err(_) => PlanOptions::default(),
    };
    crate::lsp::run(Box::new(options))
}
