//! A remote name tagged on the engine for the length of a push (Docker pushes by local name),
//! then put back as it was: to the image it named before, or removed when it named none. The
//! putting back happens also when the push is cancelled (the step's future dropped): it then
//! goes on in a task of its own. Pushes of one name by this process take turns, so each puts
//! back what was there before it, not another push's tag.

use bollard::Docker;
use bollard::query_parameters::{RemoveImageOptionsBuilder, TagImageOptionsBuilder};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// The names this process is pushing, each with the lock its pushes take in turn.
static PUSHING: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Default::default);

/// Held while a name is tagged for a push; the map entry goes with the last holder.
pub struct NameLock {
    name: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl NameLock {
    /// `acme/app:1` and `docker.io/acme/app:1` are one name.
    pub async fn acquire(name: &str) -> NameLock {
        let name = super::resolve::canonical(name).unwrap_or_else(|| name.to_string());
        let lock = PUSHING.lock().expect("push names lock").entry(name.clone()).or_default().clone();
        NameLock { name, guard: Some(lock.lock_owned().await) }
    }
}

impl Drop for NameLock {
    fn drop(&mut self) {
        let mut names = PUSHING.lock().expect("push names lock");
        drop(self.guard.take());
        if names.get(&self.name).is_some_and(|l| Arc::strong_count(l) == 1) {
            names.remove(&self.name);
        }
    }
}

/// `repo:tag` tagged on `pushed` for a push; [`TemporaryTag::put_back`] undoes it, and so does
/// dropping it unused.
pub struct TemporaryTag {
    undo: Option<Undo>,
}

struct Undo {
    docker: Docker,
    _lock: NameLock,
    repo: String,
    tag: String,
    pushed: String,
    before: Option<String>,
    /// A labelled copy made for the push, removed afterwards.
    copy: Option<String>,
}

impl TemporaryTag {
    pub fn new(
        docker: &Docker,
        lock: NameLock,
        repo: &str,
        tag: &str,
        pushed: &str,
        before: Option<String>,
        copy: Option<String>,
    ) -> TemporaryTag {
        let undo = Undo {
            docker: docker.clone(),
            _lock: lock,
            repo: repo.to_string(),
            tag: tag.to_string(),
            pushed: pushed.to_string(),
            before,
            copy,
        };
        TemporaryTag { undo: Some(undo) }
    }

    /// Put the name back now; what Docker refused, in words.
    pub async fn put_back(mut self) -> Result<(), String> {
        match self.undo.take() {
            Some(undo) => undo.run().await,
            None => Ok(()),
        }
    }
}

impl Drop for TemporaryTag {
    fn drop(&mut self) {
        if let Some(undo) = self.undo.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let name = format!("{}:{}", undo.repo, undo.tag);
                if let Err(e) = undo.run().await {
                    tracing::warn!("cannot put the engine's {name} back as it was before a cancelled push: {e}");
                }
            });
        }
    }
}

impl Undo {
    /// Back to `before`, or untagged, unless someone has tagged the name again meanwhile
    /// (theirs is left); then the copy goes.
    async fn run(self) -> Result<(), String> {
        let name = format!("{}:{}", self.repo, self.tag);
        let now = self.docker.inspect_image(&name).await.ok().and_then(|i| i.id);
        let result = if now.as_deref() != Some(self.pushed.as_str()) || self.before.as_deref() == Some(&self.pushed) {
            Ok(())
        } else if let Some(before) = &self.before {
            let opts = TagImageOptionsBuilder::default().repo(&self.repo).tag(&self.tag).build();
            self.docker.tag_image(before, Some(opts)).await.map_err(|e| e.to_string())
        } else {
            let opts = RemoveImageOptionsBuilder::default().noprune(true).build();
            self.docker.remove_image(&name, Some(opts), None).await.map(|_| ()).map_err(|e| e.to_string())
        };
        if let Some(copy) = &self.copy {
            let opts = RemoveImageOptionsBuilder::default().noprune(true).build();
            let _ = self.docker.remove_image(copy, Some(opts), None).await;
        }
        result
    }
}
