//! Export a checked Codeship Pro configuration to GitHub Actions or GitLab CI: pure text in,
//! text out, so the CLI writes it and the studio previews it with the same function.
//!
//! The input is the checked model and the planner's output for [`plan_options`] (every step
//! planned, no build tag, pushes on): the export follows the one planner for step structure,
//! generated names, `services:` expansion and commands, and reads only what the plan does not
//! carry (filters, `image_tag` templates, service definitions and source positions) from the
//! model. Whatever cannot be translated exactly is a warning with its position in the source
//! and a comment next to the generated job.

mod github;
mod gitlab;
mod layout;
mod script;
mod slipway_mode;
mod tag;
mod tree;
mod yaml;

use crate::check::Checked;
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::plan::{Plan, PlanOptions};
use crate::source::{SourceFile, Span};

pub use slipway_mode::Install;
pub use tree::Node;

/// Which forge to write for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    GithubActions,
    GitlabCi,
}

impl Forge {
    /// Where the forge looks for the file, relative to the repository root.
    pub fn default_path(self) -> &'static str {
        match self {
            Forge::GithubActions => ".github/workflows/codeship.yml",
            Forge::GitlabCi => ".gitlab-ci.yml",
        }
    }
    pub fn command_name(self) -> &'static str {
        match self {
            Forge::GithubActions => "github-actions",
            Forge::GitlabCi => "gitlab-ci",
        }
    }
}

/// `Slipway`: the forge runs `slipway steps` on the files, which stay the source of truth.
/// `Native`: the steps translated to the forge's jobs and plain `docker` commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Slipway,
    Native,
}

/// What a secret of the generated file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// The project key file (`codeship.aes`): Slipway mode decrypts with it at run time.
    Key,
    /// The decrypted content of an encrypted file (path as the configuration writes it).
    File(String),
    /// The decrypted content of an inline encrypted value, at this position.
    Inline { what: String, span: Span },
}

/// A CI secret the generated file reads, and how to create it. Never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    pub name: String,
    pub source: SecretSource,
    /// The exact command that creates it (`gh secret set …` / `glab variable set …`).
    pub command: String,
}

/// The generated file, the warnings about what is not exact (and errors for jobs that would
/// fail, [`Export::fails`]), and the secrets it needs.
#[derive(Clone, Debug)]
pub struct Export {
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
    pub secrets: Vec<SecretRef>,
}

impl Export {
    /// Whether a job of the file fails whenever it runs (SW502).
    pub fn fails(&self) -> bool {
        self.diagnostics.iter().any(|d| d.code == Code::ExportJobFails)
    }
}

/// The files an export reads, checked, with the plan made with [`plan_options`].
pub struct Input<'a> {
    pub services_file: &'a SourceFile,
    pub steps_file: &'a SourceFile,
    pub checked: &'a Checked,
    pub plan: &'a Plan,
    /// The project folder relative to the repository root (`.` when the files are at the root).
    pub dir: &'a str,
    /// Where a `--mode slipway` job installs Slipway from; without one its job cannot run
    /// (SW502).
    pub install: Option<&'a Install>,
}

/// Plan every step: no build tag (filters become the forge's conditions) and pushes on (the
/// forge decides with those conditions). The build values are the forge's, at run time.
pub fn plan_options() -> PlanOptions {
    PlanOptions { tag: None, push: true, vars: Default::default() }
}

/// Plan and export in one call (what the studio's preview does).
pub fn export_files(services_file: &SourceFile, steps_file: &SourceFile, forge: Forge, mode: Mode) -> Export {
    let checked = crate::check(services_file, steps_file);
    let plan = crate::plan::plan(&checked.services, &checked.steps, &plan_options());
    export(&Input { services_file, steps_file, checked: &checked, plan: &plan, dir: ".", install: None }, forge, mode)
}

pub fn export(input: &Input, forge: Forge, mode: Mode) -> Export {
    let image_vars = script::image_vars(&input.checked.services.services);
    let image_names = script::image_names(&input.checked.services.services);
    let mut cx = Cx {
        input,
        forge,
        warnings: Vec::new(),
        secrets: Vec::new(),
        image_vars,
        image_names,
        cuts_values: false,
        shared_notes: Vec::new(),
    };
    let nodes = tree::pair(&input.checked.steps.steps, &input.plan.steps);
    let text = match (forge, mode) {
        (Forge::GithubActions, Mode::Slipway) => github::slipway(&mut cx),
        (Forge::GithubActions, Mode::Native) => github::native(&mut cx, &nodes),
        (Forge::GitlabCi, Mode::Slipway) => gitlab::slipway(&mut cx),
        (Forge::GitlabCi, Mode::Native) => gitlab::native(&mut cx, &nodes),
    };
    let mut diagnostics = cx.warnings;
    diagnostics.sort_by(|a, b| (&a.file, a.span.start, &a.message).cmp(&(&b.file, b.span.start, &b.message)));
    diagnostics.dedup_by(|a, b| a.file == b.file && a.span == b.span && a.message == b.message);
    Export { text, diagnostics, secrets: cx.secrets }
}

/// Which file a position is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum In {
    Services,
    Steps,
}

