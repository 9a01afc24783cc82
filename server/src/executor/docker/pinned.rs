//! Bind sources pinned by descriptor: what a container mounts is the folder the server opened
//! when it created the container, whatever a step renamed or replaced since.
//!
//! Docker resolves a bind's source path when it starts a container, and again for each
//! container that takes the mount through `volumes_from`; by then a step (or one running
//! beside it) may have swapped the folder for a symlink to `/`. Checking again before each
//! start would still leave the time between the check and Docker's own lookup. So the server
//! opens the folder (see `paths`: component by component, never through a link), keeps the
//! descriptor for the whole run, and hands Docker a local volume whose device is
//! `/proc/<server>/fd/<n>`. dockerd bind-mounts that magic link, which the kernel resolves to
//! the folder the descriptor holds, not to a name. (A plain bind of `/proc/<pid>/fd/<n>` does
//! not work: runc mounts it inside the container's new mount namespace, where the
//! descriptor's mount is foreign, and the kernel refuses with EINVAL. dockerd mounts a local
//! volume in its own namespace, which is ours.)
//!
//! A volume is always a folder, so a bound regular file is pinned differently: the server
//! hard-links the file it opened into a folder of its own beside the workspace (owner-only,
//! mounted by no container, removed with the run) and binds that link, which no step can
//! reach to swap.
//!
//! That needs dockerd on this host, in this server's mount namespace, seeing our `/proc`.
//! It is checked through the engine's Unix socket: the peer's process must be visible and
//! have the same root mount. Otherwise (`DOCKER_HOST=tcp://…`, rootless Docker, the server in
//! a container) a server run refuses binds, saying why; the CLI binds the checked path by
//! name as it did before (the developer's own machine).

use crate::executor::paths::Opened;
use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Whether folders can be pinned on the run's engine.
pub(super) enum EngineView {
    /// dockerd shares our mount namespace; `/proc/<proc_pid>` is this process there.
    Local { proc_pid: String },
    /// Why not.
    Elsewhere(String),
}

/// One pinned folder or file: the volume or link path that mounts it, and for a folder the
/// descriptor the volume's device names (closed, with the run, after its cleanup removed the
/// volume).
struct Pin {
    dev: u64,
    ino: u64,
    source: String,
    _fd: Option<OwnedFd>,
}

