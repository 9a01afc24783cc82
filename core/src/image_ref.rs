//! Docker image references (`[host[:port]/]path[:tag][@algo:hex]`), parsed once with the
//! grammar of Docker's `distribution/reference` package, so the rules, the planner and the
//! executor agree on what is the registry, the repository, the tag and the digest.
//!
//! ```text
//! reference := name [ ":" tag ] [ "@" digest ]
//! name      := [ host [ ":" port ] "/" ] component ( "/" component )*
//! component := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
//! tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest    := algo ":" hex   (algo: [A-Za-z][A-Za-z0-9]* joined by [+._-]; hex: 32+ of [0-9a-fA-F])
//! ```
//!
//! The first path segment is a registry host when it contains `.` or `:` or is `localhost`
//! (Docker's rule); otherwise the image is on Docker Hub (`docker.io`). Docker also takes a
//! first segment with upper-case letters for a host, which turns the common mistake
//! `MyOrg/app` into a push to an unreachable registry `MyOrg`; we report it as what it almost
//! always is, a repository name that must be lowercase.

/// The registry of references without a host.
pub const DOCKER_HUB: &str = "docker.io";

/// Docker's limit on the length of a name (host and path, without tag or digest).
const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;
const DIGEST_HEX_MIN: usize = 32;

/// A parsed image reference. Offsets are byte offsets into the parsed text, for diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]` when the reference names one (`quay.io`, `localhost:5000`).
    pub host: Option<String>,
    /// The repository path, e.g. `library/busybox`, `acme/app`, `busybox`.
    pub path: String,
    /// The tag after `:` (without it).
    pub tag: Option<String>,
    /// The digest after `@` (`sha256:…`).
    pub digest: Option<String>,
    /// Where the `:` of the tag is.
    pub tag_at: Option<usize>,
    /// Where the `@` of the digest is.
    pub digest_at: Option<usize>,
}

/// Why a reference is not valid, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRefError {
    /// Byte offset into the parsed text.
    pub offset: usize,
    pub kind: ImageRefErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRefErrorKind {
    Empty,
    /// Docker: "repository name must be lowercase".
    Uppercase,
    /// A character that cannot appear in a repository name.
    InvalidChar(char),
    /// A path segment that is empty or starts, ends or doubles a separator (`a//b`, `-a`, `a..b`).
    InvalidComponent,
    InvalidHost,
    InvalidTag,
    InvalidDigest,
    NameTooLong(usize),
}

impl std::fmt::Display for ImageRefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ImageRefErrorKind::Empty => f.write_str("the image name is empty"),
            ImageRefErrorKind::Uppercase => f.write_str("repository name must be lowercase"),
            ImageRefErrorKind::InvalidChar(c) => write!(f, "`{c}` cannot appear in a repository name"),
            ImageRefErrorKind::InvalidComponent => f.write_str(
                "a repository path segment must be lowercase letters and digits, separated by single `.` or `_`, `__` or dashes",
            ),
            ImageRefErrorKind::InvalidHost => f.write_str("the registry host is not a valid `host[:port]`"),
            ImageRefErrorKind::InvalidTag => {
                f.write_str("a tag is at most 128 of A-Z a-z 0-9 _ . - and cannot start with `.` or `-`")
            }
            ImageRefErrorKind::InvalidDigest => f.write_str("a digest is `algorithm:hex` with at least 32 hex digits"),
            ImageRefErrorKind::NameTooLong(n) => write!(f, "the repository name is {n} characters; Docker allows 255"),
        }
    }
}

impl std::error::Error for ImageRefError {}

impl ImageRef {
    pub fn parse(text: &str) -> Result<ImageRef, ImageRefError> {
        let err = |offset: usize, kind| Err(ImageRefError { offset, kind });
        if text.is_empty() {
            return err(0, ImageRefErrorKind::Empty);
        }
        let (rest, digest_at) = match text.find('@') {
            Some(i) => (&text[..i], Some(i)),
            None => (text, None),
        };
        if let Some(at) = digest_at {
            check_digest(&text[at + 1..])
                .map_err(|o| ImageRefError { offset: at + 1 + o, kind: ImageRefErrorKind::InvalidDigest })?;
        }
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let tag_at = rest[last_slash..].find(':').map(|i| last_slash + i);
        let name = &rest[..tag_at.unwrap_or(rest.len())];
        if let Some(at) = tag_at {
            check_tag(&text[at + 1..rest.len()])
                .map_err(|o| ImageRefError { offset: at + 1 + o, kind: ImageRefErrorKind::InvalidTag })?;
        }
        if name.is_empty() {
            return err(0, ImageRefErrorKind::Empty);
        }
        if name.len() > NAME_MAX {
            return err(0, ImageRefErrorKind::NameTooLong(name.len()));
        }
        let (host, path_at) = match split_host(name) {
            (Some(first), _) => {
                check_host(first).map_err(|o| ImageRefError { offset: o, kind: ImageRefErrorKind::InvalidHost })?;
                (Some(first.to_string()), first.len() + 1)
            }
            (None, _) => (None, 0),
        };
        check_path(&name[path_at..]).map_err(|(o, kind)| ImageRefError { offset: path_at + o, kind })?;
        Ok(ImageRef {
            host,
            path: name[path_at..].to_string(),
            tag: tag_at.map(|at| text[at + 1..rest.len()].to_string()),
            digest: digest_at.map(|at| text[at + 1..].to_string()),
            tag_at,
            digest_at,
        })
    }

