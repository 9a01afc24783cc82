//! `slipway lsp` driven by a real editor: headless Neovim runs `tests/lsp/client.lua`, which
//! opens a project's files, types, and asks for completion, hover, definition, references,
//! quick fixes, the outline and a rename; this test checks what the server answered and what
//! the rename left on disk. Neovim and check-jsonschema come from `tests/env/lsp-client.sh`
//! (run here when `SLIPWAY_TEST_NVIM` is not set).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Line 4 has non-ASCII text before a template variable.
const SERVICES: &str = r#"app:
  build:
    context: .
    args:
      LABEL: "Prüfung 😀 {{ .Branch }}"
db:
  image: postgres
"#;
/// Line 0 has non-ASCII text before the misspelt `ap`.
const STEPS: &str = r#"- { name: "Prüfung 😀", service: ap, command: echo hi }
- name: tests
  service: app
  command: echo ok
- { name: "Prüfung 😀 again", command: x, service: app }
- name: push
  service: app
  type: push
  image_name: acme/app
  image_tag: "{{ .Branch }}"
"#;

/// The test tools' paths, from the environment or from the install script.
pub fn tool(var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/env/lsp-client.sh");
    let out = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output().expect("run lsp-client.sh");
    assert!(out.status.success(), "tests/env/lsp-client.sh failed");
    let prefix = format!("export {var}=");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("{var} not printed"));
    PathBuf::from(line)
}

/// Run the Lua client against a project in `dir`; its JSON results.
fn drive(dir: &Path) -> Value {
    let out = dir.join("results.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lsp/client.lua");
    let mut child = Command::new(tool("SLIPWAY_TEST_NVIM"))
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("SLIPWAY_LSP_BIN", env!("CARGO_BIN_EXE_slipway"))
        .env("SLIPWAY_LSP_PROJECT", dir)
        .env("SLIPWAY_LSP_OUT", &out)
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start nvim");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nvim did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&out).expect("the client wrote no results");
    serde_json::from_str(&text).unwrap()
}

fn utf16_col(line: &str, byte: usize) -> u64 {
    line[..byte].encode_utf16().count() as u64
}

#[test]
fn neovim_gets_diagnostics_completion_hover_definition_and_rename() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("codeship-services.yml"), SERVICES).unwrap();
    std::fs::write(d.path().join("codeship-steps.yml"), STEPS).unwrap();
    let r = drive(d.path());
    assert!(r.get("error").is_none(), "the client failed: {}", r["error"]);
    let logs = r["logs"].to_string();
    assert!(!logs.contains("internal error"), "{logs}");

    // The misspelt service: SW102 at `ap`, columns in UTF-16 (`😀` is two units, four bytes).
    let line0 = STEPS.lines().next().unwrap();
    let col = utf16_col(line0, line0.find("ap,").unwrap());
    let sw102 = r["opened"].as_array().unwrap().iter().find(|x| x["code"] == "SW102").expect("SW102 published");
    assert_eq!(sw102["range"]["start"], serde_json::json!({"line": 0, "character": col}));
    assert_eq!(sw102["range"]["end"], serde_json::json!({"line": 0, "character": col + 2}));
    assert_eq!(sw102["severity"], 1);
    assert!(sw102["message"].as_str().unwrap().contains("did you mean `app`?"), "{sw102}");

    assert_eq!(r["bad_params"]["err"]["code"], -32602, "{}", r["bad_params"]);

    let labels: Vec<&str> = r["completion"]["result"]["items"]
        .as_array()
        .expect("completion items")
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"app") && labels.contains(&"db"), "{labels:?}");

    let hover = r["hover_service"]["result"]["contents"]["value"].as_str().expect("hover on a service");
    assert!(hover.contains("service `app`"), "{hover}");
    let hover = r["hover_key"]["result"]["contents"]["value"].as_str().expect("hover on image_tag");
    assert!(hover.contains("image_tag"), "{hover}");

    let services_uri = r["services_uri"].as_str().unwrap();
    let def = &r["definition"]["result"];
    assert_eq!(def["uri"], services_uri, "{def}");
    assert_eq!(def["range"]["start"], serde_json::json!({"line": 0, "character": 0}));
    assert_eq!(def["range"]["end"], serde_json::json!({"line": 0, "character": 3}));
    // The request's column counted in UTF-16 units finds `.Branch` (as bytes it would be
    // three too far left, on the `{`); the answer's range is the whole value, in UTF-16.
    let hover = &r["hover_utf16"]["result"];
    let text = hover["contents"]["value"].as_str().expect("hover on `.Branch`");
    assert!(text.starts_with("**`.Branch`**: The branch"), "{text}");
    assert!(text.contains("renders to `Prüfung 😀 master`"), "{text}");
    let line4 = SERVICES.lines().nth(4).unwrap();
    let value = line4.find('"').unwrap();
    assert_eq!(hover["range"]["start"], serde_json::json!({"line": 4, "character": utf16_col(line4, value)}));
    // The definition and the three uses in the steps file.
    assert_eq!(r["references"]["result"].as_array().unwrap().len(), 4, "{}", r["references"]);

    let actions = r["code_actions"]["result"].as_array().expect("code actions");
    let fix = actions.iter().find(|a| a["title"].as_str().unwrap().contains("`app`")).expect("a fix to `app`");
    let edits = &fix["edit"]["changes"][r["steps_uri"].as_str().unwrap()];
    assert_eq!(edits[0]["newText"], "app", "{fix}");

    let names: Vec<&str> =
        r["symbols"]["result"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"tests") && names.contains(&"push"), "{names:?}");

    // The rename reached both files, the services file though it was not open.
    let changes = r["rename"]["result"]["changes"].as_object().expect("a workspace edit");
    assert!(changes.contains_key(services_uri) && changes.contains_key(r["steps_uri"].as_str().unwrap()));
    let services = std::fs::read_to_string(d.path().join("codeship-services.yml")).unwrap();
    let steps = std::fs::read_to_string(d.path().join("codeship-steps.yml")).unwrap();
    assert!(services.starts_with("web:\n  build:\n"), "{services}");
    assert_eq!(steps.matches("service: web").count(), 3, "{steps}");
    assert!(!steps.contains("service: app"), "{steps}");
    assert!(steps.contains("Prüfung 😀 again"), "non-ASCII text survived the edits: {steps}");

    // A change to the services buffer re-checks the steps file: `ap` now exists. What is
    // left is the half-typed step (the server's copy of the buffer survived every edit).
    let after = r["after_services_change"].as_array().unwrap();
    let codes: Vec<&str> = after.iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["SW204", "SW211", "SW004"], "{after:?}");
    let lines: Vec<u64> = after.iter().map(|x| x["range"]["start"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [10, 10, 11], "{after:?}");
}

