//! The compose keys that shape a service's container besides its image, command and volumes:
//! limits (`mem_limit`, `pids_limit`, `cpus`, …), host access (`privileged`, `cap_add`,
//! `devices`, …) and the rest Docker takes as given (`hostname`, `dns`, `labels`, …).
//!
//! Read once, here, into typed values: the executor applies them to the container
//! (`server/src/executor/container.rs`) and its policy refuses host access in untrusted runs
//! (`server/src/executor/policy.rs`). Reading never fails a configuration: CodeShip ran files
//! with these keys, so a value that cannot be read, or a key Slipway does not apply, is left
//! out with the reason, which `validate` reports as a warning (SW107, `rules/not_applied.rs`).

use crate::source::{Span, Spanned};
use crate::syntax::{Node, NodeKind};

pub type Str = Spanned<String>;

/// What the compose keys of one service ask of its containers. `None` or empty: not set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerSettings {
    pub hostname: Option<Str>,
    pub domainname: Option<Str>,
    pub dns: Vec<Str>,
    pub dns_search: Vec<Str>,
    /// `host:ip`, as Docker takes them (a map `host: ip` is turned into this form).
    pub extra_hosts: Vec<Str>,
    pub cap_drop: Vec<Str>,
    pub labels: Vec<(Str, Str)>,
    /// `port/proto` (a range `8000-8002` is expanded).
    pub expose: Vec<Str>,
    pub healthcheck: Option<Healthcheck>,
    pub init: Option<Spanned<bool>>,
    pub read_only: Option<Spanned<bool>>,
    /// `tmpfs` mounts: a container path, optionally `:options`.
    pub tmpfs: Vec<Str>,
    pub limits: Limits,
    pub host: HostAccess,
    /// Keys given but not applied, and why (SW107).
    pub not_applied: Vec<NotApplied>,
}

/// Resource limits, in Docker's units.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// `mem_limit`, bytes.
    pub memory: Option<Spanned<i64>>,
    /// `mem_reservation`, bytes.
    pub memory_reservation: Option<Spanned<i64>>,
    /// `memswap_limit`, bytes of memory plus swap; -1 for unlimited swap.
    pub memory_swap: Option<Spanned<i64>>,
    /// `shm_size`, bytes.
    pub shm_size: Option<Spanned<i64>>,
    /// `cpus`, in billionths of a CPU (Docker's `NanoCpus`).
    pub nano_cpus: Option<Spanned<i64>>,
    pub cpu_shares: Option<Spanned<i64>>,
    /// `cpu_quota` and `cpu_period`, microseconds (the CFS quota per period).
    pub cpu_quota: Option<Spanned<i64>>,
    pub cpu_period: Option<Spanned<i64>>,
    pub cpuset: Option<Str>,
    /// `pids_limit`: processes and threads at once; -1 (or 0) for unlimited.
    pub pids: Option<Spanned<i64>>,
    pub ulimits: Vec<Ulimit>,
}

/// Keys that give a container power over the host it runs on (or over other containers).
/// The executor's policy refuses them in an untrusted run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostAccess {
    pub privileged: Option<Spanned<bool>>,
    pub cap_add: Vec<Str>,
    /// `HOST[:CONTAINER[:PERMISSIONS]]`.
    pub devices: Vec<Str>,
    pub security_opt: Vec<Str>,
    pub sysctls: Vec<(Str, Str)>,
    pub network_mode: Option<Str>,
    pub pid: Option<Str>,
    pub ipc: Option<Str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ulimit {
    pub name: Str,
    pub soft: i64,
    pub hard: i64,
}

/// `healthcheck:`, with durations in nanoseconds as Docker takes them.
#[derive(Clone, Debug, PartialEq)]
pub struct Healthcheck {
    pub span: Span,
    /// `["CMD", …]`, `["CMD-SHELL", script]`, or `["NONE"]` (`disable: true`); `None`: the image's.
    pub test: Option<Vec<String>>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub retries: Option<i64>,
}

/// A key, or one value of it, that is not applied, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct NotApplied {
    pub key: String,
    pub span: Span,
    pub kind: NotAppliedKind,
    pub why: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAppliedKind {
    /// The key means nothing for a step (`restart`), or Slipway does not support it.
    NoEffect,
    /// The value cannot be read.
    Unreadable,
    /// Another key given beside it wins.
    Overridden,
}

