//! Slipway's studio: a thin Yew view over `slipway-core`, compiled to WebAssembly.

mod app;
mod bench;
mod components;
mod hooks;
mod language;
mod run_log;
mod server_api;
mod state;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
