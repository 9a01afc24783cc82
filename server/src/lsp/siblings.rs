//! Which two files form a project: the services and steps files of one folder, found by the
//! names jet looked for (`codeship-services.yml`, else `docker-compose.yml`; `codeship-steps.yml`,
//! else `codeship-steps.json`; then jet's older `jet-services.yml` / `jet-steps.yml|json`).
//! A file counts as present when it is open in the editor or exists on disk, so a new,
//! unsaved steps file pairs with the services file beside it.

use slipway_core::ide::FileId;
use std::path::{Path, PathBuf};

/// The same order as `slipway validate` (server/src/project.rs), then jet's older names.
const SERVICES: &[&str] = &["codeship-services.yml", "docker-compose.yml", "jet-services.yml"];
const STEPS: &[&str] = &["codeship-steps.yml", "codeship-steps.json", "jet-steps.yml", "jet-steps.json"];

/// The two files of a project folder. Either may be absent (then it reads as empty).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pair {
    pub services: PathBuf,
    pub steps: PathBuf,
}

impl Pair {
    pub fn path(&self, file: FileId) -> &Path {
        match file {
            FileId::Services => &self.services,
            FileId::Steps => &self.steps,
        }
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.services == path || self.steps == path
    }
}

/// What a file name says the file is.
pub fn role(path: &Path) -> Option<FileId> {
    let name = path.file_name()?.to_str()?;
    if SERVICES.contains(&name) {
        Some(FileId::Services)
    } else if STEPS.contains(&name) {
        Some(FileId::Steps)
    } else {
        None
    }
}

/// The project `path` belongs to and its role in it, or `None` when it is not one of the two
/// files: an unknown name, a `docker-compose.yml` beside a `codeship-services.yml` (which
/// wins), or a `docker-compose.yml` without any steps file (a plain Compose project).
pub fn pair_of(path: &Path, present: &dyn Fn(&Path) -> bool) -> Option<(Pair, FileId)> {
    let file = role(path)?;
    let dir = path.parent()?;
    let first = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| present(p));
    let services = first(SERVICES);
    let steps = first(STEPS);
    let pair = Pair {
        services: services.clone().unwrap_or_else(|| dir.join(SERVICES[0])),
        steps: steps.clone().unwrap_or_else(|| dir.join(STEPS[0])),
    };
    if pair.path(file) != path {
        return None;
    }
    let compose_only =
        steps.is_none() && services.as_deref().and_then(Path::file_name) == Some("docker-compose.yml".as_ref());
    (!compose_only).then_some((pair, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &str, have: &[&str], open: &str) -> Option<(Pair, FileId)> {
        let have: Vec<PathBuf> = have.iter().map(|n| Path::new(dir).join(n)).collect();
        pair_of(&Path::new(dir).join(open), &|p| have.iter().any(|h| h == p))
    }

    #[test]
    fn steps_pair_with_services_or_compose() {
        let (p, f) = pair("/p", &["codeship-services.yml", "codeship-steps.yml"], "codeship-steps.yml").unwrap();
        assert_eq!((p.services.to_str().unwrap(), f), ("/p/codeship-services.yml", FileId::Steps));
        let (p, _) = pair("/p", &["docker-compose.yml", "codeship-steps.json"], "docker-compose.yml").unwrap();
        assert_eq!(p.steps, Path::new("/p/codeship-steps.json"));
        let (p, _) = pair("/p", &["jet-services.yml", "jet-steps.yml"], "jet-steps.yml").unwrap();
        assert_eq!(p.services, Path::new("/p/jet-services.yml"));
    }

    #[test]
    fn shadowed_and_foreign_files_are_not_projects() {
        // codeship-services.yml wins over docker-compose.yml, as in `slipway validate`.
        assert_eq!(pair("/p", &["codeship-services.yml", "docker-compose.yml"], "docker-compose.yml"), None);
        assert_eq!(pair("/p", &["docker-compose.yml"], "docker-compose.yml"), None);
        assert_eq!(pair("/p", &["x.yml"], "x.yml"), None);
        // A services file alone is a project whose steps file is still to be written.
        let (p, _) = pair("/p", &["codeship-services.yml"], "codeship-services.yml").unwrap();
        assert_eq!(p.steps, Path::new("/p/codeship-steps.yml"));
    }
}
