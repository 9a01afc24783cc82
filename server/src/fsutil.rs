//! Reading input files within a size limit, and writing output files safely: all or nothing
//! (never a partial file), never through a symlink, never over a file without `--force`.

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

/// Whether an output may replace a file that is already there (`--force`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    Refuse,
    Replace,
}

impl Existing {
    pub fn replace_if(force: bool) -> Existing {
        if force { Existing::Replace } else { Existing::Refuse }
    }
}

/// What is at an output's path, as far as writing it goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// Nothing: the file is created.
    New,
    /// A regular file, to be replaced (allowed by [`Existing::Replace`]).
    Replace,
    /// A FIFO or device (`/dev/null`, `/dev/stdout`): written to as it is.
    Special,
}

/// Check that `path` may be written, before anything is: not a folder, not a symlink (a link
/// planted in a checkout would send the output, decrypted secrets say, wherever it points),
/// not an existing file unless `existing` allows it. A symlink under `/dev/` to a FIFO or
/// device (`/dev/stdout`, `/dev/fd/3`) is the user's choice of a stream and is written to.
pub fn check_output(path: &Path, existing: Existing) -> Result<Output> {
    relative_parents_are_no_links(path)?;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Output::New),
        Err(e) => return Err(e).with_context(|| format!("cannot write {}", path.display())),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let stream = path.starts_with("/dev/") && std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
        if stream {
            return Ok(Output::Special);
        }
        let target = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
        bail!(
            "cannot write {}: it is a symlink (to {target}); Slipway does not write through links, which a \
             checkout can plant to send the output elsewhere. Write to the target's own path, or remove the link",
            path.display()
        );
    }
    if kind.is_dir() {
        bail!("cannot write {}: it is a folder", path.display());
    }
    if !kind.is_file() {
        return Ok(Output::Special);
    }
    match existing {
        Existing::Replace => Ok(Output::Replace),
        Existing::Refuse => bail!("{} already exists; pass --force to replace it", path.display()),
    }
}

/// A relative output path is inside whatever folder the command runs in, often a checkout:
/// none of its folders may be a symlink, which a checkout can plant (`ci -> ../elsewhere`) to
/// send `--secrets-to ci/secrets.json` or `.github/workflows/…` out of it. (An absolute path is
/// the user's own typing: `/tmp` may well be a link.)
fn relative_parents_are_no_links(path: &Path) -> Result<()> {
    if path.is_absolute() {
        return Ok(());
    }
    let mut at = std::path::PathBuf::new();
    let parents: Vec<_> = path.parent().map(|p| p.components().collect()).unwrap_or_default();
    for part in parents {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            let target = std::fs::read_link(&at).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
            bail!(
                "cannot write {}: its folder {} is a symlink (to {target}); Slipway does not write through links, \
                 which a checkout can plant to send the output elsewhere. Give the folder's own path",
                path.display(),
                at.display()
            );
        }
    }
    Ok(())
}

/// Write `bytes` to `path` through a temporary file in the same folder, renamed into place
/// only when complete. `private` makes the file owner-only (decrypted secrets, keys). What may
/// be at `path` is [`check_output`]'s rule; the rename itself never follows a link, so one
/// planted after the check is replaced, not written through, and a file that appeared after
/// it is not replaced unless `existing` allows it.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool, existing: Existing) -> Result<()> {
    if check_output(path, existing)? == Output::Special {
        return write_special(path, bytes);
    }
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
    let persisted = match existing {
        Existing::Replace => tmp.persist(path).map(drop),
        Existing::Refuse => tmp.persist_noclobber(path).map(drop),
    };
    persisted.map_err(|e| e.error).with_context(|| match existing {
        Existing::Refuse => format!("cannot create {} (pass --force to replace a file there)", path.display()),
        Existing::Replace => format!("cannot write {}", path.display()),
    })
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

    /// Finding 14 of issue 19: an output path that is a symlink was written through (and
    /// `export --secrets-to` put decrypted secrets wherever the link pointed).
    #[cfg(unix)]
    #[test]
    fn a_symlink_is_refused_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        for existing in [Existing::Refuse, Existing::Replace] {
            let err = write_atomic(&link, b"new", true, existing).unwrap_err().to_string();
            assert!(err.contains("is a symlink") && err.contains("link.txt"), "{err}");
        }
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "old");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        // A stream under /dev/ is the user's choice, link or not.
        write_atomic(Path::new("/dev/null"), b"x", true, Existing::Refuse).unwrap();
        if std::fs::metadata("/dev/stdout").is_ok_and(|m| !m.is_file()) {
            assert_eq!(check_output(Path::new("/dev/stdout"), Existing::Refuse).unwrap(), Output::Special);
        }
    }

    #[test]
    fn an_existing_file_is_replaced_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("out.txt");
        write_atomic(&f, b"one", false, Existing::Refuse).unwrap();
        let err = write_atomic(&f, b"two", false, Existing::Refuse).unwrap_err().to_string();
        assert!(err.contains("already exists") && err.contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "one");
        write_atomic(&f, b"two", false, Existing::Replace).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a temporary file was left");
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
        write_atomic(&fifo, b"plaintext", true, Existing::Refuse).unwrap();
        assert_eq!(reader.join().unwrap(), b"plaintext");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced by a file");
    }

    #[test]
    fn a_folder_or_a_dangling_link_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), b"x", false, Existing::Replace).unwrap_err().to_string();
        assert!(err.contains("is a folder") && err.contains(&dir.path().display().to_string()), "{err}");
        #[cfg(unix)]
        {
            let link = dir.path().join("dangling");
            std::os::unix::fs::symlink(dir.path().join("missing"), &link).unwrap();
            let err = write_atomic(&link, b"x", false, Existing::Replace).unwrap_err().to_string();
            assert!(err.contains("is a symlink"), "{err}");
            assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        }
    }
}
