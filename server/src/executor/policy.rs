//! What a run's configuration may ask of the host: the trust policy and the per-step limits.
//!
//! A step is code from whoever can start a run: on a server, anyone holding the API token, and
//! for a repository project anyone who can push or open a pull request. Such a run is
//! *untrusted* (the server's default): before any container exists, [`check`] refuses every
//! key that would give its containers power over the host or over other projects' containers
//! (`privileged`, `cap_add` beyond Docker's defaults, `devices`, `security_opt`, `sysctls`,
//! `network_mode`/`pid`/`ipc` outside the container, `add_docker`, absolute host volumes), and
//! [`effective_limits`] caps each container's memory, processes and CPU at the server's
//! [`StepLimits`]. A *trusted* run (`slipway steps` on a developer's machine, as jet was, or a
//! server project an operator marked `trusted = true`) gets every key as written, with the
//! server's limits as defaults that the service's own keys override.

use super::RunSpec;
use slipway_core::model::container::{DEFAULT_CAPABILITIES, Ulimit};
use slipway_core::model::{HostAccess, Limits, Service};
use slipway_core::plan::PlannedStep;
use slipway_core::source::Span;
use std::collections::BTreeSet;

pub use slipway_core::model::container::{StepLimits, StepLimitsOverride};

/// CFS period used to express a CPU limit: Docker's default, 100 ms. A quota, unlike
/// `NanoCpus`, is not checked against the engine's CPU count, so a default of 4 CPUs also
/// works on a 2-CPU host.
const CPU_PERIOD: i64 = 100_000;

/// One key the policy refuses, with where it is written.
struct Refusal {
    service: String,
    span: Span,
    what: String,
}

/// Refuse, before any container exists, what the run's services may not do. Only the
/// services the run will create containers for count: a service no planned step uses (a
/// local-only one in a shared docker-compose.yml) cannot reach the host. Returns what the
/// run's log should say about its limits.
pub(super) fn check(spec: &RunSpec) -> anyhow::Result<Vec<String>> {
    let o = &spec.options;
    let mut refusals = Vec::new();
    let mut notes: Vec<String> = o.step_limits.iter().map(describe).collect();
    for svc in used_services(spec) {
        let capped = effective_limits(&svc.name.value, &svc.container.limits, o.step_limits.as_ref(), o.trusted).capped;
        notes.extend(capped.into_iter().map(|c| format!("lowered {c}, this server's limit")));
        if svc.add_docker && !(o.trusted || o.allow_add_docker) {
            refusals.push(Refusal {
                service: svc.name.value.clone(),
                span: svc.name.span,
                what: "`add_docker: true` (the host's Docker engine, which controls the host; also allowed server-wide by `slipway serve --allow-add-docker`)".to_string(),
            });
        }
        if o.trusted {
            continue;
        }
        for (span, what) in host_access(&svc.container.host) {
            refusals.push(Refusal { service: svc.name.value.clone(), span, what });
        }
        for u in svc.container.limits.ulimits.iter().filter(|u| u.name.value == "rtprio") {
            refusals.push(Refusal {
                service: svc.name.value.clone(),
                span: u.name.span,
                what: "`ulimits: rtprio` (real-time scheduling, which can starve the host's CPUs)".to_string(),
            });
        }
        for v in &svc.volumes {
            if let Some(h) = v.host.as_deref().filter(|h| h.starts_with('/')) {
                refusals.push(Refusal {
                    service: svc.name.value.clone(),
                    span: v.span,
                    what: format!(
                        "the host volume `{h}`, which is absolute (a folder of the host, outside the project)"
                    ),
                });
            }
        }
    }
    if refusals.is_empty() {
        return Ok(notes);
    }
    let lines: Vec<String> = refusals
        .iter()
        .map(|r| {
            let at = match &spec.source {
                Some(f) => {
                    let (line, col) = f.line_col(r.span.start);
                    format!("{}:{line}:{col}: ", f.name)
                }
                None => String::new(),
            };
            format!("{at}service `{}` asks for {}", r.service, r.what)
        })
        .collect();
    anyhow::bail!(
        "this run is not trusted, and its configuration asks for power over the host:\n  {}\n\
         Remove these keys, or, if everyone who can start runs of project `{}` may control this host, \
         trust the project: `trusted = true` in its [[project]] table of slipway.toml (or \
         `slipway serve --trust {}` for a --project)",
        lines.join("\n  "),
        spec.project,
        spec.project
    )
}

