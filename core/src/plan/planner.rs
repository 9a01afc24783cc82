//! The planner: which steps run for given build values, in what structure, with generated
//! names, `services:` expanded, filters applied, commands split and image tags rendered.
//! The studio's preview and the executor both follow this plan.

use super::filter::Filter;
use crate::argv;
use crate::dockercfg::registry_of_image;
use crate::model::services::Str;
use crate::model::{GroupMode, ServicesFile, Step, StepKind, StepsFile};
use crate::source::Span;
use crate::template::{BuildVars, Template, sanitize_tag};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// What the user asked for: the build tag (branch or git tag) for filters, `--push`, and the
/// build values for templates.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub tag: Option<String>,
    pub push: bool,
    pub vars: BuildVars,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Run,
    Push,
    Serial,
    Parallel,
    Manual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    WillRun,
    Skipped,
}

/// Serialisable both ways: the server sends the plan of a run to the studio, which draws it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// The step's path in the plan (`2`, `2.1`, `2.1.f1` for an `on_fail` step): unique where
    /// names are not, since real projects repeat sub-step names under different groups. Events,
    /// stored step results and the studio identify steps by it; `name` is only a label.
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// The rendered and sanitised tag; absent when rendering failed (see `tag_error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_dockercfg_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockercfg_service: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<PlannedStep>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_fail: Vec<PlannedStep>,
    /// The span of the model step this was planned from ([`Step::span`]), for editors to go
    /// from a planned step to its text. `None` for the groups planned to expand a group's
    /// `services:`, and in a plan read back (it is not serialized).
    #[serde(skip)]
    pub source: Option<Span>,
}

impl PlannedStep {
    /// A step that will run, with nothing else set yet.
    pub fn new(name: impl Into<String>, kind: Kind) -> PlannedStep {
        PlannedStep {
            id: String::new(),
            name: name.into(),
            kind,
            status: Status::WillRun,
            reason: None,
            service: None,
            command: None,
            image_name: None,
            image_tag: None,
            tag_error: None,
            registry: None,
            encrypted_dockercfg_path: None,
            dockercfg_service: None,
            steps: Vec::new(),
            on_fail: Vec::new(),
            source: None,
        }
    }

    pub fn image_ref(&self) -> Option<String> {
        Some(format!("{}:{}", self.image_name.as_ref()?, self.image_tag.as_ref()?))
    }
    /// Every leaf (run/push) step under this one, depth first.
    pub fn leaves(&self) -> Vec<&PlannedStep> {
        if self.steps.is_empty() { vec![self] } else { self.steps.iter().flat_map(PlannedStep::leaves).collect() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub tag: Option<String>,
    pub push: bool,
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    pub fn leaves(&self) -> Vec<&PlannedStep> {
        self.steps.iter().flat_map(PlannedStep::leaves).collect()
    }
    /// The step with this id (see [`PlannedStep::id`]).
    pub fn find(&self, id: &str) -> Option<&PlannedStep> {
        self.find_where(&|s| s.id == id)
    }
    /// The first step, depth first, labelled `name`. Names may repeat: use [`Plan::find`] to
    /// identify a step.
    pub fn find_by_name(&self, name: &str) -> Option<&PlannedStep> {
        self.find_where(&|s| s.name == name)
    }
    fn find_where(&self, hit: &dyn Fn(&PlannedStep) -> bool) -> Option<&PlannedStep> {
        fn walk<'a>(s: &'a PlannedStep, hit: &dyn Fn(&PlannedStep) -> bool) -> Option<&'a PlannedStep> {
            if hit(s) {
                return Some(s);
            }
            s.steps.iter().chain(&s.on_fail).find_map(|c| walk(c, hit))
        }
        self.steps.iter().find_map(|s| walk(s, hit))
    }
}

/// Inherited from enclosing groups.
#[derive(Clone, Default)]
struct Inherit {
    service: Option<String>,
    encrypted_dockercfg_path: Option<String>,
    dockercfg_service: Option<String>,
    skipped: Option<String>,
}

struct Planner<'a> {
    opts: &'a PlanOptions,
    used: HashSet<String>,
    /// Compiled filters by pattern (None: invalid); large projects repeat a few patterns.
    filters: HashMap<String, Option<Filter>>,
}

