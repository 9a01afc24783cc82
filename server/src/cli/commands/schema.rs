//! `slipway schema`

use anyhow::Result;
use clap::{Args, ValueEnum};
use slipway_core::schema::Schema;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Which file's schema to print.
    pub file: SchemaFile,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SchemaFile {
    /// codeship-services.yml (or docker-compose.yml)
    Services,
    /// codeship-steps.yml (or .json)
    Steps,
}

pub fn run(args: SchemaArgs) -> Result<ExitCode> {
    let schema = match args.file {
        SchemaFile::Services => Schema::Services,
        SchemaFile::Steps => Schema::Steps,
    };
    print!("{}", schema.to_json());
    Ok(ExitCode::SUCCESS)
}
