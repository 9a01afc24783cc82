//! `slipway serve`

use crate::app::{App, Settings};
use crate::executor::policy::StepLimitsOverride;
use crate::executor::run_limits::RunLimitsOverride;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen. The default is loopback only; use port 0 for any free port.
    #[arg(long, default_value = "127.0.0.1:7878", env = "SLIPWAY_ADDR")]
    pub addr: SocketAddr,
    /// A project the server may run: NAME=PATH (a git work tree with the Codeship files). Repeatable.
    #[arg(long = "project", value_name = "NAME=PATH", value_parser = parse_pair)]
    pub projects: Vec<(String, PathBuf)>,
    /// The key file of a project: NAME=PATH [default: PATH/codeship.aes]. Stays on the server.
    #[arg(long = "key", value_name = "NAME=PATH", value_parser = parse_pair)]
    pub keys: Vec<(String, PathBuf)>,
    /// Projects from a TOML file, besides any --project: `[[project]]` tables with `name` and
    /// `path` (a folder) or `repo` (a clone URL, built on webhooks or polling), and optional
    /// `key` (paths relative to the file's folder). See the README.
    #[arg(long, value_name = "slipway.toml")]
    pub config: Option<PathBuf>,
    /// Where the database and the API token live [default: $XDG_DATA_HOME/slipway or ~/.local/share/slipway].
    #[arg(long, env = "SLIPWAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Runs at once; more wait in a queue (which survives restarts).
    #[arg(long, default_value_t = crate::app::DEFAULT_MAX_CONCURRENT_RUNS)]
    pub max_concurrent_runs: usize,
    /// The most step output one run keeps, in MB (10^6 bytes); later output is counted, not
    /// kept, and the log says so.
    #[arg(long, value_name = "MB", default_value_t = crate::app::DEFAULT_MAX_RUN_LOG_MB, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_run_log_mb: u64,
    /// Runs kept per project: older ended runs are deleted with their logs, and the database
    /// shrinks.
    #[arg(long, value_name = "N", default_value_t = crate::app::DEFAULT_KEEP_RUNS, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub keep_runs: u64,
    /// Append every request (method, URI, headers, body) to this file as JSON lines.
    #[arg(long)]
    pub request_log: Option<PathBuf>,
    /// Behind a reverse proxy: count webhook deliveries per client by the last address in
    /// `X-Forwarded-For` (the one the proxy adds), not by the proxy's own address. Only when
    /// the server is reachable through the proxy alone: anyone else could name any address.
    #[arg(long)]
    pub trust_forwarded_for: bool,
    /// Registry and prefix for the cache images of `cached: true` services.
    #[arg(long, env = "SLIPWAY_CACHE_REGISTRY")]
    pub cache_registry: Option<String>,
    /// Let steps of services with `add_docker: true` use the host's Docker engine. Off by
    /// default: anyone holding the API token could then control the host through Docker.
    #[arg(long)]
    pub allow_add_docker: bool,
    /// Trust a project's runs (repeatable; as `trusted = true` in slipway.toml): their steps
    /// may then use `privileged`, `cap_add`, `devices`, host `network_mode` and the other keys
    /// that control the host, and a service's own limits may exceed the server's. Only for a
    /// project whose every run you would run on this host yourself.
    #[arg(long = "trust", value_name = "NAME")]
    pub trust: Vec<String>,
    /// Let the built-in ECR generator of an untrusted run send its request to this endpoint
    /// when the project's `AWS_ENDPOINT_URL…` names it (repeatable; as `[generators] endpoints`
    /// in slipway.toml): `http(s)://HOST[:PORT]`, compared as written, never resolved. Other
    /// endpoints fail the run: the server itself would make the request.
    #[arg(long = "generator-endpoint", value_name = "URL", value_parser = crate::generators::endpoints::Origin::parse_setting)]
    pub generator_endpoints: Vec<crate::generators::endpoints::Origin>,
    /// Memory of each step container of untrusted runs at most (and of trusted runs unless a
    /// service sets `mem_limit`), like `4g`, or `unlimited` [default: 4g, or slipway.toml's
    /// `[step_limits]`].
    #[arg(long, value_name = "SIZE", value_parser = limit_parser("memory"))]
    pub step_memory: Option<Limit>,
    /// Processes (and threads) of each step container at once, or `unlimited` [default: 2048].
    #[arg(long, value_name = "N", value_parser = limit_parser("pids"))]
    pub step_pids: Option<Limit>,
    /// CPUs of each step container, like `2` or `0.5`, or `unlimited` [default: 4].
    #[arg(long, value_name = "N", value_parser = limit_parser("cpus"))]
    pub step_cpus: Option<Limit>,
    /// Wall-clock limit of each step, and of each image build or pull, of a run: minutes, a
    /// duration like `90s` or `2h`, or `unlimited` [default: 300 (CodeShip's build limit), or slipway.toml's `[run_limits]`].
    #[arg(long, value_name = "MIN", value_parser = crate::executor::run_limits::duration_flag)]
    pub step_timeout: Option<crate::executor::run_limits::Flag<std::time::Duration>>,
    /// Wall-clock limit of a whole run, like `--step-timeout` [default: 300, CodeShip Pro's 5 hours].
    #[arg(long, value_name = "MIN", value_parser = crate::executor::run_limits::duration_flag)]
    pub run_timeout: Option<crate::executor::run_limits::Flag<std::time::Duration>>,
    /// Disk one run may use (its workspace, its containers' writable layers and volumes), in MB
    /// of 2^20 bytes, or `unlimited`; measured every second [default: 10240].
    #[arg(long, value_name = "MB", value_parser = crate::executor::run_limits::disk_flag)]
    pub max_run_disk_mb: Option<crate::executor::run_limits::Flag<u64>>,
    /// Free space the host's disk keeps: when the disk of the workspaces (or of the engine's
    /// data, when it is on this machine) has less, every run is stopped; 0 turns it off.
    /// The last bound for disk a run uses where its watch cannot see it [default: 2048].
    #[arg(long, value_name = "MB", default_value_t = crate::executor::run_limits::DEFAULT_MIN_FREE_DISK_MB)]
    pub min_free_disk_mb: u64,
    /// What the server logs on stderr: a level (`error`, `warn`, `info`, `debug`, `trace`) or
    /// `tracing` filter directives [default: $RUST_LOG, else info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// The server's address as forges and browsers reach it, for the run links in commit
    /// statuses (`{public_url}/#/runs/{id}`) [default: http://ADDR].
    #[arg(long, env = "SLIPWAY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Where runs run: `local` (the Docker engine DOCKER_HOST names, step by step) or `swarm`
    /// (each run as a job on a node of the swarm whose manager DOCKER_HOST names; needs
    /// --cluster-registry).
    /// [default: slipway.toml's `[engine]`, else local]
    #[arg(long, value_enum)]
    pub engine: Option<EngineKind>,
    /// `HOST[:PORT]` of a registry every swarm node pulls from and the manager pushes to.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub cluster_registry: Option<String>,
    /// Each swarm node's Docker socket, as the run agent mounts it.
    #[arg(long, value_name = "PATH", default_value = crate::cluster::swarm::DEFAULT_NODE_SOCKET)]
    pub cluster_node_socket: String,
    /// A folder on each swarm node for the agent's copies of projects.
    #[arg(long, value_name = "PATH", default_value = crate::cluster::swarm::DEFAULT_NODE_WORK)]
    pub cluster_node_work: String,
    /// CPUs each run reserves on its swarm node (swarm places a run where they are free).
    #[arg(long, value_name = "N")]
    pub cluster_reserve_cpus: Option<f64>,
    /// Memory each run reserves on its swarm node, in MB.
    #[arg(long, value_name = "MB")]
    pub cluster_reserve_memory_mb: Option<u64>,
    /// A swarm placement constraint for every run (repeatable), like `node.labels.ci==true`.
    #[arg(long = "cluster-constraint", value_name = "EXPR")]
    pub cluster_constraints: Vec<String>,
    /// Say that step containers on the swarm's nodes cannot reach the cluster registry (a
    /// firewall keeps them away from it). Without it, --engine swarm runs trusted projects
    /// only: a step that reaches an unauthenticated registry could read other runs' images
    /// and push the tags that cancel or approve runs.
    #[arg(long)]
    pub cluster_registry_isolated: bool,
    /// A Docker config.json (`{"auths": {"HOST:PORT": {"auth": …}}}`) with the cluster
    /// registry's login: used for the manager's pushes, the nodes' pulls and the run agents,
    /// never given to steps. The server checks at start that the registry refuses requests
    /// without it; untrusted projects may then run without --cluster-registry-isolated.
    #[arg(long, value_name = "FILE")]
    pub cluster_registry_auth: Option<std::path::PathBuf>,
    /// The cluster registry's HTTP API as this server reaches it, when not at
    /// https://REGISTRY (or http://REGISTRY when that has no TLS): for the start check and
    /// removing finished runs' tags.
    #[arg(long, value_name = "URL")]
    pub cluster_registry_url: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Local,
    Swarm,
}

