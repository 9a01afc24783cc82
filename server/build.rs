//! The studio is embedded from `../dist` (built by trunk). When it has not been built, embed
//! a placeholder page that says how to build it, so the server always compiles.

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    println!("cargo:rerun-if-changed=../dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(&dist).expect("create dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><meta charset=utf-8><title>Slipway</title>\
             <p>The studio has not been built. Run <code>cargo xtask studio</code>.</p>",
        )
        .expect("write placeholder");
    }
}
