//! The disk a run uses, bounded. Docker can cap a container's writable layer only with
//! overlay2 on xfs mounted with `pquota` (`--storage-opt size=`), and nothing caps a bind
//! mount: so while a run goes on, this watch measures every few seconds what the run has
//! written — its workspace (a host folder its steps mount), its containers' writable layers
//! (`SizeRw`), the volumes its containers use (anonymous ones included; not the pinned
//! workspace folders, already counted) and its containers' logs (the engine's `json-file`
//! keeps all a step prints, whatever the run's log cap keeps) — and stops the run when the sum goes over the limit
//! (`--max-run-disk-mb`, `run_limits.disk`). The run then fails like one over its time limit
//! (see `deadline`): the running steps' containers are removed, later steps skipped; the
//! workspace goes at the end of every run.
//!
//! A run can write past the limit between two measurements: as much as its steps write in
//! one interval plus one measurement. The interval is [`INTERVAL`], shortened down to
//! [`FAST_INTERVAL`] when, at the rate the run's use grew since the last measurement, it
//! would reach the limit sooner; and never shorter than [`COST_FACTOR`] times the last
//! measurement's duration, so the watch never spends more than a fifth of its time measuring,
//! however many files a step makes.
//!
//! The workspace is walked through descriptors, one folder at a time, without following a
//! symbolic link and without leaving its file system: a step that replaces a folder by a link
//! to `/` changes nothing. Sizes are blocks allocated (a sparse file counts what it uses), a
//! hard-linked file once. Folders nested deeper than [`MAX_DEPTH`] are not walked (each
//! level holds a descriptor): such a workspace stops the run, as one that cannot be measured.

use super::DockerRun;
use crate::executor::run_limits::{Kind, show_mb};
use anyhow::{Context, Result, bail};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The time between two measurements of a run whose use is far from its limit.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// The time between two measurements of a run whose use grows fast towards its limit.
pub const FAST_INTERVAL: Duration = Duration::from_millis(250);
/// The interval is at least this many times the last measurement's duration.
pub const COST_FACTOR: u32 = 5;
/// Measurements in a row that may fail before the run is stopped.
const MAX_FAILURES: u32 = 2;
/// Folder levels walked below the workspace.
pub const MAX_DEPTH: usize = 256;

/// What one measurement found, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub workspace: u64,
    pub containers: u64,
    pub volumes: u64,
    pub logs: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.workspace.saturating_add(self.containers).saturating_add(self.volumes).saturating_add(self.logs)
    }
}

/// A folder tree's size: blocks allocated to everything in it, and how many entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeSize {
    pub bytes: u64,
    pub entries: u64,
    /// Folders the server may not read (a step running as root made them private, and the
    /// server is not root): what is inside is not counted.
    pub unreadable: u64,
}

/// The size of the tree at `root`, walked without following links or leaving its file system.
pub fn tree_size(root: &Path) -> Result<TreeSize> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::open(root, flags, Mode::empty()).with_context(|| format!("cannot open {}", root.display()))?;
    let top = rustix::fs::fstat(&fd).with_context(|| format!("cannot read {}", root.display()))?;
    let mut size = TreeSize { bytes: blocks(&top), entries: 0, unreadable: 0 };
    let mut linked: HashSet<(u64, u64)> = HashSet::new();
    let mut stack: Vec<Dir> = vec![Dir::new(fd).with_context(|| format!("cannot read {}", root.display()))?];
    loop {
        let depth = stack.len();
        let Some(dir) = stack.last_mut() else { break };
        let Some(entry) = dir.read() else {
            stack.pop();
            continue;
        };
        let Ok(entry) = entry else {
            // A folder removed while it is read: what is gone uses no disk.
            stack.pop();
            continue;
        };
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let parent = dir.fd()?;
        // Gone since it was listed: nothing to count.
        let Ok(st) = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) else { continue };
        size.entries += 1;
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind != FileType::Directory && st.st_nlink > 1 && !linked.insert((st.st_dev, st.st_ino)) {
            continue;
        }
        size.bytes = size.bytes.saturating_add(blocks(&st));
        if kind == FileType::Directory && st.st_dev == top.st_dev {
            if depth > MAX_DEPTH {
                bail!("folders are nested deeper than {MAX_DEPTH} levels in {}", root.display());
            }
            let sub = match rustix::fs::openat(parent, name, flags, Mode::empty()) {
                Ok(sub) => sub,
                Err(rustix::io::Errno::ACCESS) => {
                    size.unreadable += 1;
                    continue;
                }
                // Replaced by something else since: not a folder any more, or gone.
                Err(_) => continue,
            };
            if let Ok(sub) = Dir::new(sub) {
                stack.push(sub);
            }
        }
    }
    Ok(size)
}

