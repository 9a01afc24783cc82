//! Every template in `fixtures/templates/cases.json` must render exactly as real Go's
//! text/template rendered it (`expected.json`, made by `tools/go-conformance`), or fail where
//! Go failed.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use slipway_core::template::{BuildVars, render};

#[derive(serde::Deserialize)]
struct Case {
    template: String,
    /// The build's Unix time, when not the usual one.
    timestamp: Option<i64>,
    output: Option<String>,
    error: Option<String>,
}

/// The same data as `Data` in tools/go-conformance/main.go.
fn vars(timestamp: Option<i64>) -> BuildVars {
    BuildVars {
        project_id: "4f1c2a".into(),
        build_id: "b-1042".into(),
        repo_name: "acme/web".into(),
        branch: "feature/JIRA-12_x".into(),
        commit_id: "0123456789abcdef0123456789abcdef01234567".into(),
        commit_message: "Fix: the \"thing\"\nsecond line".into(),
        commit_description: "v1.2.3-4-g0123".into(),
        committer_name: "Ada Lovelace".into(),
        committer_email: "ada@example.com".into(),
        committer_username: "ada".into(),
        timestamp: timestamp.unwrap_or(1_709_211_909),
        step_name: "push_web".into(),
        service_name: "web".into(),
        image_name: "registry.example.com/acme/web".into(),
        ci_name: "codeship".into(),
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn matches_go_text_template() {
    let text = include_str!("fixtures/templates/expected.json");
    let cases: Vec<Case> = serde_json::from_str(text).unwrap();
    assert!(cases.len() > 150, "conformance table looks truncated");
    let mut failures = Vec::new();
    for c in &cases {
        let ours = render(&c.template, &vars(c.timestamp));
        match (&c.output, &ours) {
            (Some(want), Ok(got)) if want == got => {}
            (None, Err(_)) => {}
            _ => failures.push(format!(
                "template {:?} (timestamp {:?})\n   go: {:?}\n  ours: {:?}",
                c.template,
                c.timestamp,
                c.output.as_ref().ok_or(c.error.as_ref()),
                ours
            )),
        }
    }
    assert!(failures.is_empty(), "{} of {} differ from Go:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