/// `services` is accepted so the signature stays stable when planning needs service data
/// (it does not yet: push checks live in validation).
pub fn plan(_services: &ServicesFile, steps: &StepsFile, opts: &PlanOptions) -> Plan {
    let mut p = Planner { opts, used: HashSet::new(), filters: HashMap::new() };
    // Reserve explicit names first so generated ones never collide with them.
    fn reserve(s: &Step, used: &mut HashSet<String>) {
        if let Some(n) = &s.name {
            used.insert(n.value.clone());
        }
        if let StepKind::Group { steps, .. } = &s.kind {
            steps.iter().for_each(|c| reserve(c, used));
        }
    }
    steps.steps.iter().for_each(|s| reserve(s, &mut p.used));
    let mut planned: Vec<PlannedStep> = steps
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| p.step(s, &format!("step_{}", i + 1), &Inherit::default()))
        .collect();
    assign_ids(&mut planned);
    Plan { tag: opts.tag.clone(), push: opts.push, steps: planned }
}

impl Planner<'_> {
    fn unique(&mut self, wanted: &str) -> String {
        if self.used.insert(wanted.to_string()) {
            return wanted.to_string();
        }
        (2..).map(|n| format!("{wanted}_{n}")).find(|c| self.used.insert(c.clone())).expect("some suffix is free")
    }

    fn filter(&mut self, pattern: &str) -> Option<&Filter> {
        self.filters.entry(pattern.to_string()).or_insert_with(|| Filter::compile(pattern).ok()).as_ref()
    }

    fn filter_reason(&mut self, s: &Step) -> Option<String> {
        let tag = self.opts.tag.clone();
        if let Some(t) = &s.tag {
            match (tag.as_deref(), self.filter(&t.value)) {
                (None, _) => return Some(format!("`tag: {}` needs a build tag (--tag)", t.value)),
                (_, None) => return Some(format!("`tag: {}` is not a valid pattern", t.value)),
                (Some(b), Some(f)) if !f.matches(b) => {
                    return Some(format!("`{b}` does not match `tag: {}`", t.value));
                }
                _ => {}
            }
        }
        if let (Some(e), Some(b)) = (&s.exclude, tag.as_deref())
            && self.filter(&e.value).is_some_and(|f| f.matches(b))
        {
            return Some(format!("`{b}` matches `exclude: {}`", e.value));
        }
        None
    }

    fn step(&mut self, s: &Step, fallback_name: &str, parent: &Inherit) -> PlannedStep {
        let explicit = s.name.as_ref().map(|n| n.value.clone());
        let name = match &explicit {
            Some(n) => n.clone(),
            None => self.unique(fallback_name),
        };
        let mut inherit = parent.clone();
        if inherit.skipped.is_none() {
            inherit.skipped = self.filter_reason(s);
        }
        if let Some(svc) = &s.service {
            inherit.service = Some(svc.value.clone());
        }
        // The encrypted file wins when both are set, on the step or inherited.
        if let Some(p) = &s.encrypted_dockercfg_path {
            inherit.encrypted_dockercfg_path = Some(p.value.clone());
            inherit.dockercfg_service = None;
        } else if let Some(d) = &s.dockercfg_service {
            inherit.dockercfg_service = Some(d.value.clone());
            inherit.encrypted_dockercfg_path = None;
        }
        let mut out = PlannedStep { source: Some(s.span), ..PlannedStep::new(name.clone(), Kind::Run) };
        match &s.kind {
            StepKind::Run { command } => {
                out.service = inherit.service.clone();
                out.command = command.as_ref().and_then(|c| argv::split(&c.value).ok());
                self.credentials(&mut out, &inherit);
            }
            StepKind::Push { image_name, image_tag, registry } => {
                out.kind = Kind::Push;
                out.service = inherit.service.clone();
                self.push(&mut out, image_name, image_tag, registry);
                self.credentials(&mut out, &inherit);
                if !self.opts.push && inherit.skipped.is_none() {
                    out.status = Status::Skipped;
                    out.reason = Some("push steps run only with --push".into());
                }
            }
            StepKind::Group { mode, steps, .. } => {
                out.kind = match mode {
                    GroupMode::Serial => Kind::Serial,
                    GroupMode::Parallel => Kind::Parallel,
                    GroupMode::Manual => Kind::Manual,
                };
                out.service = s.service.as_ref().map(|x| x.value.clone());
                out.steps = self.children(&name, *mode, steps, &s.services, &inherit);
            }
        }
        if let Some(reason) = &inherit.skipped {
            out.status = Status::Skipped;
            out.reason = Some(reason.clone());
        }
        out.on_fail = s
            .on_fail
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let inh = Inherit { service: out.service.clone(), skipped: None, ..inherit.clone() };
                let mut p = self.step(f, &format!("{name}_on_fail_{}", i + 1), &inh);
                if out.status == Status::Skipped {
                    mark_skipped(&mut p, out.reason.as_deref().unwrap_or("skipped"));
                }
                p
            })
            .collect();
        out
    }

    fn children(
        &mut self,
        name: &str,
        mode: GroupMode,
        steps: &[Step],
        services: &[Str],
        inherit: &Inherit,
    ) -> Vec<PlannedStep> {
        if services.is_empty() {
            return steps
                .iter()
                .enumerate()
                .map(|(i, c)| self.step(c, &format!("{name}_{}", i + 1), inherit))
                .collect();
        }
        let with = |svc: &Str| Inherit { service: Some(svc.value.clone()), ..inherit.clone() };
        match mode {
            // Parallel (and matrix): one serial copy of the sub-steps per service.
            GroupMode::Parallel => services
                .iter()
                .map(|svc| {
                    let group = self.unique(&format!("{name}_{}", svc.value));
                    let inh = with(svc);
                    let steps = steps
                        .iter()
                        .enumerate()
                        .map(|(i, c)| self.step(c, &format!("{group}_{}", i + 1), &inh))
                        .collect();
                    group_step(group, Kind::Serial, Some(svc.value.clone()), steps, inherit)
                })
                .collect(),
            // Serial: each sub-step in turn, its per-service copies in parallel.
            GroupMode::Serial | GroupMode::Manual => steps
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let group = self.unique(&format!("{name}_{}", i + 1));
                    let copies = services
                        .iter()
                        .map(|svc| self.step(c, &format!("{group}_{}", svc.value), &with(svc)))
                        .collect();
                    group_step(group, Kind::Parallel, None, copies, inherit)
                })
                .collect(),
        }
    }

    fn credentials(&self, out: &mut PlannedStep, inherit: &Inherit) {
        out.encrypted_dockercfg_path = inherit.encrypted_dockercfg_path.clone();
        out.dockercfg_service = inherit.dockercfg_service.clone();
    }

    fn push(&self, out: &mut PlannedStep, image_name: &Option<Str>, image_tag: &Option<Str>, registry: &Option<Str>) {
        let Some(image) = image_name else { return };
        out.image_name = Some(image.value.clone());
        out.registry =
            Some(registry.as_ref().map(|r| r.value.clone()).unwrap_or_else(|| registry_of_image(&image.value)));
        let vars = BuildVars {
            step_name: out.name.clone(),
            service_name: out.service.clone().unwrap_or_default(),
            image_name: image.value.clone(),
            ..self.opts.vars.clone()
        };
        let template = image_tag.as_ref().map_or("latest", |t| t.value.as_str());
        let rendered = Template::parse(template).and_then(|t| t.render(&vars));
        match rendered {
            Ok(r) => match sanitize_tag(&r) {
                Ok(tag) => out.image_tag = Some(tag),
                Err(e) => out.tag_error = Some(e.to_string()),
            },
            Err(e) => out.tag_error = Some(format!("image_tag template: {e}")),
        }
    }
}

