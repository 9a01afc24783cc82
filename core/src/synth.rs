//! Synthetic projects of a chosen size, for benchmarks and the studio's performance figures.

/// A services file with 20 services and a steps file with about `steps` steps, mixing run,
/// push, parallel groups, filters and templates like real projects do.
pub fn large_project(steps: usize) -> (String, String) {
    let mut services = String::new();
    for i in 0..20 {
        services.push_str(&format!(
            "svc{i}:\n  build:\n    image: registry.example.com/acme/svc{i}\n    dockerfile: Dockerfile\n    args:\n      REV: \"{{{{ .CommitID }}}}\"\n  environment:\n    MODE: test\n  depends_on:\n    - db\n"
        ));
    }
    services.push_str("db:\n  image: postgres:16\n");
    let mut out = String::new();
    let mut n = 0;
    let mut g = 0;
    while n < steps {
        out.push_str(&format!("- name: group{g}\n  type: parallel\n  steps:\n"));
        for j in 0..8 {
            let svc = (g + j) % 20;
            out.push_str(&format!("    - name: test{g}_{j}\n      service: svc{svc}\n      command: ./run-tests.sh --shard {j} \"suite {g}\"\n"));
            n += 1;
        }
        out.push_str(&format!(
            "- name: push{g}\n  type: push\n  service: svc{s}\n  tag: ^(master|release/.*)$\n  image_name: registry.example.com/acme/svc{s}\n  image_tag: \"{{{{ .Branch }}}}-{{{{ printf \\\"%.7s\\\" .CommitID }}}}\"\n",
            s = g % 20
        ));
        n += 2;
        g += 1;
    }
    (services, out)
}
