//! Registry credentials (`.dockercfg` and `config.json`) as the runner reads them after
//! decryption, the lookup every registry must pass, and the studio's description and
//! redaction of a decrypted file (`inspect`), which see the same bytes.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use slipway_core::dockercfg::{DockerCfg, normalize_registry, registry_of_image};
use slipway_core::inspect::{inspect, redacted};

fuzz_target!(init: slipway_fuzz::init(), |data: &[u8]| -> Corpus { slipway_fuzz::run(|| one(data)) });

fn one(data: &[u8]) {
    if let Ok(cfg) = DockerCfg::parse(data) {
        for registry in cfg.registries() {
            assert!(cfg.lookup(&registry).is_ok(), "an entry's own registry is not found");
        }
        let _ = cfg.lookup("https://index.docker.io/v1/");
        let _ = cfg.secrets();
    }
    let _ = inspect(data);
    let _ = redacted(data);
    let text = String::from_utf8_lossy(data);
    let _ = registry_of_image(&text);
    let _ = normalize_registry(&text);
}
