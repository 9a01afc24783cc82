//! The services file (`codeship-services.yml`, or `docker-compose.yml`) as typed values.

use super::container::ContainerSettings;
use super::lower::Lower;
use crate::codes::Code;
use crate::diagnostics::Suggestion;
use crate::keys::{BUILD_KEYS, IGNORED_KEYS, PASSTHROUGH_KEYS, SERVICE_KEYS, UNSUPPORTED_KEYS};
use crate::source::{Span, Spanned};
use crate::syntax::{Node, NodeKind};

pub type Str = Spanned<String>;

#[derive(Clone, Debug, Default)]
pub struct ServicesFile {
    pub services: Vec<Service>,
}

impl ServicesFile {
    pub fn get(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name.value == name)
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.name.value.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: Str,
    pub build: Option<Build>,
    pub image: Option<Str>,
    pub command: Option<Command>,
    pub entrypoint: Option<Command>,
    pub environment: Vec<(Str, Str)>,
    pub env_file: Vec<Str>,
    pub encrypted_environment: Vec<Str>,
    pub encrypted_env_file: Vec<Str>,
    pub links: Vec<Link>,
    pub depends_on: Vec<Str>,
    pub volumes: Vec<Volume>,
    pub volumes_from: Vec<Str>,
    pub working_dir: Option<Str>,
    pub user: Option<Str>,
    pub add_docker: bool,
    pub cached: bool,
    pub default_cache_branch: Option<Str>,
    pub dockercfg_service: Option<Str>,
    pub encrypted_dockercfg_path: Option<Str>,
    /// The [`PASSTHROUGH_KEYS`] as written, in order.
    pub passthrough: Vec<(String, Node)>,
    /// The same keys, read (limits, host access, …).
    pub container: ContainerSettings,
}

#[derive(Clone, Debug, Default)]
pub struct Build {
    pub span: Span,
    pub image: Option<Str>,
    /// Relative to the services file's folder; "." when not given.
    pub context: Str,
    /// Relative to the context; `Dockerfile` when not given.
    pub dockerfile: Option<Str>,
    /// Values are Go templates over the build variables.
    pub args: Vec<(Str, Str)>,
    pub encrypted_args_file: Option<Str>,
    pub encrypted_args: Option<Str>,
}

/// `command`/`entrypoint`: a string split like a shell would (without one), or an argv list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Line(Str),
    Argv(Vec<Str>),
}

#[derive(Clone, Debug)]
pub struct Link {
    pub service: Str,
    pub alias: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub span: Span,
    /// Host path (bind mount) relative to the services folder, or None for an anonymous volume.
    pub host: Option<String>,
    pub container: String,
    pub read_only: bool,
}

pub(crate) fn lower(root: &Node, lw: &mut Lower) -> ServicesFile {
    let mut out = ServicesFile::default();
    let map = match &root.kind {
        NodeKind::Map(_) => root,
        NodeKind::Null => {
            lw.error(Code::EmptyFile, root.span, "the services file defines no services");
            return out;
        }
        _ => {
            lw.wrong_type(root, "the services file", "a map of services");
            return out;
        }
    };
    // Nested shape: `services:` holding the services, plus ignored compose top-level keys.
    let services_node = match map.get("services") {
        Some(s) if matches!(s.kind, NodeKind::Map(_)) => {
            for (k, _) in map.entries() {
                match k.as_str() {
                    Some("services") | Some("version") => {}
                    Some(name @ ("volumes" | "networks")) => {
                        lw.warning(Code::IgnoredKey, k.span, format!("top-level `{name}` is ignored by Codeship"));
                    }
                    _ => {
                        let name = lw.text(k).unwrap_or_default();
                        lw.unknown_key(k, &name, &["services", "version", "volumes", "networks"], "the services file");
                    }
                }
            }
            s
        }
        _ => map,
    };
    for (k, v) in services_node.entries() {
        let Some(name) = lw.string(k, "service name") else {
            continue;
        };
        if services_node.get("services").is_none()
            && matches!(name.value.as_str(), "volumes" | "networks")
            && !matches!(v.kind, NodeKind::Map(ref e) if e.iter().any(|(k, _)| matches!(k.as_str(), Some("image" | "build"))))
        {
            lw.warning(Code::IgnoredKey, k.span, format!("top-level `{}` is ignored by Codeship", name.value));
            continue;
        }
        out.services.push(lower_service(name, v, lw));
    }
    if out.services.is_empty() && !matches!(services_node.kind, NodeKind::Null) && services_node.entries().is_empty() {
        lw.error(Code::EmptyFile, root.span, "the services file defines no services");
    }
    out
}

