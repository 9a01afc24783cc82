//! `slipway export github-actions|gitlab-ci`: the core translates; this reads the files,
//! writes the result atomically and, only when asked, the secrets' values (owner-only).

use crate::cli::{ConfigErrors, ProjectArgs};
use crate::fsutil::{Existing, check_output, read_limited, write_atomic};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use slipway_core::Report;
use slipway_core::crypto;
use slipway_core::export::{self, Forge, Mode, SecretSource};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ForgeArg {
    GithubActions,
    GitlabCi,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ModeArg {
    /// The forge installs Slipway and runs `slipway steps` on the files.
    Slipway,
    /// A translation to the forge's jobs and plain `docker` commands.
    Native,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The forge to write for.
    #[arg(value_enum)]
    pub forge: ForgeArg,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Where to write; `-` for standard output [default: DIR/.github/workflows/codeship.yml or DIR/.gitlab-ci.yml].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace existing files (the workflow and the --secrets-to file).
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value_t = ModeArg::Slipway)]
    pub mode: ModeArg,
    /// Also write the secrets' values (decrypted) to this file, owner-only, as a JSON object
    /// (never through a symlink).
    #[arg(long)]
    pub secrets_to: Option<PathBuf>,
    /// Write the file even when a job of it would fail whenever it runs (SW502: a part that
    /// cannot be translated, e.g. an `image_tag` beyond fields and `printf`); that job then
    /// stops with the reason. Without it such an export writes nothing and exits 1.
    #[arg(long)]
    pub allow_partial: bool,
    /// Where a `--mode slipway` job installs Slipway from, pinned: `git+URL#COMMIT` (40 hex
    /// digits; built with `cargo install --git`) or `https://…/slipway#sha256=HEX` (a Linux
    /// binary, checked before it runs). The job caches what it installed.
    /// [default: this build's repository (`repository` in Cargo.toml) at the commit it was
    /// built from, when both are known]
    #[arg(long, value_parser = parse_install)]
    pub slipway_source: Option<export::Install>,
    /// The project key, for --secrets-to [default: DIR/codeship.aes].
    #[arg(long, env = "SLIPWAY_KEY_PATH")]
    pub key_path: Option<PathBuf>,
}