/// The start of the name of a workspace's pinned-files folder, beside it.
pub(super) fn links_prefix(workspace: &Path) -> String {
    format!(".slipway-pinned-{}-", workspace.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
}

/// The run's pinned folders and files.
#[derive(Default)]
pub(super) struct Pins {
    engine: tokio::sync::OnceCell<EngineView>,
    held: Mutex<Vec<Pin>>,
    /// Where pinned files are linked, made on first use.
    links: OnceLock<tempfile::TempDir>,
    /// Numbers the volumes and links. Unique even when steps running in parallel pin at
    /// once: Docker hands back an existing local volume of the same name, whatever its device.
    made: AtomicUsize,
}

impl Pins {
    /// What the run's engine allows, looked at once per run.
    pub(super) async fn engine(&self) -> &EngineView {
        self.engine.get_or_init(|| engine_view(std::env::var("DOCKER_HOST").unwrap_or_default())).await
    }

    /// The volume or link already mounting the folder or file `(dev, ino)`: every container
    /// of the run that binds the same one shares it.
    pub(super) fn find(&self, dev: u64, ino: u64) -> Option<String> {
        let held = self.held.lock().expect("pins lock");
        held.iter().find(|p| p.dev == dev && p.ino == ino).map(|p| p.source.clone())
    }

    /// A number for the next volume or link, never given before in the run.
    pub(super) fn next(&self) -> usize {
        self.made.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Keep `fd` open for the run: the volume `volume` mounts the folder through it.
    pub(super) fn keep(&self, dev: u64, ino: u64, volume: String, fd: OwnedFd) {
        self.held.lock().expect("pins lock").push(Pin { dev, ino, source: volume, _fd: Some(fd) });
    }

    /// The path to bind for the regular file `file` of the workspace `workspace`: a hard link
    /// to it in the run's link folder, made beside the workspace (same file system; the
    /// server's own folder, which no container mounts).
    pub(super) fn link_file(&self, workspace: &Path, file: &Opened) -> Result<String> {
        let st = rustix::fs::fstat(&file.fd).with_context(|| format!("cannot read {}", file.path.display()))?;
        if let Some(link) = self.find(st.st_dev, st.st_ino) {
            return Ok(link);
        }
        let dir = match self.links.get() {
            Some(d) => d,
            None => {
                let beside = workspace.parent().unwrap_or(workspace);
                // Named for the workspace, so the run's disk watch finds it (`disk_watch`).
                let prefix = links_prefix(workspace);
                let made = tempfile::Builder::new()
                    .prefix(&prefix)
                    .tempdir_in(beside)
                    .with_context(|| format!("cannot create a folder for pinned files in {}", beside.display()))?;
                // Another step of the run may have made one meanwhile; then this one goes.
                let _ = self.links.set(made);
                self.links.get().expect("just set")
            }
        };
        let link: PathBuf = dir.path().join(self.next().to_string());
        // The descriptor's /proc link names the very file opened; AT_SYMLINK_FOLLOW makes
        // linkat link that, not a name (and needs no privilege, unlike AT_EMPTY_PATH).
        rustix::fs::linkat(
            rustix::fs::CWD,
            format!("/proc/self/fd/{}", file.fd.as_raw_fd()),
            rustix::fs::CWD,
            &link,
            rustix::fs::AtFlags::SYMLINK_FOLLOW,
        )
        .with_context(|| {
            format!(
                "cannot pin the file {} for a bind (a hard link into {} failed); mount its folder instead",
                file.path.display(),
                dir.path().display()
            )
        })?;
        let source = link.display().to_string();
        self.held.lock().expect("pins lock").push(Pin {
            dev: st.st_dev,
            ino: st.st_ino,
            source: source.clone(),
            _fd: None,
        });
        Ok(source)
    }
}

/// Where dockerd runs, as seen from this process (see the module's documentation); `host` is
/// `DOCKER_HOST` (bollard connects the same way).
async fn engine_view(host: String) -> EngineView {
    let socket = if host.is_empty() {
        "/var/run/docker.sock".to_string()
    } else {
        match host.strip_prefix("unix://") {
            Some(p) => p.to_string(),
            None => {
                return EngineView::Elsewhere(format!("the Docker engine is at {host}, not on a socket of this host"));
            }
        }
    };
    let stream = match tokio::net::UnixStream::connect(&socket).await {
        Ok(s) => s,
        Err(e) => return EngineView::Elsewhere(format!("cannot connect to the Docker engine's socket {socket}: {e}")),
    };
    let Some(peer) = stream.peer_cred().ok().and_then(|c| c.pid()).filter(|p| *p > 0) else {
        return EngineView::Elsewhere(format!(
            "the process behind {socket} is not visible from this server (another PID namespace)"
        ));
    };
    match (root_mount("self"), root_mount(&peer.to_string())) {
        (Some(ours), Some(theirs)) if ours == theirs => {}
        _ => {
            return EngineView::Elsewhere(format!(
                "the Docker engine behind {socket} runs in another mount namespace (rootless Docker, or this \
                 server in a container)"
            ));
        }
    }
    // The number this process has in the /proc that dockerd sees (the same mount).
    match std::fs::read_link("/proc/self") {
        Ok(p) if p.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) => {
            EngineView::Local { proc_pid: p.to_string_lossy().into_owned() }
        }
        _ => EngineView::Elsewhere("/proc does not show this server's process".to_string()),
    }
}

/// The line of `/proc/<pid>/mountinfo` for the mount at `/`: mount ids are unique across
/// namespaces, so two processes show the same line only in the same mount namespace.
/// (Readable for any user's process, unlike `/proc/<pid>/ns/mnt`.)
fn root_mount(pid: &str) -> Option<String> {
    let text = crate::fsutil::read_limited(std::path::Path::new(&format!("/proc/{pid}/mountinfo")), 16 << 20).ok()?;
    let text = String::from_utf8_lossy(&text);
    text.lines().find(|l| l.split(' ').nth(4) == Some("/")).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elsewhere(engine: EngineView) -> String {
        match engine {
            EngineView::Local { .. } => panic!("an engine elsewhere taken for a local one"),
            EngineView::Elsewhere(why) => why,
        }
    }

    #[tokio::test]
    async fn an_engine_not_on_a_local_socket_cannot_pin() {
        let why = elsewhere(engine_view("tcp://10.0.0.1:2375".into()).await);
        assert_eq!(why, "the Docker engine is at tcp://10.0.0.1:2375, not on a socket of this host");
        let why = elsewhere(engine_view("ssh://ci@build-host".into()).await);
        assert!(why.contains("ssh://ci@build-host"), "{why}");
        let why = elsewhere(engine_view("unix:///nonexistent/docker.sock".into()).await);
        assert!(why.starts_with("cannot connect to the Docker engine's socket /nonexistent/docker.sock"), "{why}");
    }

    /// A socket whose listener is this very process is in our namespaces: `Local`, with our
    /// own number in /proc.
    #[tokio::test]
    async fn a_listener_in_our_namespaces_is_local() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let _listener = tokio::net::UnixListener::bind(&socket).unwrap();
        match engine_view(format!("unix://{}", socket.display())).await {
            EngineView::Local { proc_pid } => assert_eq!(proc_pid, std::process::id().to_string()),
            EngineView::Elsewhere(why) => panic!("{why}"),
        }
    }

    #[test]
    fn our_own_root_mount_is_found() {
        let line = root_mount("self").expect("/proc/self/mountinfo has a root mount");
        assert_eq!(line.split(' ').nth(4), Some("/"));
        assert_eq!(root_mount("self"), root_mount(&std::process::id().to_string()));
    }
}
