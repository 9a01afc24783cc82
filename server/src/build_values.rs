//! What one build is about: its build tag and the values templates and step containers see
//! (`.Branch`, `CI_COMMIT_ID`, …), from what the user gave (the CLI's `--tag`/`--ci-*` flags,
//! or an API request), else from the local git checkout. `plan`, `steps` and the server's runs
//! all resolve them here, so they cannot disagree.

use crate::gitinfo::GitInfo;
use anyhow::{Context, Result};
use slipway_core::template::BuildVars;
use std::path::Path;

/// The values as given; `None` means "not given": the checkout or a default fills it in.
#[derive(Clone, Debug, Default)]
pub struct BuildValues {
    pub tag: Option<String>,
    pub branch: Option<String>,
    pub commit_id: Option<String>,
    pub build_id: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub committer_username: Option<String>,
    pub commit_message: Option<String>,
    pub commit_description: Option<String>,
    pub project_id: Option<String>,
    pub repo_name: Option<String>,
    pub ci_name: Option<String>,
    /// Unix seconds; unset: `$SOURCE_DATE_EPOCH`, else now.
    pub timestamp: Option<i64>,
}

/// Where the build tag came from, so a run can say why `tag:` filters matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagSource {
    Flag,
    CiBranch,
    Checkout,
    None,
}

/// The build tag that `tag:`/`exclude:` filters match, and the values templates and step
/// containers see.
#[derive(Clone, Debug)]
pub struct BuildContext {
    pub tag: Option<String>,
    pub tag_source: TagSource,
    pub vars: BuildVars,
}

impl BuildContext {
    /// One line for the terminal: which build tag filters match, and why.
    pub fn describe(&self) -> String {
        let from = match self.tag_source {
            TagSource::Flag => "--tag",
            TagSource::CiBranch => "--ci-branch",
            TagSource::Checkout => "the checked-out branch",
            TagSource::None => {
                return "no build tag (no --tag and no checked-out branch): steps with `tag:` are skipped".into();
            }
        };
        format!("build tag `{}` (from {from})", self.tag.as_deref().unwrap_or_default())
    }
}

impl BuildValues {
    /// Resolve against the git checkout at `dir` (read without running anything it names).
    pub fn resolve(&self, dir: &Path) -> Result<BuildContext> {
        let build = self.resolve_with(GitInfo::read(dir), default_timestamp()?);
        // A checked-out branch is as unbounded as a flag; given values are checked earlier,
        // where the user's error can say which flag or field it was.
        if let Some(tag) = &build.tag {
            slipway_core::plan::filter::check_tag(tag)?;
        }
        Ok(build)
    }

    /// The build tag is the given tag, else the branch, else the checked-out branch (a build
    /// on Codeship was tagged with its branch); `.Branch` is the branch, else that tag. Other
    /// values come from what was given, else from the checkout.
    fn resolve_with(&self, git: GitInfo, now: i64) -> BuildContext {
        let (tag, tag_source) = match (&self.tag, &self.branch, &git.branch) {
            (Some(t), _, _) => (Some(t.clone()), TagSource::Flag),
            (None, Some(b), _) => (Some(b.clone()), TagSource::CiBranch),
            (None, None, Some(b)) => (Some(b.clone()), TagSource::Checkout),
            (None, None, None) => (None, TagSource::None),
        };
        let or = |given: &Option<String>, git: Option<String>| given.clone().or(git).unwrap_or_default();
        let vars = BuildVars {
            project_id: or(&self.project_id, None),
            build_id: or(&self.build_id, None),
            repo_name: or(&self.repo_name, git.repo_name),
            branch: or(&self.branch, tag.clone()),
            commit_id: or(&self.commit_id, git.commit_id),
            commit_message: or(&self.commit_message, git.commit_message),
            commit_description: or(&self.commit_description, git.describe),
            committer_name: or(&self.committer_name, git.committer_name),
            committer_email: or(&self.committer_email, git.committer_email),
            committer_username: or(&self.committer_username, None),
            timestamp: self.timestamp.unwrap_or(now),
            step_name: String::new(),
            service_name: String::new(),
            image_name: String::new(),
            ci_name: self.ci_name.clone().unwrap_or_else(|| "codeship".into()),
        };
        BuildContext { tag, tag_source, vars }
    }
}

/// `$SOURCE_DATE_EPOCH` (reproducible builds), else the clock.
fn default_timestamp() -> Result<i64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not unix seconds")),
        Err(_) => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout() -> GitInfo {
        GitInfo {
            branch: Some("main".into()),
            commit_id: Some("abc".into()),
            repo_name: Some("repo".into()),
            ..GitInfo::default()
        }
    }

    #[test]
    fn the_tag_is_the_given_tag_else_the_branch_else_the_checkout() {
        let given = |tag: Option<&str>, branch: Option<&str>| BuildValues {
            tag: tag.map(str::to_string),
            branch: branch.map(str::to_string),
            ..BuildValues::default()
        };
        let cases = [
            (given(Some("v1"), Some("dev")), checkout(), Some("v1"), TagSource::Flag, "dev"),
            (given(None, Some("dev")), checkout(), Some("dev"), TagSource::CiBranch, "dev"),
            (given(None, None), checkout(), Some("main"), TagSource::Checkout, "main"),
            (given(None, None), GitInfo::default(), None, TagSource::None, ""),
            (given(Some("v1"), None), checkout(), Some("v1"), TagSource::Flag, "v1"),
        ];
        for (values, git, tag, source, branch) in cases {
            let b = values.resolve_with(git, 7);
            assert_eq!((b.tag.as_deref(), b.tag_source, b.vars.branch.as_str()), (tag, source, branch), "{values:?}");
        }
    }

    #[test]
    fn given_values_win_over_the_checkout_and_defaults_fill_the_rest() {
        let values = BuildValues { commit_id: Some("given".into()), ..BuildValues::default() };
        let b = values.resolve_with(checkout(), 42);
        assert_eq!(b.vars.commit_id, "given");
        assert_eq!(b.vars.repo_name, "repo");
        assert_eq!((b.vars.timestamp, b.vars.ci_name.as_str()), (42, "codeship"));
    }
}
