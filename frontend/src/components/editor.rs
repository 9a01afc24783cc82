//! The code editor: a thin wrapper over the CodeMirror view in frontend/editor/editor.js.
//! The view owns the text while typing; this component pushes text changes from outside
//! (reset, opened files), the diagnostics, and answers the view's completion, hover and
//! definition requests from `slipway_core::ide` (through [`crate::language`]). CodeMirror
//! counts UTF-16 units of the whole text, the core bytes: every offset crosses through the
//! core's `LineIndex`.

use crate::language::{Workspace, file_id, kind_of};
use crate::state::FileKind;
use serde::Serialize;
use slipway_core::Severity;
use slipway_core::ide::{Analysis, QuickFix, TextEdit};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// One CodeMirror view (the `Editor` class of editor.js).
    pub type JsEditor;

    #[wasm_bindgen(js_namespace = SlipwayEditor, js_name = create)]
    fn create_editor(parent: &web_sys::Element, name: &str, text: &str, hooks: &js_sys::Object) -> JsEditor;
    #[wasm_bindgen(method, js_name = setText)]
    fn set_text(this: &JsEditor, text: &str);
    #[wasm_bindgen(method, js_name = setDiagnostics)]
    fn set_diagnostics(this: &JsEditor, json: &str);
    #[wasm_bindgen(method, js_name = applyEdits)]
    fn apply_edits(this: &JsEditor, json: &str);
    #[wasm_bindgen(method, js_name = goTo)]
    fn go_to(this: &JsEditor, offset: u32);
    #[wasm_bindgen(method)]
    fn destroy(this: &JsEditor);
}

/// The editors on the page, so the Problems list can move their cursors and apply fixes.
pub type Editors = Rc<RefCell<Vec<(FileKind, JsEditor)>>>;

/// The workspace the language callbacks read; updated by the editors on every change.
pub type SharedWorkspace = Rc<RefCell<Workspace>>;

#[derive(Properties)]
pub struct EditorProps {
    pub title: AttrValue,
    pub kind: FileKind,
    pub text: AttrValue,
    /// The check of the settled text, whose diagnostics (and fixes) of this file are shown.
    pub analysis: Rc<Analysis>,
    pub workspace: SharedWorkspace,
    pub editors: Editors,
    pub on_change: Callback<String>,
}

impl PartialEq for EditorProps {
    fn eq(&self, other: &Self) -> bool {
        self.title == other.title
            && self.kind == other.kind
            && self.text == other.text
            && Rc::ptr_eq(&self.analysis, &other.analysis)
            && Rc::ptr_eq(&self.workspace, &other.workspace)
            && Rc::ptr_eq(&self.editors, &other.editors)
            && self.on_change == other.on_change
    }
}

/// The JS closures of one view; dropped (and so invalidated) with it.
struct Hooks {
    _change: Closure<dyn FnMut(String)>,
    _complete: Closure<dyn FnMut(u32, bool) -> Option<String>>,
    _hover: Closure<dyn FnMut(u32) -> Option<String>>,
    _definition: Closure<dyn FnMut(u32) -> Option<String>>,
}

#[function_component(Editor)]
pub fn editor(props: &EditorProps) -> Html {
    let host = use_node_ref();
    // The text the view holds, as far as this component knows: a `text` prop that differs
    // came from outside (reset, an opened file) and is pushed into the view.
    let shown = use_mut_ref(|| props.text.to_string());
    let view = use_mut_ref(|| None::<(JsEditor, Hooks)>);
    let on_change = use_mut_ref(|| props.on_change.clone());
    *on_change.borrow_mut() = props.on_change.clone();

    {
        let (host, view, shown, kind) = (host.clone(), view.clone(), shown.clone(), props.kind);
        let (ws, editors, on_change) = (props.workspace.clone(), props.editors.clone(), on_change.clone());
        use_effect_with((), move |_| {
            if let Some(parent) = host.cast::<web_sys::Element>() {
                let (js, hooks) = mount(&parent, kind, &shown.borrow(), &ws, &shown, &on_change);
                editors.borrow_mut().push((kind, JsValue::clone(&js).unchecked_into()));
                *view.borrow_mut() = Some((js, hooks));
            }
            move || {
                editors.borrow_mut().retain(|(k, _)| *k != kind);
                if let Some((js, _hooks)) = view.borrow_mut().take() {
                    js.destroy();
                }
            }
        });
    }
    // Text from outside.
    if *shown.borrow() != *props.text {
        *shown.borrow_mut() = props.text.to_string();
        props.workspace.borrow_mut().set_text(props.kind, props.text.to_string());
        if let Some((js, _)) = &*view.borrow() {
            js.set_text(&props.text);
        }
    }
    {
        let (view, kind) = (view.clone(), props.kind);
        use_effect_with(AnalysisRef(props.analysis.clone()), move |a| {
            if let Some((js, _)) = &*view.borrow() {
                js.set_diagnostics(&diagnostics_json(&a.0, kind));
            }
        });
    }
    html! {
        <section class="editor">
            <header>{ props.title.clone() }</header>
            <div class="editor-body" ref={host}></div>
        </section>
    }
}

