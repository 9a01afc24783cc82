//! Files and folders the configuration names, relative to the project folder, opened so that
//! nothing a step planted can redirect them.
//!
//! A server run's workspace is written by its steps (untrusted code) while the run goes on:
//! a step can replace `data` with a symlink to `/`, a file with a FIFO or a device node, or
//! rename a folder between the server's check and its use. So a path is never checked and
//! then used by name: it is walked one component at a time from an open descriptor of the
//! project folder, each component opened with `O_PATH | O_NOFOLLOW` in the folder opened
//! before it, and what is used afterwards is the descriptor, not the name. A server run
//! ([`Links::Refuse`]) never follows a symlink; the CLI ([`Links::Inside`]) follows one while
//! it stays inside the project folder, as it did before. Missing folders are made with
//! `mkdirat` in the folder already opened, so never through a link.
//!
//! Files the CLI reads by a path outside the project (`../shared.env`, monorepos) are still
//! read as written: the CLI is not confined, as jet was not.

use anyhow::{Context, Result, anyhow, bail};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// How a path under the project folder may use symbolic links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// Never followed: a server run's workspace, where steps can plant them.
    Refuse,
    /// Followed while they stay inside the project folder (the CLI on the developer's own
    /// machine, as jet did).
    Inside,
}

impl Links {
    pub fn for_run(confine: bool) -> Links {
        if confine { Links::Refuse } else { Links::Inside }
    }
}

/// A followed link more than this many times in one path is a loop (the kernel's limit).
const MAX_LINKS: usize = 40;

/// The project folder, open; paths are resolved beneath it.
pub struct Beneath {
    root: OwnedFd,
    /// The folder's real path: for messages, absolute link targets and the CLI's binds.
    path: PathBuf,
    links: Links,
}

/// What a path beneath the root names, open as `O_PATH` (usable as a base for `openat` and
/// as the target of `/proc/self/fd/N`, and opening nothing for reading), with the real path
/// it had when it was opened.
pub struct Opened {
    pub fd: OwnedFd,
    pub path: PathBuf,
    pub kind: EntryKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Folder,
    File,
    /// A FIFO, socket or device.
    Other,
}

impl Beneath {
    /// Open the project folder `dir` (its own path is the server's or the developer's, not a
    /// step's, so links in it are followed).
    pub fn open(dir: &Path, links: Links) -> Result<Beneath> {
        let root = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .with_context(|| format!("cannot open the project folder {}", dir.display()))?;
        let path = dir.canonicalize().with_context(|| format!("cannot open the project folder {}", dir.display()))?;
        Ok(Beneath { root, path, links })
    }

