//! The code editor: a thin wrapper over the CodeMirror view in frontend/editor/editor.js.
//! The view owns the text while typing; this component pushes text changes from outside
//! (reset, opened files), the diagnostics, and answers the view's completion, hover and
//! definition requests from [`crate::language`]. CodeMirror counts UTF-16 units, the core
//! bytes: every offset crosses through [`Utf16Index`].

use crate::language::{self, Fix, Workspace};
use crate::offsets::Utf16Index;
use crate::state::FileKind;
use serde::Serialize;
use slipway_core::{Diagnostic, Severity};
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
    /// Diagnostics of this file, and the text they were computed on.
    pub diagnostics: Rc<Vec<Diagnostic>>,
    pub checked_text: AttrValue,
    pub workspace: SharedWorkspace,
    pub editors: Editors,
    pub on_change: Callback<String>,
}

impl PartialEq for EditorProps {
    fn eq(&self, other: &Self) -> bool {
        self.title == other.title
            && self.kind == other.kind
            && self.text == other.text
            && Rc::ptr_eq(&self.diagnostics, &other.diagnostics)
            && self.checked_text == other.checked_text
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
        let (view, ws) = (view.clone(), props.workspace.clone());
        use_effect_with((props.diagnostics.clone(), props.checked_text.clone()), move |(diags, text)| {
            if let Some((js, _)) = &*view.borrow() {
                js.set_diagnostics(&diagnostics_json(&ws.borrow(), text, diags));
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
        Closure::<dyn FnMut(u32, bool) -> Option<String>>::new(move |pos: u32, explicit: bool| {
            let ws = ws.borrow();
            let ix = Utf16Index::new(ws.text(kind));
            let c = language::complete(&ws, kind, ix.to_byte(pos), explicit)?;
            json(&CompletionsJs {
                from: ix.to_utf16(c.from),
                options: c
                    .items
                    .into_iter()
                    .map(|i| OptionJs { label: i.label, detail: i.detail, apply: i.insert })
                    .collect(),
            })
        })
    };
    let hover = {
        let ws = ws.clone();
        Closure::<dyn FnMut(u32) -> Option<String>>::new(move |pos: u32| {
            let ws = ws.borrow();
            let ix = Utf16Index::new(ws.text(kind));
            let h = language::hover(&ws, kind, ix.to_byte(pos))?;
            json(&HoverJs { from: ix.to_utf16(h.range.start), to: ix.to_utf16(h.range.end), text: h.text })
        })
    };
    let definition = {
        let ws = ws.clone();
        Closure::<dyn FnMut(u32) -> Option<String>>::new(move |pos: u32| {
            let ws = ws.borrow();
            let ix = Utf16Index::new(ws.text(kind));
            let t = language::definition(&ws, kind, ix.to_byte(pos))?;
            let from = Utf16Index::new(ws.text(t.file)).to_utf16(t.offset);
            json(&TargetJs { editor: t.file.name(), from })
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

#[derive(Serialize)]
struct EditJs {
    from: u32,
    to: u32,
    insert: String,
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn fix_json(ix: &Utf16Index, fix: Fix) -> FixJs {
    FixJs {
        title: fix.title,
        edits: fix
            .edits
            .into_iter()
            .map(|(r, insert)| EditJs { from: ix.to_utf16(r.start), to: ix.to_utf16(r.end), insert })
            .collect(),
    }
}

/// The diagnostics as editor.js takes them: UTF-16 ranges into `text`, with their fixes.
fn diagnostics_json(ws: &Workspace, text: &str, diags: &[Diagnostic]) -> String {
    let ix = Utf16Index::new(text);
    let list: Vec<DiagnosticJs> = diags
        .iter()
        .map(|d| DiagnosticJs {
            from: ix.to_utf16(d.span.start as usize),
            to: ix.to_utf16(d.span.end as usize),
            line: d.line,
            severity: severity_name(d.severity),
            code: d.code.as_str(),
            message: match &d.help {
                Some(h) => format!("{} [{}]\n{h}", d.message, d.code.as_str()),
                None => format!("{} [{}]", d.message, d.code.as_str()),
            },
            fixes: language::fixes(ws, d).into_iter().map(|f| fix_json(&ix, f)).collect(),
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

fn editor_of(editors: &Editors, kind: FileKind) -> Option<JsEditor> {
    editors.borrow().iter().find(|(k, _)| *k == kind).map(|(_, e)| JsValue::clone(e).unchecked_into())
}

/// Put the cursor at byte `offset` of `kind`'s text and focus that editor.
pub fn go_to(editors: &Editors, ws: &Workspace, kind: FileKind, offset: usize) {
    if let Some(e) = editor_of(editors, kind) {
        e.go_to(Utf16Index::new(ws.text(kind)).to_utf16(offset));
    }
}

/// Apply a quick fix to `kind`'s editor, as one undoable change.
pub fn apply_fix(editors: &Editors, ws: &Workspace, kind: FileKind, fix: Fix) {
    if let Some(e) = editor_of(editors, kind) {
        let ix = Utf16Index::new(ws.text(kind));
        if let Ok(s) = serde_json::to_string(&fix_json(&ix, fix).edits) {
            e.apply_edits(&s);
        }
    }
}
