//! A project folder for a test run: its two files (with `BASE` standing for the test base
//! image) and a fresh project key to encrypt its secrets with.

use slipway_core::crypto::{self, Format, Key};
use std::path::Path;

pub struct Project {
    pub dir: tempfile::TempDir,
    pub key: Key,
}

impl Project {
    pub fn new(services: &str, steps: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).unwrap();
        let key = Key::from_bytes(b);
        std::fs::write(dir.path().join("codeship.aes"), key.to_file_text()).unwrap();
        let p = Project { dir, key };
        p.write("codeship-services.yml", services);
        p.write("codeship-steps.yml", steps);
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.replace("BASE", &super::base_image())).unwrap();
    }

    pub fn encrypt(&self, rel: &str, plaintext: &str) {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).unwrap();
        let enc = crypto::encrypt(&self.key, plaintext.as_bytes(), Format::V2, &nonce).unwrap();
        std::fs::write(self.path().join(rel), enc).unwrap();
    }
}
