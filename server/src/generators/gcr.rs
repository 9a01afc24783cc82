//! The built-in `codeship/gcr-dockercfg-generator`: a dockercfg that logs in to Google's
//! registries with a service-account key, as user `_json_key` (Google's documented way for
//! Container Registry and Artifact Registry). No request is made: the registry checks the key.
//!
//! The image took `GOOGLE_AUTH_JSON` (the key file's JSON), `GOOGLE_AUTH_EMAIL` (its
//! service account) and `GOOGLE_PROJECT_ID`, ran `gcloud docker -a` and wrote what that wrote:
//! short-lived tokens for the registries in [`REGISTRIES`]. The key itself works there too,
//! and does not expire during a run.

use super::Env;
use slipway_core::dockercfg::{Credential, DockerCfg};

/// What `gcloud docker -a` configured (its own log: "Short-lived access for […] configured").
pub const REGISTRIES: [&str; 7] =
    ["gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io", "b.gcr.io", "bucket.gcr.io", "appengine.gcr.io"];

/// The user name Google's registries take a key file's JSON as the password of.
const JSON_KEY_USER: &str = "_json_key";

/// Whether `registry` is one of Google's (Container Registry or Artifact Registry).
fn is_google(registry: &str) -> bool {
    registry == "gcr.io" || registry.ends_with(".gcr.io") || registry.ends_with("-docker.pkg.dev")
}

/// The dockercfg, with an entry for each of [`REGISTRIES`] and for `wanted` (the registry
/// the step pushes to or pulls from) when that is another of Google's, such as an Artifact
/// Registry host (`europe-west1-docker.pkg.dev`). Errors never quote the key.
pub fn generate(env: &Env, wanted: Option<&str>) -> Result<(DockerCfg, String), String> {
    let key = env.get("GOOGLE_AUTH_JSON").ok_or(
        "GOOGLE_AUTH_JSON is not set for the GCR generator; set it, with the service account's key file as one line of JSON, in the service's encrypted env file",
    )?;
    let json: serde_json::Value = serde_json::from_str(key).map_err(|e| {
        format!("GOOGLE_AUTH_JSON is not JSON ({e}); it must hold the service account's key file, on one line")
    })?;
    let email = json["client_email"].as_str();
    if json["type"].as_str() != Some("service_account") || email.is_none() || json["private_key"].as_str().is_none() {
        return Err("GOOGLE_AUTH_JSON is not a service account's key file (it needs `\"type\": \"service_account\"`, `client_email` and `private_key`); create a JSON key for the account in the Google Cloud console".into());
    }
    let email = email.unwrap_or_default();
    // gcloud refused to activate a key for another account than the one named.
    if let Some(named) = env.get("GOOGLE_AUTH_EMAIL").filter(|n| *n != email) {
        return Err(format!(
            "GOOGLE_AUTH_EMAIL is {named}, but the key in GOOGLE_AUTH_JSON is for {email}; make them the same account"
        ));
    }
    let password = key.trim();
    let mut hosts: Vec<String> = REGISTRIES.iter().map(|h| h.to_string()).collect();
    if let Some(w) =
        wanted.map(slipway_core::dockercfg::normalize_registry).filter(|w| is_google(w) && !hosts.contains(w))
    {
        hosts.push(w);
    }
    let cfg = DockerCfg { entries: hosts.iter().map(|h| Credential::basic(h, JSON_KEY_USER, password)).collect() };
    Ok((cfg, format!("credentials for {} (service account {email})", hosts.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = r#"{"type": "service_account", "project_id": "p-1", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "client_email": "ci@p-1.iam.gserviceaccount.com"}"#;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn every_registry_gets_the_key_as_json_key() {
        let (cfg, summary) =
            generate(&env(&[("GOOGLE_AUTH_JSON", KEY)]), Some("https://europe-west1-docker.pkg.dev")).unwrap();
        assert_eq!(cfg.registries().len(), 8);
        for host in REGISTRIES.iter().copied().chain(["europe-west1-docker.pkg.dev"]) {
            let c = cfg.lookup(host).unwrap();
            assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("_json_key"), Some(KEY)));
        }
        assert!(summary.contains("ci@p-1.iam.gserviceaccount.com") && !summary.contains("PRIVATE"), "{summary}");
        // Not Google's: no entry, so the key is never sent there.
        let (cfg, _) = generate(&env(&[("GOOGLE_AUTH_JSON", KEY)]), Some("quay.io")).unwrap();
        assert!(cfg.lookup("quay.io").is_err());
    }

    #[test]
    fn a_wrong_key_is_refused_without_quoting_it() {
        let e = generate(&env(&[]), None).unwrap_err();
        assert!(e.contains("GOOGLE_AUTH_JSON is not set"), "{e}");
        let e = generate(&env(&[("GOOGLE_AUTH_JSON", "{\"private_key\": \"SECRET\"")]), None).unwrap_err();
        assert!(e.contains("not JSON") && !e.contains("SECRET"), "{e}");
        let e = generate(&env(&[("GOOGLE_AUTH_JSON", r#"{"private_key": "SECRET"}"#)]), None).unwrap_err();
        assert!(e.contains("not a service account's key file") && !e.contains("SECRET"), "{e}");
        let e = generate(&env(&[("GOOGLE_AUTH_JSON", KEY), ("GOOGLE_AUTH_EMAIL", "other@x")]), None).unwrap_err();
        assert!(e.contains("other@x") && e.contains("ci@p-1"), "{e}");
    }
}
