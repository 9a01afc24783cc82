//! One table of every key's one-line documentation (from the Codeship Pro reference), used
//! by completion and hover. A test keeps it in step with the keys the model accepts.

use serde::Serialize;

/// Where a key is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    /// A key of a service in the services file.
    Service,
    /// A key under a service's `build:`.
    Build,
    /// A key of a step in the steps file.
    Step,
}

/// Which step types a step key belongs to.
pub(crate) const RUN: u8 = 1;
pub(crate) const PUSH: u8 = 2;
pub(crate) const GROUP: u8 = 4;
const ANY: u8 = RUN | PUSH | GROUP;

/// One key: its shape and one line on what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KeyDoc {
    pub scope: KeyScope,
    pub key: &'static str,
    /// The value's shape, e.g. "string or list".
    pub shape: &'static str,
    pub doc: &'static str,
    /// Step types the key applies to (`RUN | PUSH | GROUP` bits); all for other scopes.
    #[serde(skip)]
    pub(crate) types: u8,
    /// Accepted but ignored or deprecated: offered by hover, not by completion.
    #[serde(skip)]
    pub(crate) hidden: bool,
}

const fn k(scope: KeyScope, key: &'static str, shape: &'static str, doc: &'static str) -> KeyDoc {
    KeyDoc { scope, key, shape, doc, types: ANY, hidden: false }
}
const fn step(types: u8, key: &'static str, shape: &'static str, doc: &'static str) -> KeyDoc {
    KeyDoc { scope: KeyScope::Step, key, shape, doc, types, hidden: false }
}
const fn hidden(scope: KeyScope, key: &'static str, shape: &'static str, doc: &'static str) -> KeyDoc {
    KeyDoc { scope, key, shape, doc, types: ANY, hidden: true }
}

use KeyScope::{Build, Service};