/// How long to wait after a measurement of `now` bytes (see the module's comment), `last` the
/// one before, `took` how long this one took.
pub fn next_wait(last: Option<(Instant, u64)>, now: (Instant, u64), limit: u64, took: Duration) -> Duration {
    let mut wait = INTERVAL;
    if let Some((then, before)) = last
        && now.1 > before
    {
        let rate = (now.1 - before) as f64 / now.0.duration_since(then).as_secs_f64().max(1e-3);
        let to_limit = Duration::from_secs_f64(limit.saturating_sub(now.1) as f64 / rate);
        wait = wait.min(to_limit.max(FAST_INTERVAL));
    }
    wait.max(took * COST_FACTOR)
}

#[allow(clippy::unnecessary_cast)] // `st_blocks` is i64 on some targets, u64 on others
fn blocks(st: &rustix::fs::Stat) -> u64 {
    (st.st_blocks as u64).saturating_mul(512)
}

/// The bytes of the pinned-file links beside `workspace` whose name in the workspace is gone
/// (one link left): a file still in the workspace is counted there.
fn orphaned_links(workspace: &Path) -> u64 {
    let Some(parent) = workspace.parent() else { return 0 };
    let prefix = super::pinned::links_prefix(workspace);
    let Ok(entries) = std::fs::read_dir(parent) else { return 0 };
    let mut bytes = 0u64;
    for dir in entries.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(&prefix)) {
        let Ok(links) = std::fs::read_dir(dir.path()) else { continue };
        for link in links.flatten() {
            let Ok(st) = rustix::fs::lstat(link.path()) else { continue };
            if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_nlink == 1 {
                bytes = bytes.saturating_add(blocks(&st));
            }
        }
    }
    bytes
}

