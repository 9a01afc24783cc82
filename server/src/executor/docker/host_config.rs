//! A service's compose keys (read by the core into `ContainerSettings`) as Docker's
//! `HostConfig` and container settings: limits (with the server's, see `policy`), host access
//! (which `policy::check` has already refused in an untrusted run), and the rest. Binds and
//! `volumes_from` are `container.rs`'s.

use crate::executor::RunOptions;
use crate::executor::policy::{Effective, effective_limits};
use anyhow::{Result, bail};
use bollard::models::{DeviceMapping, HealthConfig, HostConfig, ResourcesUlimits};
use slipway_core::model::Service;
use std::collections::HashMap;

/// What `create` puts in the container besides image, command, environment and mounts.
pub(super) struct Shaped {
    /// Everything but `binds` and `volumes_from`.
    pub host_config: HostConfig,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub exposed_ports: Option<Vec<String>>,
    pub healthcheck: Option<HealthConfig>,
    /// The service's `labels` (the run's own labels are added over them).
    pub labels: HashMap<String, String>,
}

/// `network`: the step network the container joins, if any.
pub(super) fn shape(svc: &Service, options: &RunOptions, network: Option<&str>) -> Result<Shaped> {
    let c = &svc.container;
    // `policy::check` refused these before the run started, for every service it would use;
    // checked again where every container is made, so that no path can miss one.
    if !options.trusted
        && let Some((_, what)) = crate::executor::policy::host_access(&c.host).into_iter().next()
    {
        bail!("service `{}` asks for {what}, which an untrusted run may not use", svc.name.value);
    }
    let strings = |v: &[slipway_core::Spanned<String>]| -> Option<Vec<String>> {
        (!v.is_empty()).then(|| v.iter().map(|s| s.value.clone()).collect())
    };
    let own_mode =
        c.host.network_mode.as_ref().map(|m| m.value.as_str()).filter(|m| !matches!(*m, "" | "bridge" | "default"));
    let network_mode = match (network, own_mode) {
        (Some(n), None) => Some(n.to_string()),
        (None, mode) => mode.map(str::to_string),
        (Some(_), Some(mode)) => bail!(
            "service `{}` has `network_mode: {mode}`, but its step has dependencies (links or depends_on), \
             which it reaches on the step's own network; remove one or the other",
            svc.name.value
        ),
    };
    let Effective {
        memory,
        memory_swap,
        memory_reservation,
        shm_size,
        nano_cpus,
        cpu_quota,
        cpu_period,
        cpu_shares,
        cpuset,
        pids,
        ulimits,
        capped: _,
    } = effective_limits(&svc.name.value, &c.limits, options.step_limits.as_ref(), options.trusted);
    let host_config = HostConfig {
        network_mode,
        extra_hosts: strings(&c.extra_hosts),
        dns: strings(&c.dns),
        dns_search: strings(&c.dns_search),
        cap_add: strings(&c.host.cap_add),
        cap_drop: strings(&c.cap_drop),
        privileged: c.host.privileged.as_ref().map(|p| p.value),
        devices: (!c.host.devices.is_empty()).then(|| c.host.devices.iter().map(|d| device(&d.value)).collect()),
        security_opt: strings(&c.host.security_opt),
        sysctls: (!c.host.sysctls.is_empty())
            .then(|| c.host.sysctls.iter().map(|(k, v)| (k.value.clone(), v.value.clone())).collect()),
        pid_mode: c.host.pid.as_ref().map(|p| p.value.clone()),
        ipc_mode: c.host.ipc.as_ref().map(|p| p.value.clone()),
        memory,
        memory_swap,
        memory_reservation,
        shm_size,
        nano_cpus,
        cpu_quota,
        cpu_period,
        cpu_shares,
        cpuset_cpus: cpuset,
        pids_limit: pids,
        ulimits: (!ulimits.is_empty()).then(|| {
            ulimits
                .iter()
                .map(|u| ResourcesUlimits { name: Some(u.name.value.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect()
        }),
        readonly_rootfs: c.read_only.as_ref().map(|r| r.value),
        init: c.init.as_ref().map(|i| i.value),
        tmpfs: (!c.tmpfs.is_empty()).then(|| {
            c.tmpfs
                .iter()
                .map(|t| match t.value.split_once(':') {
                    Some((path, opts)) => (path.to_string(), opts.to_string()),
                    None => (t.value.clone(), String::new()),
                })
                .collect()
        }),
        ..Default::default()
    };
    let healthcheck = c.healthcheck.as_ref().map(|h| HealthConfig {
        test: h.test.clone(),
        interval: h.interval,
        timeout: h.timeout,
        retries: h.retries,
        start_period: h.start_period,
        start_interval: None,
    });
    Ok(Shaped {
        host_config,
        hostname: c.hostname.as_ref().map(|h| h.value.clone()),
        domainname: c.domainname.as_ref().map(|d| d.value.clone()),
        exposed_ports: strings(&c.expose),
        healthcheck,
        labels: c.labels.iter().map(|(k, v)| (k.value.clone(), v.value.clone())).collect(),
    })
}

/// `HOST[:CONTAINER[:PERMISSIONS]]`, as `docker run --device` reads it.
fn device(spec: &str) -> DeviceMapping {
    let mut parts = spec.splitn(3, ':');
    let host = parts.next().unwrap_or_default().to_string();
    let (container, permissions) = match (parts.next(), parts.next()) {
        // `/dev/x:rw`: permissions, not a path.
        (Some(p), None) if !p.starts_with('/') => (host.clone(), p.to_string()),
        (Some(c), p) => (c.to_string(), p.unwrap_or("rwm").to_string()),
        (None, _) => (host.clone(), "rwm".to_string()),
    };
    DeviceMapping {
        path_on_host: Some(host),
        path_in_container: Some(container),
        cgroup_permissions: Some(permissions),
    }
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn devices_read_as_docker_run_reads_them() {
        let d = device("/dev/fuse");
        assert_eq!((d.path_in_container.as_deref(), d.cgroup_permissions.as_deref()), (Some("/dev/fuse"), Some("rwm")));
        let d = device("/dev/sda:/dev/xvda:r");
        assert_eq!((d.path_in_container.as_deref(), d.cgroup_permissions.as_deref()), (Some("/dev/xvda"), Some("r")));
        let d = device("/dev/kvm:rw");
        assert_eq!((d.path_in_container.as_deref(), d.cgroup_permissions.as_deref()), (Some("/dev/kvm"), Some("rw")));
    }
}