pub(crate) const KEYS: &[KeyDoc] = &[
    k(
        Service,
        "build",
        "path or map",
        "Build the image from a Dockerfile: a context path, or a map with `image`, `context`, `dockerfile`, `args`.",
    ),
    k(Service, "image", "string", "Pull and use this image instead of building one."),
    k(Service, "command", "string or list", "The container's default command."),
    k(Service, "entrypoint", "string or list", "The container's entrypoint."),
    k(Service, "environment", "map or KEY=VALUE list", "Environment variables of the container."),
    k(
        Service,
        "env_file",
        "path or list",
        "Files of plain `KEY=VALUE` lines added to the environment (after `environment`).",
    ),
    k(Service, "encrypted_environment", "list or map", "Environment variables encrypted with the project key."),
    k(
        Service,
        "encrypted_env_file",
        "path or list",
        "Files of `KEY=VALUE` lines encrypted with the project key (applied last).",
    ),
    k(
        Service,
        "links",
        "list of services",
        "Services started fresh for each step and reachable by name (legacy spelling of `depends_on`).",
    ),
    k(
        Service,
        "depends_on",
        "list of services",
        "Services started fresh for each step and reachable by their name as hostname.",
    ),
    k(
        Service,
        "volumes",
        "list",
        "`container_path` (anonymous) or `host_path:container_path[:ro]`, host paths relative to the services file.",
    ),
    k(
        Service,
        "volumes_from",
        "list of services",
        "Share these services' volumes; their containers are created once per build.",
    ),
    k(Service, "working_dir", "string", "The working directory inside the container."),
    k(Service, "user", "string", "The user the container runs as."),
    k(
        Service,
        "add_docker",
        "true or false",
        "Give the container the Docker host (`DOCKER_HOST`, TLS settings and certificates).",
    ),
    k(Service, "cached", "true or false", "Reuse a cached image from a registry per branch."),
    k(
        Service,
        "default_cache_branch",
        "string",
        "The branch whose cached image is used when the build's branch has none (default `master`).",
    ),
    k(
        Service,
        "dockercfg_service",
        "service",
        "A service that generates registry credentials for pulling this service's image.",
    ),
    k(
        Service,
        "encrypted_dockercfg_path",
        "path",
        "An encrypted dockercfg with the credentials for pulling this service's image.",
    ),
    hidden(
        Service,
        "dockerfile",
        "path",
        "Deprecated here: the Dockerfile, relative to the context; write it as `build.dockerfile`.",
    ),
    hidden(
        Service,
        "dockerfile_path",
        "path",
        "Deprecated here: the Dockerfile, relative to the context; write it as `build.dockerfile`.",
    ),
    k(Service, "hostname", "string", "The container's hostname."),
    k(Service, "domainname", "string", "The container's domain name."),
    k(
        Service,
        "cap_add",
        "list",
        "Linux capabilities to add, e.g. `SYS_PTRACE`; on a server, one Docker does not grant anyway needs a trusted project.",
    ),
    k(Service, "cap_drop", "list", "Linux capabilities to drop, e.g. `NET_RAW`."),
    k(Service, "dns", "string or list", "DNS servers."),
    k(Service, "dns_search", "string or list", "DNS search domains."),
    k(Service, "extra_hosts", "list", "`host:ip` entries added to `/etc/hosts`."),
    k(Service, "cpu_shares", "number", "Relative CPU weight (default 1024)."),
    k(Service, "cpuset", "string", "CPUs the container may use, e.g. `0-1`."),
    k(
        Service,
        "cpus",
        "number",
        "CPUs the container may use at most, e.g. `1.5`; a server caps it at its per-step limit.",
    ),
    k(Service, "cpu_quota", "number", "CPU time per `cpu_period`, microseconds (`cpus` is simpler)."),
    k(Service, "cpu_period", "number", "The period of `cpu_quota`, microseconds (default 100000)."),
    k(Service, "mem_limit", "size", "Memory limit, e.g. `512m`; a server caps it at its per-step limit."),
    k(Service, "mem_reservation", "size", "Memory the container is guaranteed under pressure, e.g. `256m`."),
    k(Service, "memswap_limit", "size", "Memory plus swap, e.g. `1g` (`-1`: unlimited swap); a server caps it."),
    k(Service, "pids_limit", "number", "Processes and threads at once; a server caps it at its per-step limit."),
    k(Service, "read_only", "true or false", "Mount the container's root filesystem read-only."),
    k(Service, "shm_size", "size", "Size of `/dev/shm`, e.g. `256m`."),
    k(Service, "ulimits", "map", "Resource limits, e.g. `nofile: {soft: 1024, hard: 2048}` or `nproc: 512`."),
    k(Service, "tmpfs", "string or list", "In-memory file systems, e.g. `/run` or `/tmp:size=64m`."),
    k(Service, "restart", "string", "Not applied: each step's containers run once (SW107)."),
    k(Service, "labels", "map or list", "Container labels (Slipway's own `slipway.*` labels win)."),
    k(Service, "expose", "list", "Ports exposed to linked services, e.g. `3000` or `8000-8002/udp`."),
    k(Service, "healthcheck", "map", "How Docker checks the container is healthy; steps wait until it is."),
    k(
        Service,
        "security_opt",
        "list",
        "Security options, e.g. `seccomp:unconfined`; on a server, any but `no-new-privileges` needs a trusted project.",
    ),
    k(Service, "sysctls", "map or list", "Kernel parameters of the container. On a server, only in a trusted project."),
    k(Service, "init", "true or false", "Run an init process as PID 1."),
    k(
        Service,
        "privileged",
        "true or false",
        "Give the container every capability and device of the host. On a server, only in a trusted project.",
    ),
    k(
        Service,
        "devices",
        "list",
        "Host devices in the container, e.g. `/dev/fuse`. On a server, only in a trusted project.",
    ),
    k(
        Service,
        "network_mode",
        "string",
        "`none` (no network), or `host` (the host's network: on a server, only in a trusted project).",
    ),
    k(Service, "pid", "string", "`host`: see the host's processes. On a server, only in a trusted project."),
    k(Service, "ipc", "string", "`host`: share the host's IPC namespace. On a server, only in a trusted project."),
    k(Build, "image", "string", "The name of the built image (a generated name when absent)."),
    k(Build, "context", "path", "The build context, relative to the services file's folder (default: that folder)."),
    k(Build, "dockerfile", "path", "The Dockerfile, relative to the context (default `Dockerfile`)."),
    k(
        Build,
        "args",
        "map or KEY=VALUE list",
        "Build arguments; values are Go templates over the build variables, e.g. `\"{{ .Branch }}\"`.",
    ),
    k(Build, "encrypted_args_file", "path", "An encrypted file of `KEY=VALUE` lines passed as build arguments."),
    k(Build, "encrypted_args", "string", "An inline encrypted blob of `KEY=VALUE` lines passed as build arguments."),
    hidden(Build, "path", "path", "Deprecated spelling of `context`."),
    hidden(Build, "dockerfile_path", "path", "Deprecated spelling of `dockerfile`."),
    step(ANY, "name", "string", "A display label for logs and results; generated when absent. Names may repeat."),
    step(
        ANY,
        "type",
        "run, push, serial, parallel, manual or matrix",
        "What the step does: `run` (the default) a command, `push` an image, or a group of `steps`.",
    ),
    step(ANY, "service", "service", "The service the step runs in (on a group: for all its sub-steps)."),
    step(GROUP, "services", "list of services", "Run the group's sub-steps once per service (not with `service`)."),
    step(RUN, "command", "string or list", "The command, split like a shell would quote it, but run without a shell."),
    step(
        ANY,
        "tag",
        "branch or regex",
        "Run only when the build tag (branch or git tag) matches: equal, or a Go regex when it has `^` or `$`.",
    ),
    step(ANY, "exclude", "branch or regex", "Skip when the build tag matches; wins over `tag`."),
    step(GROUP, "steps", "list of steps", "The group's sub-steps."),
    step(
        PUSH,
        "image_name",
        "repository",
        "The repository to push to, `[registry/]owner/name`, lowercase, without a tag.",
    ),
    step(PUSH, "image_tag", "template", "The tag to push (default `latest`): a Go template over the build variables."),
    step(
        PUSH,
        "registry",
        "URL or host",
        "The registry to log in to (default: the host of `image_name`, or Docker Hub).",
    ),
    step(
        ANY,
        "encrypted_dockercfg_path",
        "path",
        "An encrypted dockercfg with the registry credentials (on a group: for its sub-steps).",
    ),
    step(
        ANY,
        "dockercfg_service",
        "service",
        "A service that generates the registry credentials (on a group: for its sub-steps).",
    ),
    step(
        RUN | PUSH | GROUP,
        "on_fail",
        "list of steps",
        "Run steps executed when this step fails; they inherit its service.",
    ),
];

