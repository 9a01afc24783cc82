//! Native mode: a subtree of the plan as one bash script of plain `docker` commands, the way
//! Slipway's executor runs it: after the file's one [`preamble`], the images the images job
//! built once ([`build`]) loaded from its artifact, each step in a fresh container on a
//! network of its own with fresh `links`/`depends_on` containers (waited for when they have a
//! health check), `parallel` groups as background jobs, `on_fail` steps after a failure,
//! `tag`/`exclude` filters below the job as guards, and output prefixed like `slipway steps`
//! (`(step: NAME) (service: SVC) line`).

use super::tree::Node;
use super::{Cx, In, SecretSource, tag};
use crate::argv::quote;
use crate::model::{Command, Service, StepKind};
use crate::plan::Kind;
use crate::plan::filter::Filter;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Shell helpers every job script defines (after the forge's prelude, which sets `CS_TAG`,
/// `CS_RUN`, the `CS_*` build values and `cs_secret_file NAME` → a path to the secret).
const HELPERS: &str = r#"cs_prefix() { local l; while IFS= read -r l || [ -n "$l" ]; do printf '%s%s\n' "$1" "$l"; done; }
cs_tag_re() { printf '%s' "$CS_TAG" | grep -Eq -- "$1"; }
cs_wait_healthy() {
  local s i
  for i in $(seq 1 300); do
    s=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1")
    [ "$s" = starting ] || break
    sleep 1
  done
  [ "$s" = healthy ] || [ "$s" = none ]
}
# The CI_* values the containers get; `-e NAME` takes the value from here, spaces and all.
export CI=true CI_NAME=codeship CI_PROJECT_ID="$CS_PROJECT_ID" CI_BUILD_ID="$CS_BUILD_ID" CI_REPO_NAME="$CS_REPO_NAME"
export CI_BRANCH="$CS_BRANCH" CI_COMMIT_ID="$CS_COMMIT_ID" CI_COMMIT_MESSAGE="$CS_COMMIT_MESSAGE"
export CI_COMMIT_DESCRIPTION="$CS_COMMIT_DESCRIPTION" CI_COMMITTER_NAME="$CS_COMMITTER_NAME"
export CI_COMMITTER_EMAIL="$CS_COMMITTER_EMAIL" CI_COMMITTER_USERNAME="$CS_COMMITTER_USERNAME" CI_TIMESTAMP="$CS_TIMESTAMP"
"#;

/// Defined only in a job that cuts a value for a tag (`printf "%.7s"`).
const ASCII_HELPER: &str = r#"# cs_ascii NAME VALUE: a value cut to N characters (`printf "%.7s"` in a tag) is cut in bytes
# here and in characters by Go: the same only for ASCII, so anything else stops the push.
cs_ascii() {
  [ -z "$(printf '%s' "$2" | LC_ALL=C tr -d '\040-\176')" ] && return 0
  echo "$1 is not ASCII; the image tag cuts it as Go did only for ASCII: write the tag by hand" >&2
  return 1
}
"#;

/// Docker run flags passing the exported CI_* values.
const CI_ENV: &str = "-e CI -e CI_NAME -e CI_PROJECT_ID -e CI_BUILD_ID -e CI_REPO_NAME -e CI_BRANCH -e CI_COMMIT_ID -e CI_COMMIT_MESSAGE -e CI_COMMIT_DESCRIPTION -e CI_COMMITTER_NAME -e CI_COMMITTER_EMAIL -e CI_COMMITTER_USERNAME -e CI_TIMESTAMP";

/// The shell every job's script starts with, written once per file (a GitHub workflow `env`
/// value, GitLab's `default: before_script`): shell options, the forge's `prelude` (the build
/// values, `CS_RUN`, `CS_IMAGES`, `cs_secret_file`), the helpers and the project folder.
pub fn preamble(cx: &Cx, prelude: &str) -> String {
    let mut s = String::from("set +e\nset -o pipefail\n");
    s.push_str(prelude);
    s.push_str(HELPERS);
    if cx.cuts_values {
        s.push_str(ASCII_HELPER);
    }
    let dir = match cx.input.dir {
        "" | "." => ".".to_string(),
        d => quote(d),
    };
    let _ = writeln!(s, "cd {dir} || exit 1\nCS_DIR=$(pwd)");
    s
}

/// The script for the job rooted at `root`, after the [`preamble`]: `load` (the forge's
/// command that loads the images the images job built) when a step uses one, then the steps.
/// `comments` collects what the job does not translate exactly.
pub fn job(cx: &mut Cx, root: &Node, load: &str, comments: &mut Vec<String>) -> String {
    let mut w = Writer { cx, comments, out: String::new(), functions: String::new() };
    let mut s = String::new();
    let services = services_of(w.cx, root);
    if services.iter().any(|svc| svc.build.is_some()) {
        let _ = writeln!(s, "{load}");
    }
    s.push_str(&w.images(&services));
    let entry = w.node(root, false);
    if w.functions.contains("cs_ascii ") {
        w.cx.cuts_values = true;
    }
    s.push_str(&w.functions);
    let _ = writeln!(s, "{entry}\ncs_status=$?\n{}exit $cs_status", w.out);
    s
}

/// Whether a job rooted at `root` runs an image the images job builds.
pub fn uses_built_images(cx: &Cx, root: &Node) -> bool {
    services_of(cx, root).iter().any(|svc| svc.build.is_some())
}

/// The images job's script, after the [`preamble`]: every image the `roots` use built once,
/// then saved with `docker save` to `archive` (a shell word) for the jobs to load. `None` when
/// no service is built.
pub fn build(cx: &mut Cx, roots: &[&Node], archive: &str, comments: &mut Vec<String>) -> Option<String> {
    let mut names = BTreeSet::new();
    for root in roots {
        names.extend(services_of(cx, root).into_iter().map(|svc| svc.name.value.clone()));
    }
    let built: Vec<&Service> = cx
        .input
        .checked
        .services
        .services
        .iter()
        .filter(|s| s.build.is_some() && names.contains(&s.name.value))
        .collect();
    if built.is_empty() {
        return None;
    }
    let mut w = Writer { cx, comments, out: String::new(), functions: String::new() };
    let mut s = String::new();
    let mut vars = Vec::new();
    for svc in built {
        s.push_str(&w.build_one(svc));
        vars.push(format!("\"${}\"", w.var(svc)));
    }
    let _ = writeln!(s, "docker save {} | gzip > {archive} || exit 1", vars.join(" "));
    Some(s)
}

/// The cleanup job's script: removes the images the images job built (a shell runner, or a
/// self-hosted one, shares its Docker engine between pipelines). Needs only `CS_IMAGES`.
pub fn cleanup(cx: &Cx) -> String {
    let tags: Vec<String> = cx
        .input
        .checked
        .services
        .services
        .iter()
        .filter(|s| s.build.is_some())
        .map(|svc| built_image(cx, svc))
        .collect();
    format!("docker rmi {} >/dev/null 2>&1\nexit 0\n", tags.join(" "))
}

/// The name the images job gives a service's image: `codeship-export/NAME:$CS_IMAGES`, NAME
/// single-quoted ([`image_names`]).
fn built_image(cx: &Cx, svc: &Service) -> String {
    let name = cx.image_names.get(&svc.name.value).map_or("service", String::as_str);
    format!("{}\":${{CS_IMAGES}}\"", quote(&format!("codeship-export/{name}")))
}

/// The shell condition for a step's own `tag`/`exclude` (uses `CS_TAG` and [`HELPERS`]).
pub fn guard_of(cx: &mut Cx, n: &Node, comments: &mut Vec<String>) -> Option<String> {
    Writer { cx, comments, out: String::new(), functions: String::new() }.guard(n)
}

pub const GUARD_HELPERS: &str = "cs_tag_re() { printf '%s' \"$CS_TAG\" | grep -Eq -- \"$1\"; }\n";

struct Writer<'c, 'a> {
    cx: &'c mut Cx<'a>,
    comments: &'c mut Vec<String>,
    /// Cleanup at the end of the job (volumes_from holders).
    out: String,
    functions: String,
}

/// Every service a job's steps use, with their dependencies, in a stable order.
fn services_of<'a>(cx: &Cx<'a>, root: &Node) -> Vec<&'a Service> {
    let all = &cx.input.checked.services;
    let mut names = BTreeSet::new();
    let mut todo: Vec<String> = root.leaves().iter().filter_map(|l| l.planned.service.clone()).collect();
    let mut stack_on_fail = vec![root];
    while let Some(n) = stack_on_fail.pop() {
        for f in &n.on_fail {
            todo.extend(f.leaves().iter().filter_map(|l| l.planned.service.clone()));
        }
        stack_on_fail.extend(n.children.iter());
    }
    while let Some(name) = todo.pop() {
        if !names.insert(name.clone()) {
            continue;
        }
        if let Some(svc) = all.get(&name) {
            todo.extend(dependencies(svc).into_iter().map(|(s, _)| s));
            todo.extend(svc.volumes_from.iter().map(|v| v.value.clone()));
        }
    }
    all.services.iter().filter(|s| names.contains(&s.name.value)).collect()
}

