//! The build context as a tar archive, honouring `.dockerignore` as the docker CLI does:
//! patterns are anchored at the context root, `!` re-includes, and the Dockerfile and
//! `.dockerignore` are always sent.
//!
//! The context is in the run's workspace, which earlier (or still running) steps write: the
//! tree is walked through open folder descriptors (see `paths`), so a folder swapped for a
//! symlink while it is read cannot pull in anything from outside; links are archived as
//! links, never followed; only regular files are read, FIFOs, sockets and devices are left
//! out without being opened, and a file is archived with exactly the size it had when it was
//! opened.

use super::paths::{Beneath, Links, Missing, open_entry, reopen};
use anyhow::{Context, Result, anyhow, bail};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A context larger than this is refused with a hint to add a `.dockerignore`.
pub const MAX_CONTEXT_BYTES: u64 = 512 * 1024 * 1024;

/// A `.dockerignore` is a list of patterns; more than this is not one.
const MAX_DOCKERIGNORE_BYTES: u64 = 1024 * 1024;

/// Folders nested deeper than this are refused: the walk holds one descriptor per level.
const MAX_DEPTH: usize = 256;

/// What `.dockerignore` says, and whether it re-includes anything (then ignored folders are
/// still walked, for `!dir/keep`).
struct Ignore {
    matcher: Gitignore,
    negations: bool,
}

/// Read the context's `.dockerignore` (a regular file in the context, never through a link
/// in a server run). Errors name the file, never quote more of it than a pattern.
fn dockerignore(context: &Beneath) -> Result<Ignore> {
    let mut b = GitignoreBuilder::new(context.path());
    let text = match context.file(".dockerignore") {
        Ok((file, path)) => {
            let bytes = crate::fsutil::read_file_limited(file, &path, MAX_DOCKERIGNORE_BYTES)?;
            String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?
        }
        Err(e) if e.is::<Missing>() => String::new(),
        Err(e) => return Err(e).context("cannot use the build context's .dockerignore"),
    };
    let mut negations = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (neg, pat) = match line.strip_prefix('!') {
            Some(p) => ("!", p.trim()),
            None => ("", line),
        };
        negations |= !neg.is_empty();
        // dockerignore patterns are relative to the root, never "match at any depth".
        let pat = pat.trim_start_matches("./").trim_start_matches('/');
        b.add_line(None, &format!("{neg}/{pat}")).with_context(|| format!("invalid .dockerignore pattern `{line}`"))?;
    }
    Ok(Ignore { matcher: b.build()?, negations })
}

/// Tar the context folder `context` (relative to the project folder `root`, as written in the
/// configuration). `dockerfile` is relative to the context. `links` is the run's policy:
/// [`Links::Refuse`] for a server run.
pub fn tar_context(root: &Path, context: &str, links: Links, dockerfile: &str) -> Result<Vec<u8>> {
    let dir = Beneath::open(root, links)?.dir(context, false).context("the build context")?;
    let ctx = Beneath::at(dir, links);
    let ignore = dockerignore(&ctx)?;
    let always: Vec<PathBuf> = vec![PathBuf::from(dockerfile), PathBuf::from(".dockerignore")];
    let mut builder = tar::Builder::new(Vec::new());
    // Depth first; each level holds its folder's descriptor and the names left to archive.
    let top = open_folder(ctx.fd(), ctx.path())?;
    let left = names(&top, ctx.path())?;
    let mut levels = vec![Level { rel: PathBuf::new(), fd: top, left }];
    while let Some(level) = levels.last_mut() {
        let Some(name) = level.left.pop() else {
            levels.pop();
            continue;
        };
        let rel_path = level.rel.join(&name);
        let opened = open_entry(level.fd.as_fd(), &name);
        let shown = || ctx.path().join(&rel_path);
        let entry = match opened {
            Ok(e) => e,
            // Removed while the context is read: it is not part of it.
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", shown().display())),
        };
        let meta =
            File::from(entry.try_clone()?).metadata().with_context(|| format!("cannot read {}", shown().display()))?;
        let ft = meta.file_type();
        let ignored = ignore.matcher.matched_path_or_any_parents(&rel_path, ft.is_dir()).is_ignore();
        // What the archive will hold after this entry: headers (a long name takes one more,
        // plus the name) and the data padded to 512 bytes. Empty files cost their header too.
        let data = if ft.is_file() { meta.len().div_ceil(512) * 512 } else { 0 };
        let name_len = rel_path.as_os_str().len() as u64;
        let entry_bytes = 512 + if name_len > 99 { 512 + name_len.div_ceil(512) * 512 } else { 0 } + data;
        if !ignored && builder.get_ref().len() as u64 + entry_bytes + 1024 > MAX_CONTEXT_BYTES {
            bail!(
                "the build context {} is larger than {} MiB; add a .dockerignore for what the build does not need",
                ctx.path().display(),
                MAX_CONTEXT_BYTES / 1024 / 1024
            );
        }
        if ignored && !always.contains(&rel_path) {
            // An ignored folder may still hold re-included files (`!dir/keep`): descend.
            if ft.is_dir() && ignore.negations {
                levels.push(Level::open(rel_path.clone(), &entry, &shown())?);
                check_depth(levels.len(), &shown())?;
            }
            continue;
        }
        if ft.is_dir() {
            append(&mut builder, &meta, &rel_path, tar::EntryType::Directory, std::io::empty())?;
            levels.push(Level::open(rel_path.clone(), &entry, &shown())?);
            check_depth(levels.len(), &shown())?;
        } else if ft.is_symlink() {
            let target = rustix::fs::readlinkat(&entry, "", Vec::new())
                .with_context(|| format!("cannot read the link {}", shown().display()))?;
            let target = Path::new(std::ffi::OsStr::from_bytes(target.as_bytes()));
            let mut header = header(&meta, tar::EntryType::Symlink);
            builder.append_link(&mut header, &rel_path, target)?;
        } else if ft.is_file() {
            let file = reopen(&entry).with_context(|| format!("cannot read {}", shown().display()))?;
            let exact = Exact { inner: file.take(meta.len()), left: meta.len() };
            append(&mut builder, &meta, &rel_path, tar::EntryType::Regular, exact)
                .with_context(|| format!("cannot read {}", shown().display()))?;
        }
        // FIFOs, sockets and devices are not part of a build context.
    }
    Ok(builder.into_inner()?)
}

