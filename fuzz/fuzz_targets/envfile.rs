//! `KEY=VALUE` env files (`env_file`, and `encrypted_env_file` after decryption). Besides
//! not panicking, whatever parses has valid names, and parsing is linear: libFuzzer's
//! `-timeout` catches an input that takes seconds.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use slipway_core::envfile::parse;

fuzz_target!(init: slipway_fuzz::init(), |data: &[u8]| -> Corpus { slipway_fuzz::run(|| one(data)) });

fn one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(vars) = parse(&text) {
        for (key, _) in &vars {
            let valid = key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            assert!(!key.is_empty() && valid && !key.starts_with(|c: char| c.is_ascii_digit()), "bad name {key:?}");
        }
    }
}
