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
//! That needs dockerd on this host, in this server's mount namespace, seeing our `/proc`.
//! It is checked through the engine's Unix socket: the peer's process must be visible and
//! have the same root mount. Otherwise (`DOCKER_HOST=tcp://…`, rootless Docker, the server in
//! a container) a server run refuses binds, saying why; the CLI binds the checked path by
//! name as it did before (the developer's own machine).

use std::os::fd::OwnedFd;
use std::sync::Mutex;

/// Whether folders can be pinned on the run's engine.
pub(super) enum Engine {
    /// dockerd shares our mount namespace; `/proc/<proc_pid>` is this process there.
    Local { proc_pid: String },
    /// Why not.
    Elsewhere(String),
}

/// One pinned folder: the volume that mounts it, and the descriptor the volume's device
/// names (closed, with the run, after its cleanup removed the volume).
struct Pin {
    dev: u64,
    ino: u64,
    volume: String,
    _fd: OwnedFd,
}

/// The run's pinned folders.
#[derive(Default)]
pub(super) struct Pins {
    engine: tokio::sync::OnceCell<Engine>,
    held: Mutex<Vec<Pin>>,
}

impl Pins {
    /// What the run's engine allows, looked at once per run.
    pub(super) async fn engine(&self) -> &Engine {
        self.engine.get_or_init(engine_view).await
    }

    /// The volume already mounting the folder `(dev, ino)`: every container of the run that
    /// binds the same folder shares it.
    pub(super) fn find(&self, dev: u64, ino: u64) -> Option<String> {
        let held = self.held.lock().expect("pins lock");
        held.iter().find(|p| p.dev == dev && p.ino == ino).map(|p| p.volume.clone())
    }

    /// How many folders are pinned: names the next volume.
    pub(super) fn count(&self) -> usize {
        self.held.lock().expect("pins lock").len()
    }

    pub(super) fn keep(&self, dev: u64, ino: u64, volume: String, fd: OwnedFd) {
        self.held.lock().expect("pins lock").push(Pin { dev, ino, volume, _fd: fd });
    }
}

/// Where dockerd runs, as seen from this process (see the module's documentation).
async fn engine_view() -> Engine {
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    let socket = if host.is_empty() {
        "/var/run/docker.sock".to_string()
    } else {
        match host.strip_prefix("unix://") {
            Some(p) => p.to_string(),
            None => return Engine::Elsewhere(format!("the Docker engine is at {host}, not on a socket of this host")),
        }
    };
    let stream = match tokio::net::UnixStream::connect(&socket).await {
        Ok(s) => s,
        Err(e) => return Engine::Elsewhere(format!("cannot connect to the Docker engine's socket {socket}: {e}")),
    };
    let Some(peer) = stream.peer_cred().ok().and_then(|c| c.pid()).filter(|p| *p > 0) else {
        return Engine::Elsewhere(format!(
            "the process behind {socket} is not visible from this server (another PID namespace)"
        ));
    };
    match (root_mount("self"), root_mount(&peer.to_string())) {
        (Some(ours), Some(theirs)) if ours == theirs => {}
        _ => {
            return Engine::Elsewhere(format!(
                "the Docker engine behind {socket} runs in another mount namespace (rootless Docker, or this \
                 server in a container)"
            ));
        }
    }
    // The number this process has in the /proc that dockerd sees (the same mount).
    match std::fs::read_link("/proc/self") {
        Ok(p) if p.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) => {
            Engine::Local { proc_pid: p.to_string_lossy().into_owned() }
        }
        _ => Engine::Elsewhere("/proc does not show this server's process".to_string()),
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

    #[test]
    fn our_own_root_mount_is_found() {
        let line = root_mount("self").expect("/proc/self/mountinfo has a root mount");
        assert_eq!(line.split(' ').nth(4), Some("/"));
        assert_eq!(root_mount("self"), root_mount(&std::process::id().to_string()));
    }
}
