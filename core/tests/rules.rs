//! Every rule: a fixture that triggers it at an exact line:column, and proof that every code
//! in the table is covered here. The baseline project triggers nothing.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use slipway_core::{Code, Severity, SourceFile, check};

const SERVICES: &str = "\
app:
  build:
    image: acme/app
    dockerfile: Dockerfile
  links:
    - db
db:
  image: postgres
";
const STEPS: &str = "\
- name: test
  service: app
  command: ./test.sh
- name: push
  type: push
  service: app
  image_name: acme/app
  image_tag: \"{{ .Branch }}\"
";

struct Case {
    name: &'static str,
    services: &'static str,
    steps: &'static str,
    code: Code,
    file: &'static str,
    line: u32,
    column: u32,
}

const fn case(
    name: &'static str,
    services: &'static str,
    steps: &'static str,
    code: Code,
    file: &'static str,
    line: u32,
    column: u32,
) -> Case {
    Case { name, services, steps, code, file, line, column }
}

const SV: &str = "codeship-services.yml";
const ST: &str = "codeship-steps.yml";

fn cases() -> Vec<Case> {
    vec![
        case("yaml syntax", "app:\n  image: [x\n", STEPS, Code::YamlSyntax, SV, 2, 10),
        case(
            "yaml syntax in steps",
            SERVICES,
            "- name: a\n  service: app\n   command: x\n",
            Code::YamlSyntax,
            ST,
            3,
            11,
        ),
        case(
            "wrong type",
            "app:\n  image: busybox\n  add_docker: maybe\n",
            "- service: app\n  command: x\n",
            Code::WrongType,
            SV,
            3,
            15,
        ),
        case(
            "unknown key",
            "app:\n  image: busybox\n  enviroment:\n    A: b\n",
            "- service: app\n  command: x\n",
            Code::UnknownKey,
            SV,
            3,
            3,
        ),
        case(
            "ignored key",
            "app:\n  image: busybox\n  container_name: x\n",
            "- service: app\n  command: x\n",
            Code::IgnoredKey,
            SV,
            3,
            3,
        ),
        case(
            "unsupported key",
            "app:\n  image: busybox\n  ports:\n    - 80:80\n",
            "- service: app\n  command: x\n",
            Code::UnsupportedKey,
            SV,
            3,
            3,
        ),
        case(
            "deprecated key",
            "app:\n  build:\n    path: .\n",
            "- service: app\n  command: x\n",
            Code::DeprecatedKey,
            SV,
            3,
            5,
        ),
        case(
            "no build or image",
            "app:\n  command: x\n",
            "- service: app\n  command: x\n",
            Code::NoBuildOrImage,
            SV,
            1,
            1,
        ),
        case(
            "unknown link",
            "app:\n  image: busybox\n  links:\n    - dbb\ndb:\n  image: x\n",
            "- service: app\n  command: x\n",
            Code::UnknownService,
            SV,
            4,
            7,
        ),
        case("unknown step service", SERVICES, "- service: ap\n  command: x\n", Code::UnknownService, ST, 1, 12),
        case(
            "cycle",
            "a:\n  image: x\n  depends_on: [b]\nb:\n  image: x\n  links: [a]\n",
            "- service: a\n  command: x\n",
            Code::DependencyCycle,
            SV,
            6,
            11,
        ),
        case(
            "absolute host volume",
            "app:\n  image: x\n  volumes:\n    - /srv/data:/data\n",
            "- service: app\n  command: x\n",
            Code::AbsoluteHostVolume,
            SV,
            4,
            7,
        ),
        case(
            "volume escapes project",
            "app:\n  image: x\n  volumes:\n    - ../../etc:/data\n",
            "- service: app\n  command: x\n",
            Code::InvalidVolume,
            SV,
            4,
            7,
        ),
        case("empty services", "# nothing\n", "- service: app\n  command: x\n", Code::EmptyFile, SV, 1, 1),
        case(
            "duplicate sibling step name",
            SERVICES,
            "- name: a\n  service: app\n  command: x\n- name: a\n  service: app\n  command: y\n",
            Code::DuplicateStepName,
            ST,
            4,
            9,
        ),
        case(
            "duplicate sibling step name in a group",
            SERVICES,
            "- type: serial\n  service: app\n  steps:\n    - name: a\n      command: x\n    - name: a\n      command: y\n",
            Code::DuplicateStepName,
            ST,
            6,
            13,
        ),
        case(
            "service and services",
            SERVICES,
            "- type: parallel\n  service: app\n  services: [db]\n  steps:\n    - command: x\n",
            Code::ServiceAndServices,
            ST,
            3,
            14,
        ),
        case(
            "service on group and step",
            SERVICES,
            "- type: serial\n  service: app\n  steps:\n    - service: db\n      command: x\n",
            Code::ServiceOnGroupAndStep,
            ST,
            4,
            16,
        ),
        case("run without command", SERVICES, "- name: a\n  service: app\n", Code::RunWithoutCommand, ST, 1, 3),
        case(
            "push without image_name",
            SERVICES,
            "- type: push\n  service: app\n",
            Code::PushWithoutImageName,
            ST,
            1,
            3,
        ),
        case(
            "push of a pulled image",
            SERVICES,
            "- type: push\n  service: db\n  image_name: acme/postgres\n",
            Code::PushWithoutBuild,
            ST,
            2,
            12,
        ),
        case(
            "push of a pulled image through the group's service",
            SERVICES,
            "- type: serial\n  service: db\n  steps:\n    - type: push\n      image_name: acme/postgres\n",
            Code::PushWithoutBuild,
            ST,
            2,
            12,
        ),
        case(
            "upper-case image_name",
            SERVICES,
            "- type: push\n  service: app\n  image_name: acme/Java\n",
            Code::InvalidImageName,
            ST,
            3,
            20,
        ),
        case(
            "upper-case image_name, quoted",
            SERVICES,
            "- type: push\n  service: app\n  image_name: \"quay.io/Acme/java\"\n",
            Code::InvalidImageName,
            ST,
            3,
            24,
        ),
        case(
            "image_name with a space",
            SERVICES,
            "- type: push\n  service: app\n  image_name: acme/my app\n",
            Code::InvalidImageName,
            ST,
            3,
            22,
        ),
        case(
            "image_name with a tag",
            SERVICES,
            "- type: push\n  service: app\n  image_name: acme/java:test\n",
            Code::ImageNameWithTag,
            ST,
            3,
            24,
        ),
        case(
            "image_name with a registry port and a tag",
            SERVICES,
            "- type: push\n  service: app\n  image_name: localhost:5000/a/b:t\n",
            Code::ImageNameWithTag,
            ST,
            3,
            33,
        ),
        case(
            "image_name with a digest",
            SERVICES,
            "- type: push\n  service: app\n  image_name: acme/java@sha256:0123456789abcdef0123456789abcdef\n",
            Code::ImageNameWithTag,
            ST,
            3,
            24,
        ),
        case(
            "unexpanded variable",
            SERVICES,
            "- service: app\n  command: echo \"build $CI_COMMIT_ID\"\n",
            Code::UnexpandedVariable,
            ST,
            2,
            24,
        ),
        case(
            "unexpanded variable, braced, in a quoted scalar",
            SERVICES,
            "- service: app\n  command: './deploy.sh ${TARGET}'\n",
            Code::UnexpandedVariable,
            ST,
            2,
            25,
        ),
        case(
            "unexpanded variable after a shell's script",
            SERVICES,
            "- service: app\n  command: sh -c 'echo $0' $NAME\n",
            Code::UnexpandedVariable,
            ST,
            2,
            28,
        ),
        case(
            "invalid regex",
            SERVICES,
            "- service: app\n  tag: ^(master\n  command: x\n",
            Code::InvalidRegex,
            ST,
            2,
            8,
        ),
        case(
            "look-around regex",
            SERVICES,
            "- service: app\n  exclude: ^(?!master)\n  command: x\n",
            Code::InvalidRegex,
            ST,
            2,
            12,
        ),
        case(
            "template syntax",
            SERVICES,
            "- type: push\n  service: app\n  image_name: acme/app\n  image_tag: \"v-{{ .Branch \"\n",
            Code::TemplateSyntax,
            ST,
            4,
            17,
        ),
        case(
            "template unknown variable",
            SERVICES,
            "- type: push\n  service: app\n  image_name: acme/app\n  image_tag: \"{{ .Brnch }}\"\n",
            Code::TemplateUnknownVariable,
            ST,
            4,
            18,
        ),
        case(
            "build arg unknown variable",
            "app:\n  build:\n    image: a\n    args:\n      V: '{{ .Time.Fromat \"2006\" }}'\n",
            "- service: app\n  command: x\n",
            Code::TemplateUnknownVariable,
            SV,
            5,
            14,
        ),
        case(
            "step after manual",
            SERVICES,
            "- type: manual\n  steps:\n    - service: app\n      command: deploy\n- service: app\n  command: x\n",
            Code::ManualPlacement,
            ST,
            5,
            3,
        ),
        case(
            "nested manual",
            SERVICES,
            "- type: serial\n  steps:\n    - type: manual\n      steps:\n        - service: app\n          command: x\n",
            Code::ManualPlacement,
            ST,
            3,
            7,
        ),
        case("step without service", SERVICES, "- name: a\n  command: x\n", Code::StepWithoutService, ST, 1, 3),
        case(
            "unknown step type",
            SERVICES,
            "- type: paralel\n  steps:\n    - service: app\n      command: x\n",
            Code::UnknownStepType,
            ST,
            1,
            9,
        ),
        case("empty group", SERVICES, "- type: parallel\n  steps: []\n", Code::EmptyGroup, ST, 2, 3),
        case(
            "both dockercfg",
            SERVICES,
            "- type: push\n  service: app\n  image_name: acme/app\n  encrypted_dockercfg_path: d.enc\n  dockercfg_service: db\n",
            Code::BothDockercfg,
            ST,
            4,
            29,
        ),
        case("empty steps", SERVICES, "[]\n", Code::EmptySteps, ST, 1, 1),
        case("input too large", SERVICES, "", Code::InputTooLarge, ST, 1, 1),
        case("input limits", SERVICES, "", Code::InputLimits, ST, 1, 65),
    ]
}

