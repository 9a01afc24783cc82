//! The editors' language services, run in a Web Worker (frontend/editor/analysis.js) by the
//! same wasm module as the page: the worker imports the page's wasm-bindgen glue, instantiates
//! the page's compiled module (whose start function does nothing without a `window`) and
//! drives an [`Analyst`]. One whole check per edit is tens of milliseconds at 5,000 steps;
//! here it never blocks a keystroke. Offsets crossing to JS are UTF-16 units (CodeMirror's);
//! the core's byte spans cross through its `LineIndex`.

use crate::language::{analyse, file_id, kind_of, options_from_js, report_js};
use crate::state::FileKind;
use serde::Serialize;
use slipway_core::check::Checker;
use slipway_core::ide::{Analysis, FileId, LineIndex, QuickFix, TextEdit};
use slipway_core::plan::{Plan, PlanOptions};
use wasm_bindgen::prelude::*;

/// Both files' analysis, made once per edit and read by every query until the next.
#[wasm_bindgen]
pub struct Analyst {
    options: PlanOptions,
    analysis: Option<Analysis>,
    /// The last parses, so an edit re-parses only the steps it touched.
    checker: Checker,
    took_ms: f64,
    /// The last plan reported, with its id: the page is sent a plan only when it changed.
    plan: Option<(u32, Plan)>,
}

impl Default for Analyst {
    fn default() -> Self {
        Analyst::new()
    }
}

#[wasm_bindgen]
impl Analyst {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Analyst {
        Analyst {
            options: PlanOptions::default(),
            analysis: None,
            checker: Checker::default(),
            took_ms: 0.0,
            plan: None,
        }
    }

    /// The build values (made by `language::options_js`); the next [`Analyst::analyse`] uses
    /// them.
    #[wasm_bindgen(js_name = setOptions)]
    pub fn set_options(&mut self, options: JsValue) -> Result<(), JsError> {
        self.options = options_from_js(options).map_err(|e| JsError::new(&format!("build values: {e}")))?;
        Ok(())
    }

    /// Check both texts; returns the milliseconds it took.
    pub fn analyse(&mut self, services: String, steps: String) -> f64 {
        let started = now();
        self.analysis = Some(analyse(services, steps, self.options.clone(), &mut self.checker));
        self.took_ms = now() - started;
        self.took_ms
    }

    /// The check for the page's Problems list and preview (see [`report_js`]); the plan is
    /// left out when it is the one the page has (`known_plan`, its id).
    pub fn report(&mut self, known_plan: u32) -> JsValue {
        let Some(a) = &self.analysis else { return JsValue::UNDEFINED };
        let plan = (a.report().errors == 0).then(|| {
            let id = match &self.plan {
                Some((id, p)) if p == a.plan() => *id,
                last => {
                    let id = last.as_ref().map_or(1, |(id, _)| id + 1);
                    self.plan = Some((id, a.plan().clone()));
                    id
                }
            };
            (id, id != known_plan)
        });
        report_js(a, self.took_ms, plan.map(|(id, send)| (id, send.then(|| a.plan()))))
    }

    /// The id of the plan last reported (0: none yet).
    #[wasm_bindgen(js_name = planId)]
    pub fn plan_id(&self) -> u32 {
        self.plan.as_ref().map_or(0, |(id, _)| *id)
    }

    /// The diagnostics of both files as editor.js shows them:
    /// `{"thread": "worker"|"main", "services": [...], "steps": [...]}`.
    pub fn diagnostics(&self) -> String {
        let Some(a) = &self.analysis else { return "null".into() };
        json(&DiagnosticsJs {
            thread: if web_sys::window().is_some() { "main" } else { "worker" },
            services: diagnostics_of(a, FileKind::Services),
            steps: diagnostics_of(a, FileKind::Steps),
        })
        .unwrap_or_else(|| "null".into())
    }

    /// Completions at UTF-16 offset `pos` of editor `name`, or `undefined`.
    pub fn complete(&self, name: &str, pos: u32) -> Option<String> {
        let (a, file) = self.at(name)?;
        let ix = a.line_index(file);
        let c = a.completions(file, ix.from_utf16(pos));
        json(&CompletionsJs {
            from: ix.utf16(c.span.start),
            options: c
                .items
                .into_iter()
                .map(|i| OptionJs {
                    apply: (i.insert != i.label).then_some(i.insert),
                    label: i.label,
                    detail: i.detail,
                    info: i.doc,
                })
                .collect(),
        })
    }

