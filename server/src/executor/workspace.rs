//! The per-run copy of the project that server runs mount and build from. A step is untrusted
//! code: with the project folder itself mounted read-write it could rewrite `.git/config` so
//! the server's next `git log` runs a program of its choosing, or plant files the next run
//! trusts, and it could read the project key. The copy has no `.git`, no key file and no
//! decrypted copy of an encrypted file, and it is removed when the run ends.

use anyhow::{Context, Result, bail};
use slipway_core::crypto::Key;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How much a run copies at most; a bigger project folder fails the run with this named.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_entries: usize,
}

pub const LIMITS: Limits = Limits { max_bytes: 1024 * 1024 * 1024, max_entries: 100_000 };

/// What never goes into a workspace besides `.git` and files named `codeship.aes`: any file
/// that is a key (this project's under another name, or another environment's: a copy in the
/// workspace would be readable by every step) and files holding exactly what an encrypted
/// file decrypts to (left by `slipway decrypt`).
#[derive(Default)]
pub struct Hidden {
    pub plaintexts: Vec<Vec<u8>>,
}

/// Entry names skipped wherever they are: the repository (and submodules' `.git` files), and
/// key files, whichever key they hold.
const SKIPPED_NAMES: &[&str] = &[".git", "codeship.aes"];

/// Files at most this big are read and checked for a key and the plaintexts; a key file is
/// 45 bytes, and bigger files cannot equal a (smaller) plaintext.
const SNIFF_MIN: u64 = 4096;

impl Hidden {
    fn sniff_limit(&self) -> u64 {
        let longest = self.plaintexts.iter().map(Vec::len).max().unwrap_or(0) as u64;
        SNIFF_MIN.max(longest + 64)
    }

    fn holds_secret(&self, bytes: &[u8]) -> bool {
        let trimmed = bytes.trim_ascii();
        // One line of base64 that decodes to 32 bytes: a key file, whoever's.
        if Key::parse(trimmed).is_ok() {
            return true;
        }
        !trimmed.is_empty() && self.plaintexts.iter().any(|p| p.trim_ascii() == trimmed)
    }
}

/// A copy of a project folder for one run, removed by [`Workspace::remove`] (or on drop).
/// An adopted folder (a repository run's own checkout) is its owner's to remove.
pub struct Workspace {
    dir: WorkspaceDir,
    pub stats: CopyStats,
}

enum WorkspaceDir {
    Copy(tempfile::TempDir),
    Adopted(PathBuf),
}

#[derive(Clone, Copy, Debug, Default)]
pub struct CopyStats {
    pub files: usize,
    pub bytes: u64,
    /// Entries left out: `.git`, key files, decrypted files.
    pub hidden: usize,
    pub took: std::time::Duration,
}

impl Workspace {
    /// Copy `project` into a new folder under `root` (created owner-only if missing).
    pub fn create(project: &Path, root: &Path, run_id: &str, hidden: &Hidden, limits: Limits) -> Result<Workspace> {
        create_private_dir(root)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("slipway-run-{run_id}-"))
            .tempdir_in(root)
            .with_context(|| format!("cannot create a workspace in {}", root.display()))?;
        let started = std::time::Instant::now();
        let mut stats = copy_tree(project, dir.path(), hidden, limits)?;
        stats.took = started.elapsed();
        Ok(Workspace { dir: WorkspaceDir::Copy(dir), stats })
    }

    /// Use `dir`, a fresh checkout made for this run alone, as the workspace without copying
    /// it: what a copy would leave out (`.git`, whose objects are hard links into the
    /// server's mirror, key files, decrypted files) is removed in place instead.
    /// [`Workspace::remove`] leaves the folder to whoever made it (it may be kept).
    pub fn adopt(dir: &Path, hidden: &Hidden) -> Result<Workspace> {
        let started = std::time::Instant::now();
        let mut stats = scrub_tree(dir, hidden)?;
        stats.took = started.elapsed();
        Ok(Workspace { dir: WorkspaceDir::Adopted(dir.to_path_buf()), stats })
    }

    pub fn path(&self) -> &Path {
        match &self.dir {
            WorkspaceDir::Copy(d) => d.path(),
            WorkspaceDir::Adopted(p) => p,
        }
    }

    pub fn remove(self) -> Result<()> {
        match self.dir {
            WorkspaceDir::Copy(d) => {
                let path = d.path().to_path_buf();
                d.close().with_context(|| format!("cannot remove the run's workspace {}", path.display()))
            }
            WorkspaceDir::Adopted(_) => Ok(()),
        }
    }
}

/// Removes from the tree at `root`, in place, what [`copy_tree`] would leave out; symbolic
/// links are never followed.
fn scrub_tree(root: &Path, hidden: &Hidden) -> Result<CopyStats> {
    let sniff = hidden.sniff_limit();
    let mut stats = CopyStats::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let read = std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in read {
            let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
            let path = entry.path();
            let ft = entry.file_type().with_context(|| format!("cannot read {}", path.display()))?;
            let skipped = SKIPPED_NAMES.iter().any(|s| entry.file_name() == *s);
            let secret = !skipped && ft.is_file() && {
                let len = entry.metadata().with_context(|| format!("cannot read {}", path.display()))?.len();
                stats.bytes += len;
                len <= sniff
                    && hidden
                        .holds_secret(&std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?)
            };
            if skipped || secret {
                stats.hidden += 1;
                let removed = if ft.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                removed.with_context(|| format!("cannot remove {}", path.display()))?;
            } else if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                stats.files += 1;
            }
        }
    }
    Ok(stats)
}