/// Limits Slipway's server puts on every container of its runs' steps (a step's dependencies
/// each get their own), beside the service's own [`Limits`]; here so that the server's
/// configuration and its executor share one type. `None`: no limit of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepLimits {
    /// Bytes of memory; swap is not added on top.
    pub memory: Option<i64>,
    /// Processes and threads at once.
    pub pids: Option<i64>,
    /// Billionths of a CPU (`cpus = 2` is 2_000_000_000).
    pub nano_cpus: Option<i64>,
}

impl StepLimits {
    /// A server's defaults: a GitHub-hosted runner's 4 CPUs, 4 GiB per container (a build of a
    /// large web app fits; a runaway test is stopped long before it takes the host), and 2048
    /// processes (a parallel test suite fits; a fork bomb does not).
    pub const SERVER_DEFAULT: StepLimits =
        StepLimits { memory: Some(4 << 30), pids: Some(2048), nano_cpus: Some(4_000_000_000) };

    /// Each limit from `over` where it sets one, else from `self`.
    pub fn overridden(self, over: &StepLimitsOverride) -> StepLimits {
        StepLimits {
            memory: over.memory.unwrap_or(self.memory),
            pids: over.pids.unwrap_or(self.pids),
            nano_cpus: over.nano_cpus.unwrap_or(self.nano_cpus),
        }
    }
}

impl Default for StepLimits {
    fn default() -> Self {
        StepLimits::SERVER_DEFAULT
    }
}

/// Limits given in a configuration layer (a serve flag, slipway.toml's `[step_limits]`, a
/// project's `step_limits`): `None` keeps the layer below; `Some(None)` removes the limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepLimitsOverride {
    pub memory: Option<Option<i64>>,
    pub pids: Option<Option<i64>>,
    pub nano_cpus: Option<Option<i64>>,
}

/// Docker's default capabilities (moby's `oci/caps/defaults.go`): adding one of these changes
/// nothing, so it gives no power.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Most ports one `expose` range may open (a typo like `1-65535` is not worth 65,535 entries).
const MAX_EXPOSED_RANGE: u32 = 1024;

/// Read the compose keys of one service (`entries`: key and value as written); `source` is the
/// file's text (numbers keep their written form).
pub(crate) fn read(entries: &[(String, Node)], source: &str) -> ContainerSettings {
    let mut r = Reader { source, out: ContainerSettings::default() };
    for (key, node) in entries {
        r.key(key, node);
    }
    r.conflicts(entries);
    r.out
}

struct Reader<'a> {
    source: &'a str,
    out: ContainerSettings,
}

