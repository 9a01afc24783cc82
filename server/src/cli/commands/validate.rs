//! `slipway validate`

use crate::cli::{OutputFormat, ProjectArgs};
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// `text` shows each problem with its source line; `json` is for tools.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    let files = args.project.load()?;
    let checked = slipway_core::check(&files.services, &files.steps);
    match args.format {
        OutputFormat::Json => println!("{}", checked.report.to_json()),
        OutputFormat::Text => print!("{}", checked.report.render_text(&[&files.services, &files.steps])),
    }
    Ok(if checked.report.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