/// The documentation of `key` written in `scope`.
pub fn key_doc(scope: KeyScope, key: &str) -> Option<&'static KeyDoc> {
    KEYS.iter().find(|d| d.scope == scope && d.key == key)
}

/// The step types, with a line each.
pub(crate) const STEP_TYPES: &[(&str, &str)] = &[
    ("run", "Run `command` in the step's service (the default)."),
    ("push", "Tag the service's image as `image_name:image_tag` and push it."),
    ("serial", "Run the sub-steps one after another."),
    ("parallel", "Run the sub-steps at the same time."),
    ("manual", "Wait for approval, then run the sub-steps; the last step of its branch."),
    ("matrix", "A parallel group over `services`."),
];

/// The build variables of templates, with a line each.
pub(crate) const VARIABLES: &[(&str, &str)] = &[
    ("ProjectID", "The project's id."),
    ("BuildID", "The build's id."),
    ("RepoName", "The repository's name."),
    ("Branch", "The branch (or git tag) being built."),
    ("CommitID", "The full commit SHA; `{{ printf \"%.7s\" .CommitID }}` for the short one."),
    ("CommitMessage", "The commit message."),
    ("CommitDescription", "`git describe --abbrev=1 --tags --always`."),
    ("CommitterName", "The committer's name."),
    ("CommitterEmail", "The committer's email."),
    ("CommitterUsername", "The committer's user name."),
    ("Time", "The build time, a Go `time.Time`: `{{ .Time.Format \"2006-01-02\" }}`."),
    ("Timestamp", "The build time in unix seconds."),
    ("StringTime", "The build time as Go prints a `time.Time`."),
    ("StepName", "The step's name."),
    ("ServiceName", "The step's service."),
    ("ImageName", "The step's `image_name`."),
    ("Ci", "Always `true`."),
    ("CiName", "`codeship`."),
];

/// The methods of `.Time`, with a line each.
pub(crate) const TIME_METHODS: &[(&str, &str)] = &[
    ("Format", "Format with a Go layout: `.Time.Format \"2006-01-02T15-04-05\"`."),
    ("Unix", "Unix seconds."),
    ("UnixNano", "Unix nanoseconds."),
    ("UnixMilli", "Unix milliseconds."),
    ("UnixMicro", "Unix microseconds."),
    ("Year", "The year."),
    ("Month", "The month (prints as its English name)."),
    ("Day", "The day of the month."),
    ("Hour", "The hour (UTC)."),
    ("Minute", "The minute."),
    ("Second", "The second."),
    ("Nanosecond", "The nanosecond within the second."),
    ("YearDay", "The day of the year."),
    ("Weekday", "The day of the week (prints as its English name)."),
    ("String", "The time as Go prints it."),
    ("UTC", "The same time in UTC."),
    ("Local", "The same time (UTC here)."),
    ("IsZero", "Whether it is the zero time."),
];

