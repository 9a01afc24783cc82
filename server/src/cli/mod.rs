//! Command-line arguments and dispatch. Exit codes: 0 clean, 1 findings or failure of what
//! was checked, 2 usage errors or files that cannot be read.

pub mod commands;
pub mod printer;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "slipway",
    version,
    about = "Keep Codeship Pro pipelines working: validate, plan, encrypt and run them like `jet` did.",
    long_about = None,
    after_help = "Run `slipway <command> --help` for the options of a command."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check codeship-services.yml and codeship-steps.yml and report problems with positions.
    Validate(commands::validate::ValidateArgs),
    /// Show which steps would run for a build tag, and the image tags pushes would produce.
    Plan(Box<commands::plan::PlanArgs>),
    /// Encrypt a file (env file, dockercfg) with the project key, like `jet encrypt`.
    Encrypt(commands::crypt::EncryptArgs),
    /// Decrypt a file encrypted by jet (v1 or v2) or Slipway, like `jet decrypt`.
    Decrypt(commands::crypt::DecryptArgs),
    /// Create a new project key file (codeship.aes), like `jet generate`.
    Generate(commands::generate::GenerateArgs),
    /// Run the pipeline on a Docker engine, like `jet steps`.
    Steps(Box<commands::steps::StepsArgs>),
    /// Run one service's container with its dependencies, like `jet run`.
    Run(Box<commands::steps::RunArgs>),
    /// Build or pull one service's image, like `jet load`.
    Load(Box<commands::steps::LoadArgs>),
    /// Run a dockercfg generator service and write the credentials it makes, to check a set-up.
    Dockercfg(Box<commands::dockercfg::DockercfgArgs>),
    /// Remove containers, networks and volumes that runs left behind (only slipway's, by label).
    Cleanup(commands::steps::CleanupArgs),
    /// Serve the browser studio and the run API over HTTP.
    Serve(Box<commands::serve::ServeArgs>),
    /// Explain a diagnostic code, e.g. `slipway explain SW206`; without a code, list all.
    Explain(commands::explain::ExplainArgs),
    /// Re-encrypt every secret the configuration references under a new key, all or nothing.
    Rekey(Box<commands::rekey::RekeyArgs>),
    /// Write a GitHub Actions workflow or a GitLab CI file that runs (or translates) the steps.
    Export(Box<commands::export::ExportArgs>),
    /// Serve the language services (diagnostics, completion, hover, rename…) to an editor over stdio.
    Lsp(Box<commands::lsp::LspArgs>),
    /// Print the JSON Schema of codeship-services.yml or codeship-steps.yml, for editors.
    Schema(commands::schema::SchemaArgs),
    /// Write the run agent's root file system (this program and the libraries it loads) as a
    /// tar for `docker import`: what a cluster's nodes run runs with.
    AgentImage(commands::agent_image::AgentImageArgs),
    /// The run agent a swarm task runs on its node (started by `slipway serve --engine swarm`).
    #[command(hide = true)]
    Agent(Box<commands::agent::AgentArgs>),
}

/// Where the configuration files are (jet's flags).
#[derive(Args, Debug, Clone)]
pub struct ProjectArgs {
    /// The project folder holding the configuration files.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The services file [default: DIR/codeship-services.yml, else DIR/docker-compose.yml].
    #[arg(long)]
    pub services_path: Option<PathBuf>,
    /// The steps file [default: DIR/codeship-steps.yml, else DIR/codeship-steps.json].
    #[arg(long)]
    pub steps_path: Option<PathBuf>,
}

impl ProjectArgs {
    pub fn load(&self) -> anyhow::Result<crate::project::ProjectFiles> {
        crate::project::load(&self.dir, self.services_path.as_deref(), self.steps_path.as_deref())
    }
}

/// The configuration has validation errors (already printed with their positions): exit 1,
/// as `slipway validate` does, not 2 (which is for usage and unreadable files).
#[derive(Debug)]
pub struct ConfigErrors;

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the configuration has errors; fix them first (`slipway validate`)")
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => commands::validate::run(a),
        Command::Plan(a) => commands::plan::run(*a),
        Command::Encrypt(a) => commands::crypt::encrypt(a),
        Command::Decrypt(a) => commands::crypt::decrypt(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Explain(a) => commands::explain::run(a),
        Command::Steps(a) => commands::steps::steps(*a),
        Command::Run(a) => commands::steps::run(*a),
        Command::Load(a) => commands::steps::load(*a),
        Command::Dockercfg(a) => commands::dockercfg::run(*a),
        Command::Cleanup(a) => commands::steps::cleanup(a),
        Command::Serve(a) => commands::serve::run(*a),
        Command::Rekey(a) => commands::rekey::run(*a),
        Command::Export(a) => commands::export::run(*a),
        Command::Lsp(a) => commands::lsp::run(*a),
        Command::Schema(a) => commands::schema::run(a),
        Command::AgentImage(a) => commands::agent_image::run(a),
        Command::Agent(a) => commands::agent::run(*a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("slipway: {e:#}");
            ExitCode::from(if e.is::<ConfigErrors>() { 1 } else { 2 })
        }
    }
}
