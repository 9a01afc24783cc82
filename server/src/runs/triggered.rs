//! Queueing a repository run for a trigger (a verified delivery or a polled head): the
//! project's branch filter, `[skip ci]`, de-duplication, late deliveries, and the head check
//! that decides what the run supersedes.

use super::live::Live;
use super::trigger::{self, RunTrigger};
use super::{CiValues, Confirmation, Manager, RunRequest, Submitted, cancel, lines, lock};
use crate::config::BranchFilter;
use anyhow::{Result, bail};
use std::sync::Arc;
use std::time::Duration;

/// Why `t` builds nothing in a project with `filter`, if it does not: its branch (a tag's
/// name, a pull request's head branch, as `CI_BRANCH` names it) is not among those the
/// project builds.
pub fn filtered_out(filter: &BranchFilter, t: &RunTrigger) -> Option<String> {
    let branch = t.ci_branch().unwrap_or_default();
    (!filter.matches(branch))
        .then(|| format!("`{branch}` is not among the branches this project builds (`branches`/`exclude`)"))
}

/// Queue a repository run for `trigger` (a verified delivery or a polled head): at most
/// once per delivery id, not while a run of the same line of work builds the same commit,
/// and once per tag and commit. Whether the commit is still its ref's head is then looked at (a fetch of the
/// mirror, see `head.rs`), for at most `wait` here and to the end in the background: only
/// then is a pending status sent and, with `cancel_superseded`, are the branch's older
/// queued or running runs cancelled. A late delivery runs nothing and cancels nothing.
pub(super) async fn submit(
    m: &Arc<Manager>,
    project: &str,
    mut trigger: trigger::RunTrigger,
    wait: Duration,
) -> Result<Submitted> {
    let Some(repo) = m.project(project).and_then(|p| p.repo().cloned()) else {
        bail!("`{project}` is not a repository project");
    };
    // The one place the project's `branches`/`exclude` apply, to deliveries and polled heads
    // alike: before anything is fetched or recorded.
    if let Some(reason) = filtered_out(&repo.config.filter, &trigger) {
        tracing::debug!(project, commit = %trigger.commit_id, "{reason}");
        return Ok(Submitted::Filtered { reason });
    }
    // `[skip ci]`: before anything is recorded. A delivery's answer waits for it and the
    // head check together at most `wait`; a poll waits as long as a fetch may take.
    let asked = std::time::Instant::now();
    let budget = if wait.is_zero() { repo.config.git_timeout } else { wait };
    if let Some(skip) = super::skip_ci::skip_ci(project, &repo, &trigger, budget).await {
        let reason = skip.reason(&trigger);
        tracing::info!(project, commit = %trigger.commit_id, branch = ?trigger.ci_branch(), "{reason}");
        return Ok(Submitted::Skipped { reason });
    }
    let wait = match wait.is_zero() {
        true => wait,
        // At least a moment: the answer says whether the head check was done.
        false => wait.saturating_sub(asked.elapsed()).max(Duration::from_millis(100)),
    };
    // Whether a run builds this commit already is looked at as the run is inserted (one
    // transaction): concurrent deliveries of one commit must queue one run, not cancel
    // each other.
    let id = crate::names::random_hex(6)?;
    let req = RunRequest {
        project: project.to_string(),
        tag: None,
        // A build of a pushed commit runs its push steps, as CodeShip's did (a fork's pull
        // request does not: decided when it runs, see `run_in`).
        push: true,
        ci: CiValues::default(),
        services: None,
        steps: None,
    };
    // Decided before the run exists, so the scheduler can never start a late one.
    let later = match repo.config.cancel_superseded {
        true => lines::later_push(&m.store, project, &trigger, &id)?,
        false => None,
    };
    let live = Live::new();
    if later.is_some() {
        live.cancel.cancel();
        trigger.head = trigger::HeadCheck::Late;
    }
    lock(&m.live).insert(id.clone(), live.clone());
    let line = lines::Line::of(&trigger);
    let key = line.as_ref().map(lines::Line::key);
    let request = serde_json::to_string(&req)?;
    let inserted = m.store.queue_triggered_run(&crate::store::NewTriggeredRun {
        id: &id,
        project,
        push: req.push,
        request: &request,
        trigger: &trigger,
        line: key.as_deref(),
        same_commit: line.as_ref().zip(key.as_deref()).map(|(l, k)| lines::same_commit(l, k, &trigger)),
    });
    match inserted {
        Ok(crate::store::Inserted::Queued) => {}
        Ok(crate::store::Inserted::Duplicate(first)) => {
            lock(&m.live).remove(&id);
            return Ok(Submitted::Duplicate(first));
        }
        Ok(crate::store::Inserted::SameCommit(same)) => {
            lock(&m.live).remove(&id);
            return Ok(Submitted::SameCommit(same));
        }
        Ok(crate::store::Inserted::Replayed(first)) => {
            lock(&m.live).remove(&id);
            tracing::warn!(project, run = %first, "a delivery of a push that queued a run before: not run again");
            return Ok(Submitted::Replayed(first));
        }
        Err(e) => {
            lock(&m.live).remove(&id);
            return Err(e);
        }
    }
    tracing::info!(run = %id, project, commit = %trigger.commit_id, "queued by {:?}", trigger.kind);
    if let Some(later) = later {
        // Deliveries can arrive out of order: this is the older push, and the run of the
        // push that moved the ref on from it is already here. It must not cancel that run;
        // had it come in order, it would have been superseded by it.
        let reason = format!("superseded by run {later}, a later push whose delivery arrived first");
        tracing::info!(run = %id, "{reason}");
        cancel::cancel_late(m, &id, &reason)?;
        return Ok(Submitted::Late { id, superseded_by: Some(later), reason });
    }
    // The check goes on in its own task when the answer stops waiting for it.
    let (me, run) = (m.clone(), id.clone());
    let check = tokio::spawn(async move { super::head::confirm_head(&me, &run, &live).await });
    m.wake.notify_one();
    let outcome = match wait.is_zero() {
        true => None,
        false => tokio::time::timeout(wait, check).await.ok().and_then(|joined| joined.ok()),
    };
    Ok(match outcome {
        Some(Ok(Confirmation::Head { superseded })) => Submitted::Queued { id, superseded, confirmed: true },
        Some(Ok(Confirmation::Late { reason })) => Submitted::Late { id, superseded_by: None, reason },
        // Not known yet (or the fetch failed, and the run's checkout will try again).
        _ => Submitted::Queued { id, superseded: Vec::new(), confirmed: false },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::testing::{ended, repo_manager, repo_manager_with};
    use slipway_core::run_state::RunStatus;

    fn filter(include: &[&str], exclude: &[&str]) -> BranchFilter {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        BranchFilter { include: strings(include), exclude: strings(exclude) }
    }

    /// A push's branch, a tag's name and a pull request's head branch are what the filter
    /// looks at, as the webhook handler and polling looked before.
    #[test]
    fn the_filter_looks_at_the_branch_the_tag_or_the_pull_requests_head() {
        let f = filter(&["main", "release/*"], &["release/old-*"]);
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(filtered_out(&f, &RunTrigger::from_poll("main", sha)), None);
        assert_eq!(filtered_out(&f, &RunTrigger::from_poll("release/2", sha)), None);
        let old = filtered_out(&f, &RunTrigger::from_poll("release/old-1", sha)).unwrap();
        assert_eq!(old, "`release/old-1` is not among the branches this project builds (`branches`/`exclude`)");
        assert!(filtered_out(&f, &RunTrigger::from_poll("feature/x", sha)).is_some());
        let mut tag = RunTrigger::from_poll("x", sha);
        (tag.kind, tag.branch, tag.tag) = (trigger::TriggerKind::Tag, None, Some("v1".into()));
        assert!(filtered_out(&f, &tag).is_some(), "a tag is filtered by its name");
        tag.tag = Some("release/3".into());
        assert_eq!(filtered_out(&f, &tag), None);
        let mut pr = RunTrigger::from_poll("feature/y", sha);
        (pr.kind, pr.pr_number) = (trigger::TriggerKind::PullRequest, Some(7));
        assert!(filtered_out(&f, &pr).is_some(), "a pull request is filtered by its head branch");
        assert_eq!(filtered_out(&BranchFilter::default(), &pr), None, "no filter builds everything");
    }

    /// Deliveries and polled heads go through the one filter in `submit`: a branch the project
    /// does not build records no run, and asks nothing of the (here missing) repository.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_branch_the_project_does_not_build_queues_nothing() {
        let d = tempfile::tempdir().unwrap();
        let m = repo_manager_with(d.path(), "branches = [\"main\"]\n");
        for branch in ["dev", "feature/x"] {
            let t = RunTrigger::from_poll(branch, "0123456789abcdef0123456789abcdef01234567");
            let submitted = submit(&m, "web", t, Duration::from_secs(5)).await.unwrap();
            let Submitted::Filtered { reason } = submitted else { panic!("{submitted:?}") };
            assert!(reason.contains(&format!("`{branch}`")), "{reason}");
        }
        assert_eq!(m.store.runs(None, None, 1, 10).unwrap().1, 0, "no run was recorded");
        // `main` passes the filter: queued (unchecked: the repository cannot be fetched).
        let t = RunTrigger::from_poll("main", "0123456789abcdef0123456789abcdef01234567");
        let submitted = submit(&m, "web", t, Duration::ZERO).await.unwrap();
        assert!(matches!(submitted, Submitted::Queued { .. }), "{submitted:?}");
    }

    /// A run whose repository cannot be fetched fails with git's reason, without the server's
    /// folders in the record anyone may read, and leaves no checkout behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_repository_that_cannot_be_fetched_fails_the_run_with_gits_reason() {
        let d = tempfile::tempdir().unwrap();
        let m = repo_manager(d.path());
        tokio::spawn(crate::runs::queue::schedule(m.clone()));
        let t = trigger::RunTrigger::from_poll("main", "0123456789abcdef0123456789abcdef01234567");
        let submitted = submit(&m, "web", t, Duration::from_secs(5)).await.unwrap();
        // The head check could not fetch either: the run is queued unchecked, and its checkout tries again.
        let Submitted::Queued { id, superseded, confirmed: false } = submitted else { panic!("{submitted:?}") };
        assert!(superseded.is_empty());
        let run = ended(&m, &id).await;
        let error = run.error.unwrap();
        assert_eq!(run.status, RunStatus::Failed, "{error}");
        assert!(error.contains("git clone --mirror") && error.contains("gone.git"), "{error}");
        assert!(!error.contains(&d.path().join("data").display().to_string()), "{error}");
        assert!(run.trigger.is_some());
        let left = std::fs::read_dir(d.path().join("data/mirrors")).map(|r| r.count()).unwrap_or(0);
        assert_eq!(left, 1, "only the mirror's lock file: a failed clone leaves no folder");
        // Runs of a repository project come from its forge, not from the API.
        let e = m.submit(serde_json::from_value(serde_json::json!({"project": "web"})).unwrap()).unwrap_err();
        assert!(e.to_string().contains("repository project"), "{e}");
    }

    /// Review of 2026-12-07 (attack a4): one delivery replayed many times at once under new
    /// ids. Each looked for a run of its commit before any had inserted one, so several were
    /// queued (and the later cancelled the earlier). The look is now part of the insert's
    /// transaction: exactly one run per commit, the others answered with it.
    #[test]
    fn concurrent_deliveries_of_one_commit_queue_exactly_one_run() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let d = tempfile::tempdir().unwrap();
        let m = repo_manager(d.path());
        const AT_ONCE: usize = 8;
        for round in 0..40 {
            let commit = format!("{round:040x}");
            let start = std::sync::Barrier::new(AT_ONCE);
            let answers: Vec<Submitted> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..AT_ONCE)
                    .map(|i| {
                        let (m, rt, start, commit) = (&m, &rt, &start, &commit);
                        s.spawn(move || {
                            let mut t = trigger::RunTrigger::from_poll("main", commit);
                            t.kind = trigger::TriggerKind::Push;
                            t.delivery = Some(format!("delivery-{round}-{i}"));
                            start.wait();
                            rt.block_on(submit(m, "web", t, Duration::ZERO)).unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let queued: Vec<&String> = answers
                .iter()
                .filter_map(|a| match a {
                    Submitted::Queued { id, .. } | Submitted::Late { id, .. } => Some(id),
                    _ => None,
                })
                .collect();
            assert_eq!(queued.len(), 1, "round {round}: {answers:?}");
            for a in &answers {
                match a {
                    Submitted::SameCommit(id) => assert_eq!(id, queued[0], "round {round}: {answers:?}"),
                    Submitted::Queued { .. } | Submitted::Late { .. } => {}
                    Submitted::Duplicate(_) | Submitted::Replayed(_) => {
                        panic!("round {round}: distinct ids, no event keys: {answers:?}")
                    }
                    Submitted::Skipped { .. } | Submitted::Filtered { .. } => {
                        panic!("round {round}: nothing asked to skip: {answers:?}")
                    }
                }
            }
        }
    }
}
