//! `slipway encrypt` and `slipway decrypt`

use crate::fsutil::{Existing, write_atomic};
use anyhow::{Context, Result};
use clap::Args;
use slipway_core::crypto::{self, Format};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Inputs larger than this are refused: these are credential files, not archives.
const MAX_INPUT: u64 = 64 * 1024 * 1024;

#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// The plaintext file (env file, dockercfg, config.json).
    pub input: PathBuf,
    /// Where to write the encrypted file (never left half-written; never through a symlink).
    pub output: PathBuf,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    pub force: bool,
    /// The project key file.
    #[arg(long, default_value = "codeship.aes", env = "SLIPWAY_KEY_PATH")]
    pub key_path: PathBuf,
    /// `aead` (authenticated, default) or `v2` (readable by jet 2.6+).
    #[arg(long, default_value = "aead", value_parser = ["aead", "v2"])]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// The encrypted file (jet v1, jet v2 or Slipway's format; detected automatically).
    pub input: PathBuf,
    /// Where to write the plaintext (owner-only permissions; never left half-written; never
    /// through a symlink).
    pub output: PathBuf,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    pub force: bool,
    /// The project key file.
    #[arg(long, default_value = "codeship.aes", env = "SLIPWAY_KEY_PATH")]
    pub key_path: PathBuf,
}

pub use crate::keyfile::load_key;

fn read_input(path: &Path) -> Result<Vec<u8>> {
    crate::fsutil::read_limited(path, MAX_INPUT)
}

pub fn encrypt(args: EncryptArgs) -> Result<ExitCode> {
    // Refused before anything is read or encrypted.
    crate::fsutil::check_output(&args.output, Existing::replace_if(args.force))?;
    let key = load_key(&args.key_path)?;
    let plain = read_input(&args.input)?;
    let format = Format::parse_write(&args.format).expect("clap checked the value");
    let mut random = [0u8; crypto::RANDOM_BYTES];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    let out = crypto::encrypt(&key, &plain, format, &random)?;
    write_atomic(&args.output, &out, false, Existing::replace_if(args.force))?;
    eprintln!("encrypted {} → {} ({} format)", args.input.display(), args.output.display(), format.as_str());
    Ok(ExitCode::SUCCESS)
}

pub fn decrypt(args: DecryptArgs) -> Result<ExitCode> {
    crate::fsutil::check_output(&args.output, Existing::replace_if(args.force))?;
    let key = load_key(&args.key_path)?;
    let data = read_input(&args.input)?;
    let (plain, format) =
        crypto::decrypt(&key, &data).with_context(|| format!("cannot decrypt {}", args.input.display()))?;
    write_atomic(&args.output, &plain, true, Existing::replace_if(args.force))?;
    let note = if format == Format::V1 {
        " (v1 has no integrity check: if the output is garbage, the key is wrong)"
    } else {
        ""
    };
    eprintln!("decrypted {} → {} ({} format){note}", args.input.display(), args.output.display(), format.as_str());
    Ok(ExitCode::SUCCESS)
}
