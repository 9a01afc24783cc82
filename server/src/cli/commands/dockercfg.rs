//! `slipway dockercfg SERVICE --out FILE`: run one dockercfg generator service, as a push
//! step's `dockercfg_service` would run it, and write the dockercfg it makes, so a set-up can
//! be checked before a build.

use super::steps::{RunnerArgs, cancel_on_signals, prepare, runtime};
use crate::cli::printer::Printer;
use crate::docker;
use crate::executor::{self, events::Event};
use crate::fsutil::{Existing, check_output, write_atomic};
use crate::generators::BuiltIn;
use anyhow::{Result, bail};
use clap::Args;
use slipway_core::plan::Plan;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug)]
#[command(after_help = "\
SERVICE is the service a step's `dockercfg_service` names. It gets the environment it would get \
in a run (`environment`, `env_file`, `encrypted_env_file` decrypted with the project key, `-e`).

`codeship/aws-ecr-dockercfg-generator` and `codeship/gcr-dockercfg-generator` (any tag) are run \
built in: no image is pulled and no container runs, so no Docker engine is needed. ECR takes \
AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optionally AWS_SESSION_TOKEN, \
AWS_STS_ROLE with AWS_STS_ACCOUNT, AWS_ECR_REGISTRY_IDS, ECR_PUBLIC and the AWS_ENDPOINT_URL \
variables; GCR takes GOOGLE_AUTH_JSON (and checks GOOGLE_AUTH_EMAIL). Any other image is run \
with a temporary volume and the path it must write, as a run does.

The file is written owner-only (0600), as config.json (`{\"auths\": {…}}`); an existing FILE is \
replaced only with --force, and never through a symlink. It holds credentials: delete it when \
done. Exit status: 0 written, 1 the generator failed (nothing written), 2 usage or files.")]
pub struct DockercfgArgs {
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// The generator service, as a step's `dockercfg_service` names it.
    pub service: String,
    /// Where to write the dockercfg (owner-only; never half-written; never through a symlink).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: DockercfgArgs) -> Result<ExitCode> {
    let existing = Existing::replace_if(args.force);
    // Refused before any credential is made.
    check_output(&args.out, existing)?;
    let service = args.service.clone();
    let prepared = prepare(&args.runner, None, false, false, move |c, _| {
        if c.services.get(&service).is_none() {
            bail!("no service `{service}` in the services file");
        }
        Ok(Plan { tag: None, push: false, steps: Vec::new() })
    })?;
    let built_in = prepared.spec.services.get(&args.service).and_then(BuiltIn::of);
    let made = runtime()?.block_on(async move {
        let cancel = CancellationToken::new();
        cancel_on_signals(cancel.clone())?;
        // A built-in makes no Docker request, so no engine is needed: the run machinery gets
        // a client of an address that is never connected to.
        let docker = match built_in {
            Some(_) => docker::Client::unreachable()?,
            None => docker::connect().await?,
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let printer = tokio::spawn(Printer::new().run(rx));
        let made = executor::generate_dockercfg(docker, prepared.spec, &args.service, tx, cancel).await;
        printer.await.ok();
        anyhow::Ok(made)
    })?;
    let cfg = match made {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("slipway: {e:#}\nslipway: nothing was written to {}", args.out.display());
            return Ok(ExitCode::from(1));
        }
    };
    write_atomic(&args.out, cfg.to_json().as_bytes(), true, existing)?;
    eprintln!("wrote {} (credentials for {})", args.out.display(), cfg.registries().join(", "));
    Ok(ExitCode::SUCCESS)
}
