//! Reading input files within a size limit, and writing output files safely: all or nothing,
//! never a partial file.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::path::Path;

/// Read at most `limit` bytes of `path`; a longer file is an error naming it and the limit.
/// Reads through the limit rather than trusting the file's size, which `/dev/zero`, a FIFO or
/// a file that grows while being read do not tell.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!("{} is larger than {}; the limit protects the server and the parser", path.display(), human(limit));
    }
    Ok(bytes)
}

/// `read_limited` for text.
pub fn read_text_limited(path: &Path, limit: u64) -> Result<String> {
    String::from_utf8(read_limited(path, limit)?)
        .map_err(|e| anyhow::anyhow!("{} is not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()))
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Write `bytes` to `path` through a temporary file in the same folder, renamed into place
/// only when complete. `private` makes the file owner-only (decrypted secrets, keys).
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".slipway-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file().sync_all().ok();
    #[cfg(unix)]
    if !private {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600; ordinary outputs get the usual 0644.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).ok();
    }
    let _ = private;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Like [`write_atomic`], but fails if `path` already exists (never overwrites).
pub fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".slipway-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    if !private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).ok();
    }
    let _ = private;
    tmp.persist_noclobber(path).map_err(|e| e.error).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(())
}
