//! What the two forges' `--mode slipway` files share: the `slipway steps` flags besides the
//! build values, and whether the job needs the project key.

use super::{Cx, In};
use crate::argv::quote;
use crate::source::Span;

/// The `slipway steps` flags both forges pass besides the build values.
pub(super) fn flags(cx: &Cx) -> String {
    match cx.input.dir {
        "." | "" => String::new(),
        d => format!(" --dir {}", quote(d)),
    }
}

/// Whether the configuration references anything encrypted, so the job needs `codeship.aes`.
pub(super) fn needs_key(cx: &Cx) -> bool {
    !crate::model::encrypted_refs(&cx.input.checked.services, &cx.input.checked.steps).is_empty()
}

/// The install step's shell for the forge (`root` is where Slipway is installed and cached;
/// `path` puts its `bin` on the job's PATH), or — with no source — a step that stops, and
/// SW502.
pub(super) fn install_script(cx: &mut Cx, root: &str, path: &str) -> String {
    match cx.input.install {
        Some(i) => format!("root={root}\n{}{path}\n", i.script()),
        None => {
            let why = "no pinned Slipway to install: pass `--slipway-source git+URL#COMMIT` or `--slipway-source URL#sha256=HEX` (or set the workspace's `repository` in Cargo.toml before building slipway)";
            cx.fails(In::Steps, Span::at(0), why);
            format!("echo {} >&2\nexit 1\n", quote(&format!("slipway export: {why}")))
        }
    }
}

/// Where a `--mode slipway` job gets Slipway: pinned, so every pipeline runs the Slipway the
/// export was made for, and verifiable (a git commit is named by the hash of its content; a
/// binary is checked against its SHA-256 before it runs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Install {
    /// `cargo install --git URL --rev COMMIT` (the server's studio is not needed to run steps).
    Git { url: String, rev: String },
    /// A prebuilt Linux binary.
    Binary { url: String, sha256: String },
}

impl Install {
    /// `git+URL#COMMIT` (a full 40-hex commit) or `URL#sha256=HEX` (a binary).
    pub fn parse(s: &str) -> Result<Install, String> {
        let (url, pin) = s.rsplit_once('#').ok_or_else(|| format!("`{s}` has no `#`: {}", Self::FORMS))?;
        let hex = |h: &str, n: usize| h.len() == n && h.bytes().all(|b| b.is_ascii_hexdigit());
        let web = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        let plain = |u: &str| !u.chars().any(|c| c.is_whitespace() || c.is_control() || "'\"`$\\".contains(c));
        if !plain(url) {
            return Err(format!("`{url}` holds a quote, a space or a `$`"));
        }
        if let Some(repo) = url.strip_prefix("git+") {
            if !(web(repo) || repo.starts_with("ssh://")) {
                return Err(format!("`{repo}` is not an https://, http:// or ssh:// git URL"));
            }
            if !hex(pin, 40) {
                return Err(format!("`{pin}` is not a full commit (40 hex digits): a branch or tag can move"));
            }
            return Ok(Install::Git { url: repo.to_string(), rev: pin.to_ascii_lowercase() });
        }
        let sha = pin.strip_prefix("sha256=").ok_or_else(|| format!("`#{pin}`: {}", Self::FORMS))?;
        if !web(url) || !hex(sha, 64) {
            return Err(format!("`{s}`: {}", Self::FORMS));
        }
        Ok(Install::Binary { url: url.to_string(), sha256: sha.to_ascii_lowercase() })
    }

    const FORMS: &'static str =
        "give `git+URL#COMMIT` (40 hex digits) or `https://…/slipway#sha256=HEX` (64 hex digits)";

    /// A cache key that changes with the pin.
    pub(super) fn cache_key(&self) -> String {
        match self {
            Install::Git { rev, .. } => format!("slipway-git-{}", &rev[..12]),
            Install::Binary { sha256, .. } => format!("slipway-bin-{}", &sha256[..12]),
        }
    }

    /// Shell that installs Slipway into `$root/bin` unless the cache already holds it.
    pub(super) fn script(&self) -> String {
        // Each line stops the job on failure, whatever the runner's shell options.
        let fetch = match self {
            Install::Git { url, rev } => format!(
                "  SLIPWAY_NO_STUDIO=1 cargo install --locked --git '{url}' --rev {rev} --root \"$root\" slipway || exit 1\n"
            ),
            Install::Binary { url, sha256 } => format!(
                "  mkdir -p \"$root/bin\" || exit 1\n  curl -fsSL '{url}' -o \"$root/bin/slipway.download\" || exit 1\n  echo \"{sha256}  $root/bin/slipway.download\" | sha256sum -c - || {{ rm -f \"$root/bin/slipway.download\"; exit 1; }}\n  chmod 0755 \"$root/bin/slipway.download\" && mv \"$root/bin/slipway.download\" \"$root/bin/slipway\" || exit 1\n"
            ),
        };
        format!("if [ ! -x \"$root/bin/slipway\" ]; then\n{fetch}fi\n")
    }
}

#[cfg(test)]
mod tests {
    use super::Install;

    #[test]
    fn sources_are_pinned_or_refused() {
        let rev = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            Install::parse(&format!("git+https://git.example.com/slipway.git#{rev}")),
            Ok(Install::Git { url: "https://git.example.com/slipway.git".into(), rev: rev.into() })
        );
        let sha = "a".repeat(64);
        assert!(matches!(
            Install::parse(&format!("https://x.example/slipway#sha256={sha}")),
            Ok(Install::Binary { .. })
        ));
        for bad in [
            "git+https://git.example.com/slipway.git#main".to_string(),
            "git+https://git.example.com/slipway.git".to_string(),
            format!("git+file:///tmp/x#{rev}"),
            "https://x.example/slipway#sha256=abc".to_string(),
            format!("https://x.example/$(id)#sha256={sha}"),
            format!("ftp://x.example/slipway#sha256={sha}"),
        ] {
            assert!(Install::parse(&bad).is_err(), "{bad} was accepted");
        }
    }
}
