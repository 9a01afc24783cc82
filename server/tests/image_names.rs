//! Server runs and the engine's image names, against the real server, engine and registry: a
//! run's builds stay in its project's namespace, a `build.image` name resolves inside the run,
//! a project never runs an image another project's run made, a push puts the remote name back
//! as it was, and a dockercfg generator's output is read with its cap, streamed.
//!
//! Every test uses image and project names of its own (the engine is shared) and removes the
//! images it made.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::project::Project;
use support::server::{Server, project_args};

const TOKEN: &str = "image-names-token-7e1c";

fn env(key: &str) -> String {
    support::env_up().into_iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("up.sh sets {key}")).1
}

fn hex() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text.trim().to_string())
}

/// The id `name` has on the engine, if any.
fn image_id(name: &str) -> Option<String> {
    let (ok, out) = docker(&["image", "inspect", "--format", "{{.Id}}", name]);
    ok.then_some(out)
}

/// Build a local image `name` from the base image with `/marker` holding `marker`, as a user of
/// the engine would (no Slipway label). Its id.
fn local_image(name: &str, marker: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!("FROM {}\nRUN echo {marker} > /marker\n", support::base_image());
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", name])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "docker build: {}", String::from_utf8_lossy(&out.stderr));
    image_id(name).unwrap()
}

/// Images the test made (by name): removed at the end, whatever happens; an image left with
/// no name (only a digest the push gave it) is removed by its id.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for name in &self.0 {
            let id = image_id(name);
            let _ = docker(&["rmi", name]);
            if let Some(id) = id {
                let _ = docker(&["rmi", &id]);
            }
        }
    }
}

/// The lines a step printed (not its build's), as `(step: S) (service: X) LINE`.
fn printed<'a>(log: &'a str, step: &str) -> Vec<&'a str> {
    let prefix = format!("(step: {step}) (service: ");
    log.lines()
        .filter_map(|l| l.strip_prefix(&prefix)?.split_once(") ").map(|(_, rest)| rest))
        .filter(|l| !l.starts_with("(build) "))
        .collect()
}

fn registry_dockercfg() -> String {
    let (user, password) = (env("SLIPWAY_TEST_REGISTRY_USER"), env("SLIPWAY_TEST_REGISTRY_PASSWORD"));
    dockercfg(&env("SLIPWAY_TEST_REGISTRY"), &user, &password)
}

fn dockercfg(registry: &str, user: &str, password: &str) -> String {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}")
}

/// A GET on the test registry, with its password.
fn registry_get(path: &str, accept: &str) -> (u16, String) {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        env("SLIPWAY_TEST_REGISTRY_USER"),
        env("SLIPWAY_TEST_REGISTRY_PASSWORD")
    ));
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut r = agent
        .get(&format!("http://{}/v2/{path}", env("SLIPWAY_TEST_REGISTRY")))
        .header("authorization", &format!("Basic {auth}"))
        .header("accept", accept)
        .call()
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// The labels of the image the registry holds as `repo:tag`.
fn registry_labels(repo: &str, tag: &str) -> serde_json::Value {
    let (status, manifest) =
        registry_get(&format!("{repo}/manifests/{tag}"), "application/vnd.docker.distribution.manifest.v2+json");
    assert_eq!(status, 200, "{repo}:{tag} is not in the registry: {manifest}");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let digest = manifest["config"]["digest"].as_str().unwrap();
    let (_, config) = registry_get(&format!("{repo}/blobs/{digest}"), "*/*");
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    config["config"]["Labels"].clone()
}

/// How long a run may take.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// `slipway serve` with these projects and a data folder of its own.
fn serve(projects: &[(&String, &Project)]) -> Server {
    let args: Vec<String> = projects.iter().flat_map(|(name, p)| project_args(name, p.path())).collect();
    Server::start_temp(&args, TOKEN)
}

/// Wait for a run to end; its status and log.
fn wait(s: &Server, id: &str) -> (String, String) {
    let v = s.finished(id, RUN_LIMIT);
    (v["status"].as_str().unwrap_or_default().to_string(), s.log(id))
}

/// Start a run and wait for it; its status and log.
fn run(s: &Server, body: serde_json::Value) -> (String, String) {
    wait(s, &s.start_run(body))
}

/// What a server names a project's build of `service` (`slipway/PROJECT-SERVICE-HASH`, the
/// hash 8 hex digits of a SHA-256 of the pair: see `names::build_repo`).
fn namespace_tag(project: &str, service: &str) -> String {
    format!("slipway/{}", support::build_repo(project, service))
}

