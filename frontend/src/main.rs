//! Slipway's studio: a thin Yew view over `slipway-core`, compiled to WebAssembly. The same
//! module runs in the page and in its analysis worker ([`analyst`]).

mod analyst;
mod app;
mod bench;
mod components;
mod hooks;
mod language;
mod run_log;
mod server_api;
mod state;

fn main() {
    // In the analysis worker there is no page to render: it only calls `analyst::Analyst`.
    if web_sys::window().is_some() {
        yew::Renderer::<app::App>::new().render();
    }
}
