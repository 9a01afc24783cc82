//! Find and read a project's configuration files the way jet did.

use crate::cli::ProjectArgs;
use anyhow::{Result, bail};
use slipway_core::SourceFile;
use std::path::{Path, PathBuf};

/// Bigger files are rejected by the core parser anyway; do not read gigabytes to find out.
const MAX_READ: u64 = 2 * 1024 * 1024;

pub struct ProjectFiles {
    pub services: SourceFile,
    pub steps: SourceFile,
    /// The services file's folder: build contexts, volumes and encrypted files are relative to it.
    pub services_dir: PathBuf,
}

fn pick(dir: &Path, explicit: &Option<PathBuf>, candidates: &[&str], what: &str) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(if p.is_absolute() || dir == Path::new(".") { p.clone() } else { dir.join(p) });
    }
    for c in candidates {
        let p = dir.join(c);
        if p.exists() {
            return Ok(p);
        }
    }
    bail!(
        "no {what} file found in {}: looked for {}",
        dir.display(),
        candidates.iter().map(|c| dir.join(c).display().to_string()).collect::<Vec<_>>().join(", ")
    )
}

pub fn read_source(path: &Path) -> Result<SourceFile> {
    let text = crate::fsutil::read_text_limited(path, MAX_READ)?;
    Ok(SourceFile::new(display_name(path), text))
}

fn display_name(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

pub fn load(args: &ProjectArgs) -> Result<ProjectFiles> {
    let services = pick(&args.dir, &args.services_path, &["codeship-services.yml", "docker-compose.yml"], "services")?;
    let steps = pick(&args.dir, &args.steps_path, &["codeship-steps.yml", "codeship-steps.json"], "steps")?;
    let services_dir =
        services.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(ProjectFiles { services: read_source(&services)?, steps: read_source(&steps)?, services_dir })
}
