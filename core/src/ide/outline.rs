//! The outline: services, and steps with the names and ids the planner gives them.

use super::context::Lines;
use super::{Analysis, FileId, Symbol, SymbolKind, scan};
use crate::model::{GroupMode, Step, StepKind};
use crate::plan::{Kind, PlannedStep};
use crate::source::Span;
use std::collections::HashMap;

/// A step of the model with the planned steps it became: one, or one per service when a
/// group's `services:` copies its sub-steps; none when planning dropped it.
pub(crate) struct Paired<'a> {
    pub step: &'a Step,
    pub planned: Vec<&'a PlannedStep>,
    pub children: Vec<Paired<'a>>,
}

/// Pair the model's steps with the plan's, by the source span the planner records on each
/// planned step (so this never re-implements how groups expand).
pub(crate) fn pair<'a>(steps: &'a [Step], plan: &'a [PlannedStep]) -> Vec<Paired<'a>> {
    super::work::count(&super::work::PAIRS);
    fn index<'a>(plan: &'a [PlannedStep], by_source: &mut HashMap<Span, Source<'a>>) {
        for p in plan {
            if let Some(span) = p.source {
                by_source.entry(span).or_default().planned.push(p);
            }
            index(&p.steps, by_source);
            index(&p.on_fail, by_source);
        }
    }
    fn occurrences(steps: &[Step], by_source: &mut HashMap<Span, Source>) {
        for s in steps {
            by_source.entry(s.span).or_default().steps += 1;
            occurrences(sub_steps(s), by_source);
            occurrences(&s.on_fail, by_source);
        }
    }
    let mut by_source = HashMap::new();
    index(plan, &mut by_source);
    occurrences(steps, &mut by_source);
    steps.iter().map(|s| paired(s, &mut by_source)).collect()
}

/// The planned steps made from one span of the text, and how many model steps have that
/// span: more than one when a group is repeated through a YAML alias (`- *tests`: its
/// sub-steps keep the anchor's spans), each occurrence taking its share in order.
#[derive(Default)]
struct Source<'a> {
    planned: Vec<&'a PlannedStep>,
    steps: usize,
    taken: usize,
}

fn paired<'a>(step: &'a Step, by_source: &mut HashMap<Span, Source<'a>>) -> Paired<'a> {
    let planned = match by_source.get_mut(&step.span) {
        Some(src) => {
            let share = src.planned.len() / src.steps.max(1);
            let from = (src.taken * share).min(src.planned.len());
            src.taken += 1;
            src.planned[from..(from + share).min(src.planned.len())].to_vec()
        }
        None => Vec::new(),
    };
    let mut children = Vec::new();
    if let StepKind::Group { steps, .. } = &step.kind {
        children.extend(steps.iter().map(|kid| paired(kid, by_source)));
    }
    children.extend(step.on_fail.iter().map(|f| paired(f, by_source)));
    Paired { step, planned, children }
}

/// The first model step, depth first, for which `hit` holds (no plan needed).
pub(crate) fn find_step<'a>(steps: &'a [Step], hit: &dyn Fn(&Step) -> bool) -> Option<&'a Step> {
    steps.iter().find_map(|s| {
        if hit(s) { Some(s) } else { find_step(sub_steps(s), hit).or_else(|| find_step(&s.on_fail, hit)) }
    })
}

/// The deepest model step for which `hit` holds.
pub(crate) fn innermost<'a>(steps: &'a [Step], hit: &dyn Fn(&Step) -> bool) -> Option<&'a Step> {
    steps.iter().find_map(|s| {
        innermost(sub_steps(s), hit).or_else(|| innermost(&s.on_fail, hit)).or_else(|| hit(s).then_some(s))
    })
}

fn sub_steps(s: &Step) -> &[Step] {
    match &s.kind {
        StepKind::Group { steps, .. } => steps,
        _ => &[],
    }
}

