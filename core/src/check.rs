//! The one entry point for validation: parse both files, lower them to the typed model,
//! run the rules, and return every diagnostic sorted by position.

use crate::diagnostics::{Diagnostic, Report};
use crate::model::lower::Lower;
use crate::model::{ServicesFile, StepsFile, services, steps};
use crate::source::SourceFile;
use crate::syntax::{self, Node, Parsed, Reparser};

/// Both files, lowered, with the diagnostics found on the way.
#[derive(Debug, Clone)]
pub struct Checked {
    pub services: ServicesFile,
    pub steps: StepsFile,
    pub report: Report,
}

pub fn check(services_file: &SourceFile, steps_file: &SourceFile) -> Checked {
    let services_root = syntax::parse(services_file);
    let steps_root = syntax::parse(steps_file);
    check_parsed(
        services_file,
        services_root.as_ref().map_err(Clone::clone),
        steps_file,
        steps_root.as_ref().map_err(Clone::clone),
    )
}

/// [`check`] for an editor, which checks the same files again after each edit: it keeps each
/// file's last parse and re-parses only what an edit touched ([`Reparser`]). The result is
/// always [`check`]'s.
#[derive(Debug, Default)]
pub struct Checker {
    pub services: Reparser,
    pub steps: Reparser,
}

impl Checker {
    pub fn check(&mut self, services_file: &SourceFile, steps_file: &SourceFile) -> Checked {
        let services_root = self.services.parse(services_file);
        let steps_root = self.steps.parse(steps_file);
        check_parsed(services_file, services_root, steps_file, steps_root)
    }
}

fn check_parsed(
    services_file: &SourceFile,
    services_root: Result<&Parsed, Diagnostic>,
    steps_file: &SourceFile,
    steps_root: Result<&Parsed, Diagnostic>,
) -> Checked {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let services_root = root(services_root, services_file, &mut diags);
    let steps_root = root(steps_root, steps_file, &mut diags);
    let services = services_root
        .map(|root| services::lower(root, &mut Lower { file: services_file, diags: &mut diags }))
        .unwrap_or_default();
    let steps = steps_root
        .map(|root| steps::lower(root, &mut Lower { file: steps_file, diags: &mut diags }))
        .unwrap_or_default();
    // Cross-file rules would only repeat the syntax error as "unknown service" noise.
    if !diags.iter().any(|d| d.code == crate::Code::YamlSyntax && d.file == services_file.name) {
        crate::rules::run(services_file, &services, steps_file, &steps, &mut diags);
    }
    Checked { services, steps, report: Report::new(diags) }
}

/// The tree of a parse, its warnings (repeated keys) or its error added to `diags`.
fn root<'a>(
    parsed: Result<&'a Parsed, Diagnostic>,
    file: &SourceFile,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a Node> {
    match parsed {
        Ok(p) => {
            diags.extend(p.warnings(file));
            Some(&p.root)
        }
        Err(d) => {
            diags.push(d);
            None
        }
    }
}
