//! `file://` URIs ↔ paths. LSP names documents by URI; the project's files are paths. Only
//! the `file` scheme names a file we can pair with its sibling; other schemes (`untitled:`)
//! are ignored.

use lsp_types::Uri;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The path a `file://` URI names, percent-decoded; `None` for other schemes or bad escapes.
pub fn to_path(uri: &Uri) -> Option<PathBuf> {
    let s = uri.as_str();
    let rest = s.strip_prefix("file://")?;
    // `file://host/path`: only the local host (empty or `localhost`) is a path here.
    let path = match rest.find('/') {
        Some(0) => rest,
        Some(i) if &rest[..i] == "localhost" => &rest[i..],
        _ => return None,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let bytes = decode(path)?;
    Some(PathBuf::from(String::from_utf8(bytes).ok()?))
}

/// The `file://` URI of an absolute path, percent-encoding what a URI path may not hold.
pub fn from_path(path: &Path) -> Option<Uri> {
    let s = path.to_str()?;
    if !s.starts_with('/') {
        return None;
    }
    let mut out = String::from("file://");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::from_str(&out).ok()
}

fn decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_spaces_and_non_ascii() {
        let p = Path::new("/tmp/a b/prøject/codeship-steps.yml");
        let uri = from_path(p).unwrap();
        assert_eq!(uri.as_str(), "file:///tmp/a%20b/pr%C3%B8ject/codeship-steps.yml");
        assert_eq!(to_path(&uri).unwrap(), p);
    }

    #[test]
    fn other_schemes_and_hosts_are_not_paths() {
        for s in ["untitled:Untitled-1", "file://server/share/x.yml", "file:///a%C3"] {
            assert_eq!(to_path(&Uri::from_str(s).unwrap()), None, "{s}");
        }
        assert_eq!(to_path(&Uri::from_str("file://localhost/a/b").unwrap()).unwrap(), Path::new("/a/b"));
    }
}