/// The planned steps made from the model step at `span` (its copies, one per service of an
/// enclosing group), depth first: one walk of the plan, for a query about one step.
pub(crate) fn planned_for(plan: &[PlannedStep], span: Span) -> Vec<&PlannedStep> {
    fn walk<'a>(plan: &'a [PlannedStep], span: Span, out: &mut Vec<&'a PlannedStep>) {
        for p in plan {
            if p.source == Some(span) {
                out.push(p);
            }
            walk(&p.steps, span, out);
            walk(&p.on_fail, span, out);
        }
    }
    let mut out = Vec::new();
    walk(plan, span, &mut out);
    out
}

pub(crate) fn outline(a: &Analysis, file: FileId) -> Vec<Symbol> {
    match file {
        FileId::Services => services(a),
        FileId::Steps => {
            let lines = a.lines(FileId::Steps);
            pair(&a.checked().steps.steps, &a.plan().steps).iter().map(|p| step_symbol(a, &lines, p)).collect()
        }
    }
}

fn services(a: &Analysis) -> Vec<Symbol> {
    let lines = a.lines(FileId::Services);
    let model = &a.checked().services;
    scan::services(a)
        .into_iter()
        .map(|d| {
            let n = lines.line_of(d.span.start);
            let col = (d.span.start - lines.parse(n).start) as usize;
            let end = block_end(&lines, n, col + 1).max(d.span.end);
            let detail = model.get(&d.name).and_then(scan::service_detail);
            Symbol {
                name: d.name,
                kind: SymbolKind::Service,
                id: None,
                detail,
                span: Span::new(d.span.start, end),
                selection: d.span,
                children: Vec::new(),
            }
        })
        .collect()
}

/// The end of the block that starts on line `n`: the end of the last line before the next
/// non-blank line that starts left of `min_col`.
pub(crate) fn block_end(lines: &Lines, n: usize, min_col: usize) -> u32 {
    let mut last = n;
    for j in n + 1..lines.len() {
        let line = lines.parse(j);
        if line.blank {
            continue;
        }
        if line.first_col() < min_col {
            break;
        }
        last = j;
    }
    lines.parse(last).start + lines.text(last).len() as u32
}

fn step_symbol(a: &Analysis, lines: &Lines, p: &Paired) -> Symbol {
    let s = p.step;
    let first = p.planned.first();
    let n = lines.line_of(s.span.start);
    let end = node_end(a, s.span);
    let kind = match (first.map(|f| f.kind), &s.kind) {
        (Some(Kind::Run), _) | (None, StepKind::Run { .. }) => SymbolKind::Run,
        (Some(Kind::Push), _) | (None, StepKind::Push { .. }) => SymbolKind::Push,
        (Some(Kind::Serial), _) | (None, StepKind::Group { mode: GroupMode::Serial, .. }) => SymbolKind::Serial,
        (Some(Kind::Manual), _) | (None, StepKind::Group { mode: GroupMode::Manual, .. }) => SymbolKind::Manual,
        _ => SymbolKind::Parallel,
    };
    let name = first.map(|f| f.name.clone()).or_else(|| s.name.as_ref().map(|n| n.value.clone())).unwrap_or_default();
    // The name, or else the step's first key (of a flow mapping, its brace).
    let first_key = || {
        let line = lines.parse(n);
        match line.key {
            Some((col, _, r)) if line.start + col as u32 == s.span.start => {
                Span::new(line.start + r.start as u32, line.start + r.end as u32)
            }
            _ => Span::new(s.span.start, (s.span.start + 1).min(end)),
        }
    };
    let steps = a.file(FileId::Steps);
    let selection = s.name.as_ref().map_or_else(first_key, |n| scan::unquoted(steps, n.span));
    Symbol {
        name,
        kind,
        id: first.map(|f| f.id.clone()),
        detail: detail(a, p),
        span: Span::new(s.span.start, end),
        selection,
        children: p.children.iter().map(|c| step_symbol(a, lines, c)).collect(),
    }
}

