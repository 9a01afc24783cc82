//! Builds from forges (GitHub, GitLab, Gitea/Forgejo): webhook verification, the events they
//! send turned into one [`trigger::Trigger`], and commit statuses sent back. (The `[[project]]`
//! keys that describe a repository project are read by `crate::config`.)
//!
//! Nothing here touches the HTTP router or the run manager: `POST /hooks/{project}` calls
//! [`verify::verify`] on the raw body, then [`trigger::parse`] on what it returns, and the run
//! manager calls [`status::StatusClient`] on its state changes.

pub mod run_trigger;
pub mod status;
pub mod trigger;
pub mod verify;

use std::fmt;

/// The forge a repository lives on. Gitea also covers Forgejo (same API and events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forge {
    GitHub,
    GitLab,
    Gitea,
}

impl Forge {
    pub fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
        }
    }

    /// The user name that goes with a token in HTTP basic auth for git over https:
    /// GitHub takes `x-access-token`, GitLab `oauth2`, Gitea any name with the token as password.
    pub fn git_username(self) -> &'static str {
        match self {
            Forge::GitHub => "x-access-token",
            Forge::GitLab => "oauth2",
            Forge::Gitea => "slipway",
        }
    }
}

impl fmt::Display for Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A webhook secret or API token, read from a file or the environment. Its `Debug` never
/// shows the value, so a secret inside a logged struct stays hidden.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// `None` for an empty value: an empty secret would make every signature check trivial.
    pub fn new(value: impl Into<String>) -> Option<Secret> {
        let v = value.into();
        (!v.is_empty()).then_some(Secret(v))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the secret replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}
