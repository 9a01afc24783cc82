//! The Go `text/template` parser and executor, as `image_tag` and build args use them: the
//! input is the template, optionally followed by a NUL and the branch name, and another NUL
//! and the build's Unix timestamp in decimal (so `.Time.Format` sees extreme times too).
//! The static check of unknown variables and the tag sanitiser run as the planner runs them.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use slipway_core::template::{BuildVars, Template, sanitize_tag};

fuzz_target!(init: slipway_fuzz::init(), |data: &[u8]| -> Corpus {
    slipway_fuzz::run(|| one(data))
});

fn one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let src = parts.next().unwrap_or_default();
    let branch = parts.next().unwrap_or("feature/x");
    let timestamp = parts.next().and_then(|t| t.trim().parse().ok()).unwrap_or(1_709_211_909);
    let Ok(template) = Template::parse(src) else { return };
    let _ = template.unknown_variables();
    let vars = BuildVars {
        project_id: "project-1".into(),
        build_id: "build-42".into(),
        repo_name: "acme/app".into(),
        branch: branch.into(),
        commit_id: "0123456789abcdef0123456789abcdef01234567".into(),
        commit_message: "Fix \"quotes\" and ünïcode\n\nbody".into(),
        committer_name: "Ada".into(),
        committer_email: "ada@example.com".into(),
        timestamp,
        step_name: "push".into(),
        service_name: "app".into(),
        image_name: "acme/app".into(),
        ci_name: "codeship".into(),
        ..BuildVars::default()
    };
    if let Ok(rendered) = template.render(&vars) {
        let _ = sanitize_tag(&rendered);
    }
}