impl DockerRun {
    /// Watch the run's disk until `done` is cancelled; stop the run (see `deadline`) when it
    /// goes over its limit. Does nothing without a disk limit.
    pub(super) async fn watch_disk(self: Arc<Self>, done: tokio_util::sync::CancellationToken) {
        let limits = &self.spec.options.run_limits;
        if limits.disk.is_none() && limits.host_floor.is_none() {
            return;
        }
        // Unlimited (`unlimited`): measured against nothing but the host's floor.
        let limit = limits.disk.clone().unwrap_or(crate::executor::run_limits::Limit {
            value: u64::MAX,
            set_by: crate::executor::run_limits::SetBy::Default,
        });
        let floor_paths = self.floor_paths().await;
        let mut unmeasured: HashSet<String> = HashSet::new();
        let mut last: Option<(Instant, u64)> = None;
        let mut failures = 0;
        loop {
            let started = Instant::now();
            let measured = self.disk_usage(&mut unmeasured).await;
            let took = started.elapsed();
            if let Ok(u) = &measured {
                tracing::debug!(run = %self.spec.run_id, "disk use {} bytes ({u:?}), measured in {took:?}", u.total());
            }
            if let Some(why) = self.under_the_floor(&floor_paths) {
                self.stop_run(why);
                return;
            }
            match measured {
                Ok(usage) if usage.total() > limit.value => {
                    self.stop_run(format!(
                        "the run used {} of disk, over its limit of {} ({}): workspace {}, containers' writable \
                         layers {}, volumes {}, container logs {}",
                        show_mb(usage.total()),
                        show_mb(limit.value),
                        limit.origin(Kind::Disk),
                        show_mb(usage.workspace),
                        show_mb(usage.containers),
                        show_mb(usage.volumes),
                        show_mb(usage.logs),
                    ));
                    return;
                }
                Ok(usage) => {
                    failures = 0;
                    let wait = next_wait(last, (started, usage.total()), limit.value, took);
                    last = Some((started, usage.total()));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = done.cancelled() => return,
                    }
                }
                // A hiccup of the engine is tried again; a run that stays unmeasurable is stopped.
                Err(e) if failures < MAX_FAILURES => {
                    failures += 1;
                    tracing::warn!(run = %self.spec.run_id, "cannot measure the run's disk use: {e:#}");
                    tokio::select! {
                        _ = tokio::time::sleep(INTERVAL) => {}
                        _ = done.cancelled() => return,
                    }
                }
                Err(e) => {
                    self.stop_run(format!("the run's disk use cannot be measured, so it was stopped: {e:#}"));
                    return;
                }
            }
        }
    }

    /// The folders whose disk the host floor watches: the workspaces', and the engine's data
    /// (containers' layers, volumes) when it is on this machine.
    async fn floor_paths(&self) -> Vec<std::path::PathBuf> {
        let mut paths: Vec<std::path::PathBuf> = self.spec.dir.parent().map(Path::to_path_buf).into_iter().collect();
        if let Ok(info) = self.docker.info().await
            && let Some(root) = info.docker_root_dir.map(std::path::PathBuf::from)
            && root.is_dir()
        {
            paths.push(root);
        }
        paths
    }

    /// Why the run must stop: a watched disk with less free space than the floor.
    fn under_the_floor(&self, paths: &[std::path::PathBuf]) -> Option<String> {
        let floor = self.spec.options.run_limits.host_floor?;
        paths.iter().find_map(|p| {
            let st = rustix::fs::statvfs(p).ok()?;
            let free = st.f_bavail.saturating_mul(st.f_frsize);
            (free < floor).then(|| {
                format!(
                    "the host's disk has {} free, under the server's floor of {} (--min-free-disk-mb), so the run \
                     was stopped to keep the server working (a run can use disk its own measure does not see, such as \
                     a deleted file a step keeps open)",
                    show_mb(free),
                    show_mb(floor)
                )
            })
        })
    }

    /// One measurement (see the module's comment). Volumes that cannot be read (a server
    /// without access to the engine's folders) are named once in the log and not counted.
    async fn disk_usage(&self, unmeasured: &mut HashSet<String>) -> Result<Usage> {
        let mut usage = Usage::default();
        if self.spec.options.confine {
            let dir = self.spec.dir.clone();
            let tree = tokio::task::spawn_blocking(move || tree_size(&dir)).await??;
            usage.workspace = tree.bytes;
            // A bound file is a hard link beside the workspace (`pinned`); once a step deletes
            // its name in the workspace, the link alone holds what is written through the mount.
            let dir = self.spec.dir.clone();
            usage.workspace += tokio::task::spawn_blocking(move || orphaned_links(&dir)).await?;
            // Said once (the empty name, which no volume or container has, stands for it).
            if tree.unreadable > 0 && unmeasured.insert(String::new()) {
                self.info(format!(
                    "the disk watch cannot read {} folder(s) of the workspace (made private by a step; the server is \
                     not root): what is in them is not counted",
                    tree.unreadable
                ));
            }
        }
        let filters =
            HashMap::from([("label".to_string(), vec![format!("{}={}", super::labels::RUN, self.spec.run_id)])]);
        let opts = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .size(true)
            .filters(&filters)
            .build();
        let containers = self.docker.list_containers(Some(opts)).await.context("cannot list the run's containers")?;
        // A folder of the workspace is mounted through a volume of the run (see `pinned`): counted above.
        let pinned = self.object_name("bind-");
        let mut volumes: HashSet<String> = HashSet::new();
        for c in &containers {
            usage.containers = usage.containers.saturating_add(c.size_rw.unwrap_or(0).max(0) as u64);
            for m in c.mounts.iter().flatten() {
                if m.typ.as_deref() == Some("volume")
                    && let Some(name) = &m.name
                    && !name.starts_with(&pinned)
                {
                    volumes.insert(name.clone());
                }
            }
        }
        // The engine's log file of each container (readable where the server may read the
        // engine's folders; else named once and not counted, as a volume).
        for c in &containers {
            let Some(id) = &c.id else { continue };
            if unmeasured.contains(id) {
                continue;
            }
            let Ok(found) = self.docker.inspect_container(id, None).await else { continue };
            let Some(path) = found.log_path.filter(|p| !p.is_empty()) else { continue };
            match std::fs::symlink_metadata(&path) {
                Ok(m) => usage.logs = usage.logs.saturating_add(std::os::unix::fs::MetadataExt::blocks(&m) * 512),
                Err(e) => {
                    self.info(format!("the disk watch cannot measure a container's log ({e}); it is not counted"));
                    unmeasured.insert(id.clone());
                }
            }
        }
        for name in volumes {
            if unmeasured.contains(&name) {
                continue;
            }
            let Ok(v) = self.docker.inspect_volume(&name).await else { continue };
            let at = std::path::PathBuf::from(&v.mountpoint);
            let root_readable =
                rustix::fs::access(&at, rustix::fs::Access::READ_OK | rustix::fs::Access::EXEC_OK).is_ok();
            match tokio::task::spawn_blocking(move || tree_size(&at)).await? {
                Ok(size) => usage.volumes = usage.volumes.saturating_add(size.bytes),
                // The engine's folders closed to this server (not root): named once, not counted.
                Err(e) if !root_readable => {
                    self.info(format!("the disk watch cannot measure volume {name} ({e:#}); it is not counted"));
                    unmeasured.insert(name);
                }
                // Anything else a step made (folders nested past the walk's depth): the run
                // stops, as for the workspace; else the volume would go uncounted for good.
                Err(e) => return Err(e.context(format!("cannot measure volume {name}"))),
            }
        }
        Ok(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_counts_blocks_once_per_file_and_never_follows_links() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/big"), vec![1u8; 1 << 20]).unwrap();
        std::fs::hard_link(root.join("a/b/big"), root.join("a/again")).unwrap();
        std::os::unix::fs::symlink("/", root.join("a/host")).unwrap();
        std::os::unix::fs::symlink("/usr", root.join("usr")).unwrap();
        // Sparse: a 1 GiB length with nothing written uses (almost) nothing.
        std::fs::File::create(root.join("sparse")).unwrap().set_len(1 << 30).unwrap();
        let size = tree_size(root).unwrap();
        assert_eq!(size.entries, 7);
        assert!(size.bytes >= 1 << 20, "{size:?}");
        assert!(size.bytes < 2 << 20, "a hard link counts once, links are not followed, sparse is sparse: {size:?}");
    }

    /// For docs/perf.md: one measurement of a 100,000-file workspace (1,000 folders of 100
    /// files of 1 KiB). `cargo test -p slipway --bin slipway [--release] measure_a_100k_file_walk
    /// -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn measure_a_100k_file_walk() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..1000 {
            let dir = d.path().join(format!("d{}/e{i}", i % 10));
            std::fs::create_dir_all(&dir).unwrap();
            for j in 0..100 {
                std::fs::write(dir.join(format!("f{j}")), [7u8; 1024]).unwrap();
            }
        }
        for round in ["cold-ish", "warm"] {
            let started = Instant::now();
            let size = tree_size(d.path()).unwrap();
            println!(
                "{round}: {} entries, {:.1} MB in {:?} (the watch then waits {:?})",
                size.entries,
                size.bytes as f64 / (1 << 20) as f64,
                started.elapsed(),
                next_wait(None, (Instant::now(), 0), u64::MAX, started.elapsed())
            );
        }
    }

    #[test]
    fn the_watch_looks_sooner_when_the_use_grows_fast_but_never_spends_over_a_fifth_measuring() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        let ms = Duration::from_millis;
        assert_eq!(next_wait(None, (t0, 0), 100, ms(1)), INTERVAL);
        // Slow growth: 10 bytes in 2 s, far from the limit.
        assert_eq!(next_wait(Some((t0, 0)), (t1, 10), 1 << 30, ms(1)), INTERVAL);
        // 100 MB in 2 s with 30 MB left: the limit is 0.6 s away.
        assert_eq!(next_wait(Some((t0, 0)), (t1, 100 << 20), 130 << 20, ms(1)), ms(600));
        // Faster still: not under FAST_INTERVAL.
        assert_eq!(next_wait(Some((t0, 0)), (t1, 100 << 20), 101 << 20, ms(1)), FAST_INTERVAL);
        // A slow measurement (a huge workspace) spaces them out whatever the growth.
        assert_eq!(next_wait(Some((t0, 0)), (t1, 100 << 20), 101 << 20, ms(900)), ms(4500));
    }

    #[test]
    fn a_tree_too_deep_to_walk_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let mut p = d.path().to_path_buf();
        for _ in 0..(MAX_DEPTH + 2) {
            p.push("d");
        }
        std::fs::create_dir_all(&p).unwrap();
        let e = tree_size(d.path()).unwrap_err().to_string();
        assert!(e.contains("nested deeper than 256 levels"), "{e}");
    }
}
