//! The language services' plumbing shared by the page and its analysis worker: file ids, the
//! build values as JSON (the worker gets them by message), and the one way an [`Analysis`]
//! (`slipway_core::ide`, shared with the CLI's language server) of both files is made.

use crate::state::FileKind;
use serde::{Deserialize, Serialize};
use slipway_core::ide::{Analysis, FileId, QuickFix, TextEdit};
use slipway_core::plan::{Plan, PlanOptions};
use slipway_core::template::BuildVars;
use slipway_core::{Code, Diagnostic, Report, Severity, SourceFile, Span, Suggestion};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Hand the build values to the analysis worker (editor.js keeps them until it starts).
    #[wasm_bindgen(js_namespace = SlipwayEditor, js_name = setOptions)]
    fn set_worker_options(json: &str);
    /// Who gets the worker's reports of settled texts (JSON of [`CheckedWire`]).
    #[wasm_bindgen(js_namespace = SlipwayEditor, js_name = onChecked)]
    fn set_on_checked(f: Option<&js_sys::Function>);
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

pub fn file_id(kind: FileKind) -> FileId {
    match kind {
        FileKind::Services => FileId::Services,
        FileKind::Steps => FileId::Steps,
    }
}

pub fn kind_of(file: FileId) -> FileKind {
    match file {
        FileId::Services => FileKind::Services,
        FileId::Steps => FileKind::Steps,
    }
}

/// [`PlanOptions`] as they cross to the worker.
#[derive(Serialize, Deserialize)]
struct OptionsJs {
    tag: Option<String>,
    push: bool,
    vars: BuildVars,
}

pub fn options_from_json(json: &str) -> Result<PlanOptions, serde_json::Error> {
    let o: OptionsJs = serde_json::from_str(json)?;
    Ok(PlanOptions { tag: o.tag, push: o.push, vars: o.vars })
}

/// The build values the editors' completion and hovers use (image tags, branch filters).
pub fn set_options(options: &PlanOptions) {
    let o = OptionsJs { tag: options.tag.clone(), push: options.push, vars: options.vars.clone() };
    if let Ok(json) = serde_json::to_string(&o) {
        set_worker_options(&json);
    }
}

pub fn analyse(services: &str, steps: &str, options: PlanOptions) -> Analysis {
    Analysis::new(
        SourceFile::new(FileKind::Services.file_name(), services.to_string()),
        SourceFile::new(FileKind::Steps.file_name(), steps.to_string()),
        options,
    )
}

/// A check made in the analysis worker, as the page's Problems list and preview show it.
pub struct Checked {
    pub report: Report,
    /// The quick fixes of each diagnostic of `report`, in order.
    pub fixes: Vec<Vec<QuickFix>>,
    pub plan: PlanUpdate,
    /// The check's milliseconds, in the worker.
    pub took_ms: f64,
}

/// The plan of a check: the page keeps the one it has (and its identity) when it is unchanged,
/// so 5,000 planned steps are neither sent, nor parsed, nor drawn again.
pub enum PlanUpdate {
    /// The files have errors: no plan.
    Invalid,
    /// The plan the page has (editor.js tells the worker its id).
    Same,
    New(Box<Plan>),
}

#[derive(Serialize, Deserialize)]
struct SpanWire(u32, u32);

impl From<Span> for SpanWire {
    fn from(s: Span) -> Self {
        SpanWire(s.start, s.end)
    }
}

impl From<SpanWire> for Span {
    fn from(s: SpanWire) -> Self {
        Span::new(s.0, s.1)
    }
}

/// A [`Diagnostic`] with its spans (its own JSON form, the CLI's, leaves them out).
#[derive(Serialize, Deserialize)]
struct DiagnosticWire {
    error: bool,
    code: String,
    message: String,
    file: String,
    line: u32,
    column: u32,
    help: Option<String>,
    span: SpanWire,
    suggestion: Option<(SpanWire, String)>,
}