fn mount(
    parent: &web_sys::Element,
    kind: FileKind,
    text: &str,
    ws: &SharedWorkspace,
    shown: &Rc<RefCell<String>>,
    on_change: &Rc<RefCell<Callback<String>>>,
) -> (JsEditor, Hooks) {
    let change = {
        let (ws, shown, on_change) = (ws.clone(), shown.clone(), on_change.clone());
        Closure::<dyn FnMut(String)>::new(move |text: String| {
            // At once for the language callbacks, which may run before Yew re-renders.
            ws.borrow_mut().set_text(kind, text.clone());
            *shown.borrow_mut() = text.clone();
            // Yew after CodeMirror's update has finished: a re-render that pushes diagnostics
            // into the view from inside its update would abort it (and its selection update).
            let cb = on_change.borrow().clone();
            wasm_bindgen_futures::spawn_local(async move { cb.emit(text) });
        })
    };
    let complete = {
        let ws = ws.clone();
        Closure::<dyn FnMut(u32, bool) -> Option<String>>::new(move |pos: u32, _explicit: bool| {
            let a = ws.borrow_mut().analysis();
            let ix = a.line_index(file_id(kind));
            let c = a.completions(file_id(kind), ix.from_utf16(pos));
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
        })
    };
    let hover = {
        let ws = ws.clone();
        Closure::<dyn FnMut(u32) -> Option<String>>::new(move |pos: u32| {
            let a = ws.borrow_mut().analysis();
            let ix = a.line_index(file_id(kind));
            let h = a.hover(file_id(kind), ix.from_utf16(pos))?;
            json(&HoverJs { from: ix.utf16(h.span.start), to: ix.utf16(h.span.end), text: h.markdown })
        })
    };
    let definition = {
        let ws = ws.clone();
        Closure::<dyn FnMut(u32) -> Option<String>>::new(move |pos: u32| {
            let a = ws.borrow_mut().analysis();
            let t = a.definition(file_id(kind), a.line_index(file_id(kind)).from_utf16(pos))?;
            json(&TargetJs { editor: kind_of(t.file).name(), from: a.line_index(t.file).utf16(t.span.start) })
        })
    };
    let hooks = js_sys::Object::new();
    for (name, f) in [
        ("change", change.as_ref()),
        ("complete", complete.as_ref()),
        ("hover", hover.as_ref()),
        ("definition", definition.as_ref()),
    ] {
        let _ = js_sys::Reflect::set(&hooks, &name.into(), f);
    }
    let js = create_editor(parent, kind.name(), text, &hooks);
    (js, Hooks { _change: change, _complete: complete, _hover: hover, _definition: definition })
}

fn json(v: &impl Serialize) -> Option<String> {
    serde_json::to_string(v).ok()
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
struct EditJs {
    editor: &'static str,
    from: u32,
    to: u32,
    insert: String,
}

/// An `Rc<Analysis>` compared by identity: each check makes a new one.
#[derive(Clone)]
struct AnalysisRef(Rc<Analysis>);

impl PartialEq for AnalysisRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn edit_json(a: &Analysis, e: &TextEdit) -> EditJs {
    let ix = a.line_index(e.file);
    EditJs {
        editor: kind_of(e.file).name(),
        from: ix.utf16(e.span.start),
        to: ix.utf16(e.span.end),
        insert: e.new_text.clone(),
    }
}

fn fix_json(a: &Analysis, fix: &QuickFix) -> FixJs {
    FixJs { title: fix.title.clone(), edits: fix.edits.iter().map(|e| edit_json(a, e)).collect() }
}

/// The diagnostics of `kind`'s file as editor.js takes them: UTF-16 ranges, with their fixes.
fn diagnostics_json(a: &Analysis, kind: FileKind) -> String {
    let ix = a.line_index(file_id(kind));
    let list: Vec<DiagnosticJs> = a
        .report()
        .diagnostics
        .iter()
        .enumerate()
        .filter(|(_, d)| a.file_of(d) == Some(file_id(kind)))
        .map(|(i, d)| DiagnosticJs {
            from: ix.utf16(d.span.start),
            to: ix.utf16(d.span.end),
            line: d.line,
            severity: severity_name(d.severity),
            code: d.code.as_str(),
            message: match &d.help {
                Some(h) => format!("{} [{}]\n{h}", d.message, d.code.as_str()),
                None => format!("{} [{}]", d.message, d.code.as_str()),
            },
            fixes: a.fixes_for(i).iter().map(|f| fix_json(a, f)).collect(),
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

fn editor_of(editors: &Editors, kind: FileKind) -> Option<JsEditor> {
    editors.borrow().iter().find(|(k, _)| *k == kind).map(|(_, e)| JsValue::clone(e).unchecked_into())
}

/// Put the cursor at byte `offset` of `kind`'s text (as `a` saw it) and focus that editor.
pub fn go_to(editors: &Editors, a: &Analysis, kind: FileKind, offset: u32) {
    if let Some(e) = editor_of(editors, kind) {
        e.go_to(a.line_index(file_id(kind)).utf16(offset));
    }
}

/// Apply a quick fix, one undoable change per editor it touches.
pub fn apply_fix(editors: &Editors, a: &Analysis, fix: &QuickFix) {
    for kind in [FileKind::Services, FileKind::Steps] {
        let edits: Vec<EditJs> =
            fix.edits.iter().filter(|e| kind_of(e.file) == kind).map(|e| edit_json(a, e)).collect();
        if let (false, Some(e), Ok(s)) = (edits.is_empty(), editor_of(editors, kind), serde_json::to_string(&edits)) {
            e.apply_edits(&s);
        }
    }
}
