//! Errors and messages as a run's record shows them to anyone (`GET /api/runs/{id}` needs no
//! token): the server's folders and key files become names relative to the project; the full
//! text goes to the server's log.

use super::Manager;

/// An error as the run's record shows it to anyone (`GET /api/runs/{id}` needs no token):
/// the server's folders become project-relative names; the full text goes to the log.
pub(super) fn public_message(m: &Manager, e: &anyhow::Error) -> String {
    public_text(m, &format!("{e:#}"))
}

pub(super) fn public_text(m: &Manager, text: &str) -> String {
    let mut text = text.to_string();
    for p in &m.projects {
        if let Some(key) = &p.key {
            text = text.replace(&key.display().to_string(), "the project key");
        }
        if let Some(r) = p.repo() {
            // ssh names them in its errors ("UNPROTECTED PRIVATE KEY FILE", "Offending key in").
            if let Some(k) = &r.config.ssh_key {
                text = text.replace(&k.display().to_string(), "the project's ssh key");
            }
            if let Some(k) = &r.config.ssh_known_hosts {
                text = text.replace(&k.display().to_string(), "the project's known_hosts file");
            }
            // A checkout's folder name: `CHECKOUTS/<sha>-XXXX/file` → `file`.
            text = strip_under(&text, &p.dir().display().to_string(), "");
            // A failed clone or fetch names the mirror's folder.
            text = text.replace(&r.data_dir.display().to_string(), "DATA_DIR");
        }
        let dir = p.dir().display().to_string();
        text = text.replace(&format!("{dir}/"), "").replace(&dir, "the project folder");
    }
    // A run's copy of the project (`WORKSPACES/slipway-run-…/`) is the project folder too.
    let root = m.policy.workspaces.clone().unwrap_or_else(std::env::temp_dir);
    strip_under(&text, &root.display().to_string(), "slipway-run-")
}

/// `ROOT/PREFIX-ID-X/file` → `file`, `ROOT/PREFIX-ID-X` → `the project folder`: paths in
/// a run's copy (or checkout) of its project, as the configuration names them.
pub(super) fn strip_under(text: &str, root: &str, prefix: &str) -> String {
    let marker = format!("{}/{prefix}", root.trim_end_matches('/'));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let end = after.find(|c: char| c == '/' || c.is_whitespace() || c == ':').unwrap_or(after.len());
        if after[end..].starts_with('/') {
            rest = &after[end + 1..];
        } else {
            out.push_str("the project folder");
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::testing::manager;
    use anyhow::anyhow;

    #[test]
    fn paths_in_a_runs_copy_read_as_the_configuration_names_them() {
        let text =
            "cannot read /d/workspaces/slipway-run-ab12-x9/sub/missing.env: gone; in /d/workspaces/slipway-run-ab12-x9";
        assert_eq!(
            strip_under(text, "/d/workspaces/", "slipway-run-"),
            "cannot read sub/missing.env: gone; in the project folder"
        );
        assert_eq!(strip_under("no paths", "/d/workspaces", "slipway-run-"), "no paths");
    }

    /// The record that anyone may read names files relative to the project, not the server's
    /// folders; the full message goes to the log.
    #[test]
    fn errors_on_record_do_not_show_server_paths() {
        let (m, dir) = manager(1);
        let root = dir.path().display().to_string();
        let e = anyhow!("cannot read {root}/env/x.env: No such file").context(format!("project folder {root}"));
        let text = public_message(&m, &e);
        assert_eq!(text, "project folder the project folder: cannot read env/x.env: No such file");
        assert!(!text.contains(&root));
    }
}