    /// The registry to authenticate with: the host, else Docker Hub.
    pub fn registry(&self) -> &str {
        self.host.as_deref().unwrap_or(DOCKER_HUB)
    }

    /// `[host/]path`, as written: what `docker tag`/`docker push` take as the repository.
    pub fn repository(&self) -> String {
        match &self.host {
            Some(h) => format!("{h}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// What the Engine API's pull (`fromImage` + `tag`) needs: the digest wins over the tag,
    /// and no tag means `latest`.
    pub fn pull_tag(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }
}

/// The registry an image reference points at, by Docker's host rule alone (no validation):
/// for references that may not be valid yet, e.g. while a file is being edited.
pub fn registry_of(text: &str) -> &str {
    split_host(text).0.unwrap_or(DOCKER_HUB)
}

/// `(host, rest)` by Docker's host rule alone (no validation): `quay.io/a:b` → `(Some("quay.io"), "a:b")`.
pub fn split_host(text: &str) -> (Option<&str>, &str) {
    match text.split_once('/') {
        Some((first, rest)) if is_host_like(first) => (Some(first), rest),
        _ => (None, text),
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Docker's test for "the first segment is a registry host", plus upper case (see the module
/// comment): `MyOrg/app` is treated as a path so that it is reported as not lowercase.
fn is_host_like(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.starts_with('[')
}

/// `host[:port]`: dot-separated labels of letters, digits and inner dashes, or a bracketed
/// IPv6 address; the port is digits. Returns the offset of the problem.
fn check_host(host: &str) -> Result<(), usize> {
    let (name, port_at) = if let Some(inner) = host.strip_prefix('[') {
        let close = inner.find(']').ok_or(0usize)? + 1;
        if !host[1..close].chars().all(|c| c.is_ascii_hexdigit() || c == ':') || close == 1 {
            return Err(1);
        }
        match &host[close + 1..] {
            "" => return Ok(()),
            p if p.starts_with(':') => (&host[..=close], close + 1),
            _ => return Err(close + 1),
        }
    } else {
        match host.rfind(':') {
            Some(i) => (&host[..i], i),
            None => (host, host.len()),
        }
    };
    if !name.starts_with('[') {
        let mut at = 0;
        for label in name.split('.') {
            let ok = !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(at);
            }
            at += label.len() + 1;
        }
    }
    if port_at < host.len() {
        let port = &host[port_at + 1..];
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(port_at + 1);
        }
    }
    Ok(())
}

/// Path segments joined by `/`. Upper case is reported before other problems: it is the
/// common mistake and Docker's own message for it is the one users know.
fn check_path(path: &str) -> Result<(), (usize, ImageRefErrorKind)> {
    if let Some(i) = path.find(|c: char| c.is_ascii_uppercase()) {
        return Err((i, ImageRefErrorKind::Uppercase));
    }
    if let Some((i, c)) =
        path.char_indices().find(|&(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c)))
    {
        return Err((i, ImageRefErrorKind::InvalidChar(c)));
    }
    let mut at = 0;
    for component in path.split('/') {
        if !valid_component(component) {
            return Err((at, ImageRefErrorKind::InvalidComponent));
        }
        at += component.len() + 1;
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` (characters already checked).
fn valid_component(c: &str) -> bool {
    let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
    let mut chars = c.chars().peekable();
    loop {
        // One or more alphanumerics.
        if chars.next_if(|&ch| alnum(ch)).is_none() {
            return false;
        }
        while chars.next_if(|&ch| alnum(ch)).is_some() {}
        // Then the end, or a separator followed by more alphanumerics.
        match chars.next() {
            None => return true,
            Some('.') => {}
            Some('_') => {
                chars.next_if_eq(&'_');
            }
            Some('-') => while chars.next_if_eq(&'-').is_some() {},
            Some(_) => return false,
        }
    }
}

fn check_tag(tag: &str) -> Result<(), usize> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if tag.is_empty() || tag.len() > TAG_MAX {
        return Err(0);
    }
    if !tag.starts_with(word) {
        return Err(0);
    }
    match tag.char_indices().find(|&(_, c)| !(word(c) || c == '.' || c == '-')) {
        Some((i, _)) => Err(i),
        None => Ok(()),
    }
}

fn check_digest(digest: &str) -> Result<(), usize> {
    let (algo, hex) = digest.split_once(':').ok_or(0usize)?;
    let mut parts_ok = !algo.is_empty();
    for part in algo.split(['+', '.', '_', '-']) {
        parts_ok &=
            part.starts_with(|c: char| c.is_ascii_alphabetic()) && part.chars().all(|c| c.is_ascii_alphanumeric());
    }
    if !parts_ok {
        return Err(0);
    }
    if hex.len() < DIGEST_HEX_MIN || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(algo.len() + 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ImageRefErrorKind as K;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn ok(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn bad(s: &str) -> (usize, ImageRefErrorKind) {
        let e = ImageRef::parse(s).expect_err(s);
        (e.offset, e.kind)
    }

    #[test]
    fn host_port_path_and_tag() {
        let r = ok("localhost:5000/a/b:t");
        assert_eq!((r.host.as_deref(), r.path.as_str(), r.tag.as_deref()), (Some("localhost:5000"), "a/b", Some("t")));
        assert_eq!((r.registry(), r.repository(), r.tag_at), ("localhost:5000", "localhost:5000/a/b".into(), Some(18)));
        assert_eq!(r.to_string(), "localhost:5000/a/b:t");
    }

    #[test]
    fn a_port_without_a_tag_is_not_a_tag() {
        let r = ok("host.example:5000/repo");
        assert_eq!((r.host.as_deref(), r.path.as_str(), r.tag.as_deref()), (Some("host.example:5000"), "repo", None));
        assert_eq!(r.pull_tag(), "latest");
        let r = ok("127.0.0.1:5000/x");
        assert_eq!(r.registry(), "127.0.0.1:5000");
    }

    #[test]
    fn docker_hub_is_implied() {
        for s in ["busybox", "acme/app", "library/busybox:1.36", "my-registry/app"] {
            let r = ok(s);
            assert_eq!((r.host.as_deref(), r.registry()), (None, DOCKER_HUB), "{s}");
        }
        assert_eq!(ok("docker.io/library/busybox").registry(), "docker.io");
        assert_eq!(
            ok("123456789012.dkr.ecr.us-east-1.amazonaws.com/app").registry(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
    }

    #[test]
    fn digests() {
        let s = format!("a@sha256:{HEX}");
        let r = ok(&s);
        assert_eq!((r.path.as_str(), r.tag.as_deref(), r.digest_at), ("a", None, Some(1)));
        assert_eq!(r.pull_tag(), format!("sha256:{HEX}"));
        let r = ok(&format!("quay.io/a/b:1.0@sha256:{HEX}"));
        assert_eq!(
            (r.tag.as_deref(), r.registry(), r.pull_tag().starts_with("sha256:")),
            (Some("1.0"), "quay.io", true)
        );
        assert_eq!(bad("a@sha256:abc"), (9, K::InvalidDigest));
        assert_eq!(bad(&format!("a@{HEX}")), (2, K::InvalidDigest));
        assert_eq!(bad(&format!("a@9sha:{HEX}")), (2, K::InvalidDigest));
    }

    #[test]
    fn upper_case_is_refused_where_it_is() {
        assert_eq!(bad("Foo/bar"), (0, K::Uppercase));
        assert_eq!(bad("acme/Java"), (5, K::Uppercase));
        assert_eq!(bad("quay.io/acme/aPp:v1"), (14, K::Uppercase));
        // Upper case in a tag or a host is allowed, as in Docker.
        assert_eq!(ok("acme/app:V1").tag.as_deref(), Some("V1"));
        assert_eq!(ok("Registry.Example.com/app").registry(), "Registry.Example.com");
    }

    #[test]
    fn bad_tags_and_colons() {
        // `a:b:c`: the tag starts at the first `:` after the last `/`, and cannot hold a `:`.
        assert_eq!(bad("a:b:c"), (3, K::InvalidTag));
        assert_eq!(bad("a:"), (2, K::InvalidTag));
        assert_eq!(bad("a:.x"), (2, K::InvalidTag));
        assert_eq!(bad("a:x!y"), (3, K::InvalidTag));
        assert_eq!(bad(&format!("a:{}", "x".repeat(129))), (2, K::InvalidTag));
        assert_eq!(ok(&format!("a:{}", "x".repeat(128))).tag.unwrap().len(), 128);
    }

    #[test]
    fn components_and_hosts() {
        for s in ["a__b", "a-b", "a---b", "a.b", "a_b", "a/b/c", "a0/9z"] {
            ok(s);
        }
        assert_eq!(bad("a//b"), (2, K::InvalidComponent));
        assert_eq!(bad("a/-b"), (2, K::InvalidComponent));
        assert_eq!(bad("a/b."), (2, K::InvalidComponent));
        assert_eq!(bad("a/b___c"), (2, K::InvalidComponent));
        assert_eq!(bad("a/b..c"), (2, K::InvalidComponent));
        assert_eq!(bad("acme/my app"), (7, K::InvalidChar(' ')));
        assert_eq!(bad("host:port/x"), (5, K::InvalidHost));
        assert_eq!(bad("-bad.io/x"), (0, K::InvalidHost));
        assert_eq!(bad(""), (0, K::Empty));
        assert_eq!(bad(":tag"), (0, K::Empty));
        assert_eq!(bad("quay.io/"), (8, K::InvalidComponent));
        assert_eq!(ok("[::1]:5000/x").registry(), "[::1]:5000");
        assert!(matches!(bad(&"a".repeat(256)).1, K::NameTooLong(256)));
    }
}
