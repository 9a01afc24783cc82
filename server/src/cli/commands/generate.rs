//! `slipway generate`

use crate::fsutil::write_new;
use crate::gitinfo::GitInfo;
use anyhow::{Context, Result, bail};
use clap::Args;
use slipway_core::crypto::Key;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Where to write the new key. An existing file is never overwritten.
    #[arg(long, default_value = "codeship.aes", env = "SLIPWAY_KEY_PATH")]
    pub key_path: PathBuf,
}

pub fn run(args: GenerateArgs) -> Result<ExitCode> {
    let path = &args.key_path;
    // Not `exists()`, which follows a link: a key is never written through one either.
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => bail!(
            "{} is a symlink; a new key is never written through one (give the target's own path, or remove the link)",
            path.display()
        ),
        Ok(_) => bail!(
            "{} already exists; refusing to overwrite a key (files encrypted with it would become unreadable)",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot write {}", path.display())),
    }
    if GitInfo::tracked_candidate(path) == Some(true) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        bail!(
            "{} is inside a git work tree and not ignored; a committed key exposes every secret.\n  \
             ignore it first: echo '{name}' >> .gitignore",
            path.display()
        );
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    write_new(path, Key::from_bytes(bytes).to_file_text().as_bytes(), true)?;
    eprintln!("wrote a new key to {} (keep it out of version control)", path.display());
    Ok(ExitCode::SUCCESS)
}