fn lower_service(name: Str, node: &Node, lw: &mut Lower) -> Service {
    let mut s = Service {
        name: name.clone(),
        build: None,
        image: None,
        command: None,
        entrypoint: None,
        environment: Vec::new(),
        env_file: Vec::new(),
        encrypted_environment: Vec::new(),
        encrypted_env_file: Vec::new(),
        links: Vec::new(),
        depends_on: Vec::new(),
        volumes: Vec::new(),
        volumes_from: Vec::new(),
        working_dir: None,
        user: None,
        add_docker: false,
        cached: false,
        default_cache_branch: None,
        dockercfg_service: None,
        encrypted_dockercfg_path: None,
        passthrough: Vec::new(),
        container: ContainerSettings::default(),
    };
    if !matches!(node.kind, NodeKind::Map(_)) {
        lw.wrong_type(node, &name.value, "a map of service settings");
        return s;
    }
    let mut service_dockerfile: Option<Str> = None;
    for (k, v) in node.entries() {
        let Some(key) = lw.text(k) else { continue };
        match key.as_str() {
            "build" => s.build = lower_build(v, lw),
            "image" => s.image = lw.string(v, "image"),
            "dockerfile" | "dockerfile_path" => {
                lw.warning(Code::DeprecatedKey, k.span, format!("service-level `{key}` is deprecated")).help =
                    Some("move it under `build:` as `dockerfile:`".into());
                service_dockerfile = lw.string(v, &key);
            }
            "command" => s.command = lower_command(v, "command", lw),
            "entrypoint" => s.entrypoint = lower_command(v, "entrypoint", lw),
            "environment" => s.environment = lw.key_values(v, "environment"),
            "env_file" => s.env_file = lw.string_or_list(v, "env_file"),
            "encrypted_env_file" => s.encrypted_env_file = lw.string_or_list(v, "encrypted_env_file"),
            "encrypted_environment" => {
                s.encrypted_environment = match &v.kind {
                    NodeKind::Map(_) => lw.key_values(v, "encrypted_environment").into_iter().map(|(_, v)| v).collect(),
                    _ => lw.string_or_list(v, "encrypted_environment"),
                }
            }
            "links" => {
                s.links = lw
                    .list(v, "links")
                    .into_iter()
                    .map(|l| match l.value.split_once(':') {
                        Some((svc, alias)) => {
                            Link { service: Spanned::new(svc.to_string(), l.span), alias: Some(alias.to_string()) }
                        }
                        None => Link { service: l, alias: None },
                    })
                    .collect()
            }
            "depends_on" => s.depends_on = lw.list(v, "depends_on"),
            "volumes" => s.volumes = lw.list(v, "volumes").into_iter().filter_map(|v| parse_volume(v, lw)).collect(),
            "volumes_from" => s.volumes_from = lw.list(v, "volumes_from"),
            "working_dir" => s.working_dir = lw.string(v, "working_dir"),
            "user" => s.user = lw.string(v, "user"),
            "add_docker" => s.add_docker = lw.boolean(v, "add_docker").unwrap_or(false),
            "cached" => s.cached = lw.boolean(v, "cached").unwrap_or(false),
            "default_cache_branch" => s.default_cache_branch = lw.string(v, "default_cache_branch"),
            "dockercfg_service" => s.dockercfg_service = lw.string(v, "dockercfg_service"),
            "encrypted_dockercfg_path" => s.encrypted_dockercfg_path = lw.string(v, "encrypted_dockercfg_path"),
            k2 if PASSTHROUGH_KEYS.contains(&k2) => s.passthrough.push((key.clone(), v.clone())),
            k2 if IGNORED_KEYS.contains(&k2) => {
                lw.warning(Code::IgnoredKey, k.span, format!("`{key}` is ignored by Codeship"));
            }
            k2 if UNSUPPORTED_KEYS.contains(&k2) => {
                lw.warning(
                    Code::UnsupportedKey,
                    k.span,
                    format!("`{key}` is not supported (no host linking); it is ignored"),
                );
            }
            _ => {
                let known: Vec<&str> = SERVICE_KEYS.iter().chain(PASSTHROUGH_KEYS).copied().collect();
                lw.unknown_key(k, &key, &known, &format!("service `{}`", name.value));
            }
        }
    }
    s.container = super::container::read(&s.passthrough, &lw.file.text);
    if let Some(df) = service_dockerfile {
        let build = s.build.get_or_insert_with(|| Build {
            span: df.span,
            context: Spanned::new(".".into(), df.span),
            ..Build::default()
        });
        if build.dockerfile.is_none() {
            build.dockerfile = Some(df);
        }
    }
    s
}

