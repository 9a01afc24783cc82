//! `[engine]` in slipway.toml: where runs run (`kind = "local"`, the default, or `"swarm"`)
//! and, for a swarm, its cluster registry, the nodes' paths and what each run reserves; the
//! same settings as `slipway serve --engine swarm --cluster-…`, which go over them.

use crate::cluster::swarm::{DEFAULT_NODE_SOCKET, DEFAULT_NODE_WORK, SwarmSettings};
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEngine {
    kind: Option<Spanned<String>>,
    cluster_registry: Option<Spanned<String>>,
    node_socket: Option<String>,
    node_work: Option<String>,
    reserve_cpus: Option<Spanned<f64>>,
    reserve_memory_mb: Option<u64>,
    #[serde(default)]
    constraints: Vec<String>,
    #[serde(default)]
    registry_isolated: bool,
    /// A Docker config.json with the registry's login, relative to slipway.toml.
    registry_auth: Option<String>,
    registry_url: Option<String>,
}

/// The swarm `[engine]` asks for, if it does; `Err((span, message))` for a bad value.
pub(super) fn swarm(
    raw: Option<&RawEngine>,
    base: &std::path::Path,
) -> Result<Option<SwarmSettings>, (Option<std::ops::Range<usize>>, String)> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.kind.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
        None | Some(("local", _)) => {
            if let Some(r) = &raw.cluster_registry {
                return Err((Some(r.span()), "`[engine]` `cluster_registry` is for `kind = \"swarm\"`".into()));
            }
            Ok(None)
        }
        Some(("swarm", span)) => {
            let Some(registry) = &raw.cluster_registry else {
                return Err((
                    Some(span),
                    "`[engine]` `kind = \"swarm\"` needs `cluster_registry = \"HOST[:PORT]\"`, a registry every node can pull from".into(),
                ));
            };
            let reserve_nano_cpus = match &raw.reserve_cpus {
                Some(c) if !(*c.get_ref() > 0.0 && *c.get_ref() <= 1024.0) => {
                    return Err((
                        Some(c.span()),
                        "`[engine]` `reserve_cpus`: expected a number of CPUs above 0".into(),
                    ));
                }
                Some(c) => Some((c.get_ref() * 1e9) as i64),
                None => None,
            };
            Ok(Some(SwarmSettings {
                registry: registry.get_ref().clone(),
                node_socket: raw.node_socket.clone().unwrap_or_else(|| DEFAULT_NODE_SOCKET.into()),
                node_work: raw.node_work.clone().unwrap_or_else(|| DEFAULT_NODE_WORK.into()),
                reserve_nano_cpus,
                reserve_memory: raw.reserve_memory_mb.map(|mb| (mb.min(1 << 30) * 1024 * 1024) as i64),
                constraints: raw.constraints.clone(),
                registry_isolated: raw.registry_isolated,
                registry_auth: raw.registry_auth.as_ref().map(|p| base.join(p)),
                registry_url: raw.registry_url.clone(),
            }))
        }
        Some((other, span)) => {
            Err((Some(span), format!("`[engine]` `kind = \"{other}\"`: expected \"local\" or \"swarm\"")))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse_config;
    use std::path::Path;

    fn parse(text: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        parse_config(Path::new("/etc/slipway/slipway.toml"), text)
    }

    #[test]
    fn a_swarm_engine_takes_its_registry_and_the_real_hosts_paths_by_default() {
        let c = parse(
            "[engine]\nkind = \"swarm\"\ncluster_registry = \"reg:5000\"\nreserve_cpus = 1.5\nconstraints = [\"node.labels.ci==true\"]\n",
        )
        .unwrap();
        let s = c.swarm.unwrap();
        assert_eq!(s.registry, "reg:5000");
        assert_eq!(s.node_socket, "/var/run/docker.sock");
        assert_eq!(s.node_work, "/var/lib/slipway-agent");
        assert_eq!(s.reserve_nano_cpus, Some(1_500_000_000));
        assert_eq!(s.constraints, ["node.labels.ci==true"]);
        assert_eq!((s.registry_auth, s.registry_url), (None, None));
        let c = parse(
            "[engine]\nkind = \"swarm\"\ncluster_registry = \"reg:5000\"\nregistry_auth = \"secrets/cluster.json\"\nregistry_url = \"https://reg.internal\"\n",
        )
        .unwrap();
        let s = c.swarm.unwrap();
        // Relative to slipway.toml, as its other paths are.
        assert_eq!(s.registry_auth.as_deref(), Some(Path::new("/etc/slipway/secrets/cluster.json")));
        assert_eq!(s.registry_url.as_deref(), Some("https://reg.internal"));
        assert_eq!(parse("[engine]\nkind = \"local\"\n").unwrap().swarm, None);
        assert_eq!(parse("").unwrap().swarm, None, "no [engine]: the local engine");
    }

    #[test]
    fn a_swarm_without_registry_or_an_unknown_kind_is_an_error_at_its_position() {
        let e = parse("[engine]\nkind = \"swarm\"\n").unwrap_err();
        assert_eq!(e.position, Some((2, 8)));
        assert!(e.message.contains("cluster_registry"), "{}", e.message);
        let e = parse("[engine]\nkind = \"nomad\"\n").unwrap_err();
        assert!(e.message.contains("\"local\" or \"swarm\""), "{}", e.message);
        let e = parse("[engine]\nkind = \"swarm\"\ncluster_registry = \"r\"\nreserve_cpus = 0\n").unwrap_err();
        assert!(e.message.contains("reserve_cpus"), "{}", e.message);
        let e = parse("[engine]\nregistry = \"r\"\n").unwrap_err();
        assert!(e.message.contains("registry"), "unknown keys are refused: {}", e.message);
    }
}