impl Reader<'_> {
    fn key(&mut self, key: &str, node: &Node) {
        match key {
            "hostname" => self.out.hostname = self.string(key, node),
            "domainname" => self.out.domainname = self.string(key, node),
            "dns" => self.out.dns = self.strings(key, node),
            "dns_search" => self.out.dns_search = self.strings(key, node),
            "extra_hosts" => self.out.extra_hosts = self.extra_hosts(key, node),
            "cap_drop" => self.out.cap_drop = self.strings(key, node),
            "labels" => self.out.labels = self.key_values(key, node),
            "expose" => self.out.expose = self.expose(key, node),
            "healthcheck" => self.out.healthcheck = self.healthcheck(key, node),
            "init" => self.out.init = self.boolean(key, node),
            "read_only" => self.out.read_only = self.boolean(key, node),
            "tmpfs" => self.out.tmpfs = self.strings(key, node),
            "mem_limit" => self.out.limits.memory = self.size(key, node, false),
            "mem_reservation" => self.out.limits.memory_reservation = self.size(key, node, false),
            "memswap_limit" => self.out.limits.memory_swap = self.size(key, node, true),
            "shm_size" => self.out.limits.shm_size = self.size(key, node, false),
            "cpus" => self.out.limits.nano_cpus = self.cpus(key, node),
            "cpu_shares" => self.out.limits.cpu_shares = self.integer(key, node, 0),
            "cpu_quota" => self.out.limits.cpu_quota = self.integer(key, node, -1),
            "cpu_period" => self.out.limits.cpu_period = self.integer(key, node, 0),
            "cpuset" => self.out.limits.cpuset = self.string(key, node),
            "pids_limit" => self.out.limits.pids = self.integer(key, node, -1),
            "ulimits" => self.out.limits.ulimits = self.ulimits(key, node),
            "privileged" => self.out.host.privileged = self.boolean(key, node),
            "cap_add" => self.out.host.cap_add = self.strings(key, node),
            "devices" => self.out.host.devices = self.strings(key, node),
            "security_opt" => self.out.host.security_opt = self.strings(key, node),
            "sysctls" => self.out.host.sysctls = self.key_values(key, node),
            "network_mode" => self.out.host.network_mode = self.string(key, node),
            "pid" => self.out.host.pid = self.string(key, node),
            "ipc" => self.out.host.ipc = self.string(key, node),
            "restart" => self.not_applied(
                key,
                node.span,
                NotAppliedKind::NoEffect,
                "each step's containers run once and are removed when the step ends, so a restart policy does not apply",
            ),
            _ => self.not_applied(key, node.span, NotAppliedKind::NoEffect, "Slipway does not pass it to Docker"),
        }
    }

    /// Docker takes `cpus` or a CFS quota and period, not both.
    fn conflicts(&mut self, entries: &[(String, Node)]) {
        if self.out.limits.nano_cpus.is_none() {
            return;
        }
        for (key, node) in entries.iter().filter(|(k, _)| matches!(k.as_str(), "cpu_quota" | "cpu_period")) {
            self.not_applied(
                key,
                node.span,
                NotAppliedKind::Overridden,
                "`cpus` is set too, and Docker takes one or the other; `cpus` is applied",
            );
            match key.as_str() {
                "cpu_quota" => self.out.limits.cpu_quota = None,
                _ => self.out.limits.cpu_period = None,
            }
        }
    }

    fn not_applied(&mut self, key: &str, span: Span, kind: NotAppliedKind, why: impl Into<String>) {
        self.out.not_applied.push(NotApplied { key: key.to_string(), span, kind, why: why.into() });
    }

    fn unreadable<T>(&mut self, key: &str, node: &Node, expected: &str) -> Option<T> {
        let shown = match node.scalar_text(self.source) {
            Some(t) => format!("`{t}`"),
            None => node.kind_name().to_string(),
        };
        self.not_applied(key, node.span, NotAppliedKind::Unreadable, format!("{shown} is not {expected}"));
        None
    }

    fn text(&self, node: &Node) -> Option<String> {
        node.scalar_text(self.source)
    }

    fn string(&mut self, key: &str, node: &Node) -> Option<Str> {
        match self.text(node) {
            Some(t) => Some(Spanned::new(t, node.span)),
            None if node.is_null() => None,
            None => self.unreadable(key, node, "a string"),
        }
    }

    /// A string or a list of strings.
    fn strings(&mut self, key: &str, node: &Node) -> Vec<Str> {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().filter_map(|i| self.string(key, i)).collect(),
            _ => self.string(key, node).into_iter().collect(),
        }
    }

    fn boolean(&mut self, key: &str, node: &Node) -> Option<Spanned<bool>> {
        match (&node.kind, self.text(node).as_deref()) {
            (NodeKind::Bool(b), _) => Some(Spanned::new(*b, node.span)),
            (NodeKind::Str(_), Some("true")) => Some(Spanned::new(true, node.span)),
            (NodeKind::Str(_), Some("false")) => Some(Spanned::new(false, node.span)),
            (NodeKind::Null, _) => None,
            _ => self.unreadable(key, node, "true or false"),
        }
    }

    /// A whole number (written as one, or as a string of one) no smaller than `min`.
    fn integer(&mut self, key: &str, node: &Node, min: i64) -> Option<Spanned<i64>> {
        let n = match &node.kind {
            NodeKind::Int(n) => Some(*n),
            NodeKind::Str(s) => s.trim().parse::<i64>().ok(),
            NodeKind::Null => return None,
            _ => None,
        };
        match n {
            Some(n) if n >= min => Some(Spanned::new(n, node.span)),
            _ => self.unreadable(key, node, &format!("a whole number of at least {min}")),
        }
    }

    /// A size as Docker reads one (`512m`, `1.5g`, `2GiB`, or bytes); `-1` too where `unlimited`.
    fn size(&mut self, key: &str, node: &Node, unlimited: bool) -> Option<Spanned<i64>> {
        let bytes = match &node.kind {
            NodeKind::Int(n) if *n >= 0 || (unlimited && *n == -1) => Some(*n),
            NodeKind::Str(s) if unlimited && s.trim() == "-1" => Some(-1),
            NodeKind::Str(s) => parse_size(s),
            NodeKind::Null => return None,
            _ => None,
        };
        match bytes {
            Some(b) => Some(Spanned::new(b, node.span)),
            None => self.unreadable(key, node, "a size like `512m` or `2g`"),
        }
    }

    fn cpus(&mut self, key: &str, node: &Node) -> Option<Spanned<i64>> {
        let cpus = match &node.kind {
            NodeKind::Int(n) => Some(*n as f64),
            NodeKind::Float(f) => Some(*f),
            NodeKind::Str(s) => s.trim().parse::<f64>().ok(),
            NodeKind::Null => return None,
            _ => None,
        };
        match cpus {
            // Up to a million CPUs: the product stays well inside i64.
            Some(c) if c > 0.0 && c <= 1e6 => Some(Spanned::new((c * 1e9).round() as i64, node.span)),
            _ => self.unreadable(key, node, "a number of CPUs above 0, like `1.5`"),
        }
    }

    /// A map of strings, or a list of `KEY=VALUE` strings.
    fn key_values(&mut self, key: &str, node: &Node) -> Vec<(Str, Str)> {
        match &node.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| {
                    let name = self.string(key, k)?;
                    let value = match v.kind {
                        NodeKind::Null => Spanned::new(String::new(), v.span),
                        _ => self.string(&format!("{key}.{}", name.value), v)?,
                    };
                    Some((name, value))
                })
                .collect(),
            NodeKind::Seq(items) => items
                .iter()
                .filter_map(|i| {
                    let s = self.string(key, i)?;
                    let (k, v) = s.value.split_once('=').unwrap_or((&s.value, ""));
                    Some((Spanned::new(k.to_string(), i.span), Spanned::new(v.to_string(), i.span)))
                })
                .collect(),
            NodeKind::Null => Vec::new(),
            _ => self.unreadable(key, node, "a map or a list of KEY=VALUE").unwrap_or_default(),
        }
    }

    /// A list of `host:ip`, or a map `host: ip`.
    fn extra_hosts(&mut self, key: &str, node: &Node) -> Vec<Str> {
        match &node.kind {
            NodeKind::Map(_) => self
                .key_values(key, node)
                .into_iter()
                .map(|(h, ip)| Spanned::new(format!("{}:{}", h.value, ip.value), h.span))
                .collect(),
            _ => self.strings(key, node),
        }
    }

    /// Ports (`3000`, `3000/udp`, `8000-8002`) as `port/proto`.
    fn expose(&mut self, key: &str, node: &Node) -> Vec<Str> {
        let mut out = Vec::new();
        for item in self.strings(key, node) {
            let (ports, proto) = item.value.split_once('/').unwrap_or((item.value.as_str(), "tcp"));
            let (first, last) = ports.split_once('-').unwrap_or((ports, ports));
            let range = match (first.trim().parse::<u16>(), last.trim().parse::<u16>()) {
                (Ok(a), Ok(b)) if a > 0 && a <= b && u32::from(b - a) < MAX_EXPOSED_RANGE => a..=b,
                _ => {
                    self.not_applied(
                        key,
                        item.span,
                        NotAppliedKind::Unreadable,
                        format!(
                            "`{}` is not a port, `port/protocol` or a range of at most {MAX_EXPOSED_RANGE} ports",
                            item.value
                        ),
                    );
                    continue;
                }
            };
            if !matches!(proto, "tcp" | "udp" | "sctp") {
                self.not_applied(
                    key,
                    item.span,
                    NotAppliedKind::Unreadable,
                    format!("`{proto}` is not tcp, udp or sctp"),
                );
                continue;
            }
            out.extend(range.map(|p| Spanned::new(format!("{p}/{proto}"), item.span)));
        }
        out
    }

    fn ulimits(&mut self, key: &str, node: &Node) -> Vec<Ulimit> {
        let NodeKind::Map(entries) = &node.kind else {
            return self.unreadable(key, node, "a map of limits").unwrap_or_default();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(name) = self.string(key, k) else { continue };
            let path = format!("ulimits.{}", name.value);
            let (soft, hard) = match &v.kind {
                NodeKind::Map(_) => {
                    let soft = v.get("soft").and_then(|n| self.integer(&path, n, -1));
                    let hard = v.get("hard").and_then(|n| self.integer(&path, n, -1));
                    match (soft, hard) {
                        (Some(s), Some(h)) => (s.value, h.value),
                        _ => {
                            self.not_applied(
                                &path,
                                k.span,
                                NotAppliedKind::Unreadable,
                                "a limit needs both `soft` and `hard`",
                            );
                            continue;
                        }
                    }
                }
                _ => match self.integer(&path, v, -1) {
                    Some(n) => (n.value, n.value),
                    None => continue,
                },
            };
            out.push(Ulimit { name, soft, hard });
        }
        out
    }

    fn healthcheck(&mut self, key: &str, node: &Node) -> Option<Healthcheck> {
        if !matches!(node.kind, NodeKind::Map(_)) {
            return self.unreadable(key, node, "a map (`test`, `interval`, `timeout`, `retries`, `start_period`)");
        }
        let mut h = Healthcheck {
            span: node.span,
            test: None,
            interval: None,
            timeout: None,
            start_period: None,
            retries: None,
        };
        for (k, v) in node.entries() {
            let Some(name) = self.text(k) else { continue };
            let path = format!("healthcheck.{name}");
            match name.as_str() {
                "test" => {
                    h.test = match &v.kind {
                        NodeKind::Seq(_) => Some(self.strings(&path, v).into_iter().map(|s| s.value).collect()),
                        _ => self.string(&path, v).map(|s| vec!["CMD-SHELL".to_string(), s.value]),
                    }
                }
                "interval" => h.interval = self.duration(&path, v),
                "timeout" => h.timeout = self.duration(&path, v),
                "start_period" => h.start_period = self.duration(&path, v),
                "retries" => h.retries = self.integer(&path, v, 0).map(|n| n.value),
                "disable" => {
                    if self.boolean(&path, v).is_some_and(|b| b.value) {
                        h.test = Some(vec!["NONE".to_string()]);
                    }
                }
                _ => self.not_applied(
                    &path,
                    k.span,
                    NotAppliedKind::NoEffect,
                    "not a healthcheck setting Slipway knows (`test`, `interval`, `timeout`, `retries`, `start_period`, `disable`)",
                ),
            }
        }
        Some(h)
    }

    fn duration(&mut self, key: &str, node: &Node) -> Option<i64> {
        match self.text(node).as_deref().and_then(parse_duration) {
            Some(ns) => Some(ns),
            None => self.unreadable(key, node, "a duration like `30s` or `1m30s`"),
        }
    }
}

