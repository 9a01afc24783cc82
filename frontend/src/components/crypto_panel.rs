//! Encrypt and decrypt in the page. The key and the plaintext never leave it: nothing here
//! makes a request, and the page's Content-Security-Policy only allows its own origin.

use super::files::{download, file_list, read_files};
use crate::state::SharedPlan;
use slipway_core::crypto::rekey::{Rekeyed, Target, rekey_all};
use slipway_core::crypto::{self, Format, Key, KeyError};
use slipway_core::dockercfg::DockerCfg;
use slipway_core::inspect::{Contents, inspect, push_registries_covered, redacted};
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct CryptoProps {
    /// The current plan, to check a decrypted dockercfg against the registries pushed to.
    pub plan: Option<SharedPlan>,
}

#[derive(Clone, PartialEq, Default)]
struct Decrypted {
    bytes: Vec<u8>,
    format: &'static str,
    show_secrets: bool,
}

fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("crypto.getRandomValues");
    b
}

/// What is wrong with a pasted key, in words a person can act on: the base64 decoder's own
/// message ("Invalid symbol 45, offset 3.") names byte values. The key's characters are not
/// repeated, only the position.
fn key_problem(text: &str, e: &KeyError) -> String {
    const SHAPE: &str = "a codeship.aes key is one line of 44 characters: A–Z, a–z, 0–9, + and /, ending in =";
    match e {
        KeyError::NotBase64 { .. } => {
            let bad = text.trim().chars().position(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')));
            match bad {
                Some(i) => format!("not a key: character {} cannot appear in one; {SHAPE}", i + 1),
                None => format!("not a key: its length or `=` padding is off; {SHAPE}"),
            }
        }
        other => other.to_string(),
    }
}

#[function_component(CryptoPanel)]
pub fn crypto_panel(props: &CryptoProps) -> Html {
    let key = use_state(String::new);
    let plaintext = use_state(String::new);
    let ciphertext = use_state(String::new);
    let format = use_state(|| "aead".to_string());
    let decrypted = use_state(|| None::<Decrypted>);
    let message = use_state(|| None::<(bool, String)>);
    // The key is a secret: hidden as a password is, until asked for.
    let show_key = use_state(|| false);

    let parsed_key = || Key::parse(key.as_bytes());
    let text_input = |state: UseStateHandle<String>| {
        Callback::from(move |e: InputEvent| state.set(e.target_unchecked_into::<HtmlTextAreaElement>().value()))
    };

    let on_generate = {
        let key = key.clone();
        let message = message.clone();
        Callback::from(move |_| {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("crypto.getRandomValues");
            let text = Key::from_bytes(bytes).to_file_text();
            key.set(text.trim().to_string());
            download("codeship.aes", text.as_bytes(), "application/octet-stream");
            message.set(Some((
                true,
                "New key generated and downloaded as codeship.aes. Keep it out of git: add it to .gitignore.".into(),
            )));
        })
    };

    let on_encrypt = {
        let (key, plaintext, ciphertext, format, message) =
            (key.clone(), plaintext.clone(), ciphertext.clone(), format.clone(), message.clone());
        Callback::from(move |_| {
            let k = match Key::parse(key.as_bytes()) {
                Ok(k) => k,
                Err(e) => return message.set(Some((false, format!("Key: {}", key_problem(&key, &e))))),
            };
            let fmt = Format::parse_write(&format).unwrap_or(Format::Aead);
            match crypto::encrypt(&k, plaintext.as_bytes(), fmt, &random16()) {
                Ok(out) => {
                    ciphertext.set(String::from_utf8_lossy(&out).into_owned());
                    message
                        .set(Some((true, format!("Encrypted {} bytes ({} format).", plaintext.len(), fmt.as_str()))));
                }
                Err(e) => message.set(Some((false, e.to_string()))),
            }
        })
    };

    let on_decrypt = {
        let (key, ciphertext, decrypted, message) =
            (key.clone(), ciphertext.clone(), decrypted.clone(), message.clone());
        Callback::from(move |_| {
            let k = match Key::parse(key.as_bytes()) {
                Ok(k) => k,
                Err(e) => return message.set(Some((false, format!("Key: {}", key_problem(&key, &e))))),
            };
            match crypto::decrypt(&k, ciphertext.as_bytes()) {
                Ok((bytes, fmt)) => {
                    let note =
                        if fmt == Format::V1 { " (v1 has no integrity check: garbage means a wrong key)" } else { "" };
                    message
                        .set(Some((true, format!("Decrypted {} bytes ({} format){note}.", bytes.len(), fmt.as_str()))));
                    decrypted.set(Some(Decrypted { bytes, format: fmt.as_str(), show_secrets: false }));
                }
                Err(e) => {
                    decrypted.set(None);
                    message.set(Some((false, e.to_string())));
                }
            }
        })
    };

    let on_format = {
        let format = format.clone();
        Callback::from(move |e: Event| format.set(e.target_unchecked_into::<HtmlSelectElement>().value()))
    };

    // File pickers: key, plaintext, encrypted file.
    let load_into = |state: UseStateHandle<String>| {
        Callback::from(move |e: Event| {
            let input = e.target_unchecked_into::<HtmlInputElement>();
            let state = state.clone();
            read_files(file_list(input.files()), move |_, bytes| {
                state.set(String::from_utf8_lossy(&bytes).into_owned())
            });
        })
    };

    let key_status = if key.is_empty() {
        html! { <span class="muted">{ "paste codeship.aes, load it, or generate one" }</span> }
    } else {
        match parsed_key() {
            Ok(_) => html! { <span class="ok">{ "valid AES-256 key" }</span> },
            Err(e) => html! { <span class="bad" data-testid="key-error">{ key_problem(&key, &e) }</span> },
        }
    };

    let decrypted_view = match &*decrypted {
        None => html! {},
        Some(d) => {
            let contents = inspect(&d.bytes);
            let (summary, shown) = match &contents {
                Contents::Dockercfg { registries } => {
                    let text = if d.show_secrets {
                        String::from_utf8_lossy(&d.bytes).into_owned()
                    } else {
                        redacted(&d.bytes).unwrap_or_default()
                    };
                    (format!("dockercfg with credentials for: {}", registries.join(", ")), text)
                }
                Contents::Env { names } => (
                    format!("env file with {}: {}", names.len(), names.join(", ")),
                    String::from_utf8_lossy(&d.bytes).into_owned(),
                ),
                Contents::Text { lines } => {
                    (format!("text, {lines} line(s)"), String::from_utf8_lossy(&d.bytes).into_owned())
                }
                Contents::Binary { bytes } => (format!("binary, {bytes} bytes (download to see it)"), String::new()),
            };
            let coverage = match (&contents, &props.plan, DockerCfg::parse(&d.bytes)) {
                (Contents::Dockercfg { .. }, Some(plan), Ok(cfg)) => {
                    let rows = push_registries_covered(plan, &cfg);
                    html! {
                        <ul class="coverage">
                            { for rows.into_iter().map(|(r, ok)| html! {
                                <li class={if ok { "ok" } else { "bad" }}>
                                    { if ok { format!("✓ has credentials for {r}, which the steps push to") }
                                      else { format!("✗ no entry for {r}, which the steps push to") } }
                                </li>
                            }) }
                        </ul>
                    }
                }
                _ => html! {},
            };
            let toggle = {
                let decrypted = decrypted.clone();
                let d = d.clone();
                Callback::from(move |_| decrypted.set(Some(Decrypted { show_secrets: !d.show_secrets, ..d.clone() })))
            };
            let on_download = {
                let bytes = d.bytes.clone();
                Callback::from(move |_| download("decrypted", &bytes, "application/octet-stream"))
            };
            html! {
                <div class="decrypted">
                    <h3>{ "Decrypted" }</h3>
                    <p class="kind" data-testid="plaintext-kind">{ summary }<span class="muted">{ format!(" · {}", d.format) }</span></p>
                    { coverage }
                    <textarea data-testid="plaintext-output" readonly=true spellcheck="false" value={shown} />
                    <div class="row">
                        if matches!(contents, Contents::Dockercfg { .. }) {
                            <button onclick={toggle}>{ if d.show_secrets { "Hide secrets" } else { "Show secrets" } }</button>
                        }
                        <button onclick={on_download}>{ "Download plaintext" }</button>
                    </div>
                </div>
            }
        }
    };

    let on_download_cipher = {
        let ciphertext = ciphertext.clone();
        Callback::from(move |_| download("file.encrypted", ciphertext.as_bytes(), "text/plain"))
    };

    let on_key = {
        let key = key.clone();
        Callback::from(move |e: InputEvent| key.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let toggle_key = {
        let show_key = show_key.clone();
        Callback::from(move |_| show_key.set(!*show_key))
    };
    html! {
        <section class="crypto">
            <header>{ "Encrypt / decrypt (in this page only)" }</header>
            <div class="row">
                <label class="grow">{ "Project key (codeship.aes) " }{ key_status }
                    <input type={if *show_key { "text" } else { "password" }} class="key" data-testid="key-input"
                        spellcheck="false" autocomplete="off" value={(*key).clone()} oninput={on_key} />
                </label>
                <button data-testid="key-show" onclick={toggle_key}>{ if *show_key { "Hide key" } else { "Show key" } }</button>
            </div>
            <div class="row">
                <label class="file">{ "Load key " }<input type="file" onchange={load_into(key.clone())} /></label>
                <button onclick={on_generate}>{ "Generate new key" }</button>
            </div>
            <div class="cols">
                <div>
                    <label>{ "Plaintext (env file, dockercfg) " }
                        <textarea data-testid="plaintext-input" spellcheck="false" autocomplete="off"
                            value={(*plaintext).clone()} oninput={text_input(plaintext.clone())} />
                    </label>
                    <div class="row">
                        <label class="file">{ "Load " }<input type="file" onchange={load_into(plaintext.clone())} /></label>
                        <select onchange={on_format} data-testid="format-select">
                            <option value="aead" selected={*format == "aead"}>{ "authenticated (default)" }</option>
                            <option value="v2" selected={*format == "v2"}>{ "jet v2" }</option>
                        </select>
                        <button data-testid="encrypt-button" onclick={on_encrypt}>{ "Encrypt →" }</button>
                    </div>
                </div>
                <div>
                    <label>{ "Encrypted (v1, v2 or ours) " }
                        <textarea data-testid="ciphertext-output" spellcheck="false"
                            value={(*ciphertext).clone()} oninput={text_input(ciphertext.clone())} />
                    </label>
                    <div class="row">
                        <label class="file">{ "Load .encrypted " }<input type="file" onchange={load_into(ciphertext.clone())} /></label>
                        <button onclick={on_download_cipher}>{ "Download" }</button>
                        <button data-testid="decrypt-button" onclick={on_decrypt}
                            title="Decrypt into the box below: what it holds, checked against the pushes, secrets hidden">{ "Decrypt ↓" }</button>
                    </div>
                </div>
            </div>
            if let Some((ok, m)) = &*message {
                <p class={if *ok { "msg ok" } else { "msg bad" }} data-testid="crypto-message">{ m }</p>
            }
            { decrypted_view }
            <RekeyFiles old_key={AttrValue::from((*key).clone())} />
        </section>
    }
}

/// An encrypted file dropped or picked for rekeying.
#[derive(Clone, PartialEq)]
struct Dropped {
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
    match rekey_all(&old_key, &new_key, &named, Target::V1As(v1_to), random16) {
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

#[derive(Properties, PartialEq)]
struct RekeyProps {
    /// The panel's key: the one the dropped files are encrypted with.
    old_key: AttrValue,
}

/// Rekey: files dropped here are re-encrypted under a new key in their own format (v1 is
/// upgraded), in the page, and offered back as downloads.
#[function_component(RekeyFiles)]
fn rekey_files(props: &RekeyProps) -> Html {
    let new_key = use_state(String::new);
    let v1_to = use_state(|| Format::Aead);
    let files = use_state(|| Rc::new(Vec::<Dropped>::new()));
    let read_error = use_state(|| None::<String>);
    let note = use_state(|| None::<String>);
    // The results always match the keys and files shown: recomputed when any of them changes.
    let outcome =
        use_memo((props.old_key.clone(), (*new_key).clone(), *v1_to, (*files).clone()), |(old, new, v1_to, files)| {
            (!files.is_empty()).then(|| rekey_dropped(old, new, *v1_to, files))
        });

    let take = {
        let (files, read_error) = (files.clone(), read_error.clone());
        move |list: Vec<web_sys::File>| {
            let (files, read_error) = (files.clone(), read_error.clone());
            read_all(list, move |read| match read {
                Ok(read) => {
                    read_error.set(None);
                    files.set(Rc::new(read));
                }
                Err(e) => {
                    read_error.set(Some(e));
                    files.set(Rc::new(Vec::new()));
                }
            });
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
    let on_new_key = {
        let new_key = new_key.clone();
        Callback::from(move |e: InputEvent| new_key.set(e.target_unchecked_into::<HtmlTextAreaElement>().value()))
    };
    let on_generate = {
        let (new_key, note) = (new_key.clone(), note.clone());
        Callback::from(move |_| {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("crypto.getRandomValues");
            let text = Key::from_bytes(bytes).to_file_text();
            new_key.set(text.trim().to_string());
            download("codeship.aes", text.as_bytes(), "application/octet-stream");
            note.set(Some(
                "New key generated and downloaded as codeship.aes: replace the project's key with it once its files are rekeyed, and keep it out of git.".into(),
            ));
        })
    };
    let on_v1_to = {
        let v1_to = v1_to.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<HtmlSelectElement>().value();
            v1_to.set(Format::parse_write(&value).unwrap_or(Format::Aead));
        })
    };

    let new_status = if new_key.is_empty() {
        html! { <span class="muted">{ "paste it, or generate one" }</span> }
    } else {
        match Key::parse(new_key.as_bytes()) {
            Ok(_) => html! { <span class="ok">{ "valid AES-256 key" }</span> },
            Err(e) => html! { <span class="bad">{ key_problem(&new_key, &e) }</span> },
        }
    };
    let result = match (&*read_error, &*outcome) {
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
                        value={(*new_key).clone()} oninput={on_new_key} />
                </label>
            </div>
            <div class="row">
                <button data-testid="rekey-generate" onclick={on_generate}>{ "Generate new key" }</button>
                <label class="inline">{ "v1 files become " }
                    <select data-testid="rekey-v1-format" onchange={on_v1_to}>
                        <option value="aead" selected={*v1_to == Format::Aead}>{ "authenticated (aead)" }</option>
                        <option value="v2" selected={*v1_to == Format::V2}>{ "jet v2" }</option>
                    </select>
                </label>
            </div>
            if let Some(n) = &*note { <p class="msg ok">{ n }</p> }
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

    fn problem(text: &str) -> String {
        match Key::parse(text.as_bytes()) {
            Ok(_) => panic!("{text:?} parsed as a key"),
            Err(e) => key_problem(text, &e),
        }
    }

    #[test]
    fn a_bad_key_says_where_not_what_the_decoder_saw() {
        let m = problem("abc-defgh");
        assert!(m.starts_with("not a key: character 4 cannot appear"), "{m}");
        assert!(!m.contains("symbol") && !m.contains("offset"), "{m}");
        let m = problem("abcde");
        assert!(m.contains("padding is off"), "{m}");
        // Right alphabet, wrong length: the core's message already says so.
        assert!(problem("YWJj").contains("decodes to 3 bytes"));
    }
}