/// `dir` and missing parents; `dir` itself owner-only when this creates it.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut b = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    match b.create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(e).with_context(|| format!("cannot create {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Remove what runs of a previous server process left (it stopped during them).
pub fn sweep(root: &Path) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(root) else { return Ok(0) };
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        std::fs::remove_dir_all(&path)
            .with_context(|| format!("cannot remove the old workspace {}", path.display()))?;
        removed += 1;
    }
    Ok(removed)
}

/// Copy the tree at `src` into the existing folder `dst`: folders, regular files (mode
/// without setuid/setgid/sticky bits) and symbolic links as links, never followed, so a
/// link cannot pull in anything from outside the project. Other file types are skipped.
pub fn copy_tree(src: &Path, dst: &Path, hidden: &Hidden, limits: Limits) -> Result<CopyStats> {
    let sniff = hidden.sniff_limit();
    let mut stats = CopyStats::default();
    let mut entries = 0usize;
    // Folder modes are applied last, deepest first: a read-only folder must still be filled.
    let mut dir_modes: Vec<(PathBuf, u32)> = vec![(dst.to_path_buf(), mode_of(src)?)];
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let from_dir = src.join(&rel);
        let read = std::fs::read_dir(&from_dir).with_context(|| format!("cannot read {}", from_dir.display()))?;
        for entry in read {
            let entry = entry.with_context(|| format!("cannot read {}", from_dir.display()))?;
            let name = entry.file_name();
            let rel_path = rel.join(&name);
            if SKIPPED_NAMES.iter().any(|s| name == *s) {
                stats.hidden += 1;
                continue;
            }
            entries += 1;
            if entries > limits.max_entries {
                bail!(
                    "the project folder {} has more than {} files and folders, the most a server run copies \
                     (at {}); remove what the pipeline does not need",
                    src.display(),
                    limits.max_entries,
                    rel_path.display()
                );
            }
            let (from, to) = (entry.path(), dst.join(&rel_path));
            let ft = entry.file_type().with_context(|| format!("cannot read {}", from.display()))?;
            if ft.is_symlink() {
                let target =
                    std::fs::read_link(&from).with_context(|| format!("cannot read link {}", from.display()))?;
                std::os::unix::fs::symlink(&target, &to).with_context(|| format!("cannot copy {}", from.display()))?;
            } else if ft.is_dir() {
                std::fs::create_dir(&to).with_context(|| format!("cannot create {}", to.display()))?;
                dir_modes.push((to, mode_of(&from)?));
                stack.push(rel_path);
            } else if ft.is_file() {
                let meta = entry.metadata().with_context(|| format!("cannot read {}", from.display()))?;
                stats.bytes += meta.len();
                if stats.bytes > limits.max_bytes {
                    bail!(
                        "the project folder {} holds more than {} MiB, the most a server run copies (at {}); \
                         remove what the pipeline does not need",
                        src.display(),
                        limits.max_bytes / 1024 / 1024,
                        rel_path.display()
                    );
                }
                if !copy_file(&from, &to, meta.len(), sniff, hidden)? {
                    stats.hidden += 1;
                    continue;
                }
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.permissions().mode() & 0o777))
                    .with_context(|| format!("cannot copy {}", from.display()))?;
                stats.files += 1;
            }
        }
    }
    for (dir, mode) in dir_modes.into_iter().rev() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", dir.display()))?;
    }
    Ok(stats)
}

fn mode_of(path: &Path) -> Result<u32> {
    Ok(std::fs::symlink_metadata(path).with_context(|| format!("cannot read {}", path.display()))?.permissions().mode()
        & 0o777)
}

