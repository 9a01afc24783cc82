//! Rekey: files dropped here are re-encrypted under a new key in their own format (v1 is
//! upgraded), in the page, all or none, and offered back as downloads.

use super::random;
use super::state::key_problem;
use crate::components::files::{download, file_list};
use slipway_core::crypto::rekey::{Rekeyed, Target, rekey_all};
use slipway_core::crypto::{Format, Key};
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

/// An encrypted file dropped or picked for rekeying.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Dropped {
    name: String,
    bytes: Vec<u8>,
}

/// What rekeying the dropped files gave: every file, or (all or nothing) why none.
#[derive(Clone, PartialEq)]
enum RekeyOutcome {
    Done(Vec<(String, Rekeyed)>),
    Failed(String),
}

/// Rekey every file from `old` to `new` (both as typed), v1 files written as `v1_to`.
fn rekey_dropped(old: &str, new: &str, v1_to: Format, files: &[Dropped]) -> RekeyOutcome {
    let old_key = match Key::parse(old.as_bytes()) {
        Ok(k) => k,
        Err(e) => return RekeyOutcome::Failed(format!("Project key (the old one, above): {}", key_problem(old, &e))),
    };
    let new_key = match Key::parse(new.as_bytes()) {
        Ok(k) => k,
        Err(e) => return RekeyOutcome::Failed(format!("New key: {}", key_problem(new, &e))),
    };
    if old_key.to_file_text() == new_key.to_file_text() {
        return RekeyOutcome::Failed("The new key is the old key: generate or paste another one.".into());
    }
    let named: Vec<(String, Vec<u8>)> = files.iter().map(|f| (f.name.clone(), f.bytes.clone())).collect();
    match rekey_all(&old_key, &new_key, &named, Target::V1As(v1_to), random::<16>) {
        Ok(out) => RekeyOutcome::Done(named.into_iter().map(|(name, _)| name).zip(out).collect()),
        Err(e) => RekeyOutcome::Failed(format!("Nothing was rekeyed: {e}")),
    }
}

/// Read every file, in order; the first that cannot be read is named and none is kept.
fn read_all(files: Vec<web_sys::File>, done: impl FnOnce(Result<Vec<Dropped>, String>) + 'static) {
    wasm_bindgen_futures::spawn_local(async move {
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let name = f.name();
            match gloo::file::futures::read_as_bytes(&gloo::file::File::from(f)).await {
                Ok(bytes) => out.push(Dropped { name, bytes }),
                Err(_) => return done(Err(format!("{name}: the browser could not read this file"))),
            }
        }
        done(Ok(out))
    });
}

/// The rekey form's state, changed only by [`RekeyAction`]s.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct RekeyState {
    new_key: String,
    v1_to: V1To,
    files: Rc<Vec<Dropped>>,
    /// A file that could not be read: none is kept.
    read_error: Option<String>,
    note: Option<String>,
}

/// The format v1 files are written in (aead unless asked for v2).
#[derive(Clone, Copy, Debug, PartialEq)]
struct V1To(Format);

impl Default for V1To {
    fn default() -> Self {
        V1To(Format::Aead)
    }
}

pub(super) enum RekeyAction {
    NewKey(String),
    /// A key generated (and downloaded as codeship.aes by the caller).
    Generated(String),
    V1To(Format),
    Read(Result<Vec<Dropped>, String>),
}

impl Reducible for RekeyState {
    type Action = RekeyAction;

    fn reduce(self: Rc<Self>, action: RekeyAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            RekeyAction::NewKey(k) => next.new_key = k,
            RekeyAction::Generated(k) => {
                next.new_key = k;
                next.note = Some("New key generated and downloaded as codeship.aes: replace the project's key with it once its files are rekeyed, and keep it out of git.".into());
            }
            RekeyAction::V1To(f) => next.v1_to = V1To(f),
            RekeyAction::Read(Ok(files)) => (next.files, next.read_error) = (Rc::new(files), None),
            RekeyAction::Read(Err(e)) => (next.files, next.read_error) = (Rc::new(Vec::new()), Some(e)),
        }
        Rc::new(next)
    }
}

#[derive(Properties, PartialEq)]
pub(super) struct RekeyProps {
    /// The panel's key: the one the dropped files are encrypted with.
    pub old_key: AttrValue,
}