/// Where the step's mapping ends: its node's end, without the blank lines and comments the
/// parser may count to it (a block mapping ends where the next item starts).
fn node_end(a: &Analysis, span: Span) -> u32 {
    let text = &a.file(FileId::Steps).text;
    let node = &text[span.start as usize..(span.end as usize).min(text.len())];
    let mut end = node.len();
    // Drop trailing lines that hold nothing but blanks or a comment.
    loop {
        let kept = node[..end].trim_end();
        let line_start = kept.rfind('\n').map_or(0, |i| i + 1);
        let last = kept[line_start..].trim_start();
        end = kept.len();
        if !last.starts_with('#') || line_start == 0 {
            break;
        }
        end = line_start;
    }
    span.start + end as u32
}

fn detail(_a: &Analysis, p: &Paired) -> Option<String> {
    let s = p.step;
    let service =
        s.service.as_ref().map(|x| x.value.clone()).or_else(|| p.planned.first().and_then(|f| f.service.clone()));
    match &s.kind {
        StepKind::Run { command } => Some(format!(
            "{}{}",
            service.map_or(String::new(), |s| format!("{s}: ")),
            command.as_ref().map_or("", |c| c.value.as_str())
        )),
        StepKind::Push { .. } => {
            let target = p.planned.first().and_then(|f| f.image_ref().or_else(|| f.image_name.clone()));
            Some(format!("{} → {}", service.unwrap_or_else(|| "?".into()), target.unwrap_or_else(|| "?".into())))
        }
        StepKind::Group { mode, matrix, .. } => {
            let mode = if *matrix { "matrix" } else { mode_name(*mode) };
            if s.services.is_empty() {
                Some(mode.to_string())
            } else {
                let names: Vec<&str> = s.services.iter().map(|x| x.value.as_str()).collect();
                Some(format!("{mode} over {}", names.join(", ")))
            }
        }
    }
}

fn mode_name(m: GroupMode) -> &'static str {
    match m {
        GroupMode::Serial => "serial",
        GroupMode::Parallel => "parallel",
        GroupMode::Manual => "manual",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    /// Every planned run or push step is paired with exactly one model step, of its kind, and
    /// every model step the planner kept has its copies (one per service of a group).
    #[test]
    fn every_planned_step_has_its_model_step() {
        let groups = include_str!("../../tests/fixtures/ide/outline/groups/codeship-steps.yml");
        let aggregate = include_str!("../../tests/fixtures/examples/00.aggregate/codeship-steps.yml");
        let services = include_str!("../../tests/fixtures/examples/00.aggregate/codeship-services.yml");
        for steps in [groups, aggregate] {
            let a = Analysis::new(
                SourceFile::new("s.yml", services),
                SourceFile::new("t.yml", steps),
                crate::plan::PlanOptions::default(),
            );
            let pairs = pair(&a.checked().steps.steps, &a.plan().steps);
            let mut paired: Vec<&PlannedStep> = Vec::new();
            fn walk<'a>(pairs: &[Paired<'a>], out: &mut Vec<&'a PlannedStep>) {
                for p in pairs {
                    for planned in &p.planned {
                        let same = match (&p.step.kind, planned.kind) {
                            (StepKind::Run { .. }, Kind::Run) | (StepKind::Push { .. }, Kind::Push) => true,
                            (StepKind::Group { .. }, k) => !matches!(k, Kind::Run | Kind::Push),
                            _ => false,
                        };
                        assert!(same, "{:?} paired with {:?}", p.step.kind, planned.kind);
                    }
                    assert!(!p.planned.is_empty(), "no planned step for {:?}", p.step.span);
                    out.extend(&p.planned);
                    walk(&p.children, out);
                }
            }
            walk(&pairs, &mut paired);
            let mut leaves: Vec<&PlannedStep> = a.plan().steps.iter().flat_map(PlannedStep::leaves).collect();
            fn on_fail<'a>(p: &'a PlannedStep, out: &mut Vec<&'a PlannedStep>) {
                for f in &p.on_fail {
                    out.extend(f.leaves());
                    on_fail(f, out);
                }
                for c in &p.steps {
                    on_fail(c, out);
                }
            }
            for p in &a.plan().steps {
                on_fail(p, &mut leaves);
            }
            for leaf in leaves {
                assert_eq!(paired.iter().filter(|p| std::ptr::eq(**p, leaf)).count(), 1, "{}", leaf.id);
            }
        }
    }
}
