//! The rules' golden tests. Every folder under `fixtures/rules/` that holds a
//! `codeship-services.yml` is one case: its two files are checked, and the rendered text (what
//! `slipway validate` prints: messages, positions, carets and help) must equal the folder's
//! `expected.snap` (insta; `INSTA_UPDATE=always` or `cargo insta review` to accept a change).
//!
//! - `SWnnn-name/…` triggers that code (other findings may come along). Its `example/` is the
//!   example `slipway explain SWnnn` shows and triggers nothing else (but what [`COMES_WITH`]
//!   lists); `fixed/` is the fix and triggers nothing at all. Each finding's severity must be
//!   the code's ([`WARNINGS`]). Every code has such a folder, except those in [`NOT_FROM_FILES`].
//! - `clean/…` are shapes real projects use, which Codeship ran: no diagnostics.
//! - `render/…` pin the rendering of several findings together.
//!
//! Each folder is its own `#[test]` (listed in `cases!` below, which `every_folder_is_listed`
//! keeps in step with the disk), so a run reports every failing folder by name. The files are
//! embedded with `include_str!`, so the same cases run compiled to wasm32 in the browser too
//! (there without the snapshot comparison, as insta needs the file system).

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use slipway_core::{Code, Report, Severity, SourceFile, check};

const SV: &str = "codeship-services.yml";
const ST: &str = "codeship-steps.yml";

/// Codes no folder can show, and why.
const NOT_FROM_FILES: &[(Code, &str)] = &[
    (Code::InputTooLarge, "needs a file over 1 MiB; `input_too_large` below generates one instead of committing it"),
    (Code::ExportInexact, "a finding of `slipway export`, not of `check`; server/tests/export.rs tests it"),
    (Code::ExportJobFails, "a finding of `slipway export`, not of `check`; server/tests/export.rs tests it"),
];

/// Findings that necessarily come with a code's example, and why.
const COMES_WITH: &[(Code, Code, &str)] =
    &[(Code::EmptyFile, Code::UnknownService, "with no services defined, every step names an unknown one")];

/// Codes that are warnings (the pipeline still runs); every other code is an error.
const WARNINGS: &[Code] = &[
    Code::UnknownKey,
    Code::IgnoredKey,
    Code::UnsupportedKey,
    Code::DeprecatedKey,
    Code::AbsoluteHostVolume,
    Code::NotApplied,
    Code::DuplicateStepName,
    Code::PushWithoutBuild,
    Code::BothDockercfg,
    Code::UnexpandedVariable,
    Code::DuplicateKey,
];

/// What a folder's place in the tree promises about its findings.
#[derive(Debug, PartialEq)]
enum Expect {
    /// `SWnnn-name/CASE/`: at least one finding with the code.
    Triggers(Code),
    /// `SWnnn-name/example/`: findings with the code and no other.
    Only(Code),
    /// `SWnnn-name/fixed/` and `clean/…`: nothing at all.
    Clean,
    /// `render/…`: whatever the snapshot shows.
    Rendered,
}

/// The code a `SWnnn-name` folder is named after (`None` when no code has that name).
fn code_of_folder(folder: &str) -> Option<Code> {
    Code::ALL.iter().copied().find(|c| folder == format!("{}-{}", c.as_str(), c.name()))
}

fn expectation(dir: &str) -> Expect {
    let (top, case) = dir.split_once('/').unwrap_or((dir, ""));
    match top {
        "clean" => Expect::Clean,
        "render" => Expect::Rendered,
        _ => {
            let code = code_of_folder(top).unwrap_or_else(|| panic!("`{top}` is not `SWnnn-name` of a code"));
            match case {
                "example" => Expect::Only(code),
                "fixed" => Expect::Clean,
                _ => Expect::Triggers(code),
            }
        }
    }
}

fn summary(r: &Report) -> String {
    let lines: Vec<String> = r
        .diagnostics
        .iter()
        .map(|d| format!("  {} {}:{}:{} {}", d.code, d.file, d.line, d.column, d.message))
        .collect();
    lines.join("\n")
}

