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
    read_file_limited(file, path, limit)
}

/// [`read_limited`] for a file already open (found without following links, see
/// `executor::paths`); `path` names it in errors.
pub fn read_file_limited(file: std::fs::File, path: &Path, limit: u64) -> Result<Vec<u8>> {
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
///
/// A symlink is followed: the file it points to is replaced and the link stays (a rename onto
/// the link itself would replace the link). A path that is not a regular file (`/dev/stdout`,
/// a FIFO, a terminal) is written directly: it has no folder to stage in, and renaming over it
/// would replace the device node, not write to it.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let target = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => bail!("cannot write {}: it is a folder", path.display()),
        Ok(meta) if !meta.is_file() => return write_special(path, bytes),
        Ok(_) => std::fs::canonicalize(path).with_context(|| format!("cannot resolve {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                bail!("cannot write {}: it is a symlink to a file that does not exist", path.display());
            }
            path.to_path_buf()
        }
        Err(e) => return Err(e).with_context(|| format!("cannot write {}", path.display())),
    };
    let dir = match target.parent() {
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
    tmp.persist(&target).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Write to a device or FIFO as it is (no truncation, no rename).
fn write_special(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    file.flush().with_context(|| format!("cannot write {}", path.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new", false).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced by a file");
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_to_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"plaintext", true).unwrap();
        assert_eq!(reader.join().unwrap(), b"plaintext");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced by a file");
    }

    #[test]
    fn a_folder_or_a_dangling_link_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), b"x", false).unwrap_err().to_string();
        assert!(err.contains("is a folder") && err.contains(&dir.path().display().to_string()), "{err}");
        #[cfg(unix)]
        {
            let link = dir.path().join("dangling");
            std::os::unix::fs::symlink(dir.path().join("missing"), &link).unwrap();
            let err = write_atomic(&link, b"x", false).unwrap_err().to_string();
            assert!(err.contains("does not exist"), "{err}");
            assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        }
    }
}
