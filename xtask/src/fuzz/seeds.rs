//! The seed corpus, made afresh before each run from what the repository already holds, so
//! nothing is committed twice and new fixtures become seeds by themselves:
//!
//! - `check`: every fixture folder with a `codeship-services.yml` (Codeship's examples, in
//!   `core/tests/fixtures/` and `../shared/examples/`), as `services NUL steps`; and every YAML
//!   string literal of `core/tests/rules.rs`, paired with that file's clean baseline.
//! - `reparse`: every fixture steps file, followed by a few edits (typing in its middle, a
//!   new item, a deletion across lines, an empty block scalar, a lone CR).
//! - `template`: the Go conformance cases (`core/tests/fixtures/templates/cases.json`), the
//!   templated values of those YAML files, and the time-formatting cases again at extreme
//!   timestamps.
//! - `decrypt`: every file of the encryption vectors (jet's real v1 file, v2 vectors, the
//!   negative ones, keys and plaintexts).
//! - `dockercfg` and `envfile`: the vectors' plaintext dockercfgs and env files, and the
//!   string literals of the parser's unit tests.

use crate::{Result, root};
use std::path::{Path, PathBuf};

/// Write `target`'s seeds into `dir` (emptied first), named by a hash of their content so
/// duplicates collapse; returns how many were written.
pub fn write(target: &str, dir: &Path) -> Result<usize> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot empty {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let seeds = match target {
        "check" => check()?,
        "reparse" => reparse()?,
        "template" => template()?,
        "decrypt" => files(&vector_files()?),
        "dockercfg" => plain_vectors_and_tests("dockercfg", "core/src/dockercfg.rs", "{")?,
        "envfile" => plain_vectors_and_tests("env", "core/src/envfile.rs", "=")?,
        other => return Err(format!("no seeds for unknown fuzz target `{other}`")),
    };
    if seeds.is_empty() {
        return Err(format!("no seeds found for `{target}`: have the fixtures moved?"));
    }
    let mut names = std::collections::BTreeSet::new();
    for seed in &seeds {
        let name = format!("seed-{:016x}", fnv1a(seed));
        if names.insert(name.clone()) {
            let path = dir.join(&name);
            std::fs::write(&path, seed).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(names.len())
}

/// The fixture trees: the repository's copies and, when present beside the repository, the
/// shared originals (CI has them too).
fn fixture_roots() -> Vec<PathBuf> {
    let shared = root().join("../shared");
    [root().join("core/tests/fixtures"), shared.join("examples"), shared.join("vectors")]
        .into_iter()
        .filter(|p| p.is_dir())
        .collect()
}

/// Every file under `dir`, sorted so the seeds are the same on every machine.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn all_files() -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in fixture_roots() {
        walk(&dir, &mut out)?;
    }
    Ok(out)
}

/// The files of the encryption vectors (any folder named `vectors`).
fn vector_files() -> Result<Vec<PathBuf>> {
    Ok(all_files()?.into_iter().filter(|p| p.components().any(|c| c.as_os_str() == "vectors")).collect())
}

/// A plaintext vector whose file name contains `what` (`env`, `dockercfg`), or jet's
/// `environment` files for `env`.
fn is_plain(path: &Path, what: &str) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.contains(what) && !name.ends_with(".encrypted") && !name.ends_with(".md")
}

/// The plaintext vectors named like `what`, and the string literals containing `marker` in
/// the parser's own unit tests (`module`).
fn plain_vectors_and_tests(what: &str, module: &str, marker: &str) -> Result<Vec<Vec<u8>>> {
    let mut seeds = files(&vector_files()?.into_iter().filter(|p| is_plain(p, what)).collect::<Vec<_>>());
    let src = std::fs::read_to_string(root().join(module)).unwrap_or_default();
    let tests = src.find("#[cfg(test)]").map_or("", |at| &src[at..]);
    seeds.extend(string_literals(tests).into_iter().filter(|s| s.contains(marker)).map(String::into_bytes));
    Ok(seeds)
}