/// `links` and `depends_on` of a service: (service, alias).
fn dependencies(svc: &Service) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in &svc.links {
        out.push((l.service.value.clone(), l.alias.clone().unwrap_or_else(|| l.service.value.clone())));
    }
    for d in &svc.depends_on {
        if !out.iter().any(|(s, _)| *s == d.value) {
            out.push((d.value.clone(), d.value.clone()));
        }
    }
    out
}

/// The shell variable holding each service's image: `CS_IMAGE_` and the name in `[A-Z0-9_]`,
/// numbered in file order when two names give the same variable (`a-b`, `a_b`).
pub(super) fn image_vars(services: &[Service]) -> std::collections::HashMap<String, String> {
    let mut taken = BTreeSet::new();
    let mut out = std::collections::HashMap::new();
    for svc in services {
        let base = format!("CS_IMAGE_{}", shell_ident(&svc.name.value));
        let mut var = base.clone();
        let mut n = 2;
        while !taken.insert(var.clone()) {
            var = format!("{base}_{n}");
            n += 1;
        }
        out.insert(svc.name.value.clone(), var);
    }
    out
}

/// The image name (after `codeship-export/`) each built service gets: its name in lower case
/// with every other character a `-` (a valid Docker repository name), numbered in file order
/// when two names give the same one (`App`, `app`).
pub(super) fn image_names(services: &[Service]) -> std::collections::HashMap<String, String> {
    let mut taken = BTreeSet::new();
    let mut out = std::collections::HashMap::new();
    for svc in services {
        let mut base = String::new();
        for c in svc.name.value.chars() {
            if c.is_ascii_alphanumeric() {
                base.push(c.to_ascii_lowercase());
            } else if !base.is_empty() && !base.ends_with('-') {
                base.push('-');
            }
        }
        let base = match base.trim_end_matches('-') {
            "" => "service".to_string(),
            b => b.to_string(),
        };
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        out.insert(svc.name.value.clone(), name);
    }
    out
}

