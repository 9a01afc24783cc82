//! Rules on the steps file: services in scope, commands, push steps, filters, templates,
//! sibling names and manual groups.

use super::{check_template, command_vars, push, span_in, unknown_service};
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::services::Str;
use crate::model::{GroupMode, ServicesFile, Step, StepKind, StepsFile};
use crate::plan::filter::Filter;
use crate::source::SourceFile;
use std::collections::HashMap;

struct Ctx<'a> {
    file: &'a SourceFile,
    services: &'a ServicesFile,
    diags: &'a mut Vec<Diagnostic>,
    /// Patterns already compiled: a pattern repeated on many steps is compiled once.
    filters: HashMap<String, Option<(String, Option<String>)>>,
}

pub(super) fn check(file: &SourceFile, steps: &StepsFile, services: &ServicesFile, diags: &mut Vec<Diagnostic>) {
    let mut cx = Ctx { file, services, diags, filters: HashMap::new() };
    cx.sibling_names(&steps.steps);
    for s in &steps.steps {
        cx.step(s, &[], 0, false);
    }
    manual_placement(&mut cx, &steps.steps);
}

impl Ctx<'_> {
    fn err(&mut self, code: Code, span: crate::source::Span, msg: String) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(code, self.file, span, msg));
        self.diags.last_mut().expect("pushed")
    }

    /// `scope`: the services an enclosing group put in scope (empty: none).
    fn step(&mut self, s: &Step, scope: &[Str], depth: usize, on_fail: bool) {
        for r in s.service.iter().chain(&s.services).chain(&s.dockercfg_service) {
            if self.services.get(&r.value).is_none() {
                let d = unknown_service(self.file, r.span, &r.value, self.services, "this step");
                self.diags.push(d);
            }
        }
        if let (Some(svc), Some(first)) = (&s.service, s.services.first()) {
            self.err(
                Code::ServiceAndServices,
                first.span,
                format!("`service: {}` and `services:` are mutually exclusive", svc.value),
            );
        }
        if !scope.is_empty() && (s.service.is_some() || !s.services.is_empty()) && !on_fail {
            let span = s.service.as_ref().or(s.services.first()).map(|x| x.span).unwrap_or(s.span);
            self.err(
                Code::ServiceOnGroupAndStep,
                span,
                "this step sets a service, but its group already does".into(),
            )
            .help = Some("set the service either on the group or on each sub-step".into());
        }
        if let (Some(enc), Some(_)) = (&s.encrypted_dockercfg_path, &s.dockercfg_service) {
            self.diags.push(
                Diagnostic::warning(
                    Code::BothDockercfg,
                    self.file,
                    enc.span,
                    "both `encrypted_dockercfg_path` and `dockercfg_service` are set; the encrypted file is used",
                )
                .with_help("remove one of them"),
            );
        }
        for (f, key) in [(&s.tag, "tag"), (&s.exclude, "exclude")] {
            let Some(f) = f else { continue };
            let problem = self
                .filters
                .entry(f.value.clone())
                .or_insert_with(|| Filter::compile(&f.value).err().map(|e| (e.message, e.help)))
                .clone();
            if let Some((message, help)) = problem {
                let mut d = Diagnostic::error(Code::InvalidRegex, self.file, f.span, format!("`{key}`: {message}"));
                d.help = help;
                self.diags.push(d);
            }
        }
        let own: Vec<Str> = s.service.iter().cloned().chain(s.services.iter().cloned()).collect();
        let in_scope: Vec<Str> = if own.is_empty() { scope.to_vec() } else { own };
        match &s.kind {
            StepKind::Run { command } => {
                if command.as_ref().is_none_or(|c| c.value.trim().is_empty()) {
                    self.err(Code::RunWithoutCommand, s.span, "this run step has no `command`".into()).help =
                        Some("add `command: <what to run>`; use `type: push` for a push step".into());
                } else if let Some(c) = command {
                    match crate::plan::argv::split(&c.value) {
                        Err(e) => {
                            self.err(Code::WrongType, c.span, e.to_string());
                        }
                        Ok(_) => self.unexpanded_variables(c, &in_scope),
                    }
                }
                self.require_service(s, &in_scope);
            }
            StepKind::Push { image_name, image_tag, .. } => {
                self.require_service(s, &in_scope);
                match image_name {
                    None => {
                        self.err(Code::PushWithoutImageName, s.span, "this push step has no `image_name`".into())
                            .help = Some(
                            "add `image_name:` with the repository to push to, e.g. `acme/app` or `quay.io/acme/app`"
                                .into(),
                        );
                    }
                    Some(name) => self.diags.extend(push::image_name(self.file, name)),
                }
                for svc in &in_scope {
                    self.diags.extend(push::service_builds(self.file, self.services, svc));
                }
                if let Some(t) = image_tag {
                    check_template(self.file, t.span, &t.value, "`image_tag`", self.diags);
                }
            }
            StepKind::Group { mode, steps, .. } => {
                if *mode == GroupMode::Manual && depth > 0 {
                    self.err(Code::ManualPlacement, s.span, "a `manual` group must be a top-level step".into());
                }
                let group_scope: Vec<Str> = s.service.iter().cloned().chain(s.services.iter().cloned()).collect();
                let child_scope = if group_scope.is_empty() { scope.to_vec() } else { group_scope };
                self.sibling_names(steps);
                for c in steps {
                    self.step(c, &child_scope, depth + 1, false);
                }
            }
        }
        self.sibling_names(&s.on_fail);
        for f in &s.on_fail {
            self.step(f, &in_scope, depth + 1, true);
        }
    }

    /// SW201: names are display labels and may repeat under different groups (`deploy` under
    /// `staging` and under `production`). Two steps of one list with the same name and the
    /// same filters are hard to tell apart in logs: a warning. With different `tag`/`exclude`
    /// they are usually alternatives for different branches, and fine.
    fn sibling_names(&mut self, steps: &[Step]) {
        let mut seen: HashMap<(&str, Option<&str>, Option<&str>), u32> = HashMap::new();
        for s in steps {
            let Some(n) = &s.name else { continue };
            let key = (
                n.value.as_str(),
                s.tag.as_ref().map(|t| t.value.as_str()),
                s.exclude.as_ref().map(|t| t.value.as_str()),
            );
            if let Some(&first) = seen.get(&key) {
                let first = self.file.line_col(first).0;
                self.diags.push(
                    Diagnostic::warning(
                        Code::DuplicateStepName,
                        self.file,
                        n.span,
                        format!("the step on line {first} in the same list is also named `{}`", n.value),
                    )
                    .with_help("give one of them another name, so their logs and results can be told apart"),
                );
            } else {
                seen.insert(key, n.span.start);
            }
        }
    }

    /// SW218: `$VAR` in a command that no shell expands. Checked against each service in scope,
    /// since a service's `entrypoint` may be the shell.
    fn unexpanded_variables(&mut self, command: &Str, in_scope: &[Str]) {
        let entrypoints: Vec<Option<&crate::model::Command>> = if in_scope.is_empty() {
            vec![None]
        } else {
            in_scope.iter().map(|svc| self.services.get(&svc.value).and_then(|s| s.entrypoint.as_ref())).collect()
        };
        let text = command.value.as_str();
        let Some(refs) = entrypoints.into_iter().map(|e| command_vars::unexpanded(text, e)).find(|r| !r.is_empty())
        else {
            return;
        };
        let mut names: Vec<&str> = Vec::new();
        for r in &refs {
            if !names.contains(&r.text(text)) {
                names.push(r.text(text));
            }
        }
        let listed = names.iter().take(3).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let (verb, more) = match names.len() {
            1 => ("is", String::new()),
            n if n > 3 => ("are", format!(" (and {} more)", n - 3)),
            _ => ("are", String::new()),
        };
        let help = if text.contains('\'') {
            "run the command through a shell, `sh -c '…'`, so that it expands variables".to_string()
        } else {
            format!("run it through a shell, which expands variables: `command: sh -c '{text}'`")
        };
        let mut d = Diagnostic::warning(
            Code::UnexpandedVariable,
            self.file,
            span_in(self.file, command.span, text, refs[0].start..refs[0].end),
            format!("{listed}{more} {verb} passed to the program as written: commands run without a shell, so variables are not expanded"),
        )
        .with_help(help);
        // Only a scalar command can be rewritten in place (a list's span is the whole list).
        if !text.contains('\'') && super::name_span(self.file, command.span, text).is_some() {
            d = d.with_suggestion(command.span, super::scalar_at(self.file, command.span, &format!("sh -c '{text}'")));
        }
        self.diags.push(d);
    }

    fn require_service(&mut self, s: &Step, in_scope: &[Str]) {
        if in_scope.is_empty() {
            self.err(
                Code::StepWithoutService,
                s.span,
                "this step has no `service` (on itself or on an enclosing group)".into(),
            )
            .help = Some(super::services_defined(self.services));
        }
    }
}

/// Only one manual group per branch context, and it must be the last step there.
fn manual_placement(cx: &mut Ctx, steps: &[Step]) {
    let key = |s: &Step| (s.tag.as_ref().map(|t| t.value.clone()), s.exclude.as_ref().map(|t| t.value.clone()));
    for (i, s) in steps.iter().enumerate() {
        if !matches!(s.kind, StepKind::Group { mode: GroupMode::Manual, .. }) {
            continue;
        }
        let ctx = key(s);
        for later in &steps[i + 1..] {
            let unfiltered = later.tag.is_none() && later.exclude.is_none();
            if unfiltered || key(later) == ctx {
                let line = cx.file.line_col(s.span.start).0;
                let is_manual = matches!(later.kind, StepKind::Group { mode: GroupMode::Manual, .. });
                let msg = if is_manual {
                    format!("a second `manual` group for the same branches (the first is on line {line})")
                } else {
                    format!("this step comes after the `manual` group on line {line}, which must be the last step")
                };
                cx.err(Code::ManualPlacement, later.span, msg).help =
                    Some("move the manual group to the end, or give the steps after it a different `tag`".into());
            }
        }
    }
}
