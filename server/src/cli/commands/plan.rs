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
    /// CI_BRANCH / `.Branch` [default: --tag, else the checked-out branch].
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

impl CiArgs {
    pub fn build_vars(&self, dir: &std::path::Path, tag: Option<&str>) -> Result<BuildVars> {
        let git = GitInfo::read(dir);
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
        Ok(BuildVars {
            project_id: or(&self.ci_project_id, None),
            build_id: or(&self.ci_build_id, None),
            repo_name: or(&self.ci_repo_name, git.repo_name),
            branch: or(&self.ci_branch, tag.map(str::to_string).or(git.branch)),
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
        })
    }
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The build tag (branch or git tag) that `tag:`/`exclude:` filters match against.
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
    let opts = PlanOptions {
        tag: args.tag.clone(),
        push: args.push,
        vars: args.ci.build_vars(&args.project.dir, args.tag.as_deref())?,
    };
    let p = plan(&checked.services, &checked.steps, &opts);
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&p)?),
        OutputFormat::Text => print!("{}", render_text(&p)),
    }
    let tag_errors =
        p.leaves().iter().any(|s| s.tag_error.is_some() && s.status == slipway_core::plan::Status::WillRun);
    Ok(if tag_errors { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