    /// A folder opened by [`Beneath::dir`] as the root for paths below it.
    pub fn at(dir: Opened, links: Links) -> Beneath {
        Beneath { root: dir.fd, path: dir.path, links }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// The folder `rel` (as written in the configuration), made (with its missing parents)
    /// when `create` is set.
    pub fn dir(&self, rel: &str, create: bool) -> Result<Opened> {
        let opened = self.entry(rel, create)?;
        if opened.kind != EntryKind::Folder {
            bail!("`{rel}` ({}) is not a folder", opened.path.display());
        }
        Ok(opened)
    }

    /// The regular file `rel`, open for reading; its real path for messages. A FIFO, device
    /// or socket is refused without being opened (opening a FIFO blocks, a device may act).
    pub fn file(&self, rel: &str) -> Result<(File, PathBuf)> {
        let Opened { fd, path, kind } = self.entry(rel, false)?;
        match kind {
            EntryKind::Folder => bail!("`{rel}` is a folder, not a file"),
            EntryKind::Other => bail!("`{rel}` ({}) is not a regular file", path.display()),
            EntryKind::File => {}
        }
        // The O_PATH descriptor is known to be a regular file; reopening it through its
        // /proc link opens that very file, whatever its name points to by now.
        let file = reopen(&fd).with_context(|| format!("cannot read {}", path.display()))?;
        Ok((file, path))
    }

    /// Whatever `rel` names: walked from the root one component at a time, never following
    /// a link out (nor at all with [`Links::Refuse`]). With `create`, missing folders are
    /// made on the way, the last one included.
    pub fn entry(&self, rel: &str, create: bool) -> Result<Opened> {
        if Path::new(rel).is_absolute() {
            bail!("`{rel}` is an absolute path; only paths inside the project folder are allowed here");
        }
        let outside = || anyhow!("`{rel}` is outside the project folder; only paths inside it are allowed here");
        // The folders opened so far below the root, with their names.
        let mut stack: Vec<(OsString, OwnedFd)> = Vec::new();
        let mut pending: VecDeque<OsString> = components(Path::new(rel))?;
        let mut followed = 0;
        while let Some(name) = pending.pop_front() {
            if name == ".." {
                stack.pop().ok_or_else(outside)?;
                continue;
            }
            let here = || self.shown(&stack, &name);
            let parent = stack.last().map_or(self.root.as_fd(), |(_, fd)| fd.as_fd());
            let last = pending.is_empty();
            let fd = match open_entry(parent, &name) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(parent, name.as_os_str(), Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e).with_context(|| format!("cannot create {}", here().display())),
                    }
                    // Whatever is there now (a step may have raced us) is checked below.
                    open_entry(parent, &name).with_context(|| format!("cannot open {}", here().display()))?
                }
                Err(Errno::NOENT) => {
                    return Err(Missing(format!("cannot read {}: no such file or folder", here().display())).into());
                }
                Err(e) => return Err(e).with_context(|| format!("cannot open {}", here().display())),
            };
            let st = rustix::fs::fstat(&fd).with_context(|| format!("cannot read {}", here().display()))?;
            let ft = FileType::from_raw_mode(st.st_mode);
            if ft == FileType::Symlink {
                if self.links == Links::Refuse {
                    bail!(
                        "`{rel}`: {} is a symbolic link; server runs never follow links in the workspace \
                         (a step may have planted it): name the file or folder itself",
                        here().display()
                    );
                }
                followed += 1;
                if followed > MAX_LINKS {
                    bail!("`{rel}`: too many levels of symbolic links at {}", here().display());
                }
                let target = rustix::fs::readlinkat(&fd, "", Vec::new())
                    .with_context(|| format!("cannot read the link {}", here().display()))?;
                let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                let rest = if target.is_absolute() {
                    // Inside the project only: start again from the root.
                    let inside = target.strip_prefix(&self.path).map_err(|_| outside())?;
                    stack.clear();
                    components(inside)?
                } else {
                    components(&target)?
                };
                for c in rest.into_iter().rev() {
                    pending.push_front(c);
                }
                continue;
            }
            if ft == FileType::Directory {
                stack.push((name, fd));
                continue;
            }
            let shown = here();
            if !last {
                bail!("`{rel}`: {} is not a folder", shown.display());
            }
            let kind = if ft == FileType::RegularFile { EntryKind::File } else { EntryKind::Other };
            return Ok(Opened { fd, path: shown, kind });
        }
        let path = self.shown(&stack, OsStr::new(""));
        let fd = match stack.pop() {
            Some((_, fd)) => fd,
            None => self.root.try_clone()?,
        };
        Ok(Opened { fd, path, kind: EntryKind::Folder })
    }

    /// The real path of `name` in the folder at the top of `stack`.
    fn shown(&self, stack: &[(OsString, OwnedFd)], name: &OsStr) -> PathBuf {
        let mut p = self.path.clone();
        p.extend(stack.iter().map(|(n, _)| n.as_os_str()));
        if !name.is_empty() {
            p.push(name);
        }
        p
    }
}

