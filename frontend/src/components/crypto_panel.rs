//! Encrypt and decrypt in the page. The key and the plaintext never leave it: nothing here
//! makes a request, and the page's Content-Security-Policy only allows its own origin.

use super::files::{download, file_list, read_files};
use crate::state::SharedPlan;
use slipway_core::crypto::{self, Format, Key, KeyError};
use slipway_core::dockercfg::DockerCfg;
use slipway_core::inspect::{Contents, inspect, push_registries_covered, redacted};
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

    html! {
        <section class="crypto">
            <header>{ "Encrypt / decrypt (in this page only)" }</header>
            <div class="row">
                <label class="grow">{ "Project key (codeship.aes) " }{ key_status }
                    <textarea class="short" data-testid="key-input" spellcheck="false" autocomplete="off"
                        value={(*key).clone()} oninput={text_input(key.clone())} />
                </label>
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
                        <button data-testid="decrypt-button" onclick={on_decrypt}>{ "← Decrypt" }</button>
                    </div>
                </div>
            </div>
            if let Some((ok, m)) = &*message {
                <p class={if *ok { "msg ok" } else { "msg bad" }} data-testid="crypto-message">{ m }</p>
            }
            { decrypted_view }
        </section>
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
