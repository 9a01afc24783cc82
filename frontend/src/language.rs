//! The language services' plumbing shared by the page and its analysis worker: file ids, the
//! build values as JSON (the worker gets them by message), and the one way an [`Analysis`]
//! (`slipway_core::ide`, shared with the CLI's language server) of both files is made.

use crate::state::FileKind;
use slipway_core::check::Checker;
use slipway_core::ide::{Analysis, FileId, QuickFix, TextEdit};
use slipway_core::plan::{Plan, PlanOptions};
use slipway_core::template::BuildVars;
use slipway_core::{Code, Diagnostic, Report, Severity, SourceFile, Span, Suggestion};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Hand the build values to the analysis worker (editor.js keeps them until it starts).
    #[wasm_bindgen(js_namespace = SlipwayEditor, js_name = setOptions)]
    fn set_worker_options(options: &JsValue);
    /// Who gets the worker's reports of settled texts (see [`report_js`]).
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

/// [`PlanOptions`] as they cross to the worker: a JS array `[tag?, push, …every build
/// variable in `BuildVars`' order]` (serde's code to read `BuildVars` as JSON cost the bundle
/// more than this).
fn options_js(o: &PlanOptions) -> JsValue {
    let BuildVars {
        project_id,
        build_id,
        repo_name,
        branch,
        commit_id,
        commit_message,
        commit_description,
        committer_name,
        committer_email,
        committer_username,
        timestamp,
        step_name,
        service_name,
        image_name,
        ci_name,
    } = &o.vars;
    let strings = [
        project_id,
        build_id,
        repo_name,
        branch,
        commit_id,
        commit_message,
        commit_description,
        committer_name,
        committer_email,
        committer_username,
    ];
    let head = [opt(o.tag.as_deref()), o.push.into()];
    let tail = [step_name, service_name, image_name, ci_name].map(|s| JsValue::from(s.as_str()));
    let strings = strings.map(|s| JsValue::from(s.as_str()));
    arr(head.into_iter().chain(strings).chain([JsValue::from(*timestamp as f64)]).chain(tail))
}

/// The options [`options_js`] made.
pub fn options_from_js(v: JsValue) -> Result<PlanOptions, String> {
    let r = Row::of(v)?;
    let s = |i| r.string(i);
    let vars = BuildVars {
        project_id: s(2)?,
        build_id: s(3)?,
        repo_name: s(4)?,
        branch: s(5)?,
        commit_id: s(6)?,
        commit_message: s(7)?,
        commit_description: s(8)?,
        committer_name: s(9)?,
        committer_email: s(10)?,
        committer_username: s(11)?,
        timestamp: r.get(12).as_f64().ok_or("the timestamp is not a number")? as i64,
        step_name: s(13)?,
        service_name: s(14)?,
        image_name: s(15)?,
        ci_name: s(16)?,
    };
    Ok(PlanOptions { tag: r.opt_string(0), push: r.flag(1), vars })
}

/// The build values the editors' completion and hovers use (image tags, branch filters).
pub fn set_options(options: &PlanOptions) {
    set_worker_options(&options_js(options));
}

