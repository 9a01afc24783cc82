//! Every encrypted file and inline value a configuration references, in one list: what
//! `slipway rekey` rewrites, what an export must provide a key for, what a run decrypts.

use super::services::{ServicesFile, Str};
use super::steps::{Step, StepKind, StepsFile};

/// What an encrypted reference decrypts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    /// `KEY=value` lines (an env file, build args).
    EnvLines,
    /// A dockercfg / docker `config.json`.
    DockerCfg,
}

/// Whether the ciphertext is a file next to the configuration or inline in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    /// The value is a path, relative to the services file's folder.
    File,
    /// The value is the ciphertext itself.
    Inline,
}

/// Who holds the reference: a service, or a step (named, or `(unnamed)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    Service(&'a str),
    Step(&'a str),
}

/// One reference, with the configuration key that holds it.
#[derive(Clone, Copy, Debug)]
pub struct EncryptedRef<'a> {
    pub owner: Owner<'a>,
    /// The key as written: `encrypted_env_file`, `build.encrypted_args`, …
    pub key: &'static str,
    pub value: &'a Str,
    pub holds: Holds,
    pub place: Where,
}

impl EncryptedRef<'_> {
    /// "`encrypted_env_file` of service `app`": how messages name the reference.
    pub fn describe(&self) -> String {
        match self.owner {
            Owner::Service(n) => format!("`{}` of service `{n}`", self.key),
            Owner::Step(n) => format!("`{}` of step `{n}`", self.key),
        }
    }
}

/// Every reference, files first (services in file order, then steps depth-first with their
/// groups and `on_fail` steps), then the inline values. A file named twice is listed twice:
/// callers that write files de-duplicate by resolved path.
pub fn encrypted_refs<'a>(services: &'a ServicesFile, steps: &'a StepsFile) -> Vec<EncryptedRef<'a>> {
    let mut out = Vec::new();
    for svc in &services.services {
        let owner = Owner::Service(&svc.name.value);
        let r = |key, value, holds, place| EncryptedRef { owner, key, value, holds, place };
        out.extend(svc.encrypted_env_file.iter().map(|f| r("encrypted_env_file", f, Holds::EnvLines, Where::File)));
        if let Some(f) = svc.build.as_ref().and_then(|b| b.encrypted_args_file.as_ref()) {
            out.push(r("build.encrypted_args_file", f, Holds::EnvLines, Where::File));
        }
        if let Some(f) = &svc.encrypted_dockercfg_path {
            out.push(r("encrypted_dockercfg_path", f, Holds::DockerCfg, Where::File));
        }
    }
    walk_steps(&steps.steps, &mut out);
    for svc in &services.services {
        let owner = Owner::Service(&svc.name.value);
        let r = |key, value| EncryptedRef { owner, key, value, holds: Holds::EnvLines, place: Where::Inline };
        out.extend(svc.encrypted_environment.iter().map(|b| r("encrypted_environment", b)));
        if let Some(b) = svc.build.as_ref().and_then(|b| b.encrypted_args.as_ref()) {
            out.push(r("build.encrypted_args", b));
        }
    }
    out
}

fn walk_steps<'a>(steps: &'a [Step], out: &mut Vec<EncryptedRef<'a>>) {
    for step in steps {
        if let Some(f) = &step.encrypted_dockercfg_path {
            let name = step.name.as_ref().map_or("(unnamed)", |n| n.value.as_str());
            out.push(EncryptedRef {
                owner: Owner::Step(name),
                key: "encrypted_dockercfg_path",
                value: f,
                holds: Holds::DockerCfg,
                place: Where::File,
            });
        }
        if let StepKind::Group { steps, .. } = &step.kind {
            walk_steps(steps, out);
        }
        walk_steps(&step.on_fail, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    #[test]
    fn lists_every_kind_of_reference_in_order_with_its_owner() {
        let services = SourceFile::new(
            "codeship-services.yml",
            "app:\n  build:\n    encrypted_args_file: args.enc\n    encrypted_args: BLOB2\n  encrypted_env_file: [a.enc, b.enc]\n  \
             encrypted_environment: BLOB1\n  encrypted_dockercfg_path: pull.enc\n",
        );
        let steps = SourceFile::new(
            "codeship-steps.yml",
            "- type: serial\n  steps:\n    - name: push\n      service: app\n      type: push\n      image_name: x/y\n      \
             encrypted_dockercfg_path: push.enc\n- service: app\n  command: 'false'\n  on_fail:\n    - service: app\n      \
             command: echo\n      encrypted_dockercfg_path: fail.enc\n",
        );
        let checked = crate::check(&services, &steps);
        let refs = encrypted_refs(&checked.services, &checked.steps);
        let got: Vec<_> = refs.iter().map(|r| (r.describe(), r.value.value.as_str(), r.holds, r.place)).collect();
        use Holds::*;
        use Where::*;
        assert_eq!(
            got,
            [
                ("`encrypted_env_file` of service `app`".to_string(), "a.enc", EnvLines, File),
                ("`encrypted_env_file` of service `app`".to_string(), "b.enc", EnvLines, File),
                ("`build.encrypted_args_file` of service `app`".to_string(), "args.enc", EnvLines, File),
                ("`encrypted_dockercfg_path` of service `app`".to_string(), "pull.enc", DockerCfg, File),
                ("`encrypted_dockercfg_path` of step `push`".to_string(), "push.enc", DockerCfg, File),
                ("`encrypted_dockercfg_path` of step `(unnamed)`".to_string(), "fail.enc", DockerCfg, File),
                ("`encrypted_environment` of service `app`".to_string(), "BLOB1", EnvLines, Inline),
                ("`build.encrypted_args` of service `app`".to_string(), "BLOB2", EnvLines, Inline),
            ]
        );
    }
}