/// A path that does not exist (an optional file, say `.dockerignore`, may not).
#[derive(Debug)]
pub struct Missing(String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Missing {}

/// `path`'s components as names and `..`, without `.`.
fn components(path: &Path) -> Result<VecDeque<OsString>> {
    let mut out = VecDeque::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => out.push_back(OsString::from("..")),
            Component::Normal(n) => out.push_back(n.to_os_string()),
            Component::RootDir | Component::Prefix(_) => bail!("`{}` is an absolute path", path.display()),
        }
    }
    Ok(out)
}

/// The entry `name` of the folder `dir`, open as `O_PATH` without following a link: a link
/// is opened as itself, and nothing is opened for reading (no FIFO blocks, no device acts).
pub fn open_entry(dir: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(dir, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}

/// Open for reading the regular file or folder an `O_PATH` descriptor holds. Through
/// `/proc/self/fd/N`, the kernel reopens the object itself, not whatever has its name now.
pub fn reopen(fd: &OwnedFd) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    File::open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Read `rel` (as written in the configuration) under `dir`, at most `limit` bytes; the path
/// it was read from, for messages. With `confine` (a server run), it must be a regular file
/// inside `dir` reached without a symlink; the CLI reads the path as written.
pub fn read_project_file(dir: &Path, rel: &str, confine: bool, limit: u64) -> Result<(PathBuf, Vec<u8>)> {
    if !confine {
        let path = dir.join(rel);
        let bytes = crate::fsutil::read_limited(&path, limit)?;
        return Ok((path, bytes));
    }
    let (file, path) = Beneath::open(dir, Links::Refuse)?.file(rel)?;
    let bytes = crate::fsutil::read_file_limited(file, &path, limit)?;
    Ok((path, bytes))
}

/// [`read_project_file`] for text.
pub fn read_project_text(dir: &Path, rel: &str, confine: bool, limit: u64) -> Result<(PathBuf, String)> {
    let (path, bytes) = read_project_file(dir, rel, confine, limit)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow!("{} is not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()))?;
    Ok((path, text))
}

/// `rel` (as written in the configuration) under `dir`; with `confine`, it must exist and
/// resolve (symlinks included) inside `dir`. For files read before any step ran (the
/// project's own configuration); what a run reads from its workspace goes through
/// [`read_project_file`].
pub fn project_file(dir: &Path, rel: &str, confine: bool) -> Result<PathBuf> {
    let path = dir.join(rel);
    if confine {
        let root = dir.canonicalize().with_context(|| format!("project folder {}", dir.display()))?;
        let real = path.canonicalize().with_context(|| format!("cannot read {}", path.display()))?;
        if !real.starts_with(&root) {
            bail!("`{rel}` is outside the project folder; server runs may only use files inside it");
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn err(r: Result<impl Sized>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn confined_files_are_regular_files_inside_reached_without_links() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(p.join("a.env"), "A=1").unwrap();
        std::fs::create_dir(p.join("sub")).unwrap();
        std::fs::write(p.join("sub/b.env"), "B=2").unwrap();
        symlink("/etc/hostname", p.join("out.env")).unwrap();
        symlink("a.env", p.join("in.env")).unwrap();
        symlink(p.join("sub"), p.join("sublink")).unwrap();
        let made = std::process::Command::new("mkfifo").arg(p.join("fifo.env")).status().unwrap();
        assert!(made.success());
        assert_eq!(read_project_file(p, "a.env", true, 100).unwrap().1, b"A=1");
        assert_eq!(read_project_file(p, "./sub/../sub/b.env", true, 100).unwrap().1, b"B=2");
        for (bad, says) in [
            ("../../../../etc/hostname", "outside the project folder"),
            ("/etc/hostname", "absolute path"),
            ("out.env", "is a symbolic link"),
            ("in.env", "is a symbolic link"),
            ("sublink/b.env", "is a symbolic link"),
            // Refused without being opened: opening a FIFO for reading blocks.
            ("fifo.env", "not a regular file"),
            ("sub", "is a folder"),
            ("missing.env", "no such file or folder"),
        ] {
            let e = err(read_project_file(p, bad, true, 100));
            assert!(e.contains(says), "{bad}: {e}");
        }
        let e = err(read_project_file(p, "a.env", true, 2));
        assert!(e.contains("larger than 2 bytes"), "{e}");
        // Unconfined (the CLI): as written, links and parents included.
        assert_eq!(read_project_file(p, "in.env", false, 100).unwrap().1, b"A=1");
        assert_eq!(read_project_file(&p.join("sub"), "../a.env", false, 100).unwrap().1, b"A=1");
    }

    #[test]
    fn project_files_read_before_the_run_stay_inside_the_project() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.env"), "A=1").unwrap();
        symlink("/etc/hostname", d.path().join("link.env")).unwrap();
        assert!(project_file(d.path(), "a.env", true).is_ok());
        for bad in ["../../../../etc/hostname", "/etc/hostname", "link.env"] {
            let e = project_file(d.path(), bad, true).unwrap_err().to_string();
            assert!(e.contains("outside the project folder"), "{bad}: {e}");
        }
        // Unconfined (the CLI): as written.
        assert_eq!(project_file(d.path(), "../x.env", false).unwrap(), d.path().join("../x.env"));
    }

    #[test]
    fn folders_are_made_in_place_never_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let p = d.path();
        symlink(outside.path(), p.join("link")).unwrap();
        for links in [Links::Refuse, Links::Inside] {
            let b = Beneath::open(p, links).unwrap();
            let e = err(b.dir("link/made/deeper", true));
            assert!(e.contains("link"), "{e}");
            assert!(!outside.path().join("made").exists(), "{links:?} created a folder through a link");
        }
        let b = Beneath::open(p, Links::Refuse).unwrap();
        let made = b.dir("./new/deeper", true).unwrap();
        assert!(p.join("new/deeper").is_dir());
        assert_eq!(made.path, p.canonicalize().unwrap().join("new/deeper"));
        assert_eq!(b.dir(".", false).unwrap().path, p.canonicalize().unwrap());
        assert!(err(b.dir("new/../../x", true)).contains("outside the project folder"));
    }

    #[test]
    fn the_cli_follows_links_that_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("real/data")).unwrap();
        symlink("real", p.join("rel")).unwrap();
        symlink(p.join("real"), p.join("abs")).unwrap();
        symlink("..", p.join("real/up")).unwrap();
        symlink("../..", p.join("real/out")).unwrap();
        symlink("loop", p.join("loop")).unwrap();
        let b = Beneath::open(p, Links::Inside).unwrap();
        let real = p.canonicalize().unwrap().join("real/data");
        assert_eq!(b.dir("rel/data", false).unwrap().path, real);
        assert_eq!(b.dir("abs/data", false).unwrap().path, real);
        assert_eq!(b.dir("real/up/real/data", false).unwrap().path, real);
        assert!(err(b.dir("real/out/x", true)).contains("outside the project folder"));
        assert!(err(b.dir("loop", false)).contains("too many levels"));
        let refuse = Beneath::open(p, Links::Refuse).unwrap();
        assert!(err(refuse.dir("rel/data", false)).contains("symbolic link"));
    }

    #[test]
    fn an_open_folder_stays_the_folder_it_was_whatever_is_renamed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir(p.join("data")).unwrap();
        std::fs::write(p.join("data/original.txt"), "original").unwrap();
        let b = Beneath::open(p, Links::Refuse).unwrap();
        let data = b.dir("data", false).unwrap();
        std::fs::rename(p.join("data"), p.join("data.old")).unwrap();
        symlink("/", p.join("data")).unwrap();
        let inside = rustix::fs::openat(&data.fd, "original.txt", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty());
        assert!(inside.is_ok(), "the descriptor followed the name");
        assert!(err(b.dir("data", false)).contains("symbolic link"));
    }
}