pub fn analyse(services: String, steps: String, options: PlanOptions, checker: &mut Checker) -> Analysis {
    Analysis::with_checker(
        SourceFile::new(FileKind::Services.file_name(), services),
        SourceFile::new(FileKind::Steps.file_name(), steps),
        options,
        checker,
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

// The report crosses from the worker as plain JS arrays (structured-cloned by postMessage),
// read here field by field: serde's generic code to read the same as JSON cost 10 KB gzip of
// the page's bundle. The plan, a large nested type, is JSON: the Run panel reads plans so
// already. Layout (see `report_js` and `Checked::from_js`):
//   [diagnostics, fixes, plan, took_ms]
//   diagnostic: [error, code, message, file, line, column, help?, start, end,
//                suggestion start?, suggestion end?, suggestion text?]
//   fixes: one array per diagnostic of [title, diagnostic?, preferred, [[file, start, end, text]…]]
//   plan: undefined (errors) or [id, plan JSON?] (left out when the page has plan `id`)

fn arr(items: impl IntoIterator<Item = JsValue>) -> JsValue {
    items.into_iter().collect::<js_sys::Array>().into()
}

fn opt<T: Into<JsValue>>(v: Option<T>) -> JsValue {
    v.map_or(JsValue::UNDEFINED, Into::into)
}

/// `a`'s report for the page, the plan as given (`(id, plan unless the page has it)`).
pub fn report_js(a: &Analysis, took_ms: f64, plan: Option<(u32, Option<&Plan>)>) -> JsValue {
    let report = a.report();
    let diagnostics = report.diagnostics.iter().map(|d| {
        let sug = d.suggestion.as_deref();
        arr([
            d.is_error().into(),
            d.code.as_str().into(),
            d.message.as_str().into(),
            d.file.as_str().into(),
            d.line.into(),
            d.column.into(),
            opt(d.help.as_deref()),
            d.span.start.into(),
            d.span.end.into(),
            opt(sug.map(|s| s.span.start)),
            opt(sug.map(|s| s.span.end)),
            opt(sug.map(|s| s.replacement.as_str())),
        ])
    });
    let fixes = (0..report.diagnostics.len()).map(|i| {
        arr(a.fixes_for(i).into_iter().map(|f| {
            let edits = f.edits.iter().map(|e| {
                arr([kind_of(e.file).name().into(), e.span.start.into(), e.span.end.into(), e.new_text.as_str().into()])
            });
            arr([f.title.into(), opt(f.diagnostic.map(|d| d as u32)), f.preferred.into(), arr(edits)])
        }))
    });
    let plan = plan.map(|(id, p)| arr([id.into(), opt(p.and_then(|p| serde_json::to_string(p).ok()))]));
    arr([arr(diagnostics), arr(fixes), opt(plan), took_ms.into()])
}

/// One array of the report, read by position.
struct Row(js_sys::Array);

impl Row {
    fn of(v: JsValue) -> Result<Row, String> {
        v.dyn_into::<js_sys::Array>().map(Row).map_err(|_| "not an array".to_string())
    }
    fn get(&self, i: u32) -> JsValue {
        self.0.get(i)
    }
    fn rows(&self, i: u32) -> Result<Vec<Row>, String> {
        Row::of(self.get(i))?.0.iter().map(Row::of).collect()
    }
    fn string(&self, i: u32) -> Result<String, String> {
        self.get(i).as_string().ok_or_else(|| format!("item {i} is not a string"))
    }
    fn opt_string(&self, i: u32) -> Option<String> {
        self.get(i).as_string()
    }
    fn number(&self, i: u32) -> Result<u32, String> {
        self.opt_number(i).ok_or_else(|| format!("item {i} is not a number"))
    }
    fn opt_number(&self, i: u32) -> Option<u32> {
        self.get(i).as_f64().map(|n| n as u32)
    }
    fn flag(&self, i: u32) -> bool {
        self.get(i).is_truthy()
    }
}

fn diagnostic_from(r: &Row) -> Result<Diagnostic, String> {
    let code = r.string(1)?;
    let suggestion = match (r.opt_number(9), r.opt_number(10), r.opt_string(11)) {
        (Some(start), Some(end), Some(replacement)) => {
            Some(Box::new(Suggestion { span: Span::new(start, end), replacement }))
        }
        _ => None,
    };
    Ok(Diagnostic {
        severity: if r.flag(0) { Severity::Error } else { Severity::Warning },
        code: Code::lookup(&code).ok_or_else(|| format!("unknown diagnostic code {code}"))?,
        message: r.string(2)?,
        file: r.string(3)?,
        line: r.number(4)?,
        column: r.number(5)?,
        help: r.opt_string(6),
        span: Span::new(r.number(7)?, r.number(8)?),
        suggestion,
    })
}

fn fix_from(r: &Row) -> Result<QuickFix, String> {
    let edits = r
        .rows(3)?
        .iter()
        .map(|e| {
            let file = match e.string(0)?.as_str() {
                "services" => FileId::Services,
                _ => FileId::Steps,
            };
            Ok(TextEdit { file, span: Span::new(e.number(1)?, e.number(2)?), new_text: e.string(3)? })
        })
        .collect::<Result<_, String>>()?;
    Ok(QuickFix { title: r.string(0)?, diagnostic: r.opt_number(1).map(|d| d as usize), preferred: r.flag(2), edits })
}

impl Checked {
    /// The report made by [`report_js`].
    pub fn from_js(v: JsValue) -> Result<Checked, String> {
        let r = Row::of(v)?;
        let diagnostics = r.rows(0)?.iter().map(diagnostic_from).collect::<Result<Vec<_>, _>>()?;
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let report = Report { warnings: diagnostics.len() - errors, errors, diagnostics };
        let fixes = r
            .rows(1)?
            .iter()
            .map(|list| list.0.iter().map(|f| fix_from(&Row::of(f)?)).collect())
            .collect::<Result<Vec<Vec<_>>, String>>()?;
        let plan = match r.get(2).is_undefined() {
            true => PlanUpdate::Invalid,
            false => match Row::of(r.get(2))?.opt_string(1) {
                None => PlanUpdate::Same,
                Some(json) => PlanUpdate::New(Box::new(serde_json::from_str(&json).map_err(|e| format!("plan: {e}"))?)),
            },
        };
        Ok(Checked { report, fixes, plan, took_ms: r.get(3).as_f64().unwrap_or(0.0) })
    }
}

/// Calls `f` with every check of the settled texts the analysis worker makes, until dropped.
pub struct OnChecked {
    _closure: Closure<dyn FnMut(JsValue)>,
}

impl OnChecked {
    pub fn new(mut f: impl FnMut(Checked) + 'static) -> OnChecked {
        let c = Closure::<dyn FnMut(JsValue)>::new(move |report: JsValue| match Checked::from_js(report) {
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
