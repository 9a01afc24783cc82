//! The run agent's root file system: the server's own binary and the shared libraries it loads,
//! as a tar that `docker import` turns into an image (no base image can be pulled, and none is
//! needed). On a swarm, every node runs its runs through this agent, so the agent is exactly the
//! server's code: its tag is the binary's content hash.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the binary lives in the agent's image.
pub const AGENT_BINARY: &str = "/usr/local/bin/slipway";

#[derive(Debug, thiserror::Error)]
pub enum AgentImageError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot list the libraries {binary} loads (`ldd`): {detail}")]
    Ldd { binary: PathBuf, detail: String },
    #[error("{binary} needs {library}, which this machine does not have (ldd: not found)")]
    MissingLibrary { binary: PathBuf, library: String },
    #[error("cannot write the agent's root file system: {0}")]
    Write(std::io::Error),
}

/// The files of the agent's root: `(path in the image, file on this machine)`.
#[derive(Debug, PartialEq)]
pub struct AgentRoot {
    pub files: Vec<(String, PathBuf)>,
    /// `sha256` of the binary, hex: the image's tag is its first 12 characters.
    pub binary_sha256: String,
}

impl AgentRoot {
    /// The root for `binary` (the running server's is `std::env::current_exe()`).
    pub fn of(binary: &Path) -> Result<AgentRoot, AgentImageError> {
        let mut files = vec![(AGENT_BINARY.to_string(), binary.to_path_buf())];
        for lib in shared_libraries(binary)? {
            let path = lib.display().to_string();
            files.push((path, lib));
        }
        Ok(AgentRoot { files, binary_sha256: sha256_of(binary)? })
    }

    /// The image tag for this root: the binary's hash, so a server of another version never
    /// runs an agent of this one.
    pub fn tag(&self) -> &str {
        &self.binary_sha256[..12]
    }

    /// Write the root as a tar to `out` (a file, best: the binary is large). Symlinked
    /// libraries are stored as the files they point to, under the name the loader asks for.
    pub fn write_tar<W: Write>(&self, out: W) -> Result<W, AgentImageError> {
        let write_err = AgentImageError::Write;
        let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
        tar.follow_symlinks(true);
        // Docker's import does not read GNU sparse entries, which a linker's output can be.
        tar.sparse(false);
        tar.mode(tar::HeaderMode::Deterministic);
        for dir in ["tmp", "etc"] {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(if dir == "tmp" { 0o1777 } else { 0o755 });
            header.set_size(0);
            tar.append_data(&mut header, dir, std::io::empty()).map_err(write_err)?;
        }
        // A user database for `getpwuid` (the agent runs as root; git and ssh ask for a home).
        let passwd = b"root:x:0:0:root:/root:/nonexistent\n";
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(passwd.len() as u64);
        tar.append_data(&mut header, "etc/passwd", &passwd[..]).map_err(write_err)?;
        for (inside, outside) in &self.files {
            tar.append_path_with_name(outside, inside.trim_start_matches('/'))
                .map_err(|source| AgentImageError::Read { path: outside.clone(), source })?;
        }
        let inner = tar.into_inner().map_err(write_err)?;
        inner.into_inner().map_err(|e| AgentImageError::Write(e.into_error()))
    }
}

fn sha256_of(path: &Path) -> Result<String, AgentImageError> {
    let read_err = |source| AgentImageError::Read { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut hash = Sha256::new();
    std::io::copy(&mut file, &mut HashWriter(&mut hash)).map_err(read_err)?;
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The shared libraries `binary` loads, and its loader, as `ldd` resolves them on this machine
/// (the agent runs on nodes of the same system, which the README's cluster section asks for).
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, AgentImageError> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| AgentImageError::Ldd { binary: binary.to_path_buf(), detail: e.to_string() })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // A static binary: ldd says so, and exits 1 on some systems.
        if text.contains("statically linked") || String::from_utf8_lossy(&out.stderr).contains("not a dynamic") {
            return Ok(Vec::new());
        }
        return Err(AgentImageError::Ldd {
            binary: binary.to_path_buf(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    parse_ldd(&text).map_err(|library| AgentImageError::MissingLibrary { binary: binary.to_path_buf(), library })
}

/// The paths in `ldd`'s output; `Err(library)` for one it could not find.
fn parse_ldd(text: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim) {
        // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)`, `/lib64/ld-linux-x86-64.so.2 (0x…)`,
        // `linux-vdso.so.1 (0x…)` (in the kernel, no file), `libfoo.so => not found`.
        let path = match line.split_once(" => ") {
            Some((name, rest)) if rest.starts_with("not found") => return Err(name.trim().to_string()),
            Some((_, rest)) => rest,
            None => line,
        };
        let path = path.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_the_libraries_and_the_loader_but_not_the_vdso() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            ["/lib/x86_64-linux-gnu/libgcc_s.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]
                .map(PathBuf::from)
        );
        assert_eq!(parse_ldd("\tlibssl.so.3 => not found\n"), Err("libssl.so.3".to_string()));
    }

    /// The root of this very test binary: the binary under its fixed name, every library the
    /// loader needs as a regular file (not a link to a path the image lacks), a writable /tmp.
    #[test]
    fn the_root_of_a_binary_holds_it_its_libraries_and_a_tmp() {
        let exe = std::env::current_exe().unwrap();
        let root = AgentRoot::of(&exe).unwrap();
        assert_eq!(root.tag().len(), 12);
        assert!(root.files.iter().any(|(inside, _)| inside.contains("libc.so")), "{:?}", root.files);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("agent.tar");
        root.write_tar(std::fs::File::create(&out).unwrap()).unwrap();
        let mut archive = tar::Archive::new(std::fs::File::open(&out).unwrap());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let kind = entry.header().entry_type();
            if path == "tmp" {
                assert_eq!(entry.header().mode().unwrap() & 0o7777, 0o1777);
            } else if path != "etc" {
                assert!(kind.is_file(), "{path} is a regular file, not {kind:?}");
                assert!(entry.size() > 0, "{path} is empty");
            }
            seen.push(path);
        }
        assert!(seen.contains(&"usr/local/bin/slipway".to_string()), "{seen:?}");
        let libc = seen.iter().find(|p| p.contains("libc.so")).expect("libc in the root");
        assert!(libc.starts_with("lib"), "{libc}: under its absolute path, without the leading /");
    }
}