/// The limits in a sentence for the run's log.
fn describe(l: &StepLimits) -> String {
    let parts: Vec<String> = [
        l.memory.map(|m| format!("{} of memory", size(m))),
        l.pids.map(|p| format!("{p} processes")),
        l.nano_cpus.map(|n| format!("{} CPUs", cpus(n))),
    ]
    .into_iter()
    .flatten()
    .collect();
    match parts.is_empty() {
        true => "this server sets no limits on step containers".to_string(),
        false => format!("each step container gets at most {} (this server's limits)", parts.join(", ")),
    }
}

/// What in `host` gives a container power outside itself, each with where it is written.
pub(super) fn host_access(host: &HostAccess) -> Vec<(Span, String)> {
    let mut out = Vec::new();
    if let Some(p) = host.privileged.as_ref().filter(|p| p.value) {
        out.push((p.span, "`privileged: true` (every device and capability of the host)".to_string()));
    }
    for c in &host.cap_add {
        let name = c.value.trim().to_ascii_uppercase();
        let name = name.strip_prefix("CAP_").unwrap_or(&name);
        if !DEFAULT_CAPABILITIES.contains(&name) {
            out.push((c.span, format!("`cap_add: {}` (a capability Docker does not grant by default)", c.value)));
        }
    }
    for d in &host.devices {
        out.push((d.span, format!("`devices: {}` (a device of the host)", d.value)));
    }
    for s in &host.security_opt {
        let v = s.value.trim();
        if !matches!(v, "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true") {
            out.push((s.span, format!("`security_opt: {v}` (only `no-new-privileges` is allowed untrusted)")));
        }
    }
    for (k, v) in &host.sysctls {
        out.push((k.span, format!("`sysctls: {}={}` (a kernel setting)", k.value, v.value)));
    }
    let modes = [("network_mode", &host.network_mode, &["none", "bridge", "default"][..]), ("pid", &host.pid, &[][..])];
    let ipc = [("ipc", &host.ipc, &["private", "shareable", "none"][..])];
    for (key, value, allowed) in modes.into_iter().chain(ipc) {
        if let Some(v) = value.as_ref().filter(|v| !v.value.is_empty() && !allowed.contains(&v.value.as_str())) {
            out.push((v.span, format!("`{key}: {}` (a namespace of the host or of another container)", v.value)));
        }
    }
    out
}

/// The services the run creates containers of: those of its steps (not skipped ones), their
/// dockercfg generators, and what they link to, depend on or take volumes from. A generator
/// Slipway replaces with a built-in (`crate::generators`) creates none, so its `add_docker`
/// (which the ECR image needed) is not refused.
fn used_services(spec: &RunSpec) -> Vec<&Service> {
    fn walk(spec: &RunSpec, s: &PlannedStep, out: &mut Vec<String>) {
        if s.status != slipway_core::plan::Status::Skipped {
            out.extend(s.service.iter().cloned());
            out.extend(s.dockercfg_service.iter().filter(|g| !built_in(spec, g)).cloned());
        }
        s.steps.iter().chain(&s.on_fail).for_each(|c| walk(spec, c, out));
    }
    let mut todo = Vec::new();
    spec.plan.steps.iter().for_each(|s| walk(spec, s, &mut todo));
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(svc) = spec.services.get(&name) else { continue };
        let next = svc
            .links
            .iter()
            .map(|l| &l.service)
            .chain(&svc.depends_on)
            .chain(&svc.volumes_from)
            .chain(svc.dockercfg_service.iter().filter(|g| !built_in(spec, &g.value)));
        todo.extend(next.map(|n| n.value.clone()));
        out.push(svc);
    }
    out
}

/// Whether the service `name` is a generator Slipway runs built in.
fn built_in(spec: &RunSpec, name: &str) -> bool {
    spec.services.get(name).is_some_and(|s| crate::generators::BuiltIn::of(s).is_some())
}

/// The resource settings a container gets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effective {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub shm_size: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpuset: Option<String>,
    pub pids: Option<i64>,
    pub ulimits: Vec<Ulimit>,
    /// What was lowered to the server's limits, for the run's log.
    pub capped: Vec<String>,
}