/// Rekey: files dropped here are re-encrypted under a new key in their own format (v1 is
/// upgraded), in the page, and offered back as downloads.
#[function_component(RekeyFiles)]
pub(super) fn rekey_files(props: &RekeyProps) -> Html {
    let state = use_reducer(RekeyState::default);
    let dispatch = state.dispatcher().to_callback();
    let (new_key, v1_to) = (&state.new_key, state.v1_to.0);
    // The results always match the keys and files shown: recomputed when any of them changes.
    let outcome =
        use_memo((props.old_key.clone(), new_key.clone(), v1_to, state.files.clone()), |(old, new, v1_to, files)| {
            (!files.is_empty()).then(|| rekey_dropped(old, new, *v1_to, files))
        });
    let take = {
        let dispatch = dispatch.clone();
        move |list: Vec<web_sys::File>| {
            let dispatch = dispatch.clone();
            read_all(list, move |read| dispatch.emit(RekeyAction::Read(read)));
        }
    };
    let on_drop = {
        let take = take.clone();
        Callback::from(move |e: DragEvent| {
            // Ours, not the studio's: the page's own drop handler opens configuration files.
            e.prevent_default();
            e.stop_propagation();
            take(file_list(e.data_transfer().and_then(|d| d.files())));
        })
    };
    let on_dragover = Callback::from(|e: DragEvent| {
        e.prevent_default();
        e.stop_propagation();
    });
    let on_pick =
        Callback::from(move |e: Event| take(file_list(e.target_unchecked_into::<HtmlInputElement>().files())));
    let on_new_key =
        dispatch.reform(|e: InputEvent| RekeyAction::NewKey(e.target_unchecked_into::<HtmlTextAreaElement>().value()));
    let on_generate = dispatch.reform(|_| {
        let text = Key::from_bytes(random::<32>()).to_file_text();
        download("codeship.aes", text.as_bytes(), "application/octet-stream");
        RekeyAction::Generated(text.trim().to_string())
    });
    let on_v1_to = dispatch.reform(|e: Event| {
        let value = e.target_unchecked_into::<HtmlSelectElement>().value();
        RekeyAction::V1To(Format::parse_write(&value).unwrap_or(Format::Aead))
    });

    let new_status = if new_key.is_empty() {
        html! { <span class="muted">{ "paste it, or generate one" }</span> }
    } else {
        match Key::parse(new_key.as_bytes()) {
            Ok(_) => html! { <span class="ok">{ "valid AES-256 key" }</span> },
            Err(e) => html! { <span class="bad">{ key_problem(new_key, &e) }</span> },
        }
    };
    let result = match (&state.read_error, &*outcome) {
        (Some(e), _) => {
            html! { <p class="msg bad" data-testid="rekey-error">{ format!("Nothing was rekeyed: {e}") }</p> }
        }
        (None, None) => html! {},
        (None, Some(RekeyOutcome::Failed(e))) => html! { <p class="msg bad" data-testid="rekey-error">{ e }</p> },
        (None, Some(RekeyOutcome::Done(out))) => rekeyed_view(out),
    };

    html! {
        <div class="rekey" data-testid="rekey">
            <h3>{ "Rekey files (old key above → new key)" }</h3>
            <div class="row">
                <label class="grow">{ "New key " }{ new_status }
                    <textarea class="short" data-testid="rekey-new-key" spellcheck="false" autocomplete="off"
                        value={new_key.clone()} oninput={on_new_key} />
                </label>
            </div>
            <div class="row">
                <button data-testid="rekey-generate" onclick={on_generate}>{ "Generate new key" }</button>
                <label class="inline">{ "v1 files become " }
                    <select data-testid="rekey-v1-format" onchange={on_v1_to}>
                        <option value="aead" selected={v1_to == Format::Aead}>{ "authenticated (aead)" }</option>
                        <option value="v2" selected={v1_to == Format::V2}>{ "jet v2" }</option>
                    </select>
                </label>
            </div>
            if let Some(n) = &state.note { <p class="msg ok">{ n }</p> }
            <div class="dropzone" data-testid="rekey-drop" ondrop={on_drop} ondragover={on_dragover}>
                { "Drop encrypted files here, or " }
                <label class="file">{ "choose files" }<input type="file" multiple=true data-testid="rekey-files" onchange={on_pick} /></label>
                <span class="muted">{ " · each keeps its format; nothing leaves the page" }</span>
            </div>
            { result }
        </div>
    }
}

fn rekeyed_view(out: &[(String, Rekeyed)]) -> Html {
    let all: Vec<(String, Vec<u8>)> = out.iter().map(|(n, r)| (n.clone(), r.bytes.clone())).collect();
    let on_all = Callback::from(move |_| {
        for (name, bytes) in &all {
            download(name, bytes, "text/plain");
        }
    });
    html! {
        <div class="rekeyed">
            <p class="msg ok" data-testid="rekey-message">
                { format!("Rekeyed {} file(s) under the new key. Download them over the old ones.", out.len()) }
            </p>
            <ul>
                { for out.iter().map(|(name, r)| {
                    let on_download = {
                        let (name, bytes) = (name.clone(), r.bytes.clone());
                        Callback::from(move |_| download(&name, &bytes, "text/plain"))
                    };
                    let how = if r.from == r.to {
                        format!("{}, kept", r.to.as_str())
                    } else {
                        format!("{} upgraded to {} (v1 has no integrity check)", r.from.as_str(), r.to.as_str())
                    };
                    html! {
                        <li data-testid="rekey-result" data-name={name.clone()} data-from={r.from.as_str()} data-to={r.to.as_str()}>
                            <button onclick={on_download}>{ format!("Download {name}") }</button>
                            <span class="muted">{ format!(" {how}") }</span>
                            <textarea class="short" data-testid="rekey-output" readonly=true spellcheck="false"
                                value={String::from_utf8_lossy(&r.bytes).into_owned()} />
                        </li>
                    }
                }) }
            </ul>
            if out.len() > 1 {
                <button data-testid="rekey-download-all" onclick={on_all}>{ "Download all" }</button>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_cannot_be_read_keeps_none_and_the_same_key_twice_is_refused() {
        let dropped = Dropped { name: "env.encrypted".into(), bytes: b"x".to_vec() };
        let s = Rc::new(RekeyState::default()).reduce(RekeyAction::Read(Ok(vec![dropped.clone()])));
        assert_eq!((s.files.len(), s.read_error.as_deref()), (1, None));
        let s = s.reduce(RekeyAction::Read(Err("b: unreadable".into())));
        assert_eq!((s.files.len(), s.read_error.as_deref()), (0, Some("b: unreadable")));
        let key = Key::from_bytes([3; 32]).to_file_text();
        let s = s.reduce(RekeyAction::Generated(key.trim().into())).reduce(RekeyAction::V1To(Format::V2));
        assert!(s.note.is_some() && s.v1_to == V1To(Format::V2));
        let same = rekey_dropped(key.trim(), key.trim(), Format::Aead, &[dropped]);
        assert!(matches!(same, RekeyOutcome::Failed(m) if m.starts_with("The new key is the old key")));
    }
}