/// The engine the flags ask for.
fn engine_setting(args: &ServeArgs) -> Result<crate::app::EngineSetting> {
    use crate::app::EngineSetting;
    if args.engine != Some(EngineKind::Swarm)
        && (args.cluster_registry_auth.is_some() || args.cluster_registry_url.is_some())
    {
        bail!(
            "--cluster-registry-auth and --cluster-registry-url are for --engine swarm (with slipway.toml's \
             `[engine]`, use its `registry_auth` and `registry_url`)"
        );
    }
    match args.engine {
        None if args.cluster_registry.is_some() => bail!("--cluster-registry is for --engine swarm"),
        None => return Ok(EngineSetting::FromConfig),
        Some(EngineKind::Local) if args.cluster_registry.is_some() => {
            bail!("--cluster-registry is for --engine swarm")
        }
        Some(EngineKind::Local) => return Ok(EngineSetting::Local),
        Some(EngineKind::Swarm) => {}
    }
    let Some(registry) = args.cluster_registry.clone() else {
        bail!("--engine swarm needs --cluster-registry HOST[:PORT], a registry every node can pull from");
    };
    let reserve_nano_cpus = match args.cluster_reserve_cpus {
        Some(c) if !(c > 0.0 && c <= 1024.0) => bail!("--cluster-reserve-cpus {c}: expected a number of CPUs above 0"),
        Some(c) => Some((c * 1e9) as i64),
        None => None,
    };
    Ok(EngineSetting::Swarm(crate::cluster::swarm::SwarmSettings {
        registry,
        node_socket: args.cluster_node_socket.clone(),
        node_work: args.cluster_node_work.clone(),
        reserve_nano_cpus,
        reserve_memory: args.cluster_reserve_memory_mb.map(|mb| (mb.min(1 << 30) * 1024 * 1024) as i64),
        constraints: args.cluster_constraints.clone(),
        registry_isolated: args.cluster_registry_isolated,
        registry_auth: args.cluster_registry_auth.clone(),
        registry_url: args.cluster_registry_url.clone(),
    }))
}

