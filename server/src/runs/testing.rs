//! Managers for the run manager's unit tests.

use super::{Manager, Project, RunPolicy, RunRequest, repo};
use crate::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A manager of one project whose folder has no files, so every run that starts fails
/// before it needs Docker, unless it is cancelled first.
pub fn manager(limit: usize) -> (Arc<Manager>, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&d.path().join("db.sqlite")).unwrap());
    let project = Project::folder("p".into(), d.path().to_path_buf(), None);
    (Manager::new(store, vec![project], limit, RunPolicy::default()), d)
}

pub fn request() -> RunRequest {
    serde_json::from_value(serde_json::json!({"project": "p"})).unwrap()
}

pub async fn ended(m: &Manager, id: &str) -> crate::store::RunRow {
    let start = Instant::now();
    loop {
        let run = m.store.run(id).unwrap().unwrap();
        if run.status.is_finished() {
            return run;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "run {id} never ended: {run:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A repository project whose repository is a folder that does not exist.
pub fn repo_manager(dir: &std::path::Path) -> Arc<Manager> {
    repo_manager_with(dir, "")
}

/// [`repo_manager`] with more keys in its `[[project]]`.
pub fn repo_manager_with(dir: &std::path::Path, keys: &str) -> Arc<Manager> {
    let text = format!("[[project]]\nname = \"web\"\nrepo = \"{}/gone.git\"\n{keys}", dir.display());
    let Some(crate::config::ProjectSource::Repo(config)) =
        crate::config::parse(&dir.join("slipway.toml"), &text).unwrap().pop()
    else {
        panic!("not a repository project")
    };
    let data = dir.join("data");
    let setup = repo::RepoSetup {
        remote: crate::git::Remote::new(&config.repo, None),
        config: *config,
        webhook_secret: None,
        statuses: None,
        data_dir: data.clone(),
        checkouts: data.join("checkouts/web"),
        kept: data.join("kept/web"),
    };
    let project = Project::from_repo(setup);
    let store = Arc::new(Store::open(&dir.join("db.sqlite")).unwrap());
    Manager::new(store, vec![project], 1, RunPolicy::default())
}
