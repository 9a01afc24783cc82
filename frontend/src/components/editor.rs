//! The code editor: a thin wrapper over the CodeMirror view in frontend/editor/editor.js.
//! The view owns the text: typing never goes through Yew. The view hands this component the
//! text once it settles (at once for small files, after a pause in typing for large ones), for
//! the Problems list, the preview and the drafts; this component pushes text changes from
//! outside (reset, opened files). Diagnostics, completion, hover and definition come from the
//! analysis worker (frontend/editor/analysis.js driving [`crate::analyst::Analyst`]), never
//! from the page's thread. CodeMirror counts UTF-16 units of the whole text, the core bytes:
//! every offset crosses through the core's `LineIndex`.

use crate::analyst::{EditJs, edit_json};
use crate::language::kind_of;
use crate::state::FileKind;
use slipway_core::ide::{LineIndex, QuickFix};
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
    #[wasm_bindgen(method, js_name = getText)]
    fn get_text(this: &JsEditor) -> String;
    #[wasm_bindgen(method, js_name = applyEdits)]
    fn apply_edits(this: &JsEditor, json: &str);
    #[wasm_bindgen(method, js_name = goTo)]
    fn go_to(this: &JsEditor, offset: u32);
    #[wasm_bindgen(method)]
    fn destroy(this: &JsEditor);
}

/// The editors on the page, so the Problems list can move their cursors and apply fixes.
pub type Editors = Rc<RefCell<Vec<(FileKind, JsEditor)>>>;

#[derive(Properties)]
pub struct EditorProps {
    pub title: AttrValue,
    pub kind: FileKind,
    pub text: AttrValue,
    pub editors: Editors,
    /// The text once it settles.
    pub on_change: Callback<String>,
}

impl PartialEq for EditorProps {
    fn eq(&self, other: &Self) -> bool {
        self.title == other.title
            && self.kind == other.kind
            && self.text == other.text
            && Rc::ptr_eq(&self.editors, &other.editors)
            && self.on_change == other.on_change
    }
}

#[function_component(Editor)]
pub fn editor(props: &EditorProps) -> Html {
    let host = use_node_ref();
    // The text the view holds, as far as this component knows: a `text` prop that differs
    // came from outside (reset, an opened file) and is pushed into the view.
    let shown = use_mut_ref(|| props.text.to_string());
    let view = use_mut_ref(|| None::<(JsEditor, Closure<dyn FnMut(String)>)>);
    let on_change = use_mut_ref(|| props.on_change.clone());
    *on_change.borrow_mut() = props.on_change.clone();

    {
        let (host, view, shown, kind) = (host.clone(), view.clone(), shown.clone(), props.kind);
        let (editors, on_change) = (props.editors.clone(), on_change.clone());
        use_effect_with((), move |_| {
            if let Some(parent) = host.cast::<web_sys::Element>() {
                let text = shown.borrow().clone();
                let (js, hook) = mount(&parent, kind, &text, &shown, &on_change);
                editors.borrow_mut().push((kind, JsValue::clone(&js).unchecked_into()));
                *view.borrow_mut() = Some((js, hook));
            }
            move || {
                editors.borrow_mut().retain(|(k, _)| *k != kind);
                if let Some((js, _hook)) = view.borrow_mut().take() {
                    js.destroy();
                }
            }
        });
    }
    // Text from outside.
    if *shown.borrow() != *props.text {
        *shown.borrow_mut() = props.text.to_string();
        if let Some((js, _)) = &*view.borrow() {
            js.set_text(&props.text);
        }
    }
    html! {
        <section class="editor">
            <header>{ props.title.clone() }</header>
            <div class="editor-body" ref={host}></div>
        </section>
    }
}

/// The view, and the closure it calls with the settled text (dropped, and so invalidated,
/// with the view).
fn mount(
    parent: &web_sys::Element,
    kind: FileKind,
    text: &str,
    shown: &Rc<RefCell<String>>,
    on_change: &Rc<RefCell<Callback<String>>>,
) -> (JsEditor, Closure<dyn FnMut(String)>) {
    let change = {
        let (shown, on_change) = (shown.clone(), on_change.clone());
        Closure::<dyn FnMut(String)>::new(move |text: String| {
            *shown.borrow_mut() = text.clone();
            // Yew after CodeMirror's update has finished: a re-render from inside its update
            // would abort it (and its selection update).
            let cb = on_change.borrow().clone();
            wasm_bindgen_futures::spawn_local(async move { cb.emit(text) });
        })
    };
    let hooks = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&hooks, &"change".into(), change.as_ref());
    (create_editor(parent, kind.name(), text, &hooks), change)
}

fn editor_of(editors: &Editors, kind: FileKind) -> Option<JsEditor> {
    editors.borrow().iter().find(|(k, _)| *k == kind).map(|(_, e)| JsValue::clone(e).unchecked_into())
}

// The Problems list's byte offsets are of the settled text the worker checked, which is the
// editor's text unless typing went on meanwhile (then the list is about to be replaced): they
// cross to UTF-16 through the editor's text as it is, indexed on each click.

/// Put the cursor at byte `offset` of `kind`'s text and focus that editor.
pub fn go_to(editors: &Editors, kind: FileKind, offset: u32) {
    if let Some(e) = editor_of(editors, kind) {
        e.go_to(LineIndex::new(&e.get_text()).utf16(offset));
    }
}

/// Apply a quick fix, one undoable change per editor it touches.
pub fn apply_fix(editors: &Editors, fix: &QuickFix) {
    for kind in [FileKind::Services, FileKind::Steps] {
        let Some(e) = editor_of(editors, kind) else { continue };
        let mine: Vec<_> = fix.edits.iter().filter(|edit| kind_of(edit.file) == kind).collect();
        if mine.is_empty() {
            continue;
        }
        let ix = LineIndex::new(&e.get_text());
        let edits: Vec<EditJs> = mine.into_iter().map(|edit| edit_json(&ix, edit)).collect();
        if let Ok(s) = serde_json::to_string(&edits) {
            e.apply_edits(&s);
        }
    }
}
