//! What a decrypted file is, described without revealing secrets: a dockercfg (which
//! registries it has credentials for), an env file (which variable names), text or binary.
//! The studio shows this next to decrypted files; nothing here echoes a password.

use crate::dockercfg::{DockerCfg, normalize_registry};
use crate::plan::{Kind, Plan};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Contents {
    Dockercfg { registries: Vec<String> },
    Env { names: Vec<String> },
    Text { lines: usize },
    Binary { bytes: usize },
}

pub fn inspect(plaintext: &[u8]) -> Contents {
    let Ok(text) = std::str::from_utf8(plaintext) else {
        return Contents::Binary { bytes: plaintext.len() };
    };
    if text.trim_start().starts_with('{')
        && let Ok(cfg) = DockerCfg::parse(plaintext)
    {
        return Contents::Dockercfg { registries: cfg.registries() };
    }
    if let Ok(vars) = crate::envfile::parse(text)
        && !vars.is_empty()
    {
        return Contents::Env { names: vars.into_iter().map(|(k, _)| k).collect() };
    }
    Contents::Text { lines: text.lines().count() }
}

/// A dockercfg with every secret replaced by `***`, safe to display.
pub fn redacted(plaintext: &[u8]) -> Option<String> {
    let cfg = DockerCfg::parse(plaintext).ok()?;
    let mut text = String::from_utf8(plaintext.to_vec()).ok()?;
    for s in cfg.secrets() {
        text = text.replace(&s, "***");
    }
    Some(text)
}

/// For every registry the plan pushes to: does the dockercfg hold an entry for it?
pub fn push_registries_covered(plan: &Plan, cfg: &DockerCfg) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut walk = vec![&plan.steps[..]];
    while let Some(steps) = walk.pop() {
        for s in steps {
            if s.kind == Kind::Push
                && let Some(r) = &s.registry
                && !out.iter().any(|(x, _)| normalize_registry(x) == normalize_registry(r))
            {
                out.push((r.clone(), cfg.lookup(r).is_ok()));
            }
            walk.push(&s.steps);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let cfg = br#"{"auths":{"quay.io":{"auth":"dTpzZWNyZXQ="}}}"#;
        assert_eq!(inspect(cfg), Contents::Dockercfg { registries: vec!["quay.io".into()] });
        assert!(!redacted(cfg).unwrap().contains("dTpzZWNyZXQ="));
        assert_eq!(inspect(b"A=1\nB=2\n"), Contents::Env { names: vec!["A".into(), "B".into()] });
        assert_eq!(inspect(b"hello world"), Contents::Text { lines: 1 });
        assert_eq!(inspect(&[0xff, 0xfe]), Contents::Binary { bytes: 2 });
    }
}
