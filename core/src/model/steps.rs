//! The steps file (`codeship-steps.yml` or `.json`) as a typed tree.

use super::lower::Lower;
use super::services::Str;
use crate::codes::Code;
use crate::diagnostics::Suggestion;
use crate::keys::{STEP_KEYS, STEP_TYPES};
use crate::source::{Span, Spanned};
use crate::syntax::{Node, NodeKind};

#[derive(Clone, Debug, Default)]
pub struct StepsFile {
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug)]
pub struct Step {
    /// The step's mapping, from its first key (or the `{` of a flow mapping) to the end of
    /// its last value: diagnostics on the step as a whole start here, editors take it as the
    /// step's extent.
    pub span: Span,
    pub name: Option<Str>,
    pub kind: StepKind,
    pub service: Option<Str>,
    pub services: Vec<Str>,
    pub tag: Option<Str>,
    pub exclude: Option<Str>,
    pub encrypted_dockercfg_path: Option<Str>,
    pub dockercfg_service: Option<Str>,
    pub on_fail: Vec<Step>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupMode {
    Serial,
    Parallel,
    Manual,
}

#[derive(Clone, Debug)]
pub enum StepKind {
    /// `type: run`, or no `type` at all (a step without one is a run step).
    Run {
        command: Option<Str>,
    },
    Push {
        image_name: Option<Str>,
        image_tag: Option<Str>,
        registry: Option<Str>,
    },
    Group {
        mode: GroupMode,
        /// `type: matrix` in the official examples: a parallel group over `services`.
        matrix: bool,
        steps: Vec<Step>,
    },
}

pub(crate) fn lower(root: &Node, lw: &mut Lower) -> StepsFile {
    match &root.kind {
        NodeKind::Seq(items) => {
            if items.is_empty() {
                lw.error(Code::EmptySteps, root.span, "the steps file has no steps");
            }
            StepsFile { steps: items.iter().filter_map(|n| lower_step(n, lw)).collect() }
        }
        NodeKind::Null => {
            lw.error(Code::EmptySteps, root.span, "the steps file has no steps");
            StepsFile::default()
        }
        _ => {
            lw.wrong_type(root, "the steps file", "a list of steps");
            StepsFile::default()
        }
    }
}

fn lower_step(node: &Node, lw: &mut Lower) -> Option<Step> {
    if !matches!(node.kind, NodeKind::Map(_)) {
        lw.wrong_type(node, "a step", "a map");
        return None;
    }
    let mut step = Step {
        span: node.span,
        name: None,
        kind: StepKind::Run { command: None },
        service: None,
        services: Vec::new(),
        tag: None,
        exclude: None,
        encrypted_dockercfg_path: None,
        dockercfg_service: None,
        on_fail: Vec::new(),
    };
    let mut ty: Option<Str> = None;
    let mut command = None;
    let mut sub_steps: Option<(Span, Vec<Step>)> = None;
    let (mut image_name, mut image_tag, mut registry) = (None, None, None);
    for (k, v) in node.entries() {
        let Some(key) = lw.text(k) else { continue };
        match key.as_str() {
            "name" => step.name = lw.string(v, "name"),
            "type" => ty = lw.string(v, "type"),
            "service" => step.service = lw.string(v, "service"),
            "services" => step.services = lw.list(v, "services"),
            "command" => {
                command = match &v.kind {
                    // A list is joined: the planner splits it again into argv.
                    NodeKind::Seq(_) => {
                        let parts = lw.list(v, "command");
                        Some(Spanned::new(
                            parts.iter().map(|p| crate::argv::quote(&p.value)).collect::<Vec<_>>().join(" "),
                            v.span,
                        ))
                    }
                    _ => lw.string(v, "command"),
                }
            }
            "tag" => step.tag = lw.string(v, "tag"),
            "exclude" => step.exclude = lw.string(v, "exclude"),
            "steps" => match &v.kind {
                NodeKind::Seq(items) => {
                    sub_steps = Some((k.span, items.iter().filter_map(|n| lower_step(n, lw)).collect()))
                }
                _ => lw.wrong_type(v, "steps", "a list of steps"),
            },
            "image_name" => image_name = lw.string(v, "image_name"),
            "image_tag" => image_tag = lw.string(v, "image_tag"),
            "registry" => registry = lw.string(v, "registry"),
            "encrypted_dockercfg_path" => step.encrypted_dockercfg_path = lw.string(v, "encrypted_dockercfg_path"),
            "dockercfg_service" => step.dockercfg_service = lw.string(v, "dockercfg_service"),
            "on_fail" => match &v.kind {
                NodeKind::Seq(items) => step.on_fail = items.iter().filter_map(|n| lower_step(n, lw)).collect(),
                _ => lw.wrong_type(v, "on_fail", "a list of steps"),
            },
            _ => lw.unknown_key(k, &key, STEP_KEYS, "a step"),
        }
    }
    let ty_value = ty.as_ref().map(|t| t.value.as_str());
    step.kind = match ty_value {
        Some("push") => StepKind::Push { image_name, image_tag, registry },
        Some(t @ ("serial" | "parallel" | "manual" | "matrix")) => {
            let mode = match t {
                "serial" => GroupMode::Serial,
                "manual" => GroupMode::Manual,
                _ => GroupMode::Parallel,
            };
            let steps = match sub_steps {
                Some((_, s)) if !s.is_empty() => s,
                Some((span, _)) => {
                    lw.error(Code::EmptyGroup, span, format!("a `{t}` group needs at least one step"));
                    Vec::new()
                }
                None => {
                    lw.error(Code::EmptyGroup, node.span, format!("a `{t}` group needs `steps:`"));
                    Vec::new()
                }
            };
            StepKind::Group { mode, matrix: t == "matrix", steps }
        }
        None | Some("run") => {
            if let Some((span, _)) = &sub_steps {
                lw.error(
                    Code::UnknownStepType,
                    *span,
                    "a step with `steps:` needs `type: serial`, `parallel` or `manual`",
                );
            }
            StepKind::Run { command }
        }
        Some(other) => {
            let t = ty.as_ref().expect("type present");
            let d = lw.error(Code::UnknownStepType, t.span, format!("unknown step type `{other}`"));
            let suggestion = crate::spelling::closest(other, STEP_TYPES.iter().copied());
            d.help = Some(match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("use one of: {}", STEP_TYPES.join(", ")),
            });
            if let Some(s) = suggestion {
                d.suggestion = Some(Box::new(Suggestion { span: t.span, replacement: s.to_string() }));
            }
            StepKind::Run { command }
        }
    };
    Some(step)
}