/// Checks one folder's files against what its place promises, then (natively) its snapshot.
fn run_case(dir: &str, services: &str, steps_name: &str, steps: &str) {
    let (sv, st) = (SourceFile::new(SV, services), SourceFile::new(steps_name, steps));
    let report = check(&sv, &st).report;
    let found = summary(&report);
    match expectation(dir) {
        Expect::Triggers(code) => {
            assert!(report.diagnostics.iter().any(|d| d.code == code), "{dir}: want {code}, got\n{found}")
        }
        Expect::Only(code) => {
            let expected = |c: Code| c == code || COMES_WITH.iter().any(|(a, b, _)| (*a, *b) == (code, c));
            assert!(
                report.diagnostics.iter().any(|d| d.code == code)
                    && report.diagnostics.iter().all(|d| expected(d.code)),
                "{dir}: want {code} and nothing else, got\n{found}"
            )
        }
        Expect::Clean => assert!(report.diagnostics.is_empty(), "{dir}: want no diagnostics, got\n{found}"),
        Expect::Rendered => {}
    }
    for d in &report.diagnostics {
        let want = if WARNINGS.contains(&d.code) { Severity::Warning } else { Severity::Error };
        assert_eq!(d.severity, want, "{dir}: {} {}:{}", d.code, d.line, d.column);
    }
    #[cfg(not(target_arch = "wasm32"))]
    assert_rendered(dir, &report.render_text(&[&sv, &st]));
}

