//! Encrypt and decrypt in the page. The key and the plaintext never leave it: nothing here
//! makes a request, and the page's Content-Security-Policy only allows its own origin.
//!
//! One reducer (`state.rs`) holds the panel's fields; `DecryptedView` shows what decrypting
//! gave and `RekeyFiles` re-encrypts dropped files under a new key.

mod decrypted;
mod rekey;
mod state;

use super::files::{download, file_list, read_files};
use crate::state::SharedPlan;
use decrypted::DecryptedView;
use rekey::RekeyFiles;
use slipway_core::crypto::{Format, Key};
use state::{CryptoAction, CryptoState, key_problem};
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct CryptoProps {
    /// The current plan, to check a decrypted dockercfg against the registries pushed to.
    pub plan: Option<SharedPlan>,
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("crypto.getRandomValues");
    b
}

#[function_component(CryptoPanel)]
pub fn crypto_panel(props: &CryptoProps) -> Html {
    let state = use_reducer(CryptoState::default);
    let dispatch = state.dispatcher().to_callback();
    let text = |make: fn(String) -> CryptoAction| {
        dispatch.reform(move |e: InputEvent| make(e.target_unchecked_into::<HtmlTextAreaElement>().value()))
    };
    let on_generate = {
        let dispatch = dispatch.clone();
        Callback::from(move |_| {
            let bytes = random::<32>();
            download("codeship.aes", Key::from_bytes(bytes).to_file_text().as_bytes(), "application/octet-stream");
            dispatch.emit(CryptoAction::NewKey(bytes));
        })
    };
    // File pickers: key, plaintext, encrypted file.
    let load_into = |make: fn(String) -> CryptoAction| {
        let dispatch = dispatch.clone();
        Callback::from(move |e: Event| {
            let dispatch = dispatch.clone();
            read_files(file_list(e.target_unchecked_into::<HtmlInputElement>().files()), move |_, bytes| {
                dispatch.emit(make(String::from_utf8_lossy(&bytes).into_owned()))
            });
        })
    };
    let on_format = dispatch.reform(|e: Event| {
        let value = e.target_unchecked_into::<HtmlSelectElement>().value();
        CryptoAction::Format(Format::parse_write(&value).unwrap_or(Format::Aead))
    });
    let on_download_cipher = {
        let ciphertext = state.ciphertext.clone();
        Callback::from(move |_| download("file.encrypted", ciphertext.as_bytes(), "text/plain"))
    };
    let key_status = if state.key.is_empty() {
        html! { <span class="muted">{ "paste codeship.aes, load it, or generate one" }</span> }
    } else {
        match Key::parse(state.key.as_bytes()) {
            Ok(_) => html! { <span class="ok">{ "valid AES-256 key" }</span> },
            Err(e) => html! { <span class="bad" data-testid="key-error">{ key_problem(&state.key, &e) }</span> },
        }
    };
    let format = state.format;
    html! {
        <section class="crypto">
            <header>{ "Encrypt / decrypt (in this page only)" }</header>
            <div class="row">
                <label class="grow">{ "Project key (codeship.aes) " }{ key_status }
                    <input type={if state.show_key { "text" } else { "password" }} class="key" data-testid="key-input"
                        spellcheck="false" autocomplete="off" value={state.key.clone()}
                        oninput={dispatch.reform(|e: InputEvent| CryptoAction::Key(e.target_unchecked_into::<HtmlInputElement>().value()))} />
                </label>
                <button data-testid="key-show" onclick={dispatch.reform(|_| CryptoAction::ToggleKey)}>
                    { if state.show_key { "Hide key" } else { "Show key" } }</button>
            </div>
            <div class="row">
                <label class="file">{ "Load key " }<input type="file" onchange={load_into(CryptoAction::Key)} /></label>
                <button onclick={on_generate}>{ "Generate new key" }</button>
            </div>
            <div class="cols">
                <div>
                    <label>{ "Plaintext (env file, dockercfg) " }
                        <textarea data-testid="plaintext-input" spellcheck="false" autocomplete="off"
                            value={state.plaintext.clone()} oninput={text(CryptoAction::Plaintext)} />
                    </label>
                    <div class="row">
                        <label class="file">{ "Load " }<input type="file" onchange={load_into(CryptoAction::Plaintext)} /></label>
                        <select onchange={on_format} data-testid="format-select">
                            <option value="aead" selected={format == Format::Aead}>{ "authenticated (default)" }</option>
                            <option value="v2" selected={format == Format::V2}>{ "jet v2" }</option>
                        </select>
                        <button data-testid="encrypt-button" onclick={dispatch.reform(|_| CryptoAction::Encrypt(random::<16>()))}>{ "Encrypt →" }</button>
                    </div>
                </div>
                <div>
                    <label>{ "Encrypted (v1, v2 or ours) " }
                        <textarea data-testid="ciphertext-output" spellcheck="false"
                            value={state.ciphertext.clone()} oninput={text(CryptoAction::Ciphertext)} />
                    </label>
                    <div class="row">
                        <label class="file">{ "Load .encrypted " }<input type="file" onchange={load_into(CryptoAction::Ciphertext)} /></label>
                        <button onclick={on_download_cipher}>{ "Download" }</button>
                        <button data-testid="decrypt-button" onclick={dispatch.reform(|_| CryptoAction::Decrypt)}
                            title="Decrypt into the box below: what it holds, checked against the pushes, secrets hidden">{ "Decrypt ↓" }</button>
                    </div>
                </div>
            </div>
            if let Some((ok, m)) = &state.message {
                <p class={if *ok { "msg ok" } else { "msg bad" }} data-testid="crypto-message">{ m }</p>
            }
            if let Some(d) = &state.decrypted {
                <DecryptedView decrypted={d.clone()} plan={props.plan.clone()} on_toggle={dispatch.reform(|_| CryptoAction::ToggleSecrets)} />
            }
            <RekeyFiles old_key={AttrValue::from(state.key.clone())} />
        </section>
    }
}