#[test]
fn another_projects_build_cannot_replace_the_image_a_project_runs() {
    let id = hex();
    let victim_image = format!("slipwaytest-victim-{id}/base");
    let (a, b) = (format!("victim-{id}"), format!("attacker-{id}"));
    let mut made = Images(vec![victim_image.clone(), namespace_tag(&b, "app")]);
    let before = local_image(&victim_image, "the-victims-image");
    made.0.push(before.clone());
    // Project A runs the engine's `victim/base` (pulled or made by hand: no build of its own).
    let victim = Project::new(
        &format!("app:\n  image: {victim_image}\n"),
        "- name: show\n  service: app\n  command: cat /marker\n",
    );
    // Project B builds an image it calls by the same name.
    let attacker = Project::new(
        &format!("app:\n  build:\n    image: {victim_image}\n"),
        "- name: show\n  service: app\n  command: cat /marker\n",
    );
    attacker.write("Dockerfile", "FROM BASE\nRUN echo the-attackers-image > /marker\n");
    let server = serve(&[(&a, &victim), (&b, &attacker)]);

    let (status, log) = run(&server, serde_json::json!({"project": a}));
    assert_eq!(status, "success", "{log}");
    assert_eq!(printed(&log, "show"), ["the-victims-image"], "{log}");
    let (status, log) = run(&server, serde_json::json!({"project": b}));
    assert_eq!(status, "success", "{log}");
    assert_eq!(printed(&log, "show"), ["the-attackers-image"], "B runs its own build: {log}");

    let (status, log) = run(&server, serde_json::json!({"project": a}));
    assert_eq!(status, "success", "{log}");
    assert_eq!(printed(&log, "show"), ["the-victims-image"], "A ran B's image: {log}");
    assert_eq!(image_id(&victim_image), Some(before), "B's build replaced the engine's {victim_image}");
    // B's build is in B's namespace, labelled as B's.
    let (ok, label) =
        docker(&["image", "inspect", "--format", "{{index .Config.Labels \"io.slipway.image.project\"}}", &made.0[1]]);
    assert!(ok && label == b, "{label}");
}

#[test]
fn a_project_does_not_run_an_image_another_projects_run_built() {
    let id = hex();
    let (a, b) = (format!("owner-{id}"), format!("reader-{id}"));
    let owners = namespace_tag(&a, "app");
    let _made = Images(vec![owners.clone()]);
    let owner = Project::new("app:\n  build: .\n", "- name: show\n  service: app\n  command: cat /marker\n");
    owner.write("Dockerfile", "FROM BASE\nRUN echo owners-build-secret > /marker\n");
    // B names A's build as a service image, and as the base of its own build.
    let reader = Project::new(
        &format!("peek:\n  image: {owners}\nderived:\n  build: .\n"),
        "- name: peek\n  service: peek\n  command: cat /marker\n",
    );
    let server = serve(&[(&a, &owner), (&b, &reader)]);

    let (status, log) = run(&server, serde_json::json!({"project": a}));
    assert_eq!(status, "success", "{log}");
    assert!(image_id(&owners).is_some(), "A's build is tagged {owners}");

    let (status, log) = run(&server, serde_json::json!({"project": b}));
    assert_eq!(status, "failed", "{log}");
    assert!(!log.contains("owners-build-secret"), "B ran A's image: {log}");
    assert!(log.contains("made by another project's run"), "{log}");

    // FROM (with a blank Docker reads as a space) and COPY --from alike.
    reader.write("codeship-steps.yml", "- name: derived\n  service: derived\n  command: cat /copied\n");
    for dockerfile in [
        format!("FROM\x0b{owners}\nRUN cp /marker /copied\n"),
        format!("FROM BASE\nCOPY --from {owners} /marker /copied\n"),
    ] {
        reader.write("Dockerfile", &dockerfile);
        let (status, log) = run(&server, serde_json::json!({"project": b}));
        assert_eq!(status, "failed", "{log}");
        assert!(!log.contains("owners-build-secret"), "B built from A's image: {log}");
        assert!(log.contains("made by another project's run"), "{log}");
    }
}

