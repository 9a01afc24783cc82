//! Build values from the local git checkout, as jet took them.

use std::path::Path;
use std::process::Command;

#[derive(Debug, Default, Clone)]
pub struct GitInfo {
    pub branch: Option<String>,
    pub commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub describe: Option<String>,
    pub repo_name: Option<String>,
}

/// `-c` overrides for every setting that makes git run a program while reading commit data,
/// ignore rules or the index. A repository's `.git/config` is not trusted: whoever could write
/// it (a step with the project mounted, a checkout of someone else's repository) would
/// otherwise run code as the server. Command-line settings win over every config file.
/// Checked against git 2.47 for the commands below: `log` runs `gpg.*program` when
/// `log.showSignature` is set and HEAD carries a signature; `check-ignore` (and anything
/// reading the index) runs `core.fsmonitor`; index writes run the `post-index-change` hook;
/// `core.pager` and `diff.external` are defused in case a command ever pages or diffs.
pub(crate) const SAFE_CONFIG: &[&str] = &[
    "log.showSignature=false",
    "gpg.program=false",
    "gpg.openpgp.program=false",
    "gpg.x509.program=false",
    "gpg.ssh.program=false",
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "diff.external=",
    "core.untrackedCache=false",
];

/// A git command that reads the repository at `dir` without running anything it names.
pub(crate) fn git_command(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("--no-pager");
    for setting in SAFE_CONFIG {
        c.arg("-c").arg(setting);
    }
    c.arg("-C").arg(dir);
    // The system config is outside the user's control; optional locks would write the index.
    c.env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_OPTIONAL_LOCKS", "0").env("GIT_PAGER", "cat");
    c.env("GIT_TERMINAL_PROMPT", "0").env_remove("GIT_EXTERNAL_DIFF");
    c
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = git_command(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim_end().to_string();
    (!s.is_empty()).then_some(s)
}

impl GitInfo {
    /// Everything we can learn; missing git or a folder outside a repository gives `None`s.
    pub fn read(dir: &Path) -> GitInfo {
        if git(dir, &["rev-parse", "--is-inside-work-tree"]).as_deref() != Some("true") {
            return GitInfo::default();
        }
        GitInfo {
            branch: git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD"),
            commit_id: git(dir, &["rev-parse", "HEAD"]),
            commit_message: git(dir, &["log", "-1", "--no-show-signature", "--format=%B"]),
            committer_name: git(dir, &["log", "-1", "--no-show-signature", "--format=%cn"]),
            committer_email: git(dir, &["log", "-1", "--no-show-signature", "--format=%ce"]),
            describe: git(dir, &["describe", "--abbrev=1", "--tags", "--always"]),
            repo_name: git(dir, &["rev-parse", "--show-toplevel"])
                .and_then(|t| Path::new(&t).file_name().map(|n| n.to_string_lossy().into_owned())),
        }
    }

    /// Is `path` inside a git work tree and not ignored? (None: not in a repository.)
    pub fn tracked_candidate(path: &Path) -> Option<bool> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if git(dir, &["rev-parse", "--is-inside-work-tree"]).as_deref() != Some("true") {
            return None;
        }
        let name = path.file_name()?.to_string_lossy().into_owned();
        let ignored =
            git_command(dir).args(["check-ignore", "-q", "--", &name]).status().map(|s| s.success()).unwrap_or(false);
        Some(!ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A repository whose HEAD is a commit with a (fake) signature and whose `.git/config` makes
    /// git run `.git/x.sh` for a signature check, for hooks and for the file system monitor:
    /// what a step could write through a read-write mount of the project folder.
    fn booby_trapped_repo(marker: &Path) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        sh(dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("f"), "x").unwrap();
        sh(dir, &["add", "f"]);
        sh(dir, &["-c", "user.name=a", "-c", "user.email=a@x", "commit", "-qm", "init"]);
        let tree = sh(dir, &["rev-parse", "HEAD^{tree}"]);
        let commit = format!(
            "tree {tree}\nauthor A <a@x> 1700000000 +0000\ncommitter Mallory <m@x> 1700000000 +0000\n\
             gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned-looking\n"
        );
        let mut child = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["hash-object", "-t", "commit", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(commit.as_bytes()).unwrap();
        let sha = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        sh(dir, &["update-ref", "refs/heads/main", sha.trim()]);
        std::fs::create_dir(dir.join(".git/hooks-x")).unwrap();
        let script = format!("#!/bin/sh\ntouch {}\n", marker.display());
        for f in [".git/x.sh", ".git/hooks-x/post-index-change"] {
            std::fs::write(dir.join(f), &script).unwrap();
            std::fs::set_permissions(dir.join(f), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let mut config = std::fs::OpenOptions::new().append(true).open(dir.join(".git/config")).unwrap();
        write!(
            config,
            "[log]\n\tshowSignature = true\n[gpg]\n\tprogram = .git/x.sh\n[gpg \"ssh\"]\n\tprogram = .git/x.sh\n\
             [core]\n\tfsmonitor = .git/x.sh\n\thooksPath = .git/hooks-x\n\tpager = .git/x.sh\n"
        )
        .unwrap();
        d
    }

    #[test]
    fn the_repository_config_cannot_make_git_run_programs() {
        let marks = tempfile::tempdir().unwrap();
        let marker = marks.path().join("ran");
        let repo = booby_trapped_repo(&marker);
        // The trap is real: plain git runs the script for `log` and `check-ignore`.
        for args in [&["log", "-1", "--format=%B"][..], &["check-ignore", "-q", "--", "f"]] {
            let _ = Command::new("git").arg("-C").arg(repo.path()).args(args).output().unwrap();
            assert!(marker.exists(), "the trap did not fire for git {args:?}");
            std::fs::remove_file(&marker).unwrap();
        }
        let info = GitInfo::read(repo.path());
        assert_eq!(info.commit_message.as_deref(), Some("signed-looking"));
        assert_eq!(info.committer_name.as_deref(), Some("Mallory"));
        assert_eq!(info.branch.as_deref(), Some("main"));
        assert!(info.commit_id.is_some() && info.describe.is_some(), "{info:?}");
        assert_eq!(GitInfo::tracked_candidate(&repo.path().join("f")), Some(true));
        assert!(!marker.exists(), "git ran a program named by the repository's config");
    }
}
