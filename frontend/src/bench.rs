//! Measurement hooks for the performance figures in docs/perf.md, called from headless
//! Chromium by the studio benchmark (`window.wasmBindings.bench_*`). They time the same core
//! calls the studio makes, with the browser's clock.

use slipway_core::crypto::{self, Format, Key};
use slipway_core::{SourceFile, check};
use wasm_bindgen::prelude::*;

fn now() -> f64 {
    gloo::utils::window().performance().map_or(0.0, |p| p.now())
}

/// The benchmark projects: "aggregate" (00.aggregate) or "large" (~5,000 steps).
fn project(which: &str) -> (String, String) {
    match which {
        "large" => slipway_core::synth::large_project(5000),
        _ => (
            include_str!("../../core/tests/fixtures/examples/00.aggregate/codeship-services.yml").to_string(),
            include_str!("../../core/tests/fixtures/examples/00.aggregate/codeship-steps.yml").to_string(),
        ),
    }
}

/// `[services, steps]` of a benchmark project, for the editor benchmark to load.
#[wasm_bindgen]
pub fn bench_files(which: &str) -> js_sys::Array {
    let (services, steps) = project(which);
    [services, steps].iter().map(|s| JsValue::from_str(s)).collect()
}

/// Average milliseconds of one validation ("aggregate" or "large" = ~5,000 steps).
#[wasm_bindgen]
pub fn bench_validate(which: &str, iterations: u32) -> f64 {
    let (services, steps) = project(which);
    let sv = SourceFile::new("codeship-services.yml", services);
    let st = SourceFile::new("codeship-steps.yml", steps);
    let started = now();
    let mut errors = 0;
    for _ in 0..iterations.max(1) {
        errors += check(&sv, &st).report.errors;
    }
    let took = (now() - started) / f64::from(iterations.max(1));
    if errors > 0 { -1.0 } else { took }
}

/// Milliseconds to encrypt and decrypt `bytes` bytes (authenticated format).
#[wasm_bindgen]
pub fn bench_crypto(bytes: u32) -> f64 {
    let key = Key::from_bytes([7; 32]);
    let data = vec![b'x'; bytes as usize];
    let started = now();
    let enc = crypto::encrypt(&key, &data, Format::Aead, &[1; 16]).expect("encrypt");
    let (dec, _) = crypto::decrypt(&key, &enc).expect("decrypt");
    let took = now() - started;
    if dec.len() == data.len() { took } else { -1.0 }
}
