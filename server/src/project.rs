//! Find and read a project's configuration files the way jet did: one discovery and one size
//! limit for the CLI and the server's runs.

use anyhow::{Context, Result, bail};
use slipway_core::SourceFile;
use std::path::{Path, PathBuf};

/// Bigger files are rejected by the core parser anyway; do not read gigabytes to find out.
pub const MAX_READ: u64 = 2 * 1024 * 1024;

/// One of the two configuration files, with the names jet looked for, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigFile {
    Services,
    Steps,
}

impl ConfigFile {
    pub fn candidates(self) -> &'static [&'static str] {
        match self {
            ConfigFile::Services => &["codeship-services.yml", "docker-compose.yml"],
            ConfigFile::Steps => &["codeship-steps.yml", "codeship-steps.json"],
        }
    }

    fn what(self) -> &'static str {
        match self {
            ConfigFile::Services => "services",
            ConfigFile::Steps => "steps",
        }
    }
}

pub struct ProjectFiles {
    pub services: SourceFile,
    pub steps: SourceFile,
    /// The services file's folder: build contexts, volumes and encrypted files are relative to it.
    pub services_dir: PathBuf,
    /// Where the services file was read from (`services.name` is how messages name it).
    pub services_path: PathBuf,
}

/// The first of `which`'s names that exists in `dir`, as that name (`codeship-services.yml`).
pub fn discover(dir: &Path, which: ConfigFile) -> Option<&'static str> {
    which.candidates().iter().copied().find(|c| dir.join(c).exists())
}

fn pick(dir: &Path, explicit: Option<&Path>, which: ConfigFile) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(if p.is_absolute() || dir == Path::new(".") { p.to_path_buf() } else { dir.join(p) });
    }
    if let Some(name) = discover(dir, which) {
        return Ok(dir.join(name));
    }
    let looked: Vec<String> = which.candidates().iter().map(|c| dir.join(c).display().to_string()).collect();
    bail!("no {} file found in {}: looked for {}", which.what(), dir.display(), looked.join(", "))
}

/// A configuration file within [`MAX_READ`], named in diagnostics by its path.
pub fn read_source(path: &Path) -> Result<SourceFile> {
    read_source_named(path, display_name(path))
}

/// A configuration file within [`MAX_READ`], named in diagnostics by `name`.
pub fn read_source_named(path: &Path, name: impl Into<String>) -> Result<SourceFile> {
    let text = crate::fsutil::read_text_limited(path, MAX_READ)?;
    Ok(SourceFile::new(name.into(), text))
}

/// A project's configuration file as the server reads it (for a run, or for the studio's
/// editors): confined like every other file of a server run, because the folder (a repository
/// checkout, say) may come from someone who cannot read the server's files. After symlinks it
/// must be inside `dir` and a regular file (a FIFO would hang the reader), and it must not be
/// a key file (the files endpoint would hand the key to the studio).
pub fn read_server_config(dir: &Path, name: &str) -> Result<SourceFile> {
    let path = crate::executor::paths::project_file(dir, name, true)?;
    let meta = std::fs::metadata(&path).with_context(|| format!("cannot read {name}"))?;
    if !meta.is_file() {
        bail!("{name} is not a regular file");
    }
    let source = read_source_named(&path, name)?;
    if slipway_core::crypto::Key::parse(source.text.as_bytes()).is_ok() {
        bail!("{name} holds a project key, not a configuration; the server does not read it as one");
    }
    Ok(source)
}

fn display_name(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Both files of the project in `dir`; `services`/`steps` override the discovered names
/// (relative to `dir`).
pub fn load(dir: &Path, services: Option<&Path>, steps: Option<&Path>) -> Result<ProjectFiles> {
    let services = pick(dir, services, ConfigFile::Services)?;
    let steps = pick(dir, steps, ConfigFile::Steps)?;
    let services_dir =
        services.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(ProjectFiles {
        services: read_source(&services)?,
        steps: read_source(&steps)?,
        services_dir,
        services_path: services,
    })
}
