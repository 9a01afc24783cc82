//! `slipway explain`

use anyhow::{Result, bail};
use clap::Args;
use slipway_core::Code;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A code such as SW206 or a name such as push-image-mismatch.
    pub code: Option<String>,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode> {
    match args.code {
        None => {
            for c in Code::ALL {
                println!("{}  {:<28} {}", c.as_str(), c.name(), c.summary());
            }
        }
        Some(s) => match Code::lookup(&s) {
            Some(c) => println!("{} ({})\n\n{}", c.as_str(), c.name(), c.summary()),
            None => bail!("unknown code `{s}`; `slipway explain` lists them all"),
        },
    }
    Ok(ExitCode::SUCCESS)
}
