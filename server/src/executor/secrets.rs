//! Decrypt, up front, every encrypted value a run can need, so the masker knows each secret
//! before any container prints anything. Values stay in memory only.

use super::mask::Masker;
use anyhow::{Context, Result, anyhow};
use slipway_core::crypto::{self, Key};
use slipway_core::dockercfg::DockerCfg;
use slipway_core::envfile;
use slipway_core::model::ServicesFile;
use slipway_core::plan::{Plan, PlannedStep, Status};
use std::collections::HashMap;
use std::path::Path;

#[derive(Default)]
pub struct Secrets {
    /// Per service: variables from `encrypted_environment` and `encrypted_env_file`, in order.
    pub env: HashMap<String, Vec<(String, String)>>,
    /// Per service: build args from `encrypted_args_file` and `encrypted_args`.
    pub build_args: HashMap<String, Vec<(String, String)>>,
    /// Decrypted dockercfg files by their path as written in the configuration.
    pub dockercfgs: HashMap<String, DockerCfg>,
    /// Everything decrypted, as decrypted: a server run's workspace leaves out files that
    /// hold exactly one of these (a plaintext left next to its encrypted file).
    pub plaintexts: Vec<Vec<u8>>,
}

/// `confine` is set for the server's runs: what to do is then said in `slipway serve`'s terms.
fn need_key(key: Option<&Key>, confine: bool, what: &str) -> Result<Key> {
    key.cloned().ok_or_else(|| {
        if confine {
            // A repository project never takes the key from its checkout (anyone who can push
            // could plant one), so the folder is named for folder projects only.
            anyhow!("no key: {what} is encrypted, but this project has no key on the server (start `slipway serve` with --key NAME=PATH, or set `key = \"PATH\"` in its [[project]] of slipway.toml; a folder project also finds codeship.aes in its folder)")
        } else {
            anyhow!("no key: {what} is encrypted, but no project key was found (pass --key-path, or put codeship.aes in the project folder)")
        }
    })
}

/// Encrypted env files, build args and dockercfgs are small; this bounds what a run reads
/// (and what `slipway rekey` and `slipway export --secrets-to` read: the same files).
pub const MAX_ENCRYPTED: u64 = 16 * 1024 * 1024;

fn decrypt_file(dir: &Path, confine: bool, rel: &str, key: &Key) -> Result<Vec<u8>> {
    let path = super::paths::project_file(dir, rel, confine)?;
    let data = crate::fsutil::read_limited(&path, MAX_ENCRYPTED).context("cannot read encrypted file")?;
    let (plain, _) = crypto::decrypt(key, &data).with_context(|| format!("cannot decrypt {}", path.display()))?;
    Ok(plain)
}

fn decrypt_blob(blob: &str, key: &Key, what: &str) -> Result<Vec<u8>> {
    // Inline values are v1/v2/aead text, possibly written on one line without the header's LF.
    let (plain, _) = crypto::decrypt(key, blob.trim().as_bytes()).with_context(|| format!("cannot decrypt {what}"))?;
    Ok(plain)
}

fn env_lines(bytes: Vec<u8>, what: &str) -> Result<Vec<(String, String)>> {
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow!("{what} did not decrypt to text; the key may be wrong (v1 files have no integrity check)")
    })?;
    envfile::parse(&text).with_context(|| format!("{what} is not a KEY=VALUE file (is the key right?)"))
}

/// Every step that runs a container if the run gets to it: the leaves that will run and their
/// `on_fail` steps (which `Plan::leaves` leaves out), at any depth.
fn steps_that_may_run(plan: &Plan) -> Vec<&PlannedStep> {
    fn walk<'a>(s: &'a PlannedStep, out: &mut Vec<&'a PlannedStep>) {
        if s.status != Status::WillRun {
            return;
        }
        if s.steps.is_empty() {
            out.push(s);
        }
        s.steps.iter().chain(&s.on_fail).for_each(|c| walk(c, out));
    }
    let mut out = Vec::new();
    plan.steps.iter().for_each(|s| walk(s, &mut out));
    out
}