/// The service's limits (`own`), with the server's (`server`, none on the CLI): a trusted run
/// takes the service's where it sets them and the server's elsewhere; an untrusted run gets
/// the lower of the two.
pub fn effective_limits(service: &str, own: &Limits, server: Option<&StepLimits>, trusted: bool) -> Effective {
    let mut e = Effective {
        memory: own.memory.as_ref().map(|s| s.value),
        memory_swap: own.memory_swap.as_ref().map(|s| s.value),
        memory_reservation: own.memory_reservation.as_ref().map(|s| s.value),
        shm_size: own.shm_size.as_ref().map(|s| s.value),
        nano_cpus: own.nano_cpus.as_ref().map(|s| s.value),
        cpu_quota: own.cpu_quota.as_ref().map(|s| s.value),
        cpu_period: own.cpu_period.as_ref().map(|s| s.value),
        cpu_shares: own.cpu_shares.as_ref().map(|s| s.value),
        cpuset: own.cpuset.as_ref().map(|s| s.value.clone()),
        pids: own.pids.as_ref().map(|s| s.value),
        ulimits: own.ulimits.clone(),
        capped: Vec::new(),
    };
    let Some(server) = server else { return e };
    // Memory: no swap on top of a limit the server sets.
    if let Some(cap) = server.memory {
        match e.memory {
            None => {
                e.memory = Some(cap);
                e.memory_swap = Some(match e.memory_swap {
                    Some(s) if trusted && (s == -1 || s > cap) => s,
                    _ => cap,
                });
            }
            // Docker reads 0 (what `mem_limit: 0` or `0.4b` comes to) as "no limit".
            Some(m) if !trusted && (m <= 0 || m > cap) => {
                let asked = if m <= 0 { "unlimited".to_string() } else { size(m) };
                e.capped.push(format!("`mem_limit` of service `{service}` ({asked}) to {}", size(cap)));
                e.memory = Some(cap);
            }
            Some(_) => {}
        }
        if !trusted {
            let m = e.memory.unwrap_or(cap);
            e.memory_swap = Some(match e.memory_swap {
                Some(s) if s >= m && s <= cap.max(m) => s,
                _ => m,
            });
            e.memory_reservation = e.memory_reservation.map(|r| r.min(m));
            // /dev/shm is charged to the container's memory anyway; it cannot be larger.
            e.shm_size = e.shm_size.map(|s| s.min(m));
        }
    }
    if let Some(cap) = server.pids {
        match e.pids {
            None => e.pids = Some(cap),
            Some(p) if !trusted && (p <= 0 || p > cap) => {
                e.capped.push(format!(
                    "`pids_limit` of service `{service}` ({}) to {cap}",
                    if p <= 0 { "unlimited".to_string() } else { p.to_string() }
                ));
                e.pids = Some(cap);
            }
            Some(_) => {}
        }
    }
    if let Some(cap) = server.nano_cpus {
        // What the service asks for, as billionths of a CPU.
        let asked = e.nano_cpus.or(match e.cpu_quota {
            Some(q) if q > 0 => Some(q.saturating_mul(1_000_000_000) / e.cpu_period.unwrap_or(CPU_PERIOD).max(1)),
            _ => None,
        });
        let as_quota = |n: i64| (n / (1_000_000_000 / CPU_PERIOD)).max(1000);
        match asked {
            // A trusted service that says "no CPU limit" (`cpu_quota: -1`) means it.
            None if trusted && e.cpu_quota == Some(-1) => {}
            None => {
                e.cpu_period = Some(CPU_PERIOD);
                e.cpu_quota = Some(as_quota(cap));
            }
            // Docker reads NanoCpus 0 (`cpus: 0.0000000001` rounds to it) as "no limit".
            Some(n) if !trusted && (n <= 0 || n > cap) => {
                let asked = if n <= 0 { "unlimited".to_string() } else { cpus(n) };
                e.capped.push(format!("the CPUs of service `{service}` ({asked}) to {}", cpus(cap)));
                e.nano_cpus = None;
                e.cpu_period = Some(CPU_PERIOD);
                e.cpu_quota = Some(as_quota(cap));
            }
            Some(_) => {}
        }
    }
    // `cpu_shares` is a weight against every other container on the engine: an untrusted run
    // may lower its own, not raise it over the default everyone else has.
    if !trusted
        && let Some(shares) = e.cpu_shares
        && shares > DEFAULT_CPU_SHARES
    {
        e.capped.push(format!("`cpu_shares` of service `{service}` ({shares}) to {DEFAULT_CPU_SHARES}"));
        e.cpu_shares = Some(DEFAULT_CPU_SHARES);
    }
    e
}

/// Docker's weight for a container that sets none.
const DEFAULT_CPU_SHARES: i64 = 1024;

fn size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{}g", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}m", b >> 20),
        b => format!("{b} bytes"),
    }
}