fn run(c: &Case) -> slipway_core::Report {
    let steps_text = match c.code {
        Code::InputTooLarge => format!("# {}\n", "x".repeat(1024 * 1024)),
        Code::InputLimits => format!("{}1{}", "[".repeat(70), "]".repeat(70)),
        _ => c.steps.to_string(),
    };
    check(&SourceFile::new(SV, c.services), &SourceFile::new(ST, steps_text)).report
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn baseline_is_clean() {
    let r = check(&SourceFile::new(SV, SERVICES), &SourceFile::new(ST, STEPS)).report;
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn each_rule_fires_at_its_position() {
    let mut failures = Vec::new();
    for c in cases() {
        let r = run(&c);
        let hit = r.diagnostics.iter().find(|d| d.code == c.code);
        match hit {
            Some(d) if d.file == c.file && (d.line, d.column) == (c.line, c.column) => {}
            _ => failures.push(format!(
                "{}: want {} at {}:{}:{}, got {:?}",
                c.name,
                c.code,
                c.file,
                c.line,
                c.column,
                r.diagnostics
                    .iter()
                    .map(|d| format!("{} {}:{}:{} {}", d.code, d.file, d.line, d.column, d.message))
                    .collect::<Vec<_>>()
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_code_has_a_case() {
    let covered: Vec<Code> = cases().iter().map(|c| c.code).collect();
    // SW5xx are `slipway export`'s findings, not rules of `check` (tested in server/tests/export.rs).
    let missing: Vec<_> = Code::ALL.iter().filter(|c| !covered.contains(c) && !c.as_str().starts_with("SW5")).collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

/// Shapes real projects use, which Codeship ran: none may give any diagnostic.
fn clean_cases() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "ECR push from a service without build.image",
            "app:\n  build: .\n",
            "- type: push\n  service: app\n  image_name: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app\n  registry: https://123456789012.dkr.ecr.us-east-1.amazonaws.com\n",
        ),
        (
            "image_name differs from build.image",
            "app:\n  build:\n    image: acme/app\n",
            "- type: push\n  service: app\n  image_name: quay.io/acme/app-release\n",
        ),
        (
            "registry with a port",
            "app:\n  build: .\n",
            "- type: push\n  service: app\n  image_name: localhost:5000/myapp\n",
        ),
        (
            "the same sub-step names under two groups",
            "app:\n  build: .\n",
            "- name: staging\n  type: serial\n  tag: develop\n  steps:\n    - name: build\n      service: app\n      command: make\n    - name: deploy\n      service: app\n      command: ./deploy.sh staging\n- name: production\n  type: serial\n  tag: master\n  steps:\n    - name: build\n      service: app\n      command: make\n    - name: deploy\n      service: app\n      command: ./deploy.sh production\n",
        ),
        (
            "sibling names for different branches",
            "app:\n  build: .\n",
            "- name: deploy\n  tag: master\n  service: app\n  command: ./deploy.sh prod\n- name: deploy\n  tag: develop\n  service: app\n  command: ./deploy.sh staging\n",
        ),
        (
            "variables a shell or nobody expands",
            "app:\n  image: busybox\n",
            "- service: app\n  command: sh -c 'echo $CI_COMMIT_ID'\n- service: app\n  command: /bin/bash -ec \"test -n \\\"${CI_BRANCH}\\\"\"\n- service: app\n  command: echo '$literal' \\$escaped $$ $1\n",
        ),
        (
            "an entrypoint shell runs the command's first argument",
            "app:\n  image: busybox\n  entrypoint: [\"/bin/sh\", \"-c\"]\n",
            "- service: app\n  command: \"'echo $CI_BRANCH'\"\n",
        ),
    ]
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn real_shapes_are_clean() {
    let mut failures = Vec::new();
    for (name, services, steps) in clean_cases() {
        let r = check(&SourceFile::new(SV, services), &SourceFile::new(ST, steps)).report;
        if !r.diagnostics.is_empty() {
            failures.push(format!(
                "{name}: {:?}",
                r.diagnostics
                    .iter()
                    .map(|d| format!("{} {}:{} {}", d.code, d.line, d.column, d.message))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn labels_and_shell_hints_are_warnings() {
    for c in cases()
        .iter()
        .filter(|c| matches!(c.code, Code::DuplicateStepName | Code::UnexpandedVariable | Code::PushWithoutBuild))
    {
        let r = run(c);
        let d = r.diagnostics.iter().find(|d| d.code == c.code).unwrap();
        assert_eq!((d.severity, r.errors), (Severity::Warning, 0), "{}", c.name);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn warnings_are_not_errors() {
    let r = run(&cases().into_iter().find(|c| c.code == Code::UnknownKey).unwrap());
    let d = r.diagnostics.iter().find(|d| d.code == Code::UnknownKey).unwrap();
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(d.help.as_deref(), Some("did you mean `environment`?"));
    assert_eq!(r.errors, 0);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn steps_in_json_are_positioned_too() {
    let steps = "[\n  {\"service\": \"app\", \"command\": \"x\"},\n  {\"service\": \"nope\", \"command\": \"y\"}\n]\n";
    let r = check(&SourceFile::new(SV, SERVICES), &SourceFile::new("codeship-steps.json", steps)).report;
    let d = r.diagnostics.iter().find(|d| d.code == Code::UnknownService).expect("unknown service");
    assert_eq!((d.line, d.column), (3, 15));
}

// Snapshots are checked natively (insta reads and writes files).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rendered_text_snapshot() {
    let services = "app:\n  build:\n    image: acme/app\n  enviroment:\n    A: b\n";
    let steps = "- service: app\n  command: ./test.sh\n- type: push\n  service: ap\n  image_name: acme/app\n  image_tag: \"{{ .Brnch }}\"\n";
    let (sv, st) = (SourceFile::new(SV, services), SourceFile::new(ST, steps));
    let r = check(&sv, &st).report;
    insta::assert_snapshot!(r.render_text(&[&sv, &st]));
    insta::assert_snapshot!("json", r.to_json());
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn push_and_command_findings_snapshot() {
    let services = "app:\n  build: .\ndb:\n  image: postgres\n";
    let steps = "\
- service: app
  command: echo \"packaged build $CI_COMMIT_ID\"
- type: push
  service: app
  image_name: acme/Java
- type: push
  service: app
  image_name: acme/java:test
- type: push
  service: db
  image_name: acme/postgres
";
    let (sv, st) = (SourceFile::new(SV, services), SourceFile::new(ST, steps));
    insta::assert_snapshot!(check(&sv, &st).report.render_text(&[&sv, &st]));
}