/// Write `slipway schema WHICH` to `dir`; its path.
fn schema_file(dir: &Path, which: &str) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_slipway")).args(["schema", which]).output().unwrap();
    assert!(out.status.success());
    let path = dir.join(format!("{which}.schema.json"));
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// check-jsonschema's verdict on `files`: Ok, or its report.
fn check(schema: &Path, files: &[PathBuf]) -> Result<(), String> {
    let out = Command::new(tool("SLIPWAY_TEST_CHECK_JSONSCHEMA"))
        .arg("--schemafile")
        .arg(schema)
        .args(files)
        .output()
        .expect("run check-jsonschema");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// Every example project, the fixtures' and the shared Codeship examples, passes the schemas
/// (they validate without errors, so a schema error would be a false one); files with wrong
/// shapes or unknown keys fail them.
#[test]
fn schemas_accept_the_examples_and_reject_invalid_files() {
    let d = tempfile::tempdir().unwrap();
    let services_schema = schema_file(d.path(), "services");
    let steps_schema = schema_file(d.path(), "steps");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let roots = [manifest.join("../core/tests/fixtures/examples"), manifest.join("../../shared/examples")];
    let (mut services, mut steps) = (Vec::new(), Vec::new());
    for root in roots.iter().filter(|r| r.is_dir()) {
        for project in std::fs::read_dir(root).unwrap() {
            let project = project.unwrap().path();
            let first = |names: &[&str]| names.iter().map(|n| project.join(n)).find(|p| p.is_file());
            services.extend(first(&["codeship-services.yml", "docker-compose.yml"]));
            steps.extend(first(&["codeship-steps.yml", "codeship-steps.json"]));
        }
    }
    assert!(services.len() >= 20 && steps.len() >= 20, "{} {}", services.len(), steps.len());
    assert!(services.iter().any(|p| p.ends_with("00.aggregate/codeship-services.yml")));
    check(&services_schema, &services).unwrap();
    check(&steps_schema, &steps).unwrap();

    let invalid = manifest.join("tests/lsp/schema-invalid");
    let mut rejected = 0;
    for f in std::fs::read_dir(&invalid).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let schema = if name.ends_with(".services.yml") { &services_schema } else { &steps_schema };
        let report = check(schema, std::slice::from_ref(&f)).expect_err(&format!("{name} passed the schema"));
        assert!(report.contains("Schema validation errors"), "{name}: {report}");
        rejected += 1;
    }
    assert_eq!(rejected, 8);
}