fn group_step(
    name: String,
    kind: Kind,
    service: Option<String>,
    steps: Vec<PlannedStep>,
    inherit: &Inherit,
) -> PlannedStep {
    let mut g = PlannedStep { service, steps, ..PlannedStep::new(name, kind) };
    if let Some(r) = &inherit.skipped {
        g.status = Status::Skipped;
        g.reason = Some(r.clone());
    }
    g
}

/// Give every step its id: top-level steps `N`, children `PARENT.N`, `on_fail` steps
/// `PARENT.fN` (1-based, as the generated names are).
pub fn assign_ids(steps: &mut [PlannedStep]) {
    for (i, s) in steps.iter_mut().enumerate() {
        number(s, (i + 1).to_string());
    }
}

fn number(s: &mut PlannedStep, id: String) {
    for (i, c) in s.steps.iter_mut().enumerate() {
        number(c, format!("{id}.{}", i + 1));
    }
    for (i, f) in s.on_fail.iter_mut().enumerate() {
        number(f, format!("{id}.f{}", i + 1));
    }
    s.id = id;
}

fn mark_skipped(p: &mut PlannedStep, reason: &str) {
    p.status = Status::Skipped;
    p.reason = Some(reason.to_string());
    for c in p.steps.iter_mut().chain(p.on_fail.iter_mut()) {
        mark_skipped(c, reason);
    }
}