fn files(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// `services NUL steps` for each fixture folder, then the rule fixtures.
fn check() -> Result<Vec<Vec<u8>>> {
    let mut seeds = Vec::new();
    for path in all_files()? {
        if path.file_name().is_some_and(|n| n == "codeship-services.yml") {
            let dir = path.parent().expect("a file has a folder");
            let steps = ["codeship-steps.yml", "codeship-steps.json"].iter().map(|n| dir.join(n)).find(|p| p.exists());
            let services = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let steps = steps.and_then(|p| std::fs::read(p).ok()).unwrap_or_default();
            seeds.push(pair(&services, &steps));
        }
    }
    seeds.extend(rule_fixtures()?.into_iter().map(|(services, steps)| pair(services.as_bytes(), steps.as_bytes())));
    Ok(seeds)
}

/// Each steps file, then edits as the `reparse` target reads them (NUL, position as two
/// little-endian bytes, bytes to delete, text to insert).
fn reparse() -> Result<Vec<Vec<u8>>> {
    let mut seeds = Vec::new();
    for path in all_files()? {
        if path.file_name().is_some_and(|n| n == "codeship-steps.yml") {
            let text = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let [lo, hi] = ((text.len() / 2) as u16).to_le_bytes();
            let mut seed = text.clone();
            for edit in [
                &[lo, hi, 0, b'x'][..],
                &[lo, hi, 0, b'\n', b'-', b' ', b'a'],
                &[lo, hi, 12],
                &[lo, hi, 1, b'"'],
                &[lo, hi, 0, b':', b' ', b'|', b'\n'],
                &[lo, hi, 0, b'\r'],
            ] {
                seed.push(0);
                seed.extend_from_slice(edit);
            }
            seeds.push(seed);
        }
    }
    Ok(seeds)
}

fn pair(services: &[u8], steps: &[u8]) -> Vec<u8> {
    [services, b"\0", steps].concat()
}

/// The YAML literals of `core/tests/rules.rs` as (services, steps) pairs: a literal whose
/// first line is a list item is a steps file, any other multi-line literal a services file;
/// each is paired with the first literal of the other kind (the file's clean baseline).
fn rule_fixtures() -> Result<Vec<(String, String)>> {
    let path = root().join("core/tests/rules.rs");
    let Ok(src) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
    let yaml: Vec<String> =
        string_literals(&src).into_iter().filter(|s| s.contains(":\n") || s.ends_with('\n')).collect();
    let is_steps = |s: &String| s.trim_start().starts_with(['-', '[']);
    let (steps, services): (Vec<String>, Vec<String>) = yaml.into_iter().partition(is_steps);
    let (Some(base_services), Some(base_steps)) = (services.first().cloned(), steps.first().cloned()) else {
        return Ok(Vec::new());
    };
    let mut pairs: Vec<(String, String)> = services.into_iter().map(|s| (s, base_steps.clone())).collect();
    pairs.extend(steps.into_iter().map(|s| (base_services.clone(), s)));
    Ok(pairs)
}

/// The values of the string literals in Rust source `src` (escapes and line continuations
/// decoded, raw strings as written); comments, char literals and lifetimes are skipped.
/// Enough for test files.
fn string_literals(src: &str) -> Vec<String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => {
                i += chars[i..].iter().position(|c| *c == '\n').unwrap_or(chars.len() - i);
            }
            // A char literal such as '"' must not open a string; a lifetime has no closing quote.
            '\'' => {
                i += if chars.get(i + 1) == Some(&'\\') { 3 } else { 2 };
                if chars.get(i) == Some(&'\'') {
                    i += 1;
                }
                continue;
            }
            'r' if matches!(chars.get(i + 1), Some('#' | '"')) => {
                let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
                if chars.get(i + 1 + hashes) == Some(&'"') {
                    let (value, next) = raw_literal(&chars, i + 2 + hashes, hashes);
                    out.push(value);
                    i = next;
                    continue;
                }
            }
            '"' => {
                let (value, next) = string_literal(&chars, i + 1);
                out.push(value);
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// An ordinary literal's value from `start` (after its opening quote); returns it and the
/// index after its closing quote.
fn string_literal(chars: &[char], start: usize) -> (String, usize) {
    let mut s = String::new();
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '"' => break,
            '\\' => {
                let Some(&e) = chars.get(i) else { break };
                i += 1;
                match e {
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    '0' => s.push('\0'),
                    '\n' => i += chars[i..].iter().take_while(|c| c.is_whitespace()).count(),
                    other => s.push(other),
                }
            }
            c => s.push(c),
        }
    }
    (s, i)
}

/// A raw literal's value from `start` up to `"` and `hashes` `#`s.
fn raw_literal(chars: &[char], start: usize, hashes: usize) -> (String, usize) {
    let mut i = start;
    while i < chars.len() {
        if chars[i] == '"' && chars[i + 1..].iter().take(hashes).filter(|c| **c == '#').count() == hashes {
            return (chars[start..i].iter().collect(), i + 1 + hashes);
        }
        i += 1;
    }
    (chars[start..].iter().collect(), chars.len())
}

/// The conformance cases, templated YAML values, and the time cases at extreme timestamps
/// (`template NUL branch NUL timestamp`, as the target reads its input).
fn template() -> Result<Vec<Vec<u8>>> {
    let path = root().join("core/tests/fixtures/templates/cases.json");
    let json = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cases = conformance_cases(&json)
        .ok_or_else(|| format!("{} is not a JSON array of templates or {{template, timestamp}}", path.display()))?;
    let mut seeds: Vec<Vec<u8>> = cases.iter().map(|c| c.as_bytes().to_vec()).collect();
    for case in cases.iter().filter(|c| !c.contains('\0') && (c.contains(".Time") || c.contains(".Timestamp"))) {
        for t in [i64::MIN, -62_135_596_801, -1, 0, 253_402_300_800, i64::MAX] {
            seeds.push(format!("{case}\0release/1.2\0{t}").into_bytes());
        }
    }
    for yaml in check()? {
        let text = String::from_utf8_lossy(&yaml).into_owned();
        seeds.extend(text.lines().filter_map(templated_value).map(String::into_bytes));
    }
    Ok(seeds)
}

/// The value of a `key: value` line that contains a template, without its quotes.
fn templated_value(line: &str) -> Option<String> {
    let (_, value) = line.split_once(": ")?;
    let value = value.trim();
    let value = value.strip_prefix(['"', '\'']).and_then(|v| v.strip_suffix(['"', '\''])).unwrap_or(value);
    value.contains("{{").then(|| value.to_string())
}

/// A JSON array of strings, decoded (the escapes JSON has, surrogate pairs included).
/// The cases of the conformance table: a template, or `{"template", "timestamp"}` for a case
/// that sets its own build time (as the target reads it: `template NUL branch NUL timestamp`).
fn conformance_cases(json: &str) -> Option<Vec<String>> {
    let cases: Vec<serde_json::Value> = serde_json::from_str(json).ok()?;
    cases
        .iter()
        .map(|c| match c {
            serde_json::Value::String(t) => Some(t.clone()),
            serde_json::Value::Object(o) => {
                let t = o.get("template")?.as_str()?;
                Some(match o.get("timestamp").and_then(serde_json::Value::as_i64) {
                    Some(ts) => format!("{t}\0release/1.2\0{ts}"),
                    None => t.to_string(),
                })
            }
            _ => None,
        })
        .collect()
}

/// FNV-1a, 64 bits: a stable name for a seed's content.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}
