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