fn lower_build(node: &Node, lw: &mut Lower) -> Option<Build> {
    let mut b = Build { span: node.span, context: Spanned::new(".".into(), node.span), ..Build::default() };
    match &node.kind {
        NodeKind::Str(_) => {
            b.context = lw.string(node, "build")?;
            return Some(b);
        }
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                let Some(key) = lw.text(k) else { continue };
                match key.as_str() {
                    "image" => b.image = lw.string(v, "build.image"),
                    "context" => b.context = lw.string(v, "build.context")?,
                    "path" => {
                        let d = lw.warning(Code::DeprecatedKey, k.span, "`build.path` is deprecated");
                        d.help = Some("use `build.context`".into());
                        if node.get("context").is_none() {
                            d.suggestion = Some(Box::new(Suggestion { span: k.span, replacement: "context".into() }));
                        }
                        b.context = lw.string(v, "build.path")?;
                    }
                    "dockerfile" => b.dockerfile = lw.string(v, "build.dockerfile"),
                    "dockerfile_path" => {
                        let d = lw.warning(Code::DeprecatedKey, k.span, "`build.dockerfile_path` is deprecated");
                        d.help = Some("use `build.dockerfile`".into());
                        if node.get("dockerfile").is_none() {
                            d.suggestion =
                                Some(Box::new(Suggestion { span: k.span, replacement: "dockerfile".into() }));
                        }
                        b.dockerfile = lw.string(v, "build.dockerfile_path");
                    }
                    "args" => b.args = lw.key_values(v, "build.args"),
                    "encrypted_args_file" => b.encrypted_args_file = lw.string(v, "build.encrypted_args_file"),
                    "encrypted_args" => b.encrypted_args = lw.string(v, "build.encrypted_args"),
                    _ => lw.unknown_key(k, &key, BUILD_KEYS, "`build`"),
                }
            }
        }
        _ => {
            lw.wrong_type(node, "build", "a path or a map");
            return None;
        }
    }
    Some(b)
}

pub(crate) fn lower_command(node: &Node, key: &str, lw: &mut Lower) -> Option<Command> {
    match &node.kind {
        NodeKind::Seq(_) => Some(Command::Argv(lw.list(node, key))),
        NodeKind::Null => None,
        _ => lw.string(node, key).map(Command::Line),
    }
}

fn parse_volume(v: Str, lw: &mut Lower) -> Option<Volume> {
    let parts: Vec<&str> = v.value.split(':').collect();
    let (host, container, mode) = match parts.as_slice() {
        [c] => (None, *c, None),
        [h, c] if c.starts_with('/') => (Some(*h), *c, None),
        [c, m] if matches!(*m, "ro" | "rw") => (None, *c, Some(*m)),
        [h, c, m] => (Some(*h), *c, Some(*m)),
        _ => {
            lw.error(
                Code::InvalidVolume,
                v.span,
                format!("volume `{}` is not `container_path` or `host_path:container_path[:ro]`", v.value),
            );
            return None;
        }
    };
    if !container.starts_with('/') {
        lw.error(Code::InvalidVolume, v.span, format!("container path `{container}` must be absolute"));
        return None;
    }
    if let Some(m) = mode
        && !matches!(m, "ro" | "rw")
    {
        lw.error(Code::InvalidVolume, v.span, format!("volume mode `{m}` must be `ro` or `rw`"));
        return None;
    }
    if let Some(h) = host {
        if h.starts_with('/') {
            lw.warning(Code::AbsoluteHostVolume, v.span, format!("absolute host path `{h}` is deprecated")).help =
                Some("use a path relative to the services file, e.g. `./data`".into());
        } else if escapes_project(h) {
            lw.error(Code::InvalidVolume, v.span, format!("host path `{h}` leaves the project folder"));
            return None;
        }
    }
    Some(Volume {
        span: v.span,
        host: host.map(str::to_string),
        container: container.to_string(),
        read_only: mode == Some("ro"),
    })
}

/// Lexically: does a relative path climb above its starting folder?
pub fn escapes_project(path: &str) -> bool {
    let mut depth: i32 = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}
