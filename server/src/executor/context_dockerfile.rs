//! The Dockerfile inside a build context's tar archive: read from the archive (what the engine
//! will get, not the folder a step may have changed since) and replaced in place, so a server
//! run can send a Dockerfile whose images are pinned ids.

use anyhow::{Result, anyhow, bail};

/// Dockerfiles are small; a bigger one is refused rather than parsed.
pub const MAX_DOCKERFILE_BYTES: u64 = 1024 * 1024;

/// The Dockerfile at `path` (relative to the context) in `tar`, and where its entry is.
pub struct Found {
    pub text: String,
    /// The entry's 512-byte header and its padded data, as byte offsets into the archive.
    header_at: usize,
    data_end: usize,
}

/// `./Dockerfile` and `Dockerfile` name the same entry.
fn normalize(path: &str) -> String {
    path.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/")
}

/// Find the Dockerfile entry. It must be a plain file: a link would make the engine read
/// something this check did not.
pub fn find(tar: &[u8], path: &str) -> Result<Found> {
    let want = normalize(path);
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if normalize(&entry.path()?.to_string_lossy()) != want {
            continue;
        }
        if !entry.header().entry_type().is_file() {
            bail!(
                "the Dockerfile `{path}` is not a plain file (a link or a folder); a server run builds only from a plain Dockerfile"
            );
        }
        if entry.pax_extensions()?.is_some() {
            bail!("the Dockerfile `{path}` has extended tar headers; a server run cannot check it");
        }
        let size = entry.size();
        if size > MAX_DOCKERFILE_BYTES {
            bail!("the Dockerfile `{path}` is {size} bytes; a server run reads Dockerfiles up to 1 MiB");
        }
        let header_at = usize::try_from(entry.raw_header_position())?;
        let data_at = usize::try_from(entry.raw_file_position())?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes)?;
        let text = String::from_utf8(bytes).map_err(|_| anyhow!("the Dockerfile `{path}` is not UTF-8 text"))?;
        return Ok(Found { text, header_at, data_end: data_at + padded(size as usize) });
    }
    bail!("there is no Dockerfile `{path}` in the build context (is it left out by .dockerignore?)")
}

/// Put `text` in place of the entry `found` describes (its header keeps name, mode and
/// owner; size and checksum are updated).
pub fn replace(tar: &mut Vec<u8>, found: &Found, text: &str) -> Result<()> {
    let mut header = tar::Header::from_byte_slice(&tar[found.header_at..found.header_at + 512]).clone();
    header.set_size(text.len() as u64);
    header.set_cksum();
    let mut entry = Vec::with_capacity(512 + padded(text.len()));
    entry.extend_from_slice(header.as_bytes());
    entry.extend_from_slice(text.as_bytes());
    entry.resize(512 + padded(text.len()), 0);
    tar.splice(found.header_at..found.data_end, entry);
    Ok(())
}

fn padded(n: usize) -> usize {
    n.div_ceil(512) * 512
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, text) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, text.as_bytes()).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn contents(tar: &[u8]) -> Vec<(String, String)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut s = String::new();
                std::io::Read::read_to_string(&mut e, &mut s).unwrap();
                (e.path().unwrap().display().to_string(), s)
            })
            .collect()
    }

    #[test]
    fn the_dockerfile_is_replaced_and_the_rest_kept() {
        let long = "x".repeat(700);
        let mut tar = archive(&[("a.txt", "before"), ("ci/Dockerfile", "FROM acme/base\n"), ("z.txt", &long)]);
        let found = find(&tar, "./ci/Dockerfile").unwrap();
        assert_eq!(found.text, "FROM acme/base\n");
        let new = format!("FROM sha256:{}\n", "0".repeat(64));
        replace(&mut tar, &found, &new).unwrap();
        assert_eq!(
            contents(&tar),
            [("a.txt".into(), "before".into()), ("ci/Dockerfile".into(), new), ("z.txt".into(), long)]
        );
    }

    #[test]
    fn a_missing_or_linked_dockerfile_is_an_error() {
        let tar = archive(&[("a.txt", "x")]);
        assert!(find(&tar, "Dockerfile").err().unwrap().to_string().contains("no Dockerfile `Dockerfile`"));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "Dockerfile", "/etc/passwd").unwrap();
        let tar = b.into_inner().unwrap();
        assert!(find(&tar, "Dockerfile").err().unwrap().to_string().contains("not a plain file"));
    }
}