#[derive(Serialize, Deserialize)]
struct FixWire {
    title: String,
    diagnostic: Option<usize>,
    preferred: bool,
    /// `(file, span, new text)`.
    edits: Vec<(FileId, SpanWire, String)>,
}

/// What [`crate::analyst::Analyst::report`] sends.
#[derive(Serialize, Deserialize)]
pub struct CheckedWire {
    diagnostics: Vec<DiagnosticWire>,
    fixes: Vec<Vec<FixWire>>,
    /// With errors `None`; else the plan's id, and the plan itself unless the page has it.
    plan: Option<(u32, Option<Plan>)>,
    took_ms: f64,
}

impl CheckedWire {
    pub fn new(a: &Analysis, took_ms: f64, plan: Option<(u32, Option<Plan>)>) -> CheckedWire {
        let diagnostics = a
            .report()
            .diagnostics
            .iter()
            .map(|d| DiagnosticWire {
                error: d.is_error(),
                code: d.code.as_str().to_string(),
                message: d.message.clone(),
                file: d.file.clone(),
                line: d.line,
                column: d.column,
                help: d.help.clone(),
                span: d.span.into(),
                suggestion: d.suggestion.as_ref().map(|s| (s.span.into(), s.replacement.clone())),
            })
            .collect();
        let fixes = (0..a.report().diagnostics.len())
            .map(|i| {
                a.fixes_for(i)
                    .into_iter()
                    .map(|f| FixWire {
                        title: f.title,
                        diagnostic: f.diagnostic,
                        preferred: f.preferred,
                        edits: f.edits.into_iter().map(|e| (e.file, e.span.into(), e.new_text)).collect(),
                    })
                    .collect()
            })
            .collect();
        CheckedWire { diagnostics, fixes, plan, took_ms }
    }
}

impl Checked {
    pub fn from_json(json: &str) -> Result<Checked, String> {
        let w: CheckedWire = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let diagnostics = w
            .diagnostics
            .into_iter()
            .map(|d| {
                let code = Code::lookup(&d.code).ok_or_else(|| format!("unknown diagnostic code {}", d.code))?;
                Ok(Diagnostic {
                    severity: if d.error { Severity::Error } else { Severity::Warning },
                    code,
                    message: d.message,
                    file: d.file,
                    line: d.line,
                    column: d.column,
                    help: d.help,
                    span: d.span.into(),
                    suggestion: d
                        .suggestion
                        .map(|(span, replacement)| Box::new(Suggestion { span: span.into(), replacement })),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let report = Report { warnings: diagnostics.len() - errors, errors, diagnostics };
        let fixes = w
            .fixes
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .map(|f| QuickFix {
                        title: f.title,
                        diagnostic: f.diagnostic,
                        preferred: f.preferred,
                        edits: f
                            .edits
                            .into_iter()
                            .map(|(file, span, new_text)| TextEdit { file, span: span.into(), new_text })
                            .collect(),
                    })
                    .collect()
            })
            .collect();
        let plan = match w.plan {
            None => PlanUpdate::Invalid,
            Some((_, None)) => PlanUpdate::Same,
            Some((_, Some(p))) => PlanUpdate::New(Box::new(p)),
        };
        Ok(Checked { report, fixes, plan, took_ms: w.took_ms })
    }
}

/// Calls `f` with every check of the settled texts the analysis worker makes, until dropped.
pub struct OnChecked {
    _closure: Closure<dyn FnMut(String)>,
}

impl OnChecked {
    pub fn new(mut f: impl FnMut(Checked) + 'static) -> OnChecked {
        let c = Closure::<dyn FnMut(String)>::new(move |json: String| match Checked::from_json(&json) {
            Ok(c) => f(c),
            Err(e) => console_error(&format!("slipway: the analysis worker's report: {e}")),
        });
        set_on_checked(Some(c.as_ref().unchecked_ref()));
        OnChecked { _closure: c }
    }
}

impl Drop for OnChecked {
    fn drop(&mut self) {
        set_on_checked(None);
    }
}
