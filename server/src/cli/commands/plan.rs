//! `slipway plan`

use crate::cli::{OutputFormat, ProjectArgs};
use crate::gitinfo::GitInfo;
use crate::project;
use anyhow::{Context, Result};
use clap::Args;
use slipway_core::plan::{PlanOptions, plan, render_text};
use slipway_core::template::BuildVars;
use std::process::ExitCode;

/// The build values (jet's `--ci-*` flags); unset ones come from the local git checkout.
#[derive(Args, Debug, Clone, Default)]
pub struct CiArgs {
    /// CI_BRANCH / `.Branch` [default: the build tag].
    #[arg(long)]
    pub ci_branch: Option<String>,
    /// CI_COMMIT_ID / `.CommitID` [default: HEAD].
    #[arg(long)]
    pub ci_commit_id: Option<String>,
    /// CI_BUILD_ID / `.BuildID`.
    #[arg(long)]
    pub ci_build_id: Option<String>,
    /// CI_COMMITTER_NAME / `.CommitterName`.
    #[arg(long)]
    pub ci_committer_name: Option<String>,
    /// CI_COMMITTER_EMAIL / `.CommitterEmail`.
    #[arg(long)]
    pub ci_committer_email: Option<String>,
    /// CI_COMMITTER_USERNAME / `.CommitterUsername`.
    #[arg(long)]
    pub ci_committer_username: Option<String>,
    /// CI_COMMIT_MESSAGE / `.CommitMessage`.
    #[arg(long)]
    pub ci_commit_message: Option<String>,
    /// CI_COMMIT_DESCRIPTION / `.CommitDescription` [default: git describe --abbrev=1 --tags --always].
    #[arg(long)]
    pub ci_commit_description: Option<String>,
    /// CI_PROJECT_ID / `.ProjectID`.
    #[arg(long)]
    pub ci_project_id: Option<String>,
    /// CI_REPO_NAME / `.RepoName` [default: the repository folder's name].
    #[arg(long)]
    pub ci_repo_name: Option<String>,
    /// CI_NAME / `.CiName`.
    #[arg(long, default_value = "codeship")]
    pub ci_name: String,
    /// The build time as unix seconds [default: $SOURCE_DATE_EPOCH, else now]; fixes `.Time`.
    #[arg(long)]
    pub ci_timestamp: Option<i64>,
}

/// Where the build tag came from, so a run can say why `tag:` filters matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagSource {
    Flag,
    CiBranch,
    Checkout,
    None,
}

/// What one build is about: the build tag that `tag:`/`exclude:` filters match, and the values
/// templates and step containers see. `plan` and `steps` both get it from [`CiArgs::build`],
/// so they cannot disagree.
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

impl CiArgs {
    /// The build tag is `--tag`, else `--ci-branch`, else the checked-out branch (a build on
    /// Codeship was tagged with its branch); `.Branch` is `--ci-branch`, else that tag. Other
    /// values come from flags, else from the local git checkout.
    pub fn build(&self, dir: &std::path::Path, tag: Option<&str>) -> Result<BuildContext> {
        let git = GitInfo::read(dir);
        let (tag, tag_source) = match (tag, &self.ci_branch, &git.branch) {
            (Some(t), _, _) => (Some(t.to_string()), TagSource::Flag),
            (None, Some(b), _) => (Some(b.clone()), TagSource::CiBranch),
            (None, None, Some(b)) => (Some(b.clone()), TagSource::Checkout),
            (None, None, None) => (None, TagSource::None),
        };
        let timestamp = match self.ci_timestamp {
            Some(t) => t,
            None => match std::env::var("SOURCE_DATE_EPOCH") {
                Ok(s) => s.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not unix seconds"))?,
                Err(_) => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            },
        };
        let or = |flag: &Option<String>, git: Option<String>| flag.clone().or(git).unwrap_or_default();
        let vars = BuildVars {
            project_id: or(&self.ci_project_id, None),
            build_id: or(&self.ci_build_id, None),
            repo_name: or(&self.ci_repo_name, git.repo_name),
            branch: or(&self.ci_branch, tag.clone()),
            commit_id: or(&self.ci_commit_id, git.commit_id),
            commit_message: or(&self.ci_commit_message, git.commit_message),
            commit_description: or(&self.ci_commit_description, git.describe),
            committer_name: or(&self.ci_committer_name, git.committer_name),
            committer_email: or(&self.ci_committer_email, git.committer_email),
            committer_username: or(&self.ci_committer_username, None),
            timestamp,
            step_name: String::new(),
            service_name: String::new(),
            image_name: String::new(),
            ci_name: self.ci_name.clone(),
        };
        Ok(BuildContext { tag, tag_source, vars })
    }
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The build tag (branch or git tag) that `tag:`/`exclude:` filters match [default: --ci-branch, else the checked-out branch].
    #[arg(long)]
    pub tag: Option<String>,
    /// Include push steps (without it they are shown as skipped, as `jet steps` did).
    #[arg(long)]
    pub push: bool,
    #[command(flatten)]
    pub ci: CiArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

pub fn run(args: PlanArgs) -> Result<ExitCode> {
    let files = project::load(&args.project)?;
    let checked = slipway_core::check(&files.services, &files.steps);
    if checked.report.has_errors() {
        eprint!("{}", checked.report.render_text(&[&files.services, &files.steps]));
        eprintln!("slipway: fix the errors above before planning");
        return Ok(ExitCode::from(1));
    }
    let build = args.ci.build(&args.project.dir, args.tag.as_deref())?;
    let opts = PlanOptions { tag: build.tag, push: args.push, vars: build.vars };
    let p = plan(&checked.services, &checked.steps, &opts);
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&p)?),
        OutputFormat::Text => print!("{}", render_text(&p)),
    }
    let tag_errors =
        p.leaves().iter().any(|s| s.tag_error.is_some() && s.status == slipway_core::plan::Status::WillRun);
    Ok(if tag_errors { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
