//! Loading a project key file: one helper for the CLI and the server.

use anyhow::{Context, Result, bail};
use slipway_core::crypto::Key;
use std::path::Path;

/// A key file is a line of base64; anything much larger is not one.
const MAX_KEY: u64 = 64 * 1024;

pub fn load_key(path: &Path) -> Result<Key> {
    if !path.exists() {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        bail!(
            "no key: looked for {} (pass --key-path, or put the project's codeship.aes there; `slipway generate` makes a new one)",
            abs.display()
        );
    }
    let bytes = crate::fsutil::read_limited(path, MAX_KEY)?;
    Key::parse(&bytes).with_context(|| format!("invalid key file {}", path.display()))
}