/// Template functions, with a line each.
pub(crate) const FUNCTIONS: &[(&str, &str)] = &[
    ("printf", "Format like Go's fmt.Sprintf: `printf \"%.7s\" .CommitID`."),
    ("print", "Its arguments, printed like fmt.Sprint."),
    ("println", "Its arguments, printed like fmt.Sprintln."),
    ("eq", "Whether the first argument equals any of the others."),
    ("ne", "Whether the two arguments differ."),
    ("lt", "Whether the first argument is less than the second."),
    ("le", "Whether the first argument is at most the second."),
    ("gt", "Whether the first argument is greater than the second."),
    ("ge", "Whether the first argument is at least the second."),
    ("and", "The first empty argument, or the last."),
    ("or", "The first non-empty argument, or the last."),
    ("not", "The boolean negation of its argument."),
    ("len", "The length of its argument."),
    ("index", "The element at the given indexes."),
    ("slice", "A substring: `slice .CommitID 0 7`."),
    ("html", "Its arguments, HTML-escaped."),
    ("js", "Its arguments, JavaScript-escaped."),
    ("urlquery", "Its arguments, escaped for a URL query."),
    ("call", "Call a function value (none exist in build variables)."),
];

/// Template keywords, with a line each.
pub(crate) const KEYWORDS: &[(&str, &str)] = &[
    ("if", "`{{ if PIPELINE }} … {{ else }} … {{ end }}`."),
    ("else", "The other branch of `if`, `with` or `range`."),
    ("end", "Ends `if`, `with` or `range`."),
    ("with", "`{{ with PIPELINE }}`: sets `.` to the value when it is not empty."),
    ("range", "Loops over a value."),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{BUILD_KEYS, PASSTHROUGH_KEYS, SERVICE_KEYS};
    use crate::keys::{STEP_KEYS, STEP_TYPES as MODEL_STEP_TYPES};

    /// The documented `.Time` methods are the ones the template checker knows (it lists them
    /// when a name is far from all), and every documented function is one the parser knows.
    #[test]
    fn template_tables_match_the_template_engine() {
        let problems = crate::template::Template::parse("{{ .Time.Qqqqqqqq }}").unwrap().unknown_variables();
        let help = problems[0].help.as_deref().unwrap_or_default();
        let known: Vec<&str> = help.strip_prefix("known: ").expect("the known methods").split(", ").collect();
        let documented: Vec<&str> = TIME_METHODS.iter().map(|(m, _)| *m).collect();
        assert_eq!(documented, known);
        for (f, _) in FUNCTIONS {
            let t = crate::template::Template::parse(&format!("{{{{ {f} }}}}"));
            assert!(t.is_ok(), "`{f}` is documented but the parser rejects it: {t:?}");
        }
        let t = crate::template::Template::parse("{{ qqqqqqqq }}");
        assert!(t.is_err(), "an unknown function parses, so the check above proves nothing");
    }

    /// Every key the model accepts has a doc, and the table documents nothing else.
    #[test]
    fn the_table_matches_the_model() {
        let accepted = |scope: KeyScope| -> Vec<&str> {
            match scope {
                KeyScope::Service => SERVICE_KEYS.iter().chain(PASSTHROUGH_KEYS).copied().collect(),
                KeyScope::Build => BUILD_KEYS.to_vec(),
                KeyScope::Step => STEP_KEYS.to_vec(),
            }
        };
        for scope in [KeyScope::Service, KeyScope::Build, KeyScope::Step] {
            let mut want = accepted(scope);
            let mut have: Vec<&str> = KEYS.iter().filter(|d| d.scope == scope).map(|d| d.key).collect();
            want.sort();
            have.sort();
            assert_eq!(have, want, "{scope:?}");
        }
        let types: Vec<&str> = STEP_TYPES.iter().map(|(t, _)| *t).collect();
        assert_eq!(types, MODEL_STEP_TYPES);
        let vars: Vec<&str> = VARIABLES.iter().map(|(v, _)| *v).collect();
        assert_eq!(vars, crate::template::VARIABLES);
    }
}
