//! `slipway plan`

use crate::build_values::{BuildContext, BuildValues};
use crate::cli::{OutputFormat, ProjectArgs};
use anyhow::Result;
use clap::Args;
use slipway_core::plan::{PlanOptions, plan, render_text};
use std::process::ExitCode;

/// The build values (jet's `--ci-*` flags); unset ones come from the local git checkout.
#[derive(Args, Debug, Clone, Default)]
pub struct CiArgs {
    /// CI_BRANCH / `.Branch` [default: the build tag].
    #[arg(long, value_parser = build_tag)]
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

/// `--tag`/`--ci-branch`: a usage error (exit 2) when too long to be a branch or tag name.
pub fn build_tag(s: &str) -> std::result::Result<String, String> {
    slipway_core::plan::filter::check_tag(s).map(|()| s.to_string()).map_err(|e| e.to_string())
}

impl CiArgs {
    /// The flags as build values: `tag` is `--tag` of the command, when it has one.
    pub fn values(&self, tag: Option<&str>) -> BuildValues {
        BuildValues {
            tag: tag.map(str::to_string),
            branch: self.ci_branch.clone(),
            commit_id: self.ci_commit_id.clone(),
            build_id: self.ci_build_id.clone(),
            committer_name: self.ci_committer_name.clone(),
            committer_email: self.ci_committer_email.clone(),
            committer_username: self.ci_committer_username.clone(),
            commit_message: self.ci_commit_message.clone(),
            commit_description: self.ci_commit_description.clone(),
            project_id: self.ci_project_id.clone(),
            repo_name: self.ci_repo_name.clone(),
            ci_name: Some(self.ci_name.clone()),
            timestamp: self.ci_timestamp,
        }
    }

    /// The build of `slipway plan`/`steps` in `dir`: the flags, else the checkout there.
    pub fn build(&self, dir: &std::path::Path, tag: Option<&str>) -> Result<BuildContext> {
        self.values(tag).resolve(dir)
    }
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The build tag (branch or git tag) that `tag:`/`exclude:` filters match [default: --ci-branch, else the checked-out branch].
    #[arg(long, value_parser = build_tag)]
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
    let files = args.project.load()?;
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
