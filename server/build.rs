//! The studio is embedded from `../dist`, which trunk builds (`cargo xtask build`). When it
//! has not been built:
//! - a release build (what `cargo install` makes) fails and says what to run, so that no
//!   installed binary silently lacks the studio — unless `SLIPWAY_NO_STUDIO=1` asks for a
//!   server without it on purpose;
//! - any other build embeds `src/http/no-studio/`, a page that says how to build the studio, so
//!   the server always compiles for tests and development.
//!
//! Nothing is written into `dist/`: a placeholder there once looked like a built studio to
//! both this script and xtask's up-to-date check.

use std::path::Path;

fn main() {
    commit();
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ is in the workspace").join("dist");
    println!("cargo:rerun-if-changed=../dist");
    println!("cargo:rerun-if-env-changed=SLIPWAY_NO_STUDIO");
    println!("cargo::rustc-check-cfg=cfg(studio_built)");
    let built = std::fs::read_to_string(dist.join("index.html"))
        // Older build scripts wrote a placeholder page into dist/; it is not a studio.
        .is_ok_and(|index| !index.contains("The studio has not been built"));
    if built {
        println!("cargo:rustc-cfg=studio_built");
        return;
    }
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let on_purpose = std::env::var("SLIPWAY_NO_STUDIO").is_ok_and(|v| v == "1");
    if release && !on_purpose {
        eprintln!(
            "\nerror: the studio is not built (nothing in {}), so this release build of slipway \
             would serve no studio.\n\
             \x20 To install slipway with the studio:   cargo xtask install\n\
             \x20 To build it before a release build:   cargo xtask build\n\
             \x20 To build a server without the studio: SLIPWAY_NO_STUDIO=1 cargo build --release\n",
            dist.display()
        );
        std::process::exit(1);
    }
}

/// The commit this binary is built from, for `slipway export --mode slipway`'s default
/// `--slipway-source` (absent outside a git checkout, or with uncommitted changes to tracked
/// files, which that commit would not hold).
fn commit() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    // Run again after a commit or checkout (the reflog) and after staging (the index); a
    // worktree's git folder is elsewhere, so it is asked for.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
    }
    let clean = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| s.is_empty());
    if let Some(head) = git(&["rev-parse", "HEAD"]).filter(|h| clean && h.len() == 40) {
        println!("cargo:rustc-env=SLIPWAY_GIT_COMMIT={head}");
    }
}
