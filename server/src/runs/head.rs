//! Is a triggered run's commit still its ref's head? Looked at once per run, right after the
//! delivery, after a fetch of the mirror and before the run supersedes anything, sends a
//! status or starts a step. A delivery's id is not signed, so a captured delivery replayed
//! under a new id passes de-duplication; what the forge's repository says cannot be replayed.
//! A delivery of a commit that is no longer the head (it came late, or was replayed) neither
//! runs nor cancels anything, whatever its delivery id.

use super::trigger::HeadCheck;
use super::{Live, Manager};
use anyhow::{Context, Result, anyhow};
use std::sync::Arc;

/// What the head check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// The ref points at the run's commit: these older runs of its line were cancelled for it.
    Head { superseded: Vec<String> },
    /// The ref points elsewhere, or is gone: the run was cancelled, for this reason.
    Late { reason: String },
}

/// A commit id as people read it.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The head check of run `id`, done once: whoever asks first (the delivery's own task, or
/// the run's checkout if it starts before) fetches, the other waits for the answer. A
/// fetch that fails leaves the check undone, for the next to try.
pub(super) async fn confirm_head(m: &Arc<Manager>, id: &str, live: &Arc<Live>) -> Result<Confirmation> {
    live.head.get_or_try_init(|| check_head(m, id, live)).await.cloned()
}

async fn check_head(m: &Arc<Manager>, id: &str, live: &Live) -> Result<Confirmation> {
    let mut t = m.store.trigger(id)?.ok_or_else(|| anyhow!("a repository run without its trigger"))?;
    let project = m.store.request(id)?.map(|r| r.project).ok_or_else(|| anyhow!("run {id} is gone"))?;
    let repo = m
        .project(&project)
        .and_then(|p| p.repo().cloned())
        .ok_or_else(|| anyhow!("project `{project}` is no longer a repository project"))?;
    match t.head {
        // Checked before a restart.
        HeadCheck::Head => return Ok(Confirmation::Head { superseded: Vec::new() }),
        HeadCheck::Late => return Ok(Confirmation::Late { reason: "the delivery was late".into() }),
        HeadCheck::Unchecked => {}
    }
    // Stopped with the run, or when the project's git budget is spent.
    let stop = live.cancel.child_token();
    let (r, tt, name, git_stop) = (repo.clone(), t.clone(), project.clone(), stop.clone());
    let work = tokio::task::spawn_blocking(move || r.ref_head(&name, &tt, git_stop));
    let budget = repo.config.git_timeout;
    let found = match tokio::time::timeout(budget, work).await {
        Ok(joined) => joined.context("looking up the ref's head")?.map_err(|e| anyhow!(repo.mask(&e.to_string())))?,
        Err(_) => {
            stop.cancel();
            anyhow::bail!(
                "fetching the repository took longer than {} s (`git_timeout` in slipway.toml)",
                budget.as_secs()
            )
        }
    };
    if found.is_head() {
        t.head = HeadCheck::Head;
        m.store.set_trigger(id, &t)?;
        super::repo::send_status(m, id, &project, crate::forge::status::State::Pending);
        let mut superseded = Vec::new();
        if repo.config.cancel_superseded {
            for old in super::lines::superseded(&m.store, &project, &t, id)? {
                if m.cancel(&old)? == super::Control::Done {
                    tracing::info!(run = %old, "superseded by run {id}");
                    superseded.push(old);
                }
            }
        }
        return Ok(Confirmation::Head { superseded });
    }
    let reason = match &found.now {
        Some(now) => format!(
            "not run: {} is at {} now, not at {}: the delivery is of an older commit (it came late, or was \
             replayed), so it builds nothing and cancels nothing",
            t.fetch_ref,
            short(now),
            short(&t.commit_id)
        ),
        None => format!(
            "not run: {} no longer exists: the delivery is of a ref that is gone (it came late, or was replayed)",
            t.fetch_ref
        ),
    };
    tracing::warn!(run = %id, project, "{reason}");
    t.head = HeadCheck::Late;
    m.store.set_trigger(id, &t)?;
    super::cancel::cancel_late(m, id, &reason)?;
    Ok(Confirmation::Late { reason })
}
