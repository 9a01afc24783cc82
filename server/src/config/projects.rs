//! One `[[project]]` table: its name, no secret written inline, and a folder or a repository.

use super::project::ProjectSource;
use super::raw::RawProject;
use super::{ConfigError, Cx};
use std::path::PathBuf;
use toml::Spanned;

impl Cx<'_> {
    pub(super) fn project(&self, p: RawProject) -> Result<ProjectSource, ConfigError> {
        let name = p.name.get_ref().clone();
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(self.error(
                Some(p.name.span()),
                format!("`name = {name:?}`: a project name is letters, digits, `.`, `_` and `-` (it names a URL and a folder)"),
            ));
        }
        for (key, inline) in [("webhook_secret", &p.webhook_secret), ("token", &p.token)] {
            if let Some(v) = inline {
                return Err(self.at(
                    v,
                    &name,
                    format!(
                        "`{key}` would keep the secret in the config file; put it in a file readable only by the server and set `{key}_file = \"…\"` (or `{key}_env = \"VARIABLE\"`)"
                    ),
                ));
            }
        }
        if let Some(v) = &p.ssh_key {
            return Err(self.at(
                v,
                &name,
                "`ssh_key` would keep the private key in the config file; put it in a file readable only by the server (chmod 600) and set `ssh_key_file = \"…\"`",
            ));
        }
        match (&p.path, &p.repo) {
            (Some(path), Some(_)) => {
                Err(self.at(path, &name, "has both `path` (a folder) and `repo` (a clone URL); keep one"))
            }
            (None, None) => Err(self.at(&p.name, &name, "needs `path` (a folder) or `repo` (a clone URL)")),
            (Some(path), None) => self.folder(&name, path, &p),
            (None, Some(repo)) => self.repo(&name, repo, &p).map(|r| ProjectSource::Repo(Box::new(r))),
        }
    }

    fn folder(&self, name: &str, path: &Spanned<PathBuf>, p: &RawProject) -> Result<ProjectSource, ConfigError> {
        let repo_only = [
            ("branches", p.branches.as_ref().map(|s| s.span())),
            ("exclude", p.exclude.as_ref().map(|s| s.span())),
            ("forge", p.forge.as_ref().map(|s| s.span())),
            ("api_url", p.api_url.as_ref().map(|s| s.span())),
            ("webhook_secret_file", p.webhook_secret_file.as_ref().map(|s| s.span())),
            ("webhook_secret_env", p.webhook_secret_env.as_ref().map(|s| s.span())),
            ("token_file", p.token_file.as_ref().map(|s| s.span())),
            ("token_env", p.token_env.as_ref().map(|s| s.span())),
            ("ssh_key_file", p.ssh_key_file.as_ref().map(|s| s.span())),
            ("ssh_known_hosts_file", p.ssh_known_hosts_file.as_ref().map(|s| s.span())),
            ("poll", p.poll.as_ref().map(|s| s.span())),
            ("keep_workspaces", p.keep_workspaces.as_ref().map(|s| s.span())),
            ("git_timeout", p.git_timeout.as_ref().map(|s| s.span())),
            ("cancel_superseded", p.cancel_superseded.as_ref().map(|s| s.span())),
            ("fork_pull_requests", p.fork_pull_requests.as_ref().map(|s| s.span())),
        ];
        if let Some((key, span)) = repo_only.into_iter().find_map(|(k, s)| s.map(|s| (k, s))) {
            return Err(self.error(
                Some(span),
                format!("project `{name}`: `{key}` applies to repository projects (`repo = …`), not to a folder"),
            ));
        }
        Ok(ProjectSource::Folder {
            name: name.to_string(),
            path: self.base.join(path.get_ref()),
            key: p.key.as_ref().map(|k| self.base.join(k)),
        })
    }
}