fn cpus(nano: i64) -> String {
    let s = format!("{:.2}", nano as f64 / 1e9);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::source::Spanned;

    fn limits(memory: Option<i64>, pids: Option<i64>, cpus: Option<i64>) -> Limits {
        let at = |v| Spanned::new(v, Span::at(0));
        Limits { memory: memory.map(at), pids: pids.map(at), nano_cpus: cpus.map(at), ..Limits::default() }
    }

    const SERVER: StepLimits = StepLimits { memory: Some(1 << 30), pids: Some(100), nano_cpus: Some(2_000_000_000) };

    #[test]
    fn the_cli_applies_the_services_limits_as_written() {
        let e = effective_limits("app", &limits(Some(8 << 30), Some(-1), None), None, true);
        assert_eq!((e.memory, e.pids, e.cpu_quota, e.nano_cpus), (Some(8 << 30), Some(-1), None, None));
    }

    #[test]
    fn a_server_sets_its_limits_where_the_service_sets_none() {
        for trusted in [false, true] {
            let e = effective_limits("app", &Limits::default(), Some(&SERVER), trusted);
            assert_eq!(e.memory, Some(1 << 30));
            assert_eq!(e.memory_swap, Some(1 << 30), "no swap on top");
            assert_eq!(e.pids, Some(100));
            assert_eq!((e.cpu_period, e.cpu_quota, e.nano_cpus), (Some(100_000), Some(200_000), None));
            assert!(e.capped.is_empty());
        }
    }

    #[test]
    fn an_untrusted_run_gets_the_lower_of_the_two_and_is_told() {
        let own = limits(Some(8 << 30), Some(-1), Some(3_000_000_000));
        let e = effective_limits("app", &own, Some(&SERVER), false);
        assert_eq!((e.memory, e.memory_swap, e.pids), (Some(1 << 30), Some(1 << 30), Some(100)));
        assert_eq!((e.nano_cpus, e.cpu_quota), (None, Some(200_000)));
        assert_eq!(e.capped.len(), 3, "{:?}", e.capped);
        assert!(e.capped[0].contains("(8g) to 1g"), "{:?}", e.capped);
        // Lower than the server's: kept.
        let e = effective_limits("app", &limits(Some(64 << 20), Some(10), Some(500_000_000)), Some(&SERVER), false);
        assert_eq!((e.memory, e.pids, e.nano_cpus, e.cpu_quota), (Some(64 << 20), Some(10), Some(500_000_000), None));
        assert!(e.capped.is_empty());
    }

    /// Found by review: `mem_limit: 0` and `cpus: 0.0000000001` (NanoCpus 0) were "below the
    /// cap" and kept, and Docker reads 0 as no limit at all; `cpu_shares` was passed uncapped.
    #[test]
    fn zero_limits_read_as_unlimited_and_get_the_servers_in_an_untrusted_run() {
        let own = Limits { cpu_shares: Some(Spanned::new(262_144, Span::at(0))), ..limits(Some(0), None, Some(0)) };
        let e = effective_limits("app", &own, Some(&SERVER), false);
        assert_eq!(e.memory, Some(1 << 30));
        assert_eq!((e.nano_cpus, e.cpu_quota), (None, Some(200_000)));
        assert_eq!(e.cpu_shares, Some(1024));
        assert_eq!(e.capped.len(), 3, "{:?}", e.capped);
        assert!(e.capped[0].contains("(unlimited) to 1g"), "{:?}", e.capped);
        // A trusted run keeps what it asks for, and lower shares are anyone's to take.
        let e = effective_limits("app", &own, Some(&SERVER), true);
        assert_eq!((e.memory, e.nano_cpus, e.cpu_shares), (Some(0), Some(0), Some(262_144)));
        let low = Limits { cpu_shares: Some(Spanned::new(512, Span::at(0))), ..Limits::default() };
        assert_eq!(effective_limits("app", &low, Some(&SERVER), false).cpu_shares, Some(512));
    }

    #[test]
    fn no_cpu_limit_is_kept_only_in_a_trusted_run() {
        let own = Limits { cpu_quota: Some(Spanned::new(-1, Span::at(0))), ..Limits::default() };
        assert_eq!(effective_limits("app", &own, Some(&SERVER), true).cpu_quota, Some(-1));
        assert_eq!(effective_limits("app", &own, Some(&SERVER), false).cpu_quota, Some(200_000));
    }

    #[test]
    fn a_trusted_run_keeps_the_services_own_limits() {
        let own = limits(Some(8 << 30), Some(-1), Some(3_000_000_000));
        let e = effective_limits("app", &own, Some(&SERVER), true);
        assert_eq!((e.memory, e.pids, e.nano_cpus, e.cpu_quota), (Some(8 << 30), Some(-1), Some(3_000_000_000), None));
    }
}
