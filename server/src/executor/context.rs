//! The build context as a tar archive, honouring `.dockerignore` as the docker CLI does:
//! patterns are anchored at the context root, `!` re-includes, and the Dockerfile and
//! `.dockerignore` are always sent.

use anyhow::{Context, Result, bail};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::path::{Path, PathBuf};

/// A context larger than this is refused with a hint to add a `.dockerignore`.
pub const MAX_CONTEXT_BYTES: u64 = 512 * 1024 * 1024;

fn matcher(context: &Path) -> Result<Gitignore> {
    let mut b = GitignoreBuilder::new(context);
    if let Ok(text) = std::fs::read_to_string(context.join(".dockerignore")) {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (neg, pat) = match line.strip_prefix('!') {
                Some(p) => ("!", p.trim()),
                None => ("", line),
            };
            // dockerignore patterns are relative to the root, never "match at any depth".
            let pat = pat.trim_start_matches("./").trim_start_matches('/');
            b.add_line(None, &format!("{neg}/{pat}"))
                .with_context(|| format!("invalid .dockerignore pattern `{line}`"))?;
        }
    }
    Ok(b.build()?)
}

/// Tar the context folder. `dockerfile` is relative to the context.
pub fn tar_context(context: &Path, dockerfile: &str) -> Result<Vec<u8>> {
    let ignore = matcher(context)?;
    let always: Vec<PathBuf> = vec![PathBuf::from(dockerfile), PathBuf::from(".dockerignore")];
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut total: u64 = 0;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = context.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&abs)
            .with_context(|| format!("cannot read build context folder {}", abs.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel_path = rel.join(entry.file_name());
            let ft = entry.file_type()?;
            let ignored = ignore.matched_path_or_any_parents(&rel_path, ft.is_dir()).is_ignore();
            if ignored && !always.contains(&rel_path) {
                // An ignored folder may still hold re-included files (`!dir/keep`): descend.
                if ft.is_dir() && has_negations(context) {
                    stack.push(rel_path);
                }
                continue;
            }
            if ft.is_dir() {
                builder.append_dir(&rel_path, entry.path())?;
                stack.push(rel_path);
            } else {
                total += entry.metadata()?.len();
                if total > MAX_CONTEXT_BYTES {
                    bail!(
                        "the build context {} is larger than {} MiB; add a .dockerignore for what the build does not need",
                        context.display(),
                        MAX_CONTEXT_BYTES / 1024 / 1024
                    );
                }
                builder.append_path_with_name(entry.path(), &rel_path)?;
            }
        }
    }
    Ok(builder.into_inner()?)
}

fn has_negations(context: &Path) -> bool {
    std::fs::read_to_string(context.join(".dockerignore")).is_ok_and(|t| t.lines().any(|l| l.trim().starts_with('!')))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regular files in the archive, sorted.
    fn names(tar: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar);
        let mut v: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.header().entry_type().is_file())
            .map(|e| e.path().unwrap().display().to_string())
            .collect();
        v.sort();
        v
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
        let files = names(&tar_context(p, "Dockerfile").unwrap());
        assert_eq!(files, [".dockerignore", "Dockerfile", "logs/keep.log", "src/a.rs", "src/node_modules/x"]);
    }
}
