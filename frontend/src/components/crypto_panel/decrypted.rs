//! What a decrypted file holds: a dockercfg (secrets hidden until asked for, checked against
//! the registries the steps push to), an env file's names, text, or binary.

use super::state::Decrypted;
use crate::components::files::download;
use crate::state::SharedPlan;
use slipway_core::dockercfg::DockerCfg;
use slipway_core::inspect::{Contents, inspect, push_registries_covered, redacted};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub(super) struct DecryptedProps {
    pub decrypted: Decrypted,
    /// The current plan, to check a decrypted dockercfg against the registries pushed to.
    pub plan: Option<SharedPlan>,
    pub on_toggle: Callback<()>,
}

#[function_component(DecryptedView)]
pub(super) fn decrypted_view(p: &DecryptedProps) -> Html {
    let d = &p.decrypted;
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
        Contents::Text { lines } => (format!("text, {lines} line(s)"), String::from_utf8_lossy(&d.bytes).into_owned()),
        Contents::Binary { bytes } => (format!("binary, {bytes} bytes (download to see it)"), String::new()),
    };
    let coverage = match (&contents, &p.plan, DockerCfg::parse(&d.bytes)) {
        (Contents::Dockercfg { .. }, Some(plan), Ok(cfg)) => html! {
            <ul class="coverage">
                { for push_registries_covered(plan, &cfg).into_iter().map(|(r, ok)| html! {
                    <li class={if ok { "ok" } else { "bad" }}>
                        { if ok { format!("✓ has credentials for {r}, which the steps push to") }
                          else { format!("✗ no entry for {r}, which the steps push to") } }
                    </li>
                }) }
            </ul>
        },
        _ => html! {},
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
                    <button onclick={p.on_toggle.reform(|_| ())}>{ if d.show_secrets { "Hide secrets" } else { "Show secrets" } }</button>
                }
                <button onclick={on_download}>{ "Download plaintext" }</button>
            </div>
        </div>
    }
}