pub fn run(args: ExportArgs) -> Result<ExitCode> {
    let forge = match args.forge {
        ForgeArg::GithubActions => Forge::GithubActions,
        ForgeArg::GitlabCi => Forge::GitlabCi,
    };
    let mode = match args.mode {
        ModeArg::Slipway => Mode::Slipway,
        ModeArg::Native => Mode::Native,
    };
    let files = args.project.load()?;
    let checked = slipway_core::check(&files.services, &files.steps);
    if checked.report.has_errors() {
        eprint!("{}", checked.report.render_text(&[&files.services, &files.steps]));
        return Err(ConfigErrors.into());
    }
    let plan = slipway_core::plan::plan(&checked.services, &checked.steps, &export::plan_options());
    let install = args.slipway_source.clone().or_else(default_install);
    let input = export::Input {
        services_file: &files.services,
        steps_file: &files.steps,
        checked: &checked,
        plan: &plan,
        dir: ".",
        install: install.as_ref(),
    };
    let result = export::export(&input, forge, mode);
    if result.fails() && !args.allow_partial {
        // Exit 1, as for findings in the configuration: the file is fine, its translation is not.
        eprint!("{}", Report::new(result.diagnostics.clone()).render_text(&[&files.services, &files.steps]));
        eprintln!(
            "slipway: a job of the exported file would fail whenever it runs (the SW502 errors above); nothing was written.\n  \
             change that part of the configuration, or pass --allow-partial to write the file anyway and finish that job by hand"
        );
        return Ok(ExitCode::from(1));
    }
    let out = args.out.clone().unwrap_or_else(|| args.project.dir.join(forge.default_path()));
    // `-` is standard output, as for most tools that take an output path; the warnings and the
    // summary stay on stderr, so `slipway export … --out - > file` holds only the workflow.
    let to_stdout = out.as_os_str() == "-";
    // Both outputs are checked before either is written.
    let existing = Existing::replace_if(args.force);
    if !to_stdout {
        check_output(&out, existing)?;
    }
    if let Some(path) = &args.secrets_to {
        check_output(path, existing)?;
    }
    if let Some(parent) = out.parent().filter(|p| !to_stdout && !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if let Some(path) = &args.secrets_to {
        write_secrets(&args, &files.services_dir, &checked.services, &result.secrets, path)?;
    }
    if to_stdout {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(result.text.as_bytes()).and_then(|()| stdout.flush()).context("cannot write to stdout")?;
    } else {
        write_atomic(&out, result.text.as_bytes(), false, existing)?;
    }
    if !result.diagnostics.is_empty() {
        eprint!("{}", Report::new(result.diagnostics.clone()).render_text(&[&files.services, &files.steps]));
    }
    let written = if to_stdout { "the workflow to stdout".to_string() } else { out.display().to_string() };
    eprintln!("wrote {written} ({} mode, {} not exact)", args.mode_name(), result.diagnostics.len());
    if !result.secrets.is_empty() {
        eprintln!("secrets it reads (values are never printed; --secrets-to FILE writes them):");
        for s in &result.secrets {
            eprintln!("  {}: {}", s.name, s.command);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_install(s: &str) -> Result<export::Install, String> {
    export::Install::parse(s)
}

/// This build's own source: the workspace's `repository` at the commit `build.rs` saw, unless
/// the repository is still the placeholder or the build was not made from a git checkout.
fn default_install() -> Option<export::Install> {
    let repository = env!("CARGO_PKG_REPOSITORY");
    let commit = option_env!("SLIPWAY_GIT_COMMIT")?;
    if repository.is_empty() || repository.contains("example.invalid") {
        return None;
    }
    export::Install::parse(&format!("git+{repository}#{commit}")).ok()
}

impl ExportArgs {
    fn mode_name(&self) -> &'static str {
        match self.mode {
            ModeArg::Slipway => "slipway",
            ModeArg::Native => "native",
        }
    }
}

/// The secrets' values as a JSON object, decrypted with the project key, written owner-only.
fn write_secrets(
    args: &ExportArgs,
    services_dir: &std::path::Path,
    services: &slipway_core::model::ServicesFile,
    secrets: &[export::SecretRef],
    path: &std::path::Path,
) -> Result<()> {
    if crate::gitinfo::GitInfo::tracked_candidate(path) == Some(true) {
        bail!(
            "{} is inside a git work tree and not ignored; the decrypted secrets would be one `git add` from being committed.\n  \
             write them elsewhere, or ignore the file first",
            path.display()
        );
    }
    let key_path = args.key_path.clone().unwrap_or_else(|| args.project.dir.join("codeship.aes"));
    let key = crate::keyfile::load_key(&key_path)?;
    let mut values = serde_json::Map::new();
    for s in secrets {
        let plain = match &s.source {
            SecretSource::Key => key.to_file_text().into_bytes(),
            SecretSource::File(f) => {
                let p = services_dir.join(f);
                let data = read_limited(&p, crate::executor::secrets::MAX_ENCRYPTED)?;
                crypto::decrypt(&key, &data).with_context(|| format!("cannot decrypt {}", p.display()))?.0
            }
            SecretSource::Inline { what, span } => {
                let blob = services
                    .services
                    .iter()
                    .flat_map(|svc| {
                        svc.encrypted_environment.iter().chain(svc.build.iter().flat_map(|b| &b.encrypted_args))
                    })
                    .find(|b| b.span == *span)
                    .with_context(|| format!("{what} not found"))?;
                crypto::decrypt(&key, blob.value.trim().as_bytes()).with_context(|| format!("cannot decrypt {what}"))?.0
            }
        };
        let text = String::from_utf8(plain).map_err(|_| anyhow::anyhow!("secret {} is not text", s.name))?;
        values.insert(s.name.clone(), serde_json::Value::String(text));
    }
    write_atomic(path, serde_json::to_string_pretty(&values)?.as_bytes(), true, Existing::replace_if(args.force))?;
    eprintln!("wrote the values of {} secrets to {} (owner-only)", values.len(), path.display());
    Ok(())
}