impl Secrets {
    pub fn prepare(
        dir: &Path,
        confine: bool,
        services: &ServicesFile,
        plan: &Plan,
        key: Option<&Key>,
        masker: &mut Masker,
    ) -> Result<Secrets> {
        let mut s = Secrets::default();
        for svc in &services.services {
            let name = &svc.name.value;
            let mut env = Vec::new();
            for blob in &svc.encrypted_environment {
                let k = need_key(key, confine, &format!("`encrypted_environment` of service `{name}`"))?;
                let plain = s.keep(decrypt_blob(&blob.value, &k, "encrypted_environment")?);
                env.extend(env_lines(plain, "encrypted_environment")?);
            }
            for f in &svc.encrypted_env_file {
                let k = need_key(key, confine, &f.value)?;
                let plain = s.keep(decrypt_file(dir, confine, &f.value, &k)?);
                env.extend(env_lines(plain, &f.value)?);
            }
            let mut args = Vec::new();
            if let Some(b) = &svc.build {
                if let Some(f) = &b.encrypted_args_file {
                    let k = need_key(key, confine, &f.value)?;
                    let plain = s.keep(decrypt_file(dir, confine, &f.value, &k)?);
                    args.extend(env_lines(plain, &f.value)?);
                }
                if let Some(blob) = &b.encrypted_args {
                    let k = need_key(key, confine, &format!("`build.encrypted_args` of service `{name}`"))?;
                    let plain = s.keep(decrypt_blob(&blob.value, &k, "build.encrypted_args")?);
                    args.extend(env_lines(plain, "build.encrypted_args")?);
                }
            }
            masker.extend(env.iter().chain(&args).map(|(_, v)| v));
            if !env.is_empty() {
                s.env.insert(name.clone(), env);
            }
            if !args.is_empty() {
                s.build_args.insert(name.clone(), args);
            }
            if let Some(p) = &svc.encrypted_dockercfg_path {
                s.load_dockercfg(dir, confine, &p.value, key, masker)?;
            }
        }
        for step in steps_that_may_run(plan) {
            if let Some(p) = &step.encrypted_dockercfg_path {
                s.load_dockercfg(dir, confine, p, key, masker)?;
            }
        }
        Ok(s)
    }

    /// Remember a plaintext; returns it for parsing.
    fn keep(&mut self, plain: Vec<u8>) -> Vec<u8> {
        self.plaintexts.push(plain.clone());
        plain
    }

    fn load_dockercfg(
        &mut self,
        dir: &Path,
        confine: bool,
        rel: &str,
        key: Option<&Key>,
        masker: &mut Masker,
    ) -> Result<()> {
        if self.dockercfgs.contains_key(rel) {
            return Ok(());
        }
        let k = need_key(key, confine, rel)?;
        let plain = self.keep(decrypt_file(dir, confine, rel, &k)?);
        let cfg = DockerCfg::parse(&plain).with_context(|| format!("in {rel}"))?;
        masker.extend(cfg.secrets());
        self.dockercfgs.insert(rel.to_string(), cfg);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::SourceFile;
    use slipway_core::plan::{PlanOptions, plan};

    /// An `on_fail` step's `encrypted_dockercfg_path` is decrypted with the others, so its
    /// credentials exist when it runs and are masked from the start.
    #[test]
    fn on_fail_steps_get_their_dockercfg() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::from_bytes([7; 32]);
        let cfg = br#"{"auths":{"registry.example.com":{"auth":"dTpzM2NyZXQtcGFzcw=="}}}"#;
        let sealed = crypto::encrypt(&key, cfg, crypto::Format::Aead, &[1; crypto::RANDOM_BYTES]).unwrap();
        std::fs::write(dir.path().join("dockercfg.encrypted"), sealed).unwrap();
        let services = SourceFile::new("codeship-services.yml", "app:\n  image: busybox\n");
        let steps = SourceFile::new(
            "codeship-steps.yml",
            "- service: app\n  command: 'false'\n  on_fail:\n    - service: app\n      command: echo failed\n      encrypted_dockercfg_path: dockercfg.encrypted\n",
        );
        let checked = slipway_core::check(&services, &steps);
        assert!(!checked.report.has_errors(), "{:?}", checked.report.diagnostics);
        let p = plan(&checked.services, &checked.steps, &PlanOptions::default());
        let mut masker = Masker::new();
        let s = Secrets::prepare(dir.path(), true, &checked.services, &p, Some(&key), &mut masker).unwrap();
        assert!(s.dockercfgs.contains_key("dockercfg.encrypted"), "the on_fail step's dockercfg was not read");
        assert_eq!(masker.mask("login u s3cret-pass"), "login u ***");
    }

    /// Without a key, a server run (confined) says how to give the server one; the CLI keeps
    /// its own flag. (The studio showed the CLI's `--key-path` for server runs.)
    #[test]
    fn a_missing_key_is_explained_in_the_terms_of_the_front_end() {
        let services =
            SourceFile::new("codeship-services.yml", "app:\n  image: busybox\n  encrypted_environment: c2VjcmV0\n");
        let steps = SourceFile::new("codeship-steps.yml", "- service: app\n  command: 'true'\n");
        let checked = slipway_core::check(&services, &steps);
        let p = plan(&checked.services, &checked.steps, &PlanOptions::default());
        let dir = tempfile::tempdir().unwrap();
        let error = |confine| {
            let e = Secrets::prepare(dir.path(), confine, &checked.services, &p, None, &mut Masker::new());
            format!("{:#}", e.err().expect("a run without its key"))
        };
        let (server, cli) = (error(true), error(false));
        assert!(
            server.contains("start `slipway serve` with --key NAME=PATH") && !server.contains("--key-path"),
            "{server}"
        );
        assert!(cli.contains("pass --key-path") && !cli.contains("slipway serve"), "{cli}");
    }
}
