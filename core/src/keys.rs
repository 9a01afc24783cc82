//! Every key the two files know, in one place: the model reads the files by them, the schema
//! and the editor's docs list them, and the syntax explainer tells a joined line (`command: true
//! type: push`) from a value holding `: ` by them. A leaf module, so all of those can use it.

// services file

pub const SERVICE_KEYS: &[&str] = &[
    "build",
    "image",
    "dockerfile",
    "dockerfile_path",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "encrypted_environment",
    "encrypted_env_file",
    "links",
    "depends_on",
    "volumes",
    "volumes_from",
    "working_dir",
    "user",
    "add_docker",
    "cached",
    "default_cache_branch",
    "dockercfg_service",
    "encrypted_dockercfg_path",
];

/// Compose keys that shape the container (limits, host access and the rest), read into
/// [`ContainerSettings`] and applied by the executor; a value it cannot read, or `restart`
/// (steps run once), is reported as not applied (SW107). In an untrusted server run, the
/// executor's policy refuses those that give a step power over the host (see
/// `HostAccess`).
pub const PASSTHROUGH_KEYS: &[&str] = &[
    "hostname",
    "domainname",
    "cap_add",
    "cap_drop",
    "dns",
    "dns_search",
    "extra_hosts",
    "cpu_shares",
    "cpuset",
    "cpus",
    "cpu_quota",
    "cpu_period",
    "mem_limit",
    "mem_reservation",
    "memswap_limit",
    "pids_limit",
    "read_only",
    "shm_size",
    "ulimits",
    "tmpfs",
    "restart",
    "labels",
    "expose",
    "healthcheck",
    "security_opt",
    "sysctls",
    "init",
    "privileged",
    "devices",
    "network_mode",
    "pid",
    "ipc",
];

/// Compose keys CodeShip accepted and ignored; Slipway ignores them too, with a warning (SW006).
pub const IGNORED_KEYS: &[&str] = &[
    "cgroup_parent",
    "container_name",
    "extends",
    "group_add",
    "isolation",
    "logging",
    "log_driver",
    "log_opt",
    "mac_address",
    "mem_swappiness",
    "networks",
    "oom_score_adj",
    "stop_signal",
    "stop_grace_period",
    "tty",
    "volume_driver",
];

pub const UNSUPPORTED_KEYS: &[&str] = &["external_links", "ports", "stdin_open"];

pub const BUILD_KEYS: &[&str] =
    &["image", "context", "dockerfile", "path", "dockerfile_path", "args", "encrypted_args_file", "encrypted_args"];

// steps file

pub const STEP_KEYS: &[&str] = &[
    "name",
    "type",
    "service",
    "services",
    "command",
    "tag",
    "exclude",
    "steps",
    "image_name",
    "image_tag",
    "registry",
    "encrypted_dockercfg_path",
    "dockercfg_service",
    "on_fail",
];

pub const STEP_TYPES: &[&str] = &["run", "push", "serial", "parallel", "manual", "matrix"];