/// A `--step-*` value: the limit, or `None` for `unlimited`. (A type of its own: clap reads an
/// `Option<Option<_>>` field as a flag whose value may be left out.)
#[derive(Clone, Copy, Debug)]
pub struct Limit(Option<i64>);

/// A `--step-*` value, read as slipway.toml reads the same limit.
fn limit_parser(key: &'static str) -> impl Fn(&str) -> Result<Limit, String> + Clone {
    move |s: &str| {
        let value = match key {
            "memory" => toml::Value::String(s.to_string()),
            _ => s.parse::<i64>().map(toml::Value::Integer).unwrap_or_else(|_| toml::Value::String(s.to_string())),
        };
        crate::config::parse_limit(key, &value).map(Limit)
    }
}

fn parse_pair(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok((n.to_string(), PathBuf::from(p))),
        _ => Err(format!("`{s}` is not NAME=PATH")),
    }
}

/// The default public URL is `http://ADDR`; for commit-status links that nobody can open
/// (all addresses, or any port), say what to pass instead.
fn default_public_url_warning(has_repos: bool, given: bool, addr: SocketAddr) -> Option<String> {
    if !has_repos || given || !(addr.ip().is_unspecified() || addr.port() == 0) {
        return None;
    }
    Some(format!(
        "commit statuses will link to http://{addr}/#/runs/…, which no browser can open; pass --public-url with the address people reach this server at (like https://ci.example.com)"
    ))
}

fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(x).join("slipway");
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".local/share/slipway")
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    crate::logging::init(args.log_level.as_deref())?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{}", args.addr));
    if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
        bail!("--public-url {public_url:?}: expected the server's http(s) address, like https://ci.example.com");
    }
    let settings = Settings {
        data_dir: args.data_dir.clone().unwrap_or_else(default_data_dir),
        config: args.config.clone(),
        folders: args.projects.clone(),
        keys: args.keys.clone(),
        trust: args.trust.clone(),
        public_url,
        max_concurrent_runs: args.max_concurrent_runs,
        max_log_bytes: args.max_run_log_mb * crate::runs::log_cap::MB,
        keep_runs: args.keep_runs as usize,
        cache_registry: args.cache_registry.clone(),
        allow_add_docker: args.allow_add_docker,
        generator_endpoints: args.generator_endpoints.clone(),
        step_limits: StepLimitsOverride {
            memory: args.step_memory.map(|l| l.0),
            pids: args.step_pids.map(|l| l.0),
            nano_cpus: args.step_cpus.map(|l| l.0),
        },
        run_limits: RunLimitsOverride {
            step: args.step_timeout.map(|f| f.0),
            run: args.run_timeout.map(|f| f.0),
            disk: args.max_run_disk_mb.map(|f| f.0),
        },
        min_free_disk_mb: args.min_free_disk_mb,
        request_log: args.request_log.clone(),
        trust_forwarded_for: args.trust_forwarded_for,
        engine: engine_setting(&args)?,
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        // First: a signal during the recovery below must stop the server gracefully, not kill it.
        let signals = crate::signals::Signals::install().context("cannot install signal handlers")?;
        let app = App::build(settings)?;
        if let Some(warning) = default_public_url_warning(app.has_repos(), args.public_url.is_some(), args.addr) {
            tracing::warn!("{warning}");
        }
        app.start().await?;
        app.serve(args.addr, signals).await
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::default_public_url_warning as warning;

    fn engine(args: &[&str]) -> anyhow::Result<crate::app::EngineSetting> {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            args: super::ServeArgs,
        }
        let parsed = <Serve as clap::Parser>::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))?;
        super::engine_setting(&parsed.args)
    }

    /// `--engine swarm` needs its registry; without `--engine`, slipway.toml decides; cluster
    /// flags without the swarm are a mistake said so.
    #[test]
    fn the_engine_flags_are_checked_together() {
        use crate::app::EngineSetting;
        assert_eq!(engine(&[]).unwrap(), EngineSetting::FromConfig);
        assert_eq!(engine(&["--engine", "local"]).unwrap(), EngineSetting::Local);
        let e = engine(&["--engine", "swarm"]).unwrap_err().to_string();
        assert!(e.contains("--cluster-registry"), "{e}");
        assert!(engine(&["--cluster-registry", "r:5000"]).unwrap_err().to_string().contains("--engine swarm"));
        assert!(engine(&["--cluster-registry-auth", "a.json"]).unwrap_err().to_string().contains("registry_auth"));
        let EngineSetting::Swarm(s) =
            engine(&["--engine", "swarm", "--cluster-registry", "r:5000", "--cluster-reserve-cpus", "0.5"]).unwrap()
        else {
            panic!("not a swarm")
        };
        assert_eq!((s.registry.as_str(), s.reserve_nano_cpus), ("r:5000", Some(500_000_000)));
        assert_eq!(s.node_socket, "/var/run/docker.sock");
        assert_eq!((s.registry_auth, s.registry_url), (None, None));
        let EngineSetting::Swarm(s) = engine(&[
            "--engine",
            "swarm",
            "--cluster-registry",
            "r:5000",
            "--cluster-registry-auth",
            "/etc/slipway/r.json",
            "--cluster-registry-url",
            "http://10.0.0.2:5000",
        ])
        .unwrap() else {
            panic!("not a swarm")
        };
        assert_eq!(s.registry_auth.as_deref(), Some(std::path::Path::new("/etc/slipway/r.json")));
        assert_eq!(s.registry_url.as_deref(), Some("http://10.0.0.2:5000"));
    }

    #[test]
    fn a_default_public_url_nobody_can_open_is_warned_about() {
        let any = "0.0.0.0:7878".parse().unwrap();
        let port0 = "127.0.0.1:0".parse().unwrap();
        let fine = "127.0.0.1:7878".parse().unwrap();
        assert!(warning(true, false, any).unwrap().contains("--public-url"));
        assert!(warning(true, false, port0).unwrap().contains("http://127.0.0.1:0/#/runs/"));
        assert_eq!(warning(true, false, fine), None);
        assert_eq!(warning(true, true, any), None, "an explicit --public-url is the operator's choice");
        assert_eq!(warning(false, false, any), None, "no repository projects, no statuses");
    }
}