    /// The hover at `pos` of editor `name`, or `undefined`.
    pub fn hover(&self, name: &str, pos: u32) -> Option<String> {
        let (a, file) = self.at(name)?;
        let ix = a.line_index(file);
        let h = a.hover(file, ix.from_utf16(pos))?;
        json(&HoverJs { from: ix.utf16(h.span.start), to: ix.utf16(h.span.end), text: h.markdown })
    }

    /// Where the service named at `pos` of editor `name` is defined, or `undefined`.
    pub fn definition(&self, name: &str, pos: u32) -> Option<String> {
        let (a, file) = self.at(name)?;
        let t = a.definition(file, a.line_index(file).from_utf16(pos))?;
        json(&TargetJs { editor: kind_of(t.file).name(), from: a.line_index(t.file).utf16(t.span.start) })
    }
}

impl Analyst {
    fn at(&self, name: &str) -> Option<(&Analysis, FileId)> {
        let kind = [FileKind::Services, FileKind::Steps].into_iter().find(|k| k.name() == name)?;
        Some((self.analysis.as_ref()?, file_id(kind)))
    }
}

/// The clock of whichever global this runs in (window or worker).
fn now() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map_or(0.0, |p| p.now())
}

fn json(v: &impl Serialize) -> Option<String> {
    serde_json::to_string(v).ok()
}

#[derive(Serialize)]
struct DiagnosticsJs<'a> {
    /// Where the analysis ran, for the browser test that keeps it off the page's thread.
    thread: &'static str,
    services: Vec<DiagnosticJs<'a>>,
    steps: Vec<DiagnosticJs<'a>>,
}

#[derive(Serialize)]
struct CompletionsJs {
    from: u32,
    options: Vec<OptionJs>,
}

#[derive(Serialize)]
struct OptionJs {
    label: String,
    detail: Option<String>,
    info: Option<String>,
    apply: Option<String>,
}

#[derive(Serialize)]
struct HoverJs {
    from: u32,
    to: u32,
    text: String,
}

#[derive(Serialize)]
struct TargetJs {
    editor: &'static str,
    from: u32,
}

#[derive(Serialize)]
struct DiagnosticJs<'a> {
    from: u32,
    to: u32,
    line: u32,
    severity: &'static str,
    code: &'a str,
    message: String,
    fixes: Vec<FixJs>,
}

#[derive(Serialize)]
struct FixJs {
    title: String,
    edits: Vec<EditJs>,
}

/// One replacement, in UTF-16 units of its editor's text.
#[derive(Serialize)]
pub struct EditJs {
    editor: &'static str,
    from: u32,
    to: u32,
    insert: String,
}

/// `e` in UTF-16 units, `ix` indexing its file's text.
pub fn edit_json(ix: &LineIndex, e: &TextEdit) -> EditJs {
    EditJs {
        editor: kind_of(e.file).name(),
        from: ix.utf16(e.span.start),
        to: ix.utf16(e.span.end),
        insert: e.new_text.clone(),
    }
}

fn fix_json(a: &Analysis, fix: &QuickFix) -> FixJs {
    FixJs { title: fix.title.clone(), edits: fix.edits.iter().map(|e| edit_json(a.line_index(e.file), e)).collect() }
}

/// The diagnostics of `kind`'s file: UTF-16 ranges, with their fixes.
fn diagnostics_of(a: &Analysis, kind: FileKind) -> Vec<DiagnosticJs<'_>> {
    let ix = a.line_index(file_id(kind));
    a.report()
        .diagnostics
        .iter()
        .enumerate()
        .filter(|(_, d)| a.file_of(d) == Some(file_id(kind)))
        .map(|(i, d)| DiagnosticJs {
            from: ix.utf16(d.span.start),
            to: ix.utf16(d.span.end),
            line: d.line,
            severity: d.severity.as_str(),
            code: d.code.as_str(),
            message: match &d.help {
                Some(h) => format!("{} [{}]\n{h}", d.message, d.code.as_str()),
                None => format!("{} [{}]", d.message, d.code.as_str()),
            },
            fixes: a.fixes_for(i).iter().map(|f| fix_json(a, f)).collect(),
        })
        .collect()
}
