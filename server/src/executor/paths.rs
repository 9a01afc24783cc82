//! Files and folders the configuration names, relative to the project folder. A server run
//! is confined to that folder (its configuration may come from a request, edited in the
//! studio); the CLI is not, as jet was not (monorepos share env files from a parent folder).

use anyhow::{Context, Result, bail};
use std::path::{Component, Path, PathBuf};

/// `rel` (as written in the configuration) under `dir`; with `confine`, it must exist and
/// resolve (symlinks included) inside `dir`.
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

/// `path` with `.` and `..` resolved lexically (no file system access, symlinks untouched).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_paths_stay_inside_the_project() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.env"), "A=1").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("link.env")).unwrap();
        assert!(project_file(d.path(), "a.env", true).is_ok());
        for bad in ["../../../../etc/hostname", "/etc/hostname", "link.env"] {
            let e = project_file(d.path(), bad, true).unwrap_err().to_string();
            assert!(e.contains("outside the project folder"), "{bad}: {e}");
        }
        assert_eq!(normalize(Path::new("/p/a/../../b/./c")), Path::new("/b/c"));
        // Unconfined (the CLI): as written.
        assert_eq!(project_file(d.path(), "../x.env", false).unwrap(), d.path().join("../x.env"));
    }
}