#[test]
fn build_image_names_resolve_inside_the_run() {
    let id = hex();
    let project = format!("inrun-{id}");
    let base = format!("slipwaytest-inrun-{id}/base");
    let _made = Images(vec![
        namespace_tag(&project, "base"),
        namespace_tag(&project, "app"),
        namespace_tag(&project, "copier"),
    ]);
    let p = Project::new(
        &format!(
            "base:\n  build:\n    context: base\n    image: {base}\napp:\n  build:\n    context: app\n\
             copier:\n  build:\n    context: copier\ntool:\n  image: {base}\n"
        ),
        // `app` first: its Dockerfile starts FROM `base`'s image, which is not built yet.
        "- name: app\n  service: app\n  command: cat /copied\n- name: copier\n  service: copier\n  command: cat /copied\n\
         - name: tool\n  service: tool\n  command: cat /marker\n",
    );
    p.write("base/Dockerfile", "FROM BASE\nRUN echo built-in-this-run > /marker\n");
    p.write("app/Dockerfile", &format!("ARG TAG=latest\nFROM {base}:${{TAG}} AS start\nRUN cp /marker /copied\n"));
    p.write("copier/Dockerfile", &format!("FROM BASE\nCOPY --from {base} \\\n  /marker /copied\n"));
    let server = serve(&[(&project, &p)]);
    let (status, log) = run(&server, serde_json::json!({"project": project}));
    assert_eq!(status, "success", "{log}");
    assert_eq!(printed(&log, "app"), ["built-in-this-run"], "{log}");
    assert_eq!(printed(&log, "copier"), ["built-in-this-run"], "{log}");
    assert_eq!(printed(&log, "tool"), ["built-in-this-run"], "{log}");
    assert_eq!(image_id(&base), None, "the run tagged {base} on the engine");
}

#[test]
fn builds_from_each_others_images_fail_instead_of_waiting_for_ever() {
    let id = hex();
    let project = format!("cycle-{id}");
    let (a, b) = (format!("slipwaytest-cycle-{id}/a"), format!("slipwaytest-cycle-{id}/b"));
    let p = Project::new(
        &format!("a:\n  build:\n    context: a\n    image: {a}\nb:\n  build:\n    context: b\n    image: {b}\n"),
        "- type: parallel\n  steps:\n  - name: one\n    service: a\n    command: true\n  - name: two\n    service: b\n    command: true\n",
    );
    p.write("a/Dockerfile", &format!("FROM {b}\n"));
    p.write("b/Dockerfile", &format!("FROM {a}\n"));
    let server = serve(&[(&project, &p)]);
    let (status, log) = run(&server, serde_json::json!({"project": project}));
    assert_eq!(status, "failed", "{log}");
    assert!(log.contains("are built from each other's images"), "{log}");
}

#[test]
fn a_push_puts_the_remote_name_back_as_it_was() {
    let id = hex();
    let registry = env("SLIPWAY_TEST_REGISTRY");
    let project = format!("pusher-{id}");
    let repo = format!("slipwaytest/restore-{id}");
    let (remote, pulled_remote) = (format!("{registry}/{repo}"), format!("{registry}/{repo}-pulled"));
    let before = local_image(&format!("{remote}:main"), "what-main-was");
    let _made = Images(vec![
        format!("{remote}:main"),
        before.clone(),
        format!("{remote}:fresh"),
        format!("{pulled_remote}:v1"),
        namespace_tag(&project, "app"),
    ]);
    let p = Project::new(
        &format!("app:\n  build:\n    image: {remote}\ntool:\n  image: BASE\n"),
        &format!(
            "- name: main\n  type: push\n  service: app\n  image_name: {remote}\n  image_tag: main\n  encrypted_dockercfg_path: d.enc\n\
             - name: fresh\n  type: push\n  service: app\n  image_name: {remote}\n  image_tag: fresh\n  encrypted_dockercfg_path: d.enc\n\
             - name: pulled\n  type: push\n  service: tool\n  image_name: {pulled_remote}\n  image_tag: v1\n  encrypted_dockercfg_path: d.enc\n"
        ),
    );
    p.write("Dockerfile", "FROM BASE\nRUN echo pushed > /marker\n");
    p.encrypt("d.enc", &registry_dockercfg());
    let server = serve(&[(&project, &p)]);
    let (status, log) = run(&server, serde_json::json!({"project": project, "push": true, "tag": "main"}));
    assert_eq!(status, "success", "{log}");

    // The engine's names are as they were; the registry has what was pushed.
    assert_eq!(image_id(&format!("{remote}:main")), Some(before), "the push left {remote}:main on the build");
    assert_eq!(image_id(&format!("{remote}:fresh")), None, "the push left {remote}:fresh behind");
    assert_eq!(image_id(&format!("{pulled_remote}:v1")), None, "the push left {pulled_remote}:v1 behind");
    for (r, tag) in [(&repo, "main"), (&repo, "fresh")] {
        assert_eq!(registry_labels(r, tag)["io.slipway.image.project"], project.as_str());
    }
    // A pulled image pushed elsewhere goes out labelled too: for the push's length, another
    // project's run finding the name locally knows it is not its own.
    assert_eq!(registry_labels(&format!("{repo}-pulled"), "v1")["io.slipway.image.project"], project.as_str());
}