/// A size as Docker's `RAMInBytes` reads one: a number with an optional fraction, then an
/// optional space and unit `k`, `m`, `g`, `t` or `p` (powers of 1024), optionally followed by
/// `i` and `b` (`512m`, `1.5g`, `2GiB`, `100 MB`, `4096`).
pub fn parse_size(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, rest) = t.split_at(digits_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') || number.matches('.').count() > 1 {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest).to_ascii_lowercase();
    let (unit, suffix) = match rest.chars().next() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => (Some(c), &rest[1..]),
        _ => (None, rest.as_str()),
    };
    let suffix = suffix.strip_prefix('i').unwrap_or(suffix);
    if !(suffix.is_empty() || suffix == "b") {
        return None;
    }
    let multiplier: f64 = match unit {
        None => 1.0,
        Some('k') => 1024.0,
        Some('m') => 1024f64.powi(2),
        Some('g') => 1024f64.powi(3),
        Some('t') => 1024f64.powi(4),
        _ => 1024f64.powi(5),
    };
    let bytes = value * multiplier;
    (bytes < i64::MAX as f64).then_some(bytes as i64)
}

/// A duration as Go's `time.ParseDuration` reads one (`30s`, `1m30s`, `1.5h`, `500ms`),
/// in nanoseconds; no sign.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    (total < i64::MAX as f64).then_some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_limit_in_a_layer_leaves_it_off() {
        let over = StepLimitsOverride { pids: Some(None), memory: Some(Some(1 << 20)), nano_cpus: None };
        let l = StepLimits::SERVER_DEFAULT.overridden(&over);
        assert_eq!((l.memory, l.pids, l.nano_cpus), (Some(1 << 20), None, StepLimits::SERVER_DEFAULT.nano_cpus));
    }

    #[test]
    fn sizes_read_as_docker_reads_them() {
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("1.5g"), Some(3 << 29));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("100 MB"), Some(100 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        for bad in ["", "lots", "1x", "m", ".5g", "1..2g", "1gbb", "-1g", "1  g"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_read_as_go_reads_them() {
        assert_eq!(parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        for bad in ["", "30", "s", "1d", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
