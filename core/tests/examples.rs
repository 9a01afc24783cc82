//! Every one of Codeship's own example projects validates with no errors, and so do the
//! fixtures shaped like real projects (`fixtures/real/`) that Codeship ran.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use slipway_core::{SourceFile, check};

/// Every example, compiled in so this also runs in the browser (wasm32).
fn examples() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "00.aggregate",
            include_str!("fixtures/examples/00.aggregate/codeship-services.yml"),
            include_str!("fixtures/examples/00.aggregate/codeship-steps.yml"),
        ),
        (
            "01.dockerfile",
            include_str!("fixtures/examples/01.dockerfile/codeship-services.yml"),
            include_str!("fixtures/examples/01.dockerfile/codeship-steps.yml"),
        ),
        (
            "02.redis",
            include_str!("fixtures/examples/02.redis/codeship-services.yml"),
            include_str!("fixtures/examples/02.redis/codeship-steps.yml"),
        ),
        (
            "03.redis-postgres",
            include_str!("fixtures/examples/03.redis-postgres/codeship-services.yml"),
            include_str!("fixtures/examples/03.redis-postgres/codeship-steps.yml"),
        ),
        (
            "04.parallelised",
            include_str!("fixtures/examples/04.parallelised/codeship-services.yml"),
            include_str!("fixtures/examples/04.parallelised/codeship-steps.yml"),
        ),
        (
            "05.matrix",
            include_str!("fixtures/examples/05.matrix/codeship-services.yml"),
            include_str!("fixtures/examples/05.matrix/codeship-steps.yml"),
        ),
        (
            "06.matrix-complex",
            include_str!("fixtures/examples/06.matrix-complex/codeship-services.yml"),
            include_str!("fixtures/examples/06.matrix-complex/codeship-steps.yml"),
        ),
        (
            "07.volumes",
            include_str!("fixtures/examples/07.volumes/codeship-services.yml"),
            include_str!("fixtures/examples/07.volumes/codeship-steps.yml"),
        ),
        (
            "08.deployment-container",
            include_str!("fixtures/examples/08.deployment-container/codeship-services.yml"),
            include_str!("fixtures/examples/08.deployment-container/codeship-steps.yml"),
        ),
        (
            "09.branch-only",
            include_str!("fixtures/examples/09.branch-only/codeship-services.yml"),
            include_str!("fixtures/examples/09.branch-only/codeship-steps.yml"),
        ),
        (
            "10.lots-of-parallel",
            include_str!("fixtures/examples/10.lots-of-parallel/codeship-services.yml"),
            include_str!("fixtures/examples/10.lots-of-parallel/codeship-steps.yml"),
        ),
        (
            "11.encrypted-aes",
            include_str!("fixtures/examples/11.encrypted-aes/codeship-services.yml"),
            include_str!("fixtures/examples/11.encrypted-aes/codeship-steps.yml"),
        ),
        (
            "14.add_docker",
            include_str!("fixtures/examples/14.add_docker/codeship-services.yml"),
            include_str!("fixtures/examples/14.add_docker/codeship-steps.yml"),
        ),
        (
            "15.parallel-output-to-volume",
            include_str!("fixtures/examples/15.parallel-output-to-volume/codeship-services.yml"),
            include_str!("fixtures/examples/15.parallel-output-to-volume/codeship-steps.yml"),
        ),
        (
            "16.docker_push",
            include_str!("fixtures/examples/16.docker_push/codeship-services.yml"),
            include_str!("fixtures/examples/16.docker_push/codeship-steps.yml"),
        ),
        (
            "18.load-balancer",
            include_str!("fixtures/examples/18.load-balancer/codeship-services.yml"),
            include_str!("fixtures/examples/18.load-balancer/codeship-steps.yml"),
        ),
        (
            "19.dockercfg-service",
            include_str!("fixtures/examples/19.dockercfg-service/codeship-services.yml"),
            include_str!("fixtures/examples/19.dockercfg-service/codeship-steps.yml"),
        ),
        (
            "20.build-args",
            include_str!("fixtures/examples/20.build-args/codeship-services.yml"),
            include_str!("fixtures/examples/20.build-args/codeship-steps.yml"),
        ),
        (
            "22.working_dir",
            include_str!("fixtures/examples/22.working_dir/codeship-services.yml"),
            include_str!("fixtures/examples/22.working_dir/codeship-steps.yml"),
        ),
        (
            "23.depends_on",
            include_str!("fixtures/examples/23.depends_on/codeship-services.yml"),
            include_str!("fixtures/examples/23.depends_on/codeship-steps.yml"),
        ),
        (
            "24.healthchecks",
            include_str!("fixtures/examples/24.healthchecks/codeship-services.yml"),
            include_str!("fixtures/examples/24.healthchecks/codeship-steps.yml"),
        ),
    ]
}

/// Shapes seen in real projects: an ECR push from a service without `build.image` (and one
/// whose `build.image` differs from `image_name`), sub-step names repeated under two groups.
fn real_shapes() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "real/ecr-push",
            include_str!("fixtures/real/ecr-push/codeship-services.yml"),
            include_str!("fixtures/real/ecr-push/codeship-steps.yml"),
        ),
        (
            "real/repeated-step-names",
            include_str!("fixtures/real/repeated-step-names/codeship-services.yml"),
            include_str!("fixtures/real/repeated-step-names/codeship-steps.yml"),
        ),
    ]
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn all_examples_have_no_errors() {
    let all = examples();
    assert!(all.len() >= 20, "examples missing");
    assert_no_errors(all);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn real_shapes_have_no_diagnostics() {
    for (dir, services, steps) in real_shapes() {
        let services = SourceFile::new("codeship-services.yml", services);
        let steps = SourceFile::new("codeship-steps.yml", steps);
        let report = check(&services, &steps).report;
        assert!(report.diagnostics.is_empty(), "== {dir}\n{}", report.render_text(&[&services, &steps]));
    }
}

fn assert_no_errors(all: Vec<(&str, &str, &str)>) {
    let mut failures = String::new();
    for (dir, services, steps) in all {
        let services = SourceFile::new("codeship-services.yml", services);
        let steps = SourceFile::new("codeship-steps.yml", steps);
        let checked = check(&services, &steps);
        if checked.report.has_errors() {
            failures.push_str(&format!("== {dir}\n{}", checked.report.render_text(&[&services, &steps])));
        }
        assert!(!checked.services.services.is_empty() && !checked.steps.steps.is_empty(), "{dir}");
    }
    assert!(failures.is_empty(), "{failures}");
}
