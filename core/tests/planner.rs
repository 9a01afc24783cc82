//! The planner: every step type, filters, `services:` expansion, push on/off, argv and tags.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use slipway_core::plan::{Kind, Plan, PlanOptions, Status, plan};
use slipway_core::template::BuildVars;
use slipway_core::{SourceFile, check};

const SERVICES: &str = "\
app:
  build:
    image: registry.example.com/acme/app
a:
  image: busybox
b:
  image: busybox
";

fn plan_for(steps: &str, tag: Option<&str>, push: bool) -> Plan {
    let checked = check(&SourceFile::new("s.yml", SERVICES), &SourceFile::new("t.yml", steps));
    assert!(!checked.report.has_errors(), "{}", checked.report.render_text(&[]));
    let vars = BuildVars {
        branch: tag.unwrap_or("").into(),
        commit_id: "0123456789abcdef".into(),
        timestamp: 1_709_211_909,
        ..BuildVars::default()
    };
    plan(&checked.services, &checked.steps, &PlanOptions { tag: tag.map(String::from), push, vars })
}

fn status(p: &Plan, name: &str) -> Status {
    p.find_by_name(name).unwrap_or_else(|| panic!("no step {name}: {p:#?}")).status
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn run_steps_split_argv_without_a_shell() {
    let p = plan_for("- name: t\n  service: a\n  command: sh -c 'echo \"a b\" && exit 1' > out\n", None, false);
    let s = p.find_by_name("t").unwrap();
    assert_eq!(s.kind, Kind::Run);
    assert_eq!(s.command.as_deref().unwrap(), ["sh", "-c", "echo \"a b\" && exit 1", ">", "out"]);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn unnamed_steps_get_stable_unique_names() {
    let p = plan_for(
        "- service: a\n  command: x\n- name: step_1_x\n  type: serial\n  steps:\n    - service: a\n      command: y\n",
        None,
        false,
    );
    let names: Vec<_> = p.leaves().iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, ["step_1", "step_1_x_1"]);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn tag_and_exclude_filters() {
    let steps = "\
- name: only_master
  service: a
  tag: master
  command: x
- name: release
  service: a
  tag: ^(master|release/.*)$
  command: x
- name: not_wip
  service: a
  exclude: ^wip/
  command: x
- name: both
  service: a
  tag: ^release/
  exclude: ^release/old
  command: x
";
    let p = plan_for(steps, Some("release/1.2"), false);
    assert_eq!(status(&p, "only_master"), Status::Skipped);
    assert_eq!(status(&p, "release"), Status::WillRun);
    assert_eq!(status(&p, "not_wip"), Status::WillRun);
    assert_eq!(status(&p, "both"), Status::WillRun);
    let p = plan_for(steps, Some("release/old-1"), false);
    assert_eq!(status(&p, "both"), Status::Skipped, "exclude wins over tag");
    let p = plan_for(steps, Some("wip/x"), false);
    assert_eq!(status(&p, "not_wip"), Status::Skipped);
    // No build tag: steps with a tag filter do not run; exclude alone does not skip.
    let p = plan_for(steps, None, false);
    assert_eq!(status(&p, "release"), Status::Skipped);
    assert!(p.find_by_name("release").unwrap().reason.as_ref().unwrap().contains("--tag"));
    assert_eq!(status(&p, "not_wip"), Status::WillRun);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn filtered_group_skips_its_children() {
    let p = plan_for(
        "- name: g\n  type: parallel\n  tag: master\n  steps:\n    - name: c\n      service: a\n      command: x\n",
        Some("dev"),
        false,
    );
    assert_eq!(status(&p, "g"), Status::Skipped);
    assert_eq!(status(&p, "c"), Status::Skipped);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn push_steps_need_push_and_render_tags() {
    let steps = "\
- name: push_app
  type: push
  service: app
  image_name: registry.example.com/acme/app
  image_tag: \"{{ .Branch }}-{{ printf \\\"%.7s\\\" .CommitID }}-{{ .Time.Format \\\"20060102\\\" }}\"
";
    let p = plan_for(steps, Some("feature/x"), false);
    let s = p.find_by_name("push_app").unwrap();
    assert_eq!(s.status, Status::Skipped);
    assert_eq!(s.reason.as_deref(), Some("push steps run only with --push"));
    let p = plan_for(steps, Some("feature/x"), true);
    let s = p.find_by_name("push_app").unwrap();
    assert_eq!(s.status, Status::WillRun);
    // The `/` is stripped: it is not valid in a Docker tag.
    assert_eq!(s.image_ref().unwrap(), "registry.example.com/acme/app:featurex-0123456-20240229");
    assert_eq!(s.registry.as_deref(), Some("registry.example.com"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn invalid_rendered_tag_is_reported_on_the_step() {
    let p = plan_for(
        "- name: p\n  type: push\n  service: app\n  image_name: registry.example.com/acme/app\n  image_tag: \"{{ .Branch }}\"\n",
        Some("///"),
        true,
    );
    let s = p.find_by_name("p").unwrap();
    assert!(s.image_tag.is_none());
    assert!(s.tag_error.as_ref().unwrap().contains("empty"), "{:?}", s.tag_error);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn services_expansion_in_parallel_and_serial_groups() {
    let p = plan_for(
        "- name: m\n  type: parallel\n  services: [a, b]\n  steps:\n    - command: one\n    - command: two\n",
        None,
        false,
    );
    let m = p.find_by_name("m").unwrap();
    assert_eq!(m.kind, Kind::Parallel);
    // One serial copy of the sub-steps per service.
    assert_eq!(
        m.steps.iter().map(|s| (s.kind, s.service.clone().unwrap())).collect::<Vec<_>>(),
        [(Kind::Serial, "a".to_string()), (Kind::Serial, "b".to_string())]
    );
    assert_eq!(
        m.steps[1].steps.iter().map(|s| s.command.clone().unwrap()[0].clone()).collect::<Vec<_>>(),
        ["one", "two"]
    );

    let p = plan_for(
        "- name: s\n  type: serial\n  services: [a, b]\n  steps:\n    - command: one\n    - command: two\n",
        None,
        false,
    );
    let s = p.find_by_name("s").unwrap();
    // Each sub-step in turn, per-service copies in parallel.
    assert_eq!(s.steps.len(), 2);
    assert!(s.steps.iter().all(|g| g.kind == Kind::Parallel && g.steps.len() == 2));
    assert_eq!(s.steps[0].steps.iter().map(|x| x.service.clone().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn matrix_is_parallel_over_services_and_group_service_is_inherited() {
    let p = plan_for(
        "- name: mx\n  type: matrix\n  services: [a, b]\n  steps:\n    - command: env\n- name: g\n  type: serial\n  service: b\n  steps:\n    - name: inner\n      command: x\n",
        None,
        false,
    );
    assert_eq!(p.find_by_name("mx").unwrap().kind, Kind::Parallel);
    assert_eq!(p.find_by_name("mx").unwrap().leaves().len(), 2);
    assert_eq!(p.find_by_name("inner").unwrap().service.as_deref(), Some("b"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn manual_groups_and_on_fail() {
    let p = plan_for(
        "- name: t\n  service: a\n  command: x\n  on_fail:\n    - command: cleanup\n- name: approve\n  type: manual\n  steps:\n    - name: deploy\n      service: a\n      command: deploy\n",
        None,
        false,
    );
    assert_eq!(p.find_by_name("approve").unwrap().kind, Kind::Manual);
    let t = p.find_by_name("t").unwrap();
    assert_eq!(t.on_fail.len(), 1);
    assert_eq!(t.on_fail[0].service.as_deref(), Some("a"), "on_fail inherits the service");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn group_credentials_apply_to_sub_steps_and_encrypted_wins() {
    let p = plan_for(
        "- name: g\n  type: serial\n  encrypted_dockercfg_path: d.enc\n  steps:\n    - name: p\n      type: push\n      service: app\n      image_name: registry.example.com/acme/app\n      dockercfg_service: a\n",
        None,
        true,
    );
    let s = p.find_by_name("p").unwrap();
    assert_eq!(s.dockercfg_service.as_deref(), Some("a"), "the step's own setting overrides the group");
    let p = plan_for(
        "- name: g\n  type: serial\n  encrypted_dockercfg_path: d.enc\n  steps:\n    - name: p\n      type: push\n      service: app\n      image_name: registry.example.com/acme/app\n",
        None,
        true,
    );
    assert_eq!(p.find_by_name("p").unwrap().encrypted_dockercfg_path.as_deref(), Some("d.enc"));
}

// Snapshots are checked natively (insta reads and writes files).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn aggregate_plan_snapshot() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/examples/00.aggregate");
    let sv = SourceFile::new("s", std::fs::read_to_string(dir.join("codeship-services.yml")).unwrap());
    let st = SourceFile::new("t", std::fs::read_to_string(dir.join("codeship-steps.yml")).unwrap());
    let checked = check(&sv, &st);
    let vars = BuildVars { branch: "master".into(), timestamp: 1_709_211_909, ..BuildVars::default() };
    let p = plan(&checked.services, &checked.steps, &PlanOptions { tag: Some("master".into()), push: true, vars });
    insta::assert_json_snapshot!(p);
}

/// Real projects repeat sub-step names under different groups (`deploy` under `staging` and
/// under `production`); ids tell them apart where names cannot.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn repeated_names_get_distinct_ids() {
    let steps = "- name: staging\n  type: serial\n  service: a\n  steps:\n  - name: deploy\n    command: a\n\
                 - name: production\n  type: serial\n  service: a\n  steps:\n  - name: deploy\n    command: b\n    on_fail:\n    - command: c\n";
    let p = plan_for(steps, None, false);
    let deploys: Vec<(&str, &str)> = p.leaves().iter().map(|s| (s.id.as_str(), s.name.as_str())).collect();
    assert_eq!(deploys, [("1.1", "deploy"), ("2.1", "deploy")]);
    let second = p.find("2.1").expect("found by id");
    assert_eq!(second.command.as_deref(), Some(&["b".to_string()][..]));
    assert_eq!(second.on_fail[0].id, "2.1.f1");
    assert_eq!(p.find("2.1.f1").map(|s| s.name.as_str()), Some("deploy_on_fail_1"));
}