/// The state of one export: the input, and what it found on the way.
pub(crate) struct Cx<'a> {
    pub input: &'a Input<'a>,
    pub forge: Forge,
    pub warnings: Vec<Diagnostic>,
    pub secrets: Vec<SecretRef>,
    /// Service name → the shell variable holding its image ([`script::image_vars`]).
    pub image_vars: std::collections::HashMap<String, String>,
    /// Service name → the name of the image the images job builds for it ([`script::image_names`]).
    pub image_names: std::collections::HashMap<String, String>,
    /// Whether a push cuts a value for its tag (`printf "%.7s"`): the preamble then defines
    /// `cs_ascii`.
    pub cuts_values: bool,
    /// Notes about the services file, written once above the jobs ([`Cx::job_notes`]).
    pub shared_notes: Vec<String>,
}

impl Cx<'_> {
    /// Record that something at `span` is not translated exactly; returns the comment line
    /// to write next to the generated job (`# file:line:col: message`).
    pub fn inexact(&mut self, file: In, span: Span, message: impl Into<String>) -> String {
        let d = Diagnostic::warning(Code::ExportInexact, self.source(file), span, message);
        self.note(d)
    }

    /// Record that the job written for `span` fails whenever it runs (it stops with the same
    /// message): an error, so that nothing is written without `--allow-partial`. Returns the
    /// comment line, as [`Cx::inexact`] does.
    pub fn fails(&mut self, file: In, span: Span, message: impl Into<String>) -> String {
        let d = Diagnostic::error(Code::ExportJobFails, self.source(file), span, message);
        self.note(d)
    }

    fn source(&self, file: In) -> &SourceFile {
        match file {
            In::Services => self.input.services_file,
            In::Steps => self.input.steps_file,
        }
    }

    fn note(&mut self, d: Diagnostic) -> String {
        let comment = format!("{}:{}:{}: {}", d.file, d.line, d.column, d.message);
        self.warnings.push(d);
        comment
    }

    /// Of a job's notes, those about the services file (image builds and containers, the same
    /// in every job that uses the service) go to the file's header once, [`Cx::shared_notes`];
    /// the job keeps its own steps' notes.
    pub fn job_notes(&mut self, notes: Vec<String>) -> Vec<String> {
        let prefix = format!("{}:", self.input.services_file.name);
        let (shared, own): (Vec<String>, Vec<String>) = notes.into_iter().partition(|n| n.starts_with(&prefix));
        for n in shared {
            if !self.shared_notes.contains(&n) {
                self.shared_notes.push(n);
            }
        }
        own
    }

    /// The secret holding `source`, registered once, with the command that creates it.
    pub fn secret(&mut self, source: SecretSource) -> String {
        if let Some(s) = self.secrets.iter().find(|s| s.source == source) {
            return s.name.clone();
        }
        // Two files can give the same name (`a.env.encrypted`, `a-env.encrypted`): the later
        // one, in the order the export meets them, is numbered.
        let wanted = secret_name(&source, self.secrets.len());
        let mut name = wanted.clone();
        let mut n = 2;
        while self.secrets.iter().any(|s| s.name == name) {
            name = format!("{wanted}_{n}");
            n += 1;
        }
        let set = match self.forge {
            Forge::GithubActions => format!("gh secret set {name}"),
            Forge::GitlabCi => {
                let kind = if source == SecretSource::Key { "env_var --masked" } else { "file" };
                format!("glab variable set {name} --type {kind}")
            }
        };
        // Decrypted to a private file, uploaded, removed: the value never reaches the shell's
        // history or the command line.
        let command = match &source {
            SecretSource::Key => format!("{set} < codeship.aes"),
            SecretSource::File(f) => {
                let f = crate::argv::quote(f);
                format!("slipway decrypt {f} {name}.plain && {set} < {name}.plain; rm -f {name}.plain")
            }
            SecretSource::Inline { .. } => {
                format!("{set}   # paste the decrypted value (slipway decrypt of the inline text)")
            }
        };
        self.secrets.push(SecretRef { name: name.clone(), source, command });
        name
    }
}

/// `CODESHIP_AES` for the key; `CODESHIP_SECRET_<FILE>` for an encrypted file, from its name
/// (`deploy/env.encrypted` → `CODESHIP_SECRET_DEPLOY_ENV`); inline values by number.
fn secret_name(source: &SecretSource, n: usize) -> String {
    match source {
        SecretSource::Key => "CODESHIP_AES".into(),
        SecretSource::File(f) => {
            let stem = f.trim_start_matches("./").trim_end_matches(".encrypted");
            let mut s: String =
                stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
            while s.contains("__") {
                s = s.replace("__", "_");
            }
            format!("CODESHIP_SECRET_{}", s.trim_matches('_'))
        }
        SecretSource::Inline { .. } => format!("CODESHIP_SECRET_INLINE_{}", n + 1),
    }
}

/// The services file's notes, once, above the jobs (each job that builds or runs the service
/// is affected).
pub(crate) fn shared_notes(cx: &Cx, out: &mut String) {
    if !cx.shared_notes.is_empty() {
        out.push_str("# Not translated exactly, in every job that uses the service:\n");
        yaml::comments(out, 0, &cx.shared_notes);
    }
}

/// The header comment every generated file starts with.
pub(crate) fn header(cx: &Cx, mode: Mode) -> String {
    let how = match mode {
        Mode::Slipway => "runs them with Slipway; they stay the source of truth",
        Mode::Native => "is a translation of them that runs without Slipway",
    };
    format!(
        "# Generated by `slipway export {} --mode {}` from {} and {}.\n# This file {how}.\n",
        cx.forge.command_name(),
        match mode {
            Mode::Slipway => "slipway",
            Mode::Native => "native",
        },
        cx.input.services_file.name,
        cx.input.steps_file.name,
    )
}
