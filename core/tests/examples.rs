//! Every one of Codeship's own example projects validates with no errors.

use slipway_core::{SourceFile, check};
use std::path::PathBuf;

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/examples");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

fn load(dir: &std::path::Path, name: &str) -> SourceFile {
    SourceFile::new(name, std::fs::read_to_string(dir.join(name)).unwrap())
}

#[test]
fn all_examples_have_no_errors() {
    let dirs = examples();
    assert!(dirs.len() >= 20, "examples missing: {dirs:?}");
    let mut failures = String::new();
    for dir in &dirs {
        let services = load(dir, "codeship-services.yml");
        let steps = load(dir, "codeship-steps.yml");
        let checked = check(&services, &steps);
        if checked.report.has_errors() {
            failures.push_str(&format!("== {}\n{}", dir.display(), checked.report.render_text(&[&services, &steps])));
        }
        assert!(!checked.services.services.is_empty() && !checked.steps.steps.is_empty(), "{}", dir.display());
    }
    assert!(failures.is_empty(), "{failures}");
}