/// One folder being archived: its path in the context, its descriptor, the names left.
struct Level {
    rel: PathBuf,
    fd: OwnedFd,
    left: Vec<OsString>,
}

impl Level {
    fn open(rel: PathBuf, entry: &OwnedFd, shown: &Path) -> Result<Level> {
        let fd = open_folder(entry.as_fd(), shown)?;
        let left = names(&fd, shown)?;
        Ok(Level { rel, fd, left })
    }
}

/// The names in a folder, sorted so that popping them archives in name order.
fn names(dir: &OwnedFd, shown: &Path) -> Result<Vec<OsString>> {
    let read = || -> std::io::Result<Vec<OsString>> {
        let listing = rustix::fs::openat(
            dir,
            ".",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::new(listing)? {
            let name = entry?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                out.push(OsString::from(std::ffi::OsStr::from_bytes(&name)));
            }
        }
        out.sort_by(|a, b| b.cmp(a));
        Ok(out)
    };
    read().with_context(|| format!("cannot read build context folder {}", shown.display()))
}

/// The folder an `O_PATH` descriptor holds (known to be a folder), as a descriptor of its own.
fn open_folder(entry: BorrowedFd<'_>, shown: &Path) -> Result<OwnedFd> {
    rustix::fs::openat(
        entry,
        ".",
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .with_context(|| format!("cannot read build context folder {}", shown.display()))
}

fn check_depth(depth: usize, shown: &Path) -> Result<()> {
    if depth > MAX_DEPTH {
        bail!("the build context is more than {MAX_DEPTH} folders deep at {}", shown.display());
    }
    Ok(())
}

fn header(meta: &Metadata, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    header.set_entry_type(kind);
    if kind != tar::EntryType::Regular {
        header.set_size(0);
    }
    header
}

fn append(
    builder: &mut tar::Builder<Vec<u8>>,
    meta: &Metadata,
    rel: &Path,
    kind: tar::EntryType,
    data: impl Read,
) -> Result<()> {
    let mut header = header(meta, kind);
    builder.append_data(&mut header, rel, data)?;
    Ok(())
}

/// Exactly `left` bytes from `inner`, or an error: a file that shrank while it was archived
/// would otherwise leave an entry shorter than its header says (and one that grew is cut by
/// the `take`).
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank while it was read"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regular files in the archive, sorted.
    fn names(tar: &[u8]) -> Vec<String> {
        entries(tar).into_iter().filter(|(_, kind)| kind.is_file()).map(|(n, _)| n).collect()
    }

    fn entries(tar: &[u8]) -> Vec<(String, tar::EntryType)> {
        let mut a = tar::Archive::new(tar);
        let mut v: Vec<(String, tar::EntryType)> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.path().unwrap().display().to_string(), e.header().entry_type()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn tar_dir(p: &Path, links: Links) -> Result<Vec<u8>> {
        tar_context(p, ".", links, "Dockerfile")
    }

    #[test]
    fn dockerignore_is_anchored_and_keeps_the_dockerfile() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("src/node_modules")).unwrap();
        std::fs::create_dir_all(p.join("node_modules")).unwrap();
        std::fs::create_dir_all(p.join("logs")).unwrap();
        for f in [
            "Dockerfile",
            "src/a.rs",
            "src/node_modules/x",
            "node_modules/y",
            "secret.env",
            "logs/a.log",
            "logs/keep.log",
        ] {
            std::fs::write(p.join(f), f).unwrap();
        }
        std::fs::write(p.join(".dockerignore"), "node_modules\n*.env\nDockerfile\nlogs\n!logs/keep.log\n").unwrap();
        let files = names(&tar_dir(p, Links::Refuse).unwrap());
        assert_eq!(files, [".dockerignore", "Dockerfile", "logs/keep.log", "src/a.rs", "src/node_modules/x"]);
    }

    #[test]
    fn links_are_archived_as_links_and_special_files_left_out() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir(p.join("app")).unwrap();
        std::fs::write(p.join("app/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(p.join("app/a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("/etc", p.join("app/etc")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", p.join("app/host")).unwrap();
        let made = std::process::Command::new("mkfifo").arg(p.join("app/fifo")).status().unwrap();
        assert!(made.success());
        let tar = tar_context(p, "app", Links::Refuse, "Dockerfile").unwrap();
        let all = entries(&tar);
        let kinds: Vec<(&str, bool)> = all.iter().map(|(n, k)| (n.as_str(), k.is_symlink())).collect();
        assert_eq!(kinds, [("Dockerfile", false), ("a.txt", false), ("etc", true), ("host", true)], "{all:?}");
    }

    #[test]
    fn a_planted_dockerignore_is_refused_without_being_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(p.join("Dockerfile"), "FROM scratch\n").unwrap();
        let host = tempfile::tempdir().unwrap();
        std::fs::write(host.path().join("secret"), "host-secret {unclosed").unwrap();
        std::os::unix::fs::symlink(host.path().join("secret"), p.join(".dockerignore")).unwrap();
        let e = format!("{:#}", tar_dir(p, Links::Refuse).unwrap_err());
        assert!(e.contains(".dockerignore") && e.contains("symbolic link") && !e.contains("host-secret"), "{e}");
        // The CLI follows links only while they stay inside the project.
        let e = format!("{:#}", tar_dir(p, Links::Inside).unwrap_err());
        assert!(e.contains("outside the project folder") && !e.contains("host-secret"), "{e}");
        std::fs::remove_file(p.join(".dockerignore")).unwrap();
        let made = std::process::Command::new("mkfifo").arg(p.join(".dockerignore")).status().unwrap();
        assert!(made.success());
        // Refused, not opened: opening a FIFO for reading would block for ever.
        let e = format!("{:#}", tar_dir(p, Links::Inside).unwrap_err());
        assert!(e.contains(".dockerignore") && e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_context_through_a_link_is_refused_in_a_server_run() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir(p.join("real")).unwrap();
        std::fs::write(p.join("real/Dockerfile"), "FROM scratch\n").unwrap();
        std::os::unix::fs::symlink("real", p.join("ctx")).unwrap();
        std::os::unix::fs::symlink("/", p.join("root")).unwrap();
        let e = format!("{:#}", tar_context(p, "ctx", Links::Refuse, "Dockerfile").unwrap_err());
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(names(&tar_context(p, "ctx", Links::Inside, "Dockerfile").unwrap()), ["Dockerfile"]);
        let e = format!("{:#}", tar_context(p, "root", Links::Inside, "Dockerfile").unwrap_err());
        assert!(e.contains("outside the project folder"), "{e}");
    }

    #[test]
    fn a_file_that_shrinks_while_read_is_an_error_not_a_short_entry() {
        let mut short = Exact { inner: std::io::Cursor::new(vec![1u8; 10]), left: 20 };
        let mut out = Vec::new();
        let e = std::io::copy(&mut short, &mut out).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}

#[cfg(test)]
mod perf {
    /// A 10,000-file context (100 folders of 100 files of 1 KiB) tars whole; the time is
    /// printed for docs/perf (`cargo test -p slipway --release context::perf -- --nocapture`).
    #[test]
    fn a_ten_thousand_file_context_tars_whole() {
        let src = tempfile::tempdir().unwrap();
        for d in 0..100 {
            let dir = src.path().join(format!("d{d:03}"));
            std::fs::create_dir(&dir).unwrap();
            for f in 0..100 {
                std::fs::write(dir.join(format!("f{f:03}.txt")), vec![b'a' + (f % 26) as u8; 1024]).unwrap();
            }
        }
        std::fs::write(src.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        for round in ["first", "second"] {
            let started = std::time::Instant::now();
            let tar = super::tar_context(src.path(), ".", super::Links::Refuse, "Dockerfile").unwrap();
            println!("{round} tar of a 10,000-file context ({} KiB): {:?}", tar.len() / 1024, started.elapsed());
            let files = tar::Archive::new(&tar[..])
                .entries()
                .unwrap()
                .filter(|e| e.as_ref().unwrap().header().entry_type().is_file())
                .count();
            assert_eq!(files, 10_001);
        }
    }
}