#[test]
fn a_cancelled_push_still_puts_the_name_back() {
    let id = hex();
    let project = format!("cancelled-{id}");
    // A "registry" that accepts connections and never answers: the push hangs until cancelled.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let registry = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let remote = format!("{registry}/slipwaytest/hang-{id}");
    let before = local_image(&format!("{remote}:main"), "what-main-was");
    let _made = Images(vec![format!("{remote}:main"), before.clone(), namespace_tag(&project, "app")]);
    let p = Project::new(
        "app:\n  build: .\n",
        &format!(
            "- name: push\n  type: push\n  service: app\n  image_name: {remote}\n  image_tag: main\n  encrypted_dockercfg_path: d.enc\n"
        ),
    );
    p.write("Dockerfile", "FROM BASE\nRUN echo pushed > /marker\n");
    p.encrypt("d.enc", &dockercfg(&registry, "u", "p4ssword"));
    let server = serve(&[(&project, &p)]);
    let run = server.start_run(serde_json::json!({"project": project, "push": true}));
    // Wait until the name is tagged for the push, then cancel the run.
    let start = Instant::now();
    while image_id(&format!("{remote}:main")).as_deref() == Some(before.as_str()) {
        assert!(start.elapsed() < Duration::from_secs(120), "the push never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.cancel(&run);
    let (status, log) = wait(&server, &run);
    assert_eq!(status, "cancelled", "{log}");
    let start = Instant::now();
    while image_id(&format!("{remote}:main")).as_deref() != Some(before.as_str()) {
        assert!(start.elapsed() < Duration::from_secs(20), "the cancelled push left {remote}:main on its image");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_huge_dockercfg_from_a_generator_is_refused_without_holding_it() {
    let id = hex();
    let project = format!("bigcfg-{id}");
    let registry = env("SLIPWAY_TEST_REGISTRY");
    let _made = Images(vec![namespace_tag(&project, "app")]);
    // The generator writes 200 MB where the dockercfg goes (its argument).
    let p = Project::new(
        "app:\n  build: .\ngen:\n  image: BASE\n  entrypoint: [\"sh\", \"-c\", \"dd if=/dev/zero of=\\\"$0\\\" bs=1048576 count=200 2>/dev/null\"]\n",
        &format!(
            "- name: push\n  type: push\n  service: app\n  image_name: {registry}/slipwaytest/bigcfg-{id}\n  dockercfg_service: gen\n"
        ),
    );
    p.write("Dockerfile", "FROM BASE\n");
    let server = serve(&[(&project, &p)]);
    let before = peak_rss_kib(server.pid());
    let (status, log) = run(&server, serde_json::json!({"project": project, "push": true}));
    let after = peak_rss_kib(server.pid());
    eprintln!("server peak RSS (VmHWM): {before} KiB before the run, {after} KiB after");
    assert_eq!(status, "failed", "{log}");
    assert!(log.contains("wrote 209715200 bytes to /opt/data/dockercfg"), "{log}");
    assert!(after < before + 64 * 1024, "the server's peak RSS grew from {before} KiB to {after} KiB");
}

/// The ids of the images labelled as `project`'s.
fn labelled(project: &str) -> Vec<String> {
    let filter = format!("label=io.slipway.image.project={project}");
    let (ok, out) = docker(&["images", "-q", "--no-trunc", "--filter", &filter]);
    assert!(ok, "{out}");
    out.lines().map(str::to_string).collect()
}

/// The image a project's server run built (by its label), its id.
fn built_by(project: &str) -> String {
    let ids = labelled(project);
    assert_eq!(ids.len(), 1, "{project} built {ids:?}");
    ids[0].clone()
}

#[test]
fn a_project_cannot_run_another_projects_layers_by_an_id_prefix() {
    let id = hex();
    let (reader, owner) = (format!("idreader-{id}"), format!("idowner-{id}"));
    let secret = format!("owners-layer-{id}");
    let o = Project::new("app:\n  build: .\n", "- name: show\n  service: app\n  command: cat /marker\n");
    o.write("Dockerfile", &format!("FROM BASE\nRUN echo {secret} > /marker\n"));
    let r = Project::new("app:\n  image: BASE\n", "- name: show\n  service: app\n  command: cat /marker\n");
    let server = serve(&[(&reader, &r), (&owner, &o)]);
    let (status, log) = run(&server, serde_json::json!({"project": owner}));
    assert_eq!(status, "success", "{log}");
    let built = built_by(&owner);
    let mut made = Images(vec![built.clone()]);
    // The layer just below the build's label: everything the owner built, without the label.
    let (ok, parent) = docker(&["image", "inspect", "--format", "{{.Parent}}", &built]);
    assert!(ok && parent.starts_with("sha256:"), "{parent}");
    let prefix = parent["sha256:".len()..][..12].to_string();

    // As a service image, as the base of a build, and as `COPY --from`.
    r.write("codeship-services.yml", &format!("app:\n  image: {prefix}\n"));
    let (status, log) = run(&server, serde_json::json!({"project": reader}));
    assert_eq!(status, "failed", "{log}");
    assert!(!log.contains(&secret), "the reader ran the owner's layer: {log}");
    assert!(log.contains("names an image by its id"), "{log}");
    r.write("codeship-services.yml", "app:\n  build: .\n");
    for dockerfile in [format!("FROM {prefix}\n"), format!("FROM BASE\nCOPY --from={prefix} /marker /marker\n")] {
        r.write("Dockerfile", &dockerfile);
        let (status, log) = run(&server, serde_json::json!({"project": reader}));
        if status == "success" {
            made.0.extend(labelled(&reader));
        }
        assert_eq!(status, "failed", "{log}");
        assert!(!log.contains(&secret), "the reader built from the owner's layer: {log}");
        assert!(log.contains("names an image by its id"), "{log}");
    }
}

#[test]
fn projects_whose_names_run_together_build_different_images() {
    let id = hex();
    // `x-a` + `b` and `x` + `a-b` (and `x.a` + `b`) once all built `slipway/x-a-b`.
    let projects = [(format!("join{id}-a"), "b"), (format!("join{id}"), "a-b"), (format!("join{id}.a"), "b")];
    let ps: Vec<Project> = projects
        .iter()
        .map(|(p, s)| {
            let proj = Project::new(
                &format!("{s}:\n  build: .\n"),
                &format!("- name: show\n  service: {s}\n  command: cat /marker\n"),
            );
            proj.write("Dockerfile", &format!("FROM BASE\nRUN echo built-by-{p} > /marker\n"));
            proj
        })
        .collect();
    let _made = Images(projects.iter().map(|(p, s)| namespace_tag(p, s)).collect());
    let listed: Vec<(&String, &Project)> = projects.iter().map(|(p, _)| p).zip(&ps).collect();
    let server = serve(&listed);
    let mut tags = Vec::new();
    for (p, _) in &projects {
        let (status, log) = run(&server, serde_json::json!({"project": p}));
        assert_eq!(status, "success", "{log}");
        let tag = log.split("building image ").nth(1).and_then(|t| t.split_whitespace().next()).unwrap();
        tags.push(tag.to_string());
    }
    // Each project's build still has its name, with its own label.
    for ((p, s), tag) in projects.iter().zip(&tags) {
        let (ok, label) =
            docker(&["image", "inspect", "--format", "{{index .Config.Labels \"io.slipway.image.project\"}}", tag]);
        assert!(ok && label == *p, "{tag}: {label} ({tags:?})");
        assert_eq!(tag, &namespace_tag(p, s));
    }
}

#[test]
fn parallel_builds_of_a_large_context_hold_one_context_at_a_time() {
    let id = hex();
    let project = format!("bigctx-{id}");
    let services = ["one", "two", "three"];
    let _made = Images(services.iter().map(|s| namespace_tag(&project, s)).collect());
    let mut yml = "maker:\n  image: BASE\n  volumes:\n    - ./ctx:/ctx\n".to_string();
    for s in services {
        yml.push_str(&format!("{s}:\n  build:\n    context: ctx\n"));
    }
    let mut steps =
        "- name: make\n  service: maker\n  command: truncate -s 500M /ctx/big\n- type: parallel\n  steps:\n"
            .to_string();
    for s in services {
        steps.push_str(&format!("  - name: {s}\n    service: {s}\n    command: \"true\"\n"));
    }
    let p = Project::new(&yml, &steps);
    p.write("ctx/Dockerfile", "FROM BASE\n");
    let server = serve(&[(&project, &p)]);
    let before = peak_rss_kib(server.pid());
    let (status, log) = run(&server, serde_json::json!({"project": project}));
    let after = peak_rss_kib(server.pid());
    eprintln!("server peak RSS (VmHWM): {before} KiB before the run, {after} KiB after");
    assert_eq!(status, "success", "{log}");
    assert!(after < before + 800 * 1024, "the server's peak RSS grew from {before} KiB to {after} KiB");
}
