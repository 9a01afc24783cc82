//! Registry credentials: the legacy `.dockercfg` (`{"host": {"auth": …}}`) and `config.json`
//! (`{"auths": {"host": {…}}}`), lookup by registry with Docker Hub aliases, and jet's error
//! text for files that are not JSON (usually: decrypted with the wrong key).

use crate::image_ref::DOCKER_HUB;
use serde_json::{Map, Value};

#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The key as written in the file, e.g. `https://index.docker.io/v1/`.
    pub registry: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub email: Option<String>,
    pub identity_token: Option<String>,
    /// The raw `auth` value (base64 of `user:password`).
    pub auth: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// An entry for `registry` with a user name and password, as `docker login` writes it
    /// (`auth` is base64 of `user:password`).
    pub fn basic(registry: &str, username: &str, password: &str) -> Credential {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        Credential {
            registry: registry.to_string(),
            username: Some(username.to_string()),
            password: Some(password.to_string()),
            email: None,
            identity_token: None,
            auth: Some(auth),
        }
    }

    /// Every secret string of this entry, for masking in logs.
    pub fn secrets(&self) -> Vec<String> {
        [&self.password, &self.identity_token, &self.auth]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DockerCfg {
    pub entries: Vec<Credential>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockercfgError {
    #[error(
        "Failed to parse dockercfg: {go_message}\n  likely causes: the file was encrypted with a different key (check codeship.aes), \
         or it is not a dockercfg/config.json encrypted with this project's key"
    )]
    NotJson { go_message: String },
    #[error("Failed to parse dockercfg: {0}")]
    Shape(String),
    #[error("no credentials for registry `{registry}` in the dockercfg (it has entries for: {known})")]
    MissingEntry { registry: String, known: String },
}

/// Hard limit: a dockercfg is a few KiB.
pub const MAX_DOCKERCFG_BYTES: usize = 1024 * 1024;

impl DockerCfg {
    pub fn parse(bytes: &[u8]) -> Result<DockerCfg, DockercfgError> {
        if bytes.len() > MAX_DOCKERCFG_BYTES {
            return Err(DockercfgError::Shape(format!("file is {} bytes; the limit is 1 MiB", bytes.len())));
        }
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| DockercfgError::NotJson { go_message: go_json_error(bytes, &e) })?;
        let Value::Object(root) = value else {
            return Err(DockercfgError::Shape(format!(
                "json: cannot unmarshal {} into Go value of type map[string]dockercfg",
                go_kind(&value)
            )));
        };
        let map: &Map<String, Value> = match root.get("auths") {
            Some(Value::Object(auths)) => auths,
            Some(other) => {
                return Err(DockercfgError::Shape(format!("`auths` must be an object, found {}", go_kind(other))));
            }
            None => &root,
        };
        let mut entries = Vec::new();
        for (registry, v) in map {
            let Value::Object(o) = v else { continue };
            let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
            let mut c = Credential {
                registry: registry.clone(),
                username: s("username"),
                password: s("password"),
                email: s("email"),
                identity_token: s("identitytoken"),
                auth: s("auth"),
            };
            if let Some(auth) = &c.auth
                && let Some((u, p)) = decode_auth(auth)
            {
                c.username.get_or_insert(u);
                c.password.get_or_insert(p);
            }
            entries.push(c);
        }
        Ok(DockerCfg { entries })
    }

    /// The entry for `registry` (URL or host; Docker Hub aliases match each other).
    pub fn lookup(&self, registry: &str) -> Result<&Credential, DockercfgError> {
        let want = normalize_registry(registry);
        self.entries.iter().find(|c| normalize_registry(&c.registry) == want).ok_or_else(|| {
            DockercfgError::MissingEntry {
                registry: registry.to_string(),
                known: if self.entries.is_empty() { "none".into() } else { self.registries().join(", ") },
            }
        })
    }

    pub fn registries(&self) -> Vec<String> {
        self.entries.iter().map(|c| c.registry.clone()).collect()
    }

    pub fn secrets(&self) -> Vec<String> {
        self.entries.iter().flat_map(Credential::secrets).collect()
    }

    /// The `config.json` form (`{"auths": {host: {"auth": …}}}`), which [`DockerCfg::parse`]
    /// reads back to the same entries: `auth` carries the user name and password (made from
    /// them when the entry has no `auth`).
    pub fn to_json(&self) -> String {
        use base64::Engine;
        let mut auths = Map::new();
        for c in &self.entries {
            let mut o = Map::new();
            let auth = c.auth.clone().or_else(|| match (&c.username, &c.password) {
                (Some(u), Some(p)) => Some(base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))),
                _ => None,
            });
            let fields = [("auth", auth), ("email", c.email.clone()), ("identitytoken", c.identity_token.clone())];
            for (k, v) in fields {
                if let Some(v) = v {
                    o.insert(k.to_string(), Value::String(v));
                }
            }
            auths.insert(c.registry.clone(), Value::Object(o));
        }
        let mut root = Map::new();
        root.insert("auths".to_string(), Value::Object(auths));
        let mut text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
        text.push('\n');
        text
    }
}

