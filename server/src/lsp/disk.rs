//! A project file read from disk, for a file the editor has not opened. The folder is whatever
//! the editor was pointed at (a fresh clone, an unpacked archive), so a file named like a
//! configuration file may be a FIFO (reading it blocks for ever), a device, or a symlink to
//! `/proc/self/fd/0` (the server's own stdin: the read would swallow the editor's messages)
//! or to a file elsewhere on the machine. Only regular files are read, a symlink only when it
//! resolves inside the project folder, and at most [`MAX_READ`] bytes of it.

use crate::project::MAX_READ;
use anyhow::{Context, Result, bail};
use rustix::fs::{Mode, OFlags};
use std::io::Read;
use std::path::Path;

/// The text of `path`, a file of the project folder `dir`; `None` when there is no such file.
pub fn read_project_file(dir: &Path, path: &Path) -> Result<Option<String>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let real = if meta.file_type().is_symlink() {
        let real = std::fs::canonicalize(path)
            .with_context(|| format!("{} is a symlink that leads nowhere; not read", path.display()))?;
        let root = std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
        if !real.starts_with(&root) {
            bail!(
                "{} is a symlink to {}, outside the project folder {}; the language server reads only files inside it",
                path.display(),
                real.display(),
                root.display()
            );
        }
        real
    } else {
        path.to_path_buf()
    };
    // Not following a last symlink (one swapped in since the check above) and not waiting
    // for a FIFO's writer: whatever is there now is checked on the open file itself.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::open(&real, flags, Mode::empty())
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file = std::fs::File::from(fd);
    let kind = file.metadata().with_context(|| format!("cannot read {}", path.display()))?.file_type();
    if !kind.is_file() {
        bail!("{} is not a regular file (a folder, FIFO, socket or device); not read", path.display());
    }
    let mut bytes = Vec::new();
    file.take(MAX_READ + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_READ {
        bail!("{} is larger than {} MiB; not read", path.display(), MAX_READ >> 20);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{} is not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn regular_files_and_links_inside_are_read_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(p.join("a.yml"), "a: 1\n").unwrap();
        std::fs::create_dir(p.join("sub")).unwrap();
        std::fs::write(p.join("sub/b.yml"), "b: 1\n").unwrap();
        symlink("sub/b.yml", p.join("link.yml")).unwrap();
        assert_eq!(read_project_file(p, &p.join("a.yml")).unwrap().as_deref(), Some("a: 1\n"));
        assert_eq!(read_project_file(p, &p.join("link.yml")).unwrap().as_deref(), Some("b: 1\n"));
        assert_eq!(read_project_file(p, &p.join("missing.yml")).unwrap(), None);

        let outside = tempfile::NamedTempFile::new().unwrap();
        symlink(outside.path(), p.join("out.yml")).unwrap();
        symlink("/proc/self/fd/0", p.join("stdin.yml")).unwrap();
        symlink("/dev/zero", p.join("zero.yml")).unwrap();
        let made = std::process::Command::new("mkfifo").arg(p.join("fifo.yml")).status().expect("mkfifo runs");
        assert!(made.success());
        for (name, why) in [
            ("out.yml", "outside the project folder"),
            ("stdin.yml", ""),
            ("zero.yml", "outside the project folder"),
            ("fifo.yml", "not a regular file"),
            ("sub", "not a regular file"),
        ] {
            let e = format!("{:#}", read_project_file(p, &p.join(name)).unwrap_err());
            assert!(e.contains(name) && e.contains(why), "{name}: {e}");
        }
    }

    #[test]
    fn a_large_file_is_refused_after_the_limit() {
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big.yml");
        std::fs::write(&big, vec![b'#'; MAX_READ as usize + 1]).unwrap();
        let e = format!("{:#}", read_project_file(d.path(), &big).unwrap_err());
        assert!(e.contains("larger than"), "{e}");
    }
}
