//! Measurement hooks for the performance figures in docs/perf.md, called from headless
//! Chromium by the studio benchmark (`window.wasmBindings.bench_*`). They time the same core
//! calls the studio makes, with the browser's clock.

use slipway_core::crypto::{self, Format, Key};
use slipway_core::{SourceFile, check};
use wasm_bindgen::prelude::*;

fn now() -> f64 {
    gloo::utils::window().performance().map_or(0.0, |p| p.now())
}

/// `[services, steps]` of the ~5,000-step benchmark project ("large"), for the editor
/// benchmark to load; `[]` for any other name. (00.aggregate is read from the repository by
/// the benchmarks themselves: its text is not shipped in the studio's wasm.)
#[wasm_bindgen]
pub fn bench_files(which: &str) -> js_sys::Array {
    if which != "large" {
        return js_sys::Array::new();
    }
    let (services, steps) = slipway_core::synth::large_project(5000);
    [services, steps].iter().map(|s| JsValue::from_str(s)).collect()
}

/// Average milliseconds of one validation of `services` and `steps` (-1 if they have errors).
#[wasm_bindgen]
pub fn bench_validate(services: String, steps: String, iterations: u32) -> f64 {
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
