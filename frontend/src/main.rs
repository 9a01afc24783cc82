//! Slipway's studio: a thin Yew view over `slipway-core`, compiled to WebAssembly. The same
//! module runs in the page and in its analysis worker ([`analyst`]).

mod analyst;
mod app;
mod bench;
mod components;
mod hooks;
mod language;
mod project;
mod run_log;
mod server_api;
mod state;
mod token_share;
mod wire;

// Talc instead of Rust's default wasm allocator (dlmalloc): 3.3 KB gzip smaller, the
// 5,000-step check ~4% slower (docs/perf.md, "Bundle under the goal").
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {
    // In the analysis worker there is no page to render: it only calls `analyst::Analyst`.
    if web_sys::window().is_some() {
        yew::Renderer::<app::App>::new().render();
    }
}
