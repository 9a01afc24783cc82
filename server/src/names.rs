//! Names the server and the CLI make up: random hex ids (runs, the API token) and names of
//! Docker objects (containers, networks, volumes, images), each in the alphabet its user
//! accepts. One place, so a run id, a container name and a cleanup filter always agree.

use anyhow::{Result, anyhow};

/// `bytes` as lower-case hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `len` random bytes as hex (`2 * len` characters). Without randomness this is an error,
/// never a fixed value: every run would otherwise get the same id.
pub fn random_hex(len: usize) -> Result<String> {
    let mut b = vec![0u8; len];
    getrandom::fill(&mut b).map_err(|e| anyhow!("no randomness for an id: {e}"))?;
    Ok(hex(&b))
}

/// The name of a Docker object of run `run_id`: `slipway-<run>-<what>`, with every character
/// Docker refuses in a name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`) replaced by `-`. Step names are
/// free text (`deploy to staging`, `ci/cd`).
pub fn docker_object_name(run_id: &str, what: &str) -> String {
    let clean: String =
        what.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '-' }).collect();
    format!("slipway-{run_id}-{clean}")
}

/// `text` as one path component of an image repository name (lowercase letters and digits
/// joined by single dashes): project folders such as `.tmpAb3` or `My App` must still give a
/// name Docker accepts.
pub fn repo_component(text: &str) -> String {
    let lowered = text.to_ascii_lowercase();
    let words: Vec<&str> = lowered.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() { "project".into() } else { words.join("-") }
}

/// The repository name of a project's build of a service: readable (`repo_component` of
/// `PROJECT-SERVICE`) and one to one, by 8 hex digits of a SHA-256 of the exact pair.
/// `repo_component` alone merges case, `.`, `_` and where the dash falls: project `a-b` with
/// service `c` and project `a` with service `b-c` would build the same name.
pub fn build_repo(project: &str, service: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update((project.len() as u64).to_be_bytes());
    h.update(project.as_bytes());
    h.update(service.as_bytes());
    let digest = h.finalize();
    format!("{}-{}", repo_component(&format!("{project}-{service}")), hex(&digest[..4]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::image_ref::ImageRef;

    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn random_ids_are_hex_of_the_asked_length_and_differ() {
        let (a, b) = (random_hex(6).unwrap(), random_hex(6).unwrap());
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{a}");
        assert_ne!(a, b, "two random ids were equal");
    }

    /// What Docker accepts as a container, network or volume name.
    fn docker_accepts(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    }

    #[test]
    fn object_names_are_in_dockers_alphabet() {
        for (what, want) in [
            ("net-build", "slipway-ab12-net-build"),
            ("deploy to staging", "slipway-ab12-deploy-to-staging"),
            ("ci/cd:1", "slipway-ab12-ci-cd-1"),
            ("ünï", "slipway-ab12--n-"),
            ("a_b.c-d", "slipway-ab12-a_b.c-d"),
        ] {
            let got = docker_object_name("ab12", what);
            assert_eq!(got, want);
            assert!(docker_accepts(&got), "{got}");
        }
    }

    #[test]
    fn generated_repository_names_are_valid_references() {
        for (project, want) in
            [(".tmpMsd0eo-app", "tmpmsd0eo-app"), ("My App_2--x", "my-app-2-x"), ("---", "project"), ("ok-db", "ok-db")]
        {
            let got = repo_component(project);
            assert_eq!(got, want);
            assert!(ImageRef::parse(&format!("slipway/{got}:latest")).is_ok(), "{got}");
        }
    }

    #[test]
    fn build_repositories_differ_for_every_project_and_service() {
        let pairs = [("a-b", "c"), ("a", "b-c"), ("a.b", "c"), ("a_b", "c"), ("A-b", "c"), ("a-b-c", "")];
        let names: std::collections::BTreeSet<String> = pairs.iter().map(|(p, s)| build_repo(p, s)).collect();
        assert_eq!(names.len(), pairs.len(), "{names:?}");
        let got = build_repo("My App", "web");
        assert!(got.starts_with("my-app-web-") && got.len() == "my-app-web-".len() + 8, "{got}");
        assert!(ImageRef::parse(&format!("slipway/{got}:latest")).is_ok(), "{got}");
    }
}