fn decode_auth(auth: &str) -> Option<(String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(auth.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// `https://index.docker.io/v1/` → `docker.io`; `https://quay.io/v2/` → `quay.io`.
pub fn normalize_registry(registry: &str) -> String {
    let r = registry.trim();
    let r = r.strip_prefix("https://").or_else(|| r.strip_prefix("http://")).unwrap_or(r);
    let r = r.trim_end_matches('/');
    let r = r.strip_suffix("/v1").or_else(|| r.strip_suffix("/v2")).unwrap_or(r);
    let r = r.trim_end_matches('/').to_ascii_lowercase();
    match r.as_str() {
        "" | "index.docker.io" | "docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.into(),
        _ => r,
    }
}

/// The registry host of an image reference (`quay.io/a/b` → `quay.io`, `a/b` → `docker.io`),
/// lowercased like registry keys are compared. The parsing is [`ImageRef`](crate::image_ref)'s.
pub fn registry_of_image(image: &str) -> String {
    crate::image_ref::registry_of(image).to_ascii_lowercase()
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's `encoding/json` wording for a syntax error, which users searched for.
fn go_json_error(bytes: &[u8], e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    if e.classify() == Category::Eof {
        return "unexpected end of JSON input".into();
    }
    // serde_json reports 1-based line and column (in bytes) of the offending character.
    let line_start: usize =
        bytes.split_inclusive(|b| *b == b'\n').take(e.line().saturating_sub(1)).map(<[u8]>::len).sum();
    let offset = (line_start + e.column().saturating_sub(1)).min(bytes.len().saturating_sub(1));
    let c = bytes.get(offset).copied().unwrap_or(b' ');
    let msg = e.to_string();
    let context = if msg.starts_with("trailing characters") {
        "after top-level value"
    } else if msg.starts_with("key must be a string") {
        "looking for beginning of object key string"
    } else if msg.starts_with("expected `:`") {
        "after object key"
    } else if msg.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if msg.starts_with("expected `,` or `]`") {
        "after array element"
    } else {
        "looking for beginning of value"
    };
    format!("invalid character {} {context}", go_quote_char(c))
}

/// Go's `quoteChar`: the byte as a rune, quoted.
fn go_quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        c if c < 0x20 || c == 0x7f => format!("'\\x{c:02x}'"),
        c => format!("'{}'", c as char),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_and_hub_aliases() {
        let legacy = br#"{"https://index.docker.io/v1/": {"auth": "dTpw", "email": "a@b"}}"#;
        let cfg = DockerCfg::parse(legacy).unwrap();
        let c = cfg.lookup("docker.io").unwrap();
        assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("u"), Some("p")));
        let modern = br#"{"auths": {"quay.io": {"username": "robot", "password": "s3"}}}"#;
        let cfg = DockerCfg::parse(modern).unwrap();
        assert!(cfg.lookup("https://quay.io/v2/").is_ok());
        let missing = cfg.lookup("ghcr.io").unwrap_err();
        assert!(missing.to_string().contains("ghcr.io") && missing.to_string().contains("quay.io"));
    }

    #[test]
    fn to_json_reads_back_as_the_same_entries() {
        let cfg = DockerCfg {
            entries: vec![
                Credential::basic("123.dkr.ecr.us-east-1.amazonaws.com", "AWS", "tok:en"),
                Credential::basic("gcr.io", "_json_key", "{\"type\": \"service_account\"}"),
            ],
        };
        let back = DockerCfg::parse(cfg.to_json().as_bytes()).unwrap();
        assert_eq!(back, cfg);
        let c = back.lookup("https://123.dkr.ecr.us-east-1.amazonaws.com").unwrap();
        assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("AWS"), Some("tok:en")));
    }

    #[test]
    fn not_json_reads_like_jet() {
        let e = DockerCfg::parse(b"{} x").unwrap_err();
        assert!(
            e.to_string().starts_with("Failed to parse dockercfg: invalid character 'x' after top-level value"),
            "{e}"
        );
        let e = DockerCfg::parse(b"\x01garbage").unwrap_err();
        assert!(e.to_string().contains("invalid character '\\x01' looking for beginning of value"), "{e}");
        assert!(DockerCfg::parse(b"").unwrap_err().to_string().contains("unexpected end of JSON input"));
    }

    #[test]
    fn registry_of_image_names() {
        assert_eq!(registry_of_image("quay.io/codeship/x"), "quay.io");
        assert_eq!(registry_of_image("127.0.0.1:5000/x"), "127.0.0.1:5000");
        assert_eq!(registry_of_image("user/repo"), "docker.io");
        assert_eq!(registry_of_image("busybox"), "docker.io");
        // A digest or a port is not a path separator; an upper-case host is still a host.
        assert_eq!(registry_of_image("localhost:5000/a/b@sha256:00"), "localhost:5000");
        assert_eq!(registry_of_image("Quay.IO/a"), "quay.io");
        assert_eq!(registry_of_image("busybox@sha256:00"), "docker.io");
    }
}