/// The rendered text against `fixtures/rules/DIR/expected.snap`.
#[cfg(not(target_arch = "wasm32"))]
fn assert_rendered(dir: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(format!("fixtures/rules/{dir}"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(dir);
    settings.bind(|| insta::assert_snapshot!("expected", text));
}

macro_rules! steps_name {
    () => {
        "codeship-steps.yml"
    };
    ($name:literal) => {
        $name
    };
}

/// One test per folder: `name: "DIR"`, or `name: "DIR", steps = "codeship-steps.json"` for a
/// steps file with another name.
macro_rules! cases {
    ($( $test:ident: $dir:literal $(, steps = $steps:literal)?; )*) => {
        $(
            #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
            #[cfg_attr(not(target_arch = "wasm32"), test)]
            fn $test() {
                run_case(
                    $dir,
                    include_str!(concat!("fixtures/rules/", $dir, "/codeship-services.yml")),
                    steps_name!($($steps)?),
                    include_str!(concat!("fixtures/rules/", $dir, "/", steps_name!($($steps)?))),
                );
            }
        )*
        /// Every listed folder.
        const FOLDERS: &[&str] = &[$($dir),*];
    };
}

cases! {
    sw001_yaml_syntax_services_unclosed_bracket: "SW001-yaml-syntax/services-unclosed-bracket";
    sw001_yaml_syntax_steps_indentation: "SW001-yaml-syntax/steps-indentation";
    sw001_yaml_syntax_steps_joined_lines: "SW001-yaml-syntax/steps-joined-lines";
    sw001_yaml_syntax_steps_list_item_indented: "SW001-yaml-syntax/steps-list-item-indented";
    sw001_yaml_syntax_steps_tab: "SW001-yaml-syntax/steps-tab";
    sw004_wrong_type_boolean: "SW004-wrong-type/boolean";
    sw005_unknown_key_misspelled: "SW005-unknown-key/misspelled";
    sw006_ignored_key_container_name: "SW006-ignored-key/container-name";
    sw007_unsupported_key_ports: "SW007-unsupported-key/ports";
    sw008_deprecated_key_build_path: "SW008-deprecated-key/build-path";
    sw101_service_without_image_command_only: "SW101-service-without-image/command-only";
    sw102_unknown_service_links: "SW102-unknown-service/links";
    sw102_unknown_service_step_service: "SW102-unknown-service/step-service";
    sw103_dependency_cycle_depends_on_and_links: "SW103-dependency-cycle/depends-on-and-links";
    sw104_absolute_host_volume_srv_data: "SW104-absolute-host-volume/srv-data";
    sw105_invalid_volume_escapes_project: "SW105-invalid-volume/escapes-project";
    sw106_empty_file_comment_only: "SW106-empty-file/comment-only";
    sw107_not_applied_unreadable_size: "SW107-not-applied/unreadable-size";
    sw107_not_applied_cpus_and_quota: "SW107-not-applied/cpus-and-quota";
    sw201_duplicate_step_name_siblings: "SW201-duplicate-step-name/siblings";
    sw201_duplicate_step_name_siblings_in_a_group: "SW201-duplicate-step-name/siblings-in-a-group";
    sw202_service_and_services_parallel_group: "SW202-service-and-services/parallel-group";
    sw203_service_on_group_and_step_serial_group: "SW203-service-on-group-and-step/serial-group";
    sw204_run_without_command_named_step: "SW204-run-without-command/named-step";
    sw205_push_without_image_name_push: "SW205-push-without-image-name/push";
    sw206_push_without_build_pulled_image: "SW206-push-without-build/pulled-image";
    sw206_push_without_build_through_the_group_service: "SW206-push-without-build/through-the-group-service";
    sw216_invalid_image_name_upper_case: "SW216-invalid-image-name/upper-case";
    sw216_invalid_image_name_upper_case_quoted: "SW216-invalid-image-name/upper-case-quoted";
    sw216_invalid_image_name_space: "SW216-invalid-image-name/space";
    sw217_image_name_with_tag_tag: "SW217-image-name-with-tag/tag";
    sw217_image_name_with_tag_registry_port_and_tag: "SW217-image-name-with-tag/registry-port-and-tag";
    sw217_image_name_with_tag_digest: "SW217-image-name-with-tag/digest";
    sw218_unexpanded_variable_double_quoted_argument: "SW218-unexpanded-variable/double-quoted-argument";
    sw218_unexpanded_variable_braced_in_a_quoted_scalar: "SW218-unexpanded-variable/braced-in-a-quoted-scalar";
    sw218_unexpanded_variable_after_a_shell_script: "SW218-unexpanded-variable/after-a-shell-script";
    sw207_invalid_regex_unclosed_group: "SW207-invalid-regex/unclosed-group";
    sw207_invalid_regex_look_around: "SW207-invalid-regex/look-around";
    sw208_template_syntax_unclosed_action: "SW208-template-syntax/unclosed-action";
    sw209_template_unknown_variable_image_tag: "SW209-template-unknown-variable/image-tag";
    sw209_template_unknown_variable_build_arg: "SW209-template-unknown-variable/build-arg";
    sw210_manual_placement_step_after_manual: "SW210-manual-placement/step-after-manual";
    sw210_manual_placement_nested_manual: "SW210-manual-placement/nested-manual";
    sw211_step_without_service_run_step: "SW211-step-without-service/run-step";
    sw212_unknown_step_type_misspelled: "SW212-unknown-step-type/misspelled";
    sw213_empty_group_parallel: "SW213-empty-group/parallel";
    sw214_both_dockercfg_push: "SW214-both-dockercfg/push";
    sw215_empty_steps_empty_list: "SW215-empty-steps/empty-list";
    sw003_input_limits_nesting: "SW003-input-limits/nesting";
    sw102_unknown_service_json_steps: "SW102-unknown-service/json-steps", steps = "codeship-steps.json";
    render_mixed_findings: "render/mixed-findings";
    render_push_and_command_findings: "render/push-and-command-findings";
    clean_baseline: "clean/baseline";
    clean_ecr_push_without_build_image: "clean/ecr-push-without-build-image";
    clean_image_name_differs_from_build_image: "clean/image-name-differs-from-build-image";
    clean_registry_with_a_port: "clean/registry-with-a-port";
    clean_same_sub_step_names_under_two_groups: "clean/same-sub-step-names-under-two-groups";
    clean_sibling_names_for_different_branches: "clean/sibling-names-for-different-branches";
    clean_variables_a_shell_or_nobody_expands: "clean/variables-a-shell-or-nobody-expands";
    clean_an_entrypoint_shell_runs_the_first_argument: "clean/an-entrypoint-shell-runs-the-first-argument";
    clean_limits_and_host_access: "clean/limits-and-host-access";
    sw001_yaml_syntax_example: "SW001-yaml-syntax/example";
    sw001_yaml_syntax_fixed: "SW001-yaml-syntax/fixed";
    sw003_input_limits_example: "SW003-input-limits/example";
    sw003_input_limits_fixed: "SW003-input-limits/fixed";
    sw004_wrong_type_example: "SW004-wrong-type/example";
    sw004_wrong_type_fixed: "SW004-wrong-type/fixed";
    sw005_unknown_key_example: "SW005-unknown-key/example";
    sw005_unknown_key_fixed: "SW005-unknown-key/fixed";
    sw006_ignored_key_example: "SW006-ignored-key/example";
    sw006_ignored_key_fixed: "SW006-ignored-key/fixed";
    sw007_unsupported_key_example: "SW007-unsupported-key/example";
    sw007_unsupported_key_fixed: "SW007-unsupported-key/fixed";
    sw008_deprecated_key_example: "SW008-deprecated-key/example";
    sw008_deprecated_key_fixed: "SW008-deprecated-key/fixed";
    sw101_service_without_image_example: "SW101-service-without-image/example";
    sw101_service_without_image_fixed: "SW101-service-without-image/fixed";
    sw102_unknown_service_example: "SW102-unknown-service/example";
    sw102_unknown_service_fixed: "SW102-unknown-service/fixed";
    sw103_dependency_cycle_example: "SW103-dependency-cycle/example";
    sw103_dependency_cycle_fixed: "SW103-dependency-cycle/fixed";
    sw104_absolute_host_volume_example: "SW104-absolute-host-volume/example";
    sw104_absolute_host_volume_fixed: "SW104-absolute-host-volume/fixed";
    sw105_invalid_volume_example: "SW105-invalid-volume/example";
    sw105_invalid_volume_fixed: "SW105-invalid-volume/fixed";
    sw106_empty_file_example: "SW106-empty-file/example";
    sw106_empty_file_fixed: "SW106-empty-file/fixed";
    sw107_not_applied_example: "SW107-not-applied/example";
    sw107_not_applied_fixed: "SW107-not-applied/fixed";
    sw201_duplicate_step_name_example: "SW201-duplicate-step-name/example";
    sw201_duplicate_step_name_fixed: "SW201-duplicate-step-name/fixed";
    sw202_service_and_services_example: "SW202-service-and-services/example";
    sw202_service_and_services_fixed: "SW202-service-and-services/fixed";
    sw203_service_on_group_and_step_example: "SW203-service-on-group-and-step/example";
    sw203_service_on_group_and_step_fixed: "SW203-service-on-group-and-step/fixed";
    sw204_run_without_command_example: "SW204-run-without-command/example";
    sw204_run_without_command_fixed: "SW204-run-without-command/fixed";
    sw205_push_without_image_name_example: "SW205-push-without-image-name/example";
    sw205_push_without_image_name_fixed: "SW205-push-without-image-name/fixed";
    sw206_push_without_build_example: "SW206-push-without-build/example";
    sw206_push_without_build_fixed: "SW206-push-without-build/fixed";
    sw207_invalid_regex_example: "SW207-invalid-regex/example";
    sw207_invalid_regex_fixed: "SW207-invalid-regex/fixed";
    sw208_template_syntax_example: "SW208-template-syntax/example";
    sw208_template_syntax_fixed: "SW208-template-syntax/fixed";
    sw209_template_unknown_variable_example: "SW209-template-unknown-variable/example";
    sw209_template_unknown_variable_fixed: "SW209-template-unknown-variable/fixed";
    sw210_manual_placement_example: "SW210-manual-placement/example";
    sw210_manual_placement_fixed: "SW210-manual-placement/fixed";
    sw211_step_without_service_example: "SW211-step-without-service/example";
    sw211_step_without_service_fixed: "SW211-step-without-service/fixed";
    sw212_unknown_step_type_example: "SW212-unknown-step-type/example";
    sw212_unknown_step_type_fixed: "SW212-unknown-step-type/fixed";
    sw213_empty_group_example: "SW213-empty-group/example";
    sw213_empty_group_fixed: "SW213-empty-group/fixed";
    sw214_both_dockercfg_example: "SW214-both-dockercfg/example";
    sw214_both_dockercfg_fixed: "SW214-both-dockercfg/fixed";
    sw215_empty_steps_example: "SW215-empty-steps/example";
    sw215_empty_steps_fixed: "SW215-empty-steps/fixed";
    sw216_invalid_image_name_example: "SW216-invalid-image-name/example";
    sw216_invalid_image_name_fixed: "SW216-invalid-image-name/fixed";
    sw217_image_name_with_tag_example: "SW217-image-name-with-tag/example";
    sw217_image_name_with_tag_fixed: "SW217-image-name-with-tag/fixed";
    sw218_unexpanded_variable_example: "SW218-unexpanded-variable/example";
    sw218_unexpanded_variable_fixed: "SW218-unexpanded-variable/fixed";
    sw009_duplicate_key_example: "SW009-duplicate-key/example";
    sw009_duplicate_key_fixed: "SW009-duplicate-key/fixed";
    sw009_duplicate_key_services_file: "SW009-duplicate-key/services-file";
    sw009_duplicate_key_in_a_flow_mapping: "SW009-duplicate-key/in-a-flow-mapping";
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_code_has_a_folder_with_an_example_and_its_fix() {
    let mut missing = Vec::new();
    for &code in Code::ALL {
        if NOT_FROM_FILES.iter().any(|(c, _)| *c == code) {
            continue;
        }
        let folder = format!("{}-{}", code.as_str(), code.name());
        for case in ["example", "fixed"] {
            let dir = format!("{folder}/{case}");
            if !FOLDERS.contains(&dir.as_str()) {
                missing.push(dir);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "codes without a golden folder (add them under fixtures/rules/):\n{}",
        missing.join("\n")
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_folder_names_a_code_or_a_group() {
    for dir in FOLDERS {
        expectation(dir);
    }
}

/// The list in `cases!` and the folders on disk agree, so a new folder cannot be skipped.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn every_folder_is_listed() {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.file_name().is_some_and(|n| n == SV) {
                out.push(path.parent().unwrap().strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let mut on_disk = Vec::new();
    walk(&root, &root, &mut on_disk);
    let unlisted: Vec<_> = on_disk.iter().filter(|d| !FOLDERS.contains(&d.as_str())).collect();
    assert!(unlisted.is_empty(), "folders missing from `cases!` in core/tests/rules.rs: {unlisted:?}");
    assert_eq!(on_disk.len(), FOLDERS.len(), "a folder is listed twice");
}

/// What `slipway explain` shows can't rot: each code's example triggers that code (and what
/// `COMES_WITH` lists) and nothing else, and its fix triggers nothing.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_explained_example_triggers_exactly_its_code_and_the_fix_nothing() {
    let mut failures = Vec::new();
    for &code in Code::ALL {
        let Some(ex) = code.example() else {
            if !NOT_FROM_FILES.iter().any(|(c, _)| *c == code) {
                failures.push(format!("{code}: no example"));
            }
            continue;
        };
        let found = check(&SourceFile::new(SV, ex.services), &SourceFile::new(ST, ex.steps)).report;
        let expected = |c: Code| c == code || COMES_WITH.iter().any(|(a, b, _)| (*a, *b) == (code, c));
        if !found.diagnostics.iter().any(|d| d.code == code) || !found.diagnostics.iter().all(|d| expected(d.code)) {
            failures.push(format!("{code}: the example gives\n{}", summary(&found)));
        }
        let fixed = check(&SourceFile::new(SV, ex.fixed_services), &SourceFile::new(ST, ex.fixed_steps)).report;
        if !fixed.diagnostics.is_empty() {
            failures.push(format!("{code}: the fix gives\n{}", summary(&fixed)));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// SW002 needs an input over 1 MiB, made here rather than committed.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn input_too_large() {
    let services = include_str!("fixtures/rules/clean/baseline/codeship-services.yml");
    let steps = format!("# {}\n", "x".repeat(1024 * 1024));
    let r = check(&SourceFile::new(SV, services), &SourceFile::new(ST, steps)).report;
    let d = r.diagnostics.iter().find(|d| d.code == Code::InputTooLarge).expect("SW002");
    assert_eq!((d.severity, d.file.as_str(), d.line, d.column), (Severity::Error, ST, 1, 1), "{}", summary(&r));
}

/// The JSON form of the same findings `render/mixed-findings` shows as text.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn json_output() {
    let services = include_str!("fixtures/rules/render/mixed-findings/codeship-services.yml");
    let steps = include_str!("fixtures/rules/render/mixed-findings/codeship-steps.yml");
    let r = check(&SourceFile::new(SV, services), &SourceFile::new(ST, steps)).report;
    insta::assert_snapshot!("json", r.to_json());
}