fn shell_ident(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// `prefix` followed by a name as one shell word: the fixed part may hold `$VAR`s, the name is
/// single-quoted, so nothing in it is expanded (`"$net-"'we"ird$(id)'`).
fn word(prefix: &str, name: &str) -> String {
    format!("\"{prefix}\"{}", quote(name))
}

fn argv_of(c: &Command) -> Vec<String> {
    match c {
        Command::Line(l) => crate::argv::split(&l.value).unwrap_or_default(),
        Command::Argv(v) => v.iter().map(|a| a.value.clone()).collect(),
    }
}

impl Writer<'_, '_> {
    /// `"$CS_IMAGE_…"`: the image a service runs, its own build or the image it names.
    fn image_var(&self, svc: &Service) -> String {
        format!("\"${}\"", self.var(svc))
    }

    fn var(&self, svc: &Service) -> &str {
        self.cx.image_vars.get(&svc.name.value).map_or("CS_IMAGE_", String::as_str)
    }

    fn inexact(&mut self, file: In, span: crate::source::Span, message: impl Into<String>) {
        let c = self.cx.inexact(file, span, message);
        if !self.comments.contains(&c) {
            self.comments.push(c);
        }
    }

    /// A built service's image, built (with its registry login when it has one, and its
    /// encrypted build args from their secret) and named for the pipeline.
    fn build_one(&mut self, svc: &Service) -> String {
        let Some(b) = &svc.build else { return String::new() };
        let var = self.var(svc).to_string();
        let tag = built_image(self.cx, svc);
        let ctx = &b.context.value;
        let df = b.dockerfile.as_ref().map_or("Dockerfile".to_string(), |d| d.value.clone());
        let mut s = format!("{var}={tag}\necho \"building ${var} for service \"{}\n", quote(&svc.name.value));
        let mut cmd = String::from("docker");
        if let Some(p) = &svc.encrypted_dockercfg_path {
            let name = self.cx.secret(SecretSource::File(p.value.clone()));
            let _ = writeln!(s, "cfg=$(mktemp -d) && cp \"$(cs_secret_file {name})\" \"$cfg/config.json\" || exit 1");
            cmd.push_str(" --config \"$cfg\"");
        }
        let _ = write!(
            cmd,
            " build -q -t \"${var}\" -f {} {}",
            quote(&format!("{}/{}", ctx.trim_end_matches('/'), df)),
            quote(ctx)
        );
        for (k, v) in &b.args {
            let _ = write!(cmd, " --build-arg {}", quote(&format!("{}={}", k.value, v.value)));
        }
        // Encrypted build args: KEY=VALUE lines of their secret, each a `--build-arg`.
        let mut secret_args = Vec::new();
        if let Some(f) = &b.encrypted_args_file {
            secret_args.push(self.cx.secret(SecretSource::File(f.value.clone())));
            self.inexact(In::Services, f.span, "encrypted build args are read literally, one `KEY=VALUE` a line (no quotes, no `export`), unlike Codeship's env files");
        }
        if let Some(blob) = &b.encrypted_args {
            secret_args.push(self.cx.secret(SecretSource::Inline {
                what: format!("`build.encrypted_args` of service `{}`", svc.name.value),
                span: blob.span,
            }));
            self.inexact(In::Services, blob.span, "encrypted build args are read literally, one `KEY=VALUE` a line (no quotes, no `export`), unlike Codeship's env files");
        }
        if !secret_args.is_empty() {
            s.push_str("cs_args=()\n");
            for name in secret_args {
                let _ = writeln!(
                    s,
                    "while IFS= read -r l || [ -n \"$l\" ]; do case \"$l\" in ''|'#'*) ;; *) cs_args+=(--build-arg \"$l\");; esac; done < \"$(cs_secret_file {name})\""
                );
            }
            cmd.push_str(" \"${cs_args[@]}\"");
        }
        if svc.encrypted_dockercfg_path.is_some() {
            let _ = writeln!(s, "{cmd} >/dev/null\ns=$?\nrm -rf \"$cfg\"\n[ $s -eq 0 ] || exit 1");
        } else {
            let _ = writeln!(s, "{cmd} >/dev/null || exit 1");
        }
        s
    }

    /// Each service's image in its variable (the images job's build, or the image it names,
    /// pulled with the service's registry login when it has one), and the notes about the
    /// services a job uses.
    fn images(&mut self, services: &[&Service]) -> String {
        let mut s = String::new();
        for svc in services {
            let var = self.var(svc).to_string();
            match (&svc.build, &svc.image) {
                (Some(_), _) => {
                    let _ = writeln!(s, "{var}={}", built_image(self.cx, svc));
                }
                (None, Some(image)) => {
                    let _ = writeln!(s, "{var}={}", quote(&image.value));
                    if let Some(p) = &svc.encrypted_dockercfg_path {
                        let name = self.cx.secret(SecretSource::File(p.value.clone()));
                        let _ = writeln!(
                            s,
                            "cfg=$(mktemp -d) && cp \"$(cs_secret_file {name})\" \"$cfg/config.json\" || exit 1\ndocker --config \"$cfg\" pull -q \"${var}\" >/dev/null\ns=$?\nrm -rf \"$cfg\"\n[ $s -eq 0 ] || exit 1"
                        );
                    }
                }
                (None, None) => {}
            }
            if svc.cached {
                self.inexact(
                    In::Services,
                    svc.name.span,
                    format!("`cached: true` of service `{}`: no image cache between builds here", svc.name.value),
                );
            }
            if let Some(d) = &svc.dockercfg_service {
                self.inexact(In::Services, d.span, "`dockercfg_service` (a container that prints credentials) is not translated; store the credentials as a secret");
            }
            if !svc.passthrough.is_empty() {
                let keys: Vec<&str> = svc.passthrough.iter().map(|(k, _)| k.as_str()).collect();
                self.inexact(
                    In::Services,
                    svc.name.span,
                    format!("service `{}`: {} not passed to `docker run`", svc.name.value, keys.join(", ")),
                );
            }
            if !svc.volumes_from.is_empty() {
                self.inexact(
                    In::Services,
                    svc.volumes_from[0].span,
                    "`volumes_from` shares the volumes of a container created once per job, not once per build",
                );
            }
            if !svc.links.is_empty() {
                self.inexact(
                    In::Services,
                    svc.links[0].service.span,
                    "Docker's legacy link variables (`DB_PORT=tcp://…`) that Slipway sets for `links` are not set",
                );
            }
            let env_files =
                !svc.env_file.is_empty() || !svc.encrypted_env_file.is_empty() || !svc.encrypted_environment.is_empty();
            if !svc.environment.is_empty() && env_files {
                self.inexact(In::Services, svc.name.span, format!("service `{}`: Docker gives `environment` precedence over env files; Codeship did the opposite for a variable set in both", svc.name.value));
            }
            // Decrypted, an encrypted env file is read by the same `--env-file`.
            for f in svc.env_file.iter().chain(&svc.encrypted_env_file) {
                self.inexact(In::Services, f.span, "Docker's `--env-file` reads values literally (no quotes, no `export`), unlike Codeship's env files");
            }
        }
        for svc in services {
            for holder in &svc.volumes_from {
                if let Some(h) = self.cx.input.checked.services.get(&holder.value) {
                    let name = word("cs-${CS_RUN}-holder-", &holder.value);
                    let _ = writeln!(s, "docker create --name {name} {} >/dev/null 2>&1", self.image_var(h));
                    let _ = writeln!(self.out, "docker rm -f -v {name} >/dev/null 2>&1");
                }
            }
        }
        s
    }

    /// Define the function for `n` (and everything below it); returns the call to make.
    fn node(&mut self, n: &Node, guarded: bool) -> String {
        let fname = format!("cs_step_{}", n.planned.id.replace('.', "_"));
        let body = match n.planned.kind {
            Kind::Run | Kind::Push => self.leaf(n),
            Kind::Serial | Kind::Manual => {
                if n.planned.kind == Kind::Manual && guarded {
                    self.inexact(
                        In::Steps,
                        n.model.span,
                        "a `manual` group inside a job runs without waiting for approval",
                    );
                }
                let mut b = String::new();
                for c in &n.children {
                    let call = self.guarded_call(c);
                    let _ = writeln!(b, "  {call} || return 1");
                }
                b
            }
            Kind::Parallel => {
                let mut b = String::from("  local cs_pids='' cs_s=0 p\n");
                for c in &n.children {
                    let call = self.guarded_call(c);
                    let _ = writeln!(b, "  {call} &\n  cs_pids=\"$cs_pids $!\"");
                }
                b.push_str("  for p in $cs_pids; do wait \"$p\" || cs_s=1; done\n  return $cs_s\n");
                b
            }
        };
        let on_fail: Vec<String> = n.on_fail.iter().map(|f| self.guarded_call(f)).collect();
        let _ = writeln!(
            self.functions,
            "# {} `{}` (step {})",
            kind_name(n.planned.kind),
            one_line(&n.planned.name),
            n.planned.id
        );
        if on_fail.is_empty() {
            let _ = writeln!(self.functions, "{fname}() {{\n{body}}}");
        } else {
            let _ = writeln!(self.functions, "{fname}_body() {{\n{body}}}");
            let _ = writeln!(
                self.functions,
                "{fname}() {{\n  {fname}_body && return 0\n{}  return 1\n}}",
                on_fail.iter().map(|c| format!("  {c}\n")).collect::<String>()
            );
        }
        fname
    }

    /// The call of a child, behind a guard for its own `tag`/`exclude` (a group the planner
    /// made from `services:` has its model's filters, already applied to the group).
    fn guarded_call(&mut self, c: &Node) -> String {
        let call = self.node(c, true);
        if c.expansion {
            return call;
        }
        match self.guard(c) {
            Some(cond) => format!("{{ ! {cond} || {call}; }}"),
            None => call,
        }
    }

    /// The shell condition for a step's own `tag`/`exclude`, if it has any.
    fn guard(&mut self, n: &Node) -> Option<String> {
        let mut conds = Vec::new();
        if let Some(t) = &n.model.tag {
            conds.push(self.filter_test(t));
        }
        if let Some(e) = &n.model.exclude {
            conds.push(format!("! {}", self.filter_test(e)));
        }
        (!conds.is_empty()).then(|| format!("{{ {}; }}", conds.join(" && ")))
    }

    fn filter_test(&mut self, f: &crate::model::services::Str) -> String {
        match Filter::compile(&f.value) {
            Ok(Filter::Exact(s)) => format!("[ \"$CS_TAG\" = {} ]", quote(&s)),
            _ => {
                if let Some(why) = not_ere(&f.value) {
                    self.inexact(
                        In::Steps,
                        f.span,
                        format!("the RE2 pattern `{}` is tested with `grep -E`, which {why}", f.value),
                    );
                }
                format!("cs_tag_re {}", quote(&f.value))
            }
        }
    }

    fn leaf(&mut self, n: &Node) -> String {
        let Some(svc) = n.planned.service.as_deref().and_then(|s| self.cx.input.checked.services.get(s)) else {
            return "  return 1\n".into();
        };
        match n.planned.kind {
            Kind::Push => self.push(n, svc),
            _ => self.run(n, svc),
        }
    }

    /// A run step: network, dependencies, the step's container, cleanup.
    fn run(&mut self, n: &Node, svc: &Service) -> String {
        let mut b = String::new();
        let net = format!("cs-${{CS_RUN}}-{}", n.planned.id.replace('.', "-"));
        let _ = writeln!(b, "  local net=\"{net}\" s");
        // A run step's own registry login pulls its service's image (a built one is local).
        if let (Some(p), None) = (&n.planned.encrypted_dockercfg_path, &svc.build) {
            let name = self.cx.secret(SecretSource::File(p.clone()));
            let _ = writeln!(
                b,
                "  local cfg\n  cfg=$(mktemp -d) && cp \"$(cs_secret_file {name})\" \"$cfg/config.json\" || return 1\n  docker --config \"$cfg\" pull -q {} >/dev/null\n  s=$?\n  rm -rf \"$cfg\"\n  [ $s -eq 0 ] || return 1",
                self.image_var(svc)
            );
        }
        b.push_str("  docker network create \"$net\" >/dev/null || return 1\n");
        let mut started = Vec::new();
        self.start_dependencies(svc, &mut b, &mut started, &mut Vec::new());
        let prefix = format!("(step: {}) (service: {}) ", one_line(&n.planned.name), one_line(&svc.name.value));
        let command = n.planned.command.clone().unwrap_or_default();
        let args = self.run_args(svc, &command);
        let _ = writeln!(
            b,
            "  docker run --rm --network \"$net\" --network-alias {} {args} 2>&1 | cs_prefix {}\n  s=$?",
            quote(&svc.name.value),
            quote(&prefix)
        );
        for c in started.iter().rev() {
            let _ = writeln!(b, "  docker rm -f -v {} >/dev/null 2>&1", word("$net-", c));
        }
        b.push_str("  docker network rm \"$net\" >/dev/null 2>&1\n  return $s\n");
        b
    }

    /// Start `svc`'s dependencies (theirs first), each waited for when it has a health check.
    fn start_dependencies(&mut self, svc: &Service, b: &mut String, started: &mut Vec<String>, path: &mut Vec<String>) {
        for (dep, alias) in dependencies(svc) {
            if started.contains(&dep) || path.contains(&dep) {
                continue;
            }
            let Some(d) = self.cx.input.checked.services.get(&dep) else { continue };
            path.push(dep.clone());
            self.start_dependencies(d, b, started, path);
            path.pop();
            let args = self.run_args(d, &[]);
            let _ = writeln!(
                b,
                "  docker run -d --name {c} --network \"$net\" --network-alias {} {args} >/dev/null || {{ s=1; }}\n  cs_wait_healthy {c} || echo {}",
                quote(&alias),
                quote(&format!("service {dep} did not become healthy")),
                c = word("$net-", &dep),
            );
            started.push(dep);
        }
    }

    /// `docker run` options, image and command for a container of `svc`.
    fn run_args(&mut self, svc: &Service, command: &[String]) -> String {
        let mut a = String::from(CI_ENV);
        for (k, v) in &svc.environment {
            let _ = write!(a, " -e {}", quote(&format!("{}={}", k.value, v.value)));
        }
        for f in &svc.env_file {
            let _ = write!(a, " --env-file {}", quote(&f.value));
        }
        for f in &svc.encrypted_env_file {
            let name = self.cx.secret(SecretSource::File(f.value.clone()));
            let _ = write!(a, " --env-file \"$(cs_secret_file {name})\"");
        }
        for blob in &svc.encrypted_environment {
            let name = self.cx.secret(SecretSource::Inline {
                what: format!("`encrypted_environment` of service `{}`", svc.name.value),
                span: blob.span,
            });
            let _ = write!(a, " --env-file \"$(cs_secret_file {name})\"");
        }
        for v in &svc.volumes {
            let spec = match &v.host {
                Some(h) => format!(
                    "\"$CS_DIR\"/{}:{}{}",
                    quote(h.trim_start_matches("./")),
                    quote(&v.container),
                    if v.read_only { ":ro" } else { "" }
                ),
                None => quote(&v.container),
            };
            let _ = write!(a, " -v {spec}");
        }
        for vf in &svc.volumes_from {
            let _ = write!(a, " --volumes-from {}", word("cs-${CS_RUN}-holder-", &vf.value));
        }
        if let Some(w) = &svc.working_dir {
            let _ = write!(a, " -w {}", quote(&w.value));
        }
        if let Some(u) = &svc.user {
            let _ = write!(a, " -u {}", quote(&u.value));
        }
        if svc.add_docker {
            a.push_str(" -v /var/run/docker.sock:/var/run/docker.sock");
        }
        let entrypoint = svc.entrypoint.as_ref().map(argv_of).unwrap_or_default();
        if let Some((first, _)) = entrypoint.split_first() {
            let _ = write!(a, " --entrypoint {}", quote(first));
        }
        let _ = write!(a, " {}", self.image_var(svc));
        let mut argv: Vec<String> = entrypoint.iter().skip(1).cloned().collect();
        if command.is_empty() {
            argv.extend(svc.command.as_ref().map(argv_of).unwrap_or_default());
        } else {
            argv.extend(command.iter().cloned());
        }
        for arg in argv {
            let _ = write!(a, " {}", quote(&arg));
        }
        a
    }

    /// A push step: the tag rendered in shell and sanitised as the planner does, then
    /// `docker tag` and `docker push` with the step's credentials.
    fn push(&mut self, n: &Node, svc: &Service) -> String {
        let mut b = String::new();
        let image = n.planned.image_name.clone().unwrap_or_default();
        let StepKind::Push { image_tag, .. } = &n.model.kind else { return "  return 1\n".into() };
        let template = image_tag.as_ref().map_or("latest", |t| t.value.as_str());
        let prefix = format!("(step: {}) (service: {}) ", one_line(&n.planned.name), one_line(&svc.name.value));
        // The credentials' secret is listed even when the tag cannot be computed (the job is
        // then finished by hand, and still pushes with them).
        let dockercfg = n.planned.encrypted_dockercfg_path.clone().map(|p| self.cx.secret(SecretSource::File(p)));
        match tag::shell_word(template, &n.planned.name, &svc.name.value, &image) {
            Ok(tag) => {
                b.push_str("  local tag cfg s\n");
                // A value cut with `%.Ns` must be ASCII for the shell to cut where Go did.
                for var in &tag.ascii {
                    let _ = writeln!(b, "  cs_ascii {var} \"${{{var}}}\" || return 1");
                }
                let _ = writeln!(b, "  tag=$(printf '%s' \"{}\" | tr -cd 'A-Za-z0-9_.-')", tag.word);
            }
            Err(e) => {
                let span = image_tag.as_ref().map_or(n.model.span, |t| t.span);
                let c = self.cx.fails(
                    In::Steps,
                    span,
                    format!("the push of step `{}` cannot compute its tag: {}", n.planned.name, e.0),
                );
                if !self.comments.contains(&c) {
                    self.comments.push(c);
                }
                // The rest of the push follows, so that finishing the job by hand is
                // replacing these two lines with `tag=…` (and its secret reaches the job).
                let _ = writeln!(
                    b,
                    "  local tag cfg s\n  echo {} >&2\n  return 1",
                    quote(&format!(
                        "slipway export: write the tag of step {} by hand (image_tag `{template}` cannot be computed here)",
                        n.planned.name
                    ))
                );
            }
        }
        b.push_str("  case \"$tag\" in ''|[.-]*) echo \"invalid image tag '$tag'\" >&2; return 1;; esac\n");
        b.push_str("  [ ${#tag} -le 128 ] || { echo \"image tag longer than 128 characters\" >&2; return 1; }\n");
        let target = format!("{}\":$tag\"", quote(&image));
        let _ = writeln!(b, "  docker tag {} {target} || return 1", self.image_var(svc));
        match dockercfg {
            Some(name) => {
                let _ = writeln!(
                    b,
                    "  cfg=$(mktemp -d)\n  cp \"$(cs_secret_file {name})\" \"$cfg/config.json\"\n  docker --config \"$cfg\" push -q {target} 2>&1 | cs_prefix {}\n  s=$?\n  rm -rf \"$cfg\"",
                    quote(&prefix)
                );
            }
            None => {
                if n.planned.dockercfg_service.is_some() {
                    self.inexact(
                        In::Steps,
                        n.model.span,
                        "`dockercfg_service` credentials are not translated; the push uses the runner's Docker login",
                    );
                }
                let _ = writeln!(b, "  docker push -q {target} 2>&1 | cs_prefix {}\n  s=$?", quote(&prefix));
            }
        }
        b.push_str("  return $s\n");
        b
    }
}

/// `s` with every newline and control character as a space: a comment (or an output prefix)
/// that stays on its line, whatever a name holds.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Run => "run step",
        Kind::Push => "push step",
        Kind::Serial => "serial group",
        Kind::Parallel => "parallel group",
        Kind::Manual => "manual group",
    }
}

/// Why `grep -E` may read an RE2 pattern differently, if it might.
fn not_ere(p: &str) -> Option<&'static str> {
    for (tok, why) in [
        ("\\d", "has no `\\d`"),
        ("\\w", "has no portable `\\w`"),
        ("\\s", "has no portable `\\s`"),
        ("\\b", "has no portable `\\b`"),
        ("(?", "has no `(?…)` groups or flags"),
        ("*?", "has no lazy quantifiers"),
        ("+?", "has no lazy quantifiers"),
        ("\\A", "has no `\\A`"),
        ("\\z", "has no `\\z`"),
        ("\\p", "has no `\\p{…}` classes"),
    ] {
        if p.contains(tok) {
            return Some(why);
        }
    }
    None
}
