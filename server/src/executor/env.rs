//! The environment of a step container, in the spec's precedence (later wins):
//! CI_* values, `environment`, `env_file`, `encrypted_environment`/`encrypted_env_file`,
//! then `-e K=V` from the command line.

use super::run::Run;
use anyhow::{Context, Result};
use slipway_core::envfile;
use slipway_core::model::Service;

/// Ordered variables where a later value replaces an earlier one in place.
#[derive(Default)]
pub struct EnvList(Vec<(String, String)>);

impl EnvList {
    pub fn set(&mut self, k: &str, v: &str) {
        match self.0.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => self.0.push((k.to_string(), v.to_string())),
        }
    }
    pub fn into_docker(self) -> Vec<String> {
        self.0.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

impl Run {
    pub(super) fn ci_env(&self, env: &mut EnvList) {
        let v = &self.spec.vars;
        let ci_name = if v.ci_name.is_empty() { "codeship" } else { v.ci_name.as_str() };
        for (k, val) in [
            ("CI", "true"),
            ("CI_NAME", ci_name),
            ("CI_PROJECT_ID", &v.project_id),
            ("CI_BUILD_ID", &v.build_id),
            ("CI_REPO_NAME", &v.repo_name),
            ("CI_BRANCH", &v.branch),
            ("CI_COMMIT_ID", &v.commit_id),
            ("CI_COMMIT_MESSAGE", &v.commit_message),
            ("CI_COMMIT_DESCRIPTION", &v.commit_description),
            ("CI_COMMITTER_NAME", &v.committer_name),
            ("CI_COMMITTER_EMAIL", &v.committer_email),
            ("CI_COMMITTER_USERNAME", &v.committer_username),
            ("CI_TIMESTAMP", &v.timestamp.to_string()),
            ("CI_STRING_TIME", &v.string_time()),
        ] {
            env.set(k, val);
        }
    }

    pub(super) fn service_env(&self, svc: &Service) -> Result<Vec<String>> {
        let mut env = EnvList::default();
        self.ci_env(&mut env);
        for (k, v) in &svc.environment {
            env.set(&k.value, &v.value);
        }
        for f in &svc.env_file {
            // The env-file parser refuses more than 1 MiB; read no more than that. A server run
            // reads a regular file in its workspace, never through a link a step planted.
            let limit = envfile::MAX_ENV_FILE_BYTES as u64;
            let (path, text) =
                super::paths::read_project_text(&self.spec.dir, &f.value, self.spec.options.confine, limit)
                    .context("cannot read env_file")?;
            for (k, v) in envfile::parse(&text).with_context(|| format!("in env_file {}", path.display()))? {
                env.set(&k, &v);
            }
        }
        for (k, v) in self.secrets.env.get(&svc.name.value).into_iter().flatten() {
            env.set(k, v);
        }
        for (k, v) in &self.spec.options.extra_env {
            env.set(k, v);
        }
        if svc.add_docker {
            if let Ok(host) = std::env::var("DOCKER_HOST") {
                env.set("DOCKER_HOST", &host);
            }
            for k in ["DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
                if let Ok(v) = std::env::var(k) {
                    env.set(k, &v);
                }
            }
        }
        Ok(env.into_docker())
    }
}
