//! A plan as an indented tree for terminals.

use super::planner::{Kind, Plan, PlannedStep, Status};
use std::fmt::Write;

pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for {}{}",
        plan.tag.as_deref().map_or("no build tag".to_string(), |t| format!("build tag `{t}`")),
        if plan.push { ", with push" } else { ", without push (push steps skipped; use --push)" }
    );
    for s in &plan.steps {
        step(&mut out, s, 1);
    }
    let leaves = plan.leaves();
    let run = leaves.iter().filter(|s| s.status == Status::WillRun).count();
    let _ = writeln!(out, "{run} of {} steps will run", leaves.len());
    out
}

fn step(out: &mut String, s: &PlannedStep, depth: usize) {
    let indent = "  ".repeat(depth);
    let mark = if s.status == Status::WillRun { "▶" } else { "·" };
    let what = match s.kind {
        Kind::Run => format!(
            "run  {} `{}`",
            s.service.as_deref().unwrap_or("?"),
            // Quoted as typed (`sh -c 'echo $X'`), as the studio shows it: a plain join lost
            // the quotes and read as a different command.
            s.command.as_deref().map(crate::argv::display).unwrap_or_default()
        ),
        Kind::Push => match (&s.image_ref(), &s.tag_error) {
            (Some(r), _) => format!(
                "push {} → {} ({})",
                s.service.as_deref().unwrap_or("?"),
                r,
                s.registry.as_deref().unwrap_or("")
            ),
            (None, Some(e)) => format!("push {} → error: {e}", s.service.as_deref().unwrap_or("?")),
            _ => format!("push {}", s.service.as_deref().unwrap_or("?")),
        },
        Kind::Serial => "serial".into(),
        Kind::Parallel => "parallel".into(),
        Kind::Manual => "manual (waits for approval)".into(),
    };
    let _ = write!(out, "{indent}{mark} {}: {what}", s.name);
    if let Some(r) = &s.reason {
        let _ = write!(out, "  [skipped: {r}]");
    }
    out.push('\n');
    for c in &s.steps {
        step(out, c, depth + 1);
    }
    for f in &s.on_fail {
        let _ = writeln!(out, "{indent}  on failure:");
        step(out, f, depth + 2);
    }
}