/// Copy one regular file; `false` when it holds a secret and was left out.
fn copy_file(from: &Path, to: &Path, len: u64, sniff: u64, hidden: &Hidden) -> Result<bool> {
    if len > sniff {
        std::fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
        return Ok(true);
    }
    let bytes = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    if hidden.holds_secret(&bytes) {
        return Ok(false);
    }
    std::fs::write(to, &bytes).with_context(|| format!("cannot copy {}", from.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            for e in std::fs::read_dir(dir.join(&rel)).unwrap() {
                let e = e.unwrap();
                let r = rel.join(e.file_name());
                if e.file_type().unwrap().is_dir() {
                    stack.push(r.clone());
                }
                out.push(r.display().to_string());
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_copy_leaves_out_git_keys_and_plaintexts_and_keeps_links_as_links() {
        let src = tempfile::tempdir().unwrap();
        let s = src.path();
        let key = Key::from_bytes([7; 32]);
        std::fs::create_dir_all(s.join(".git/hooks")).unwrap();
        std::fs::write(s.join(".git/config"), "[core]\n").unwrap();
        std::fs::create_dir_all(s.join("sub/ro")).unwrap();
        std::fs::write(s.join("codeship.aes"), key.to_file_text()).unwrap();
        std::fs::write(s.join("sub/codeship.aes"), "another key, whatever it holds\n").unwrap();
        std::fs::write(s.join("sub/key-backup.txt"), format!("  {}\r\n", key.to_file_text().trim())).unwrap();
        std::fs::write(s.join("staging.aes"), Key::from_bytes([8; 32]).to_file_text()).unwrap();
        std::fs::write(s.join("sub/not-a-key.txt"), "c2hvcnQ=\n").unwrap();
        std::fs::write(s.join("env"), "TOKEN=t0ps3cret\n").unwrap();
        std::fs::write(s.join("env.encrypted"), "ciphertext").unwrap();
        std::fs::write(s.join("sub/ro/run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(s.join("sub/ro/run.sh"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::fs::write(s.join("big.bin"), vec![b'x'; 100_000]).unwrap();
        std::os::unix::fs::symlink("/etc", s.join("etc-link")).unwrap();
        std::os::unix::fs::symlink("../env", s.join("sub/env-link")).unwrap();
        std::fs::set_permissions(s.join("sub/ro"), std::fs::Permissions::from_mode(0o555)).unwrap();

        let root = tempfile::tempdir().unwrap();
        let hidden = Hidden { plaintexts: vec![b"TOKEN=t0ps3cret".to_vec()] };
        let ws = Workspace::create(s, &root.path().join("workspaces"), "r1", &hidden, LIMITS).unwrap();
        let d = ws.path();
        assert_eq!(
            names(d),
            [
                "big.bin",
                "env.encrypted",
                "etc-link",
                "sub",
                "sub/env-link",
                "sub/not-a-key.txt",
                "sub/ro",
                "sub/ro/run.sh"
            ],
            "copied"
        );
        assert_eq!(ws.stats.hidden, 6, "{:?}", ws.stats);
        assert_eq!(std::fs::read_link(d.join("etc-link")).unwrap(), Path::new("/etc"));
        assert_eq!(std::fs::read_link(d.join("sub/env-link")).unwrap(), Path::new("../env"));
        assert_eq!(std::fs::read(d.join("big.bin")).unwrap().len(), 100_000);
        let mode = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!((mode("sub/ro"), mode("sub/ro/run.sh")), (0o555, 0o755));
        assert_eq!(mode(""), std::fs::metadata(s).unwrap().permissions().mode() & 0o777);
        assert_eq!(mode_of(&root.path().join("workspaces")).unwrap(), 0o700);
        let path = d.to_path_buf();
        ws.remove().unwrap();
        assert!(!path.exists());
        std::fs::set_permissions(s.join("sub/ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn a_project_over_the_limits_is_refused_naming_the_limit() {
        let src = tempfile::tempdir().unwrap();
        for i in 0..20 {
            std::fs::write(src.path().join(format!("f{i:02}")), "0123456789").unwrap();
        }
        let root = tempfile::tempdir().unwrap();
        let few = Limits { max_bytes: 1 << 20, max_entries: 10 };
        let e = Workspace::create(src.path(), root.path(), "r", &Hidden::default(), few).err().unwrap();
        assert!(format!("{e:#}").contains("more than 10 files and folders, the most a server run copies"), "{e:#}");
        let small = Limits { max_bytes: 150, max_entries: 100 };
        let e = Workspace::create(src.path(), root.path(), "r", &Hidden::default(), small).err().unwrap();
        assert!(format!("{e:#}").contains("holds more than 0 MiB"), "{e:#}");
        // Failed copies are removed with their TempDir.
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    /// A 10,000-file tree (100 folders of 100 files of 1 KiB) copies whole; the time is printed
    /// for docs/perf (`cargo test -p slipway --release workspace -- --nocapture`).
    #[test]
    fn a_ten_thousand_file_tree_copies_whole() {
        let src = tempfile::tempdir().unwrap();
        for d in 0..100 {
            let dir = src.path().join(format!("d{d:03}"));
            std::fs::create_dir(&dir).unwrap();
            for f in 0..100 {
                std::fs::write(dir.join(format!("f{f:03}.txt")), vec![b'a' + (f % 26) as u8; 1024]).unwrap();
            }
        }
        let root = tempfile::tempdir().unwrap();
        let hidden = Hidden { plaintexts: vec![b"A=1".to_vec()] };
        // The first copy also waits for the tree just written to reach the disk; a project
        // folder on a server has been there for a while, as for the second.
        for round in ["first", "second"] {
            let ws = Workspace::create(src.path(), root.path(), "perf", &hidden, LIMITS).unwrap();
            assert_eq!((ws.stats.files, ws.stats.bytes), (10_000, 10_000 * 1024));
            assert_eq!(names(ws.path()).len(), 10_100);
            println!("{round} copy of 10,000 files ({} KiB): {:?}", ws.stats.bytes / 1024, ws.stats.took);
            ws.remove().unwrap();
        }
    }
}
