//! `slipway explain [CODE]`: like `ruff rule`, a rule's summary, an example that triggers it
//! (with what `validate` prints for it, computed now, so it cannot go stale) and the fixed
//! version; without a code, every code with its name and summary.
//!
//! The example and the fix come from `Code::example`, which embeds the rule's golden folders
//! (`core/tests/fixtures/rules/SWnnn-name/{example,fixed}/`); the core's tests check that the
//! example triggers exactly that code and the fix nothing.

use anyhow::{Result, bail};
use clap::Args;
use slipway_core::codes::Example;
use slipway_core::{Code, SourceFile, check};
use std::fmt::Write;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A code such as SW206 or a name such as push-without-build.
    pub code: Option<String>,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode> {
    match args.code {
        None => print!("{}", list()),
        Some(s) => match Code::lookup(&s) {
            Some(c) => print!("{}", explain(c)),
            None => bail!("unknown code `{s}`; `slipway explain` lists them all"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per code: code, name, summary.
pub fn list() -> String {
    Code::ALL.iter().map(|c| format!("{}  {:<28} {}\n", c.as_str(), c.name(), c.summary())).collect()
}

const SERVICES: &str = "codeship-services.yml";
const STEPS: &str = "codeship-steps.yml";

/// The explanation of one code, as Markdown (readable as it is on a terminal).
pub fn explain(code: Code) -> String {
    let mut out = format!("# {} ({})\n\n{}\n", code.as_str(), code.name(), code.summary());
    if let Some(example) = code.example() {
        out.push_str(&example_section(&example));
    }
    out
}

fn example_section(ex: &Example) -> String {
    let files = [(SERVICES, ex.services, ex.fixed_services), (STEPS, ex.steps, ex.fixed_steps)];
    let mut out = String::from("\n## Example\n");
    // The files the fix changes, then the other file as context.
    for (name, bad, _) in files.iter().filter(|(_, bad, fixed)| bad != fixed) {
        out.push_str(&yaml_block(name, bad));
    }
    for (name, bad, _) in files.iter().filter(|(_, bad, fixed)| bad == fixed) {
        out.push_str(&yaml_block(&format!("with {name}"), bad));
    }
    let (sv, st) = (SourceFile::new(SERVICES, ex.services), SourceFile::new(STEPS, ex.steps));
    let rendered = check(&sv, &st).report.render_text(&[&sv, &st]);
    let _ = write!(out, "\n`slipway validate` reports:\n\n```text\n{}```\n", rendered);
    out.push_str("\nUse instead:\n");
    for (name, _, fixed) in files.iter().filter(|(_, bad, fixed)| bad != fixed) {
        out.push_str(&yaml_block(name, fixed));
    }
    out
}

fn yaml_block(title: &str, text: &str) -> String {
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("\n{title}:\n\n```yaml\n{text}{newline}```\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explanation_shows_the_example_what_validate_says_and_the_fix() {
        let text = explain(Code::UnknownService);
        let ex = Code::UnknownService.example().unwrap();
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("no {needle:?} in\n{text}"));
        // Summary, the changed steps file, the services file as context, the finding, the fix: in that order.
        let order = [
            at(Code::UnknownService.summary()),
            at(&format!("codeship-steps.yml:\n\n```yaml\n{}```", ex.steps)),
            at(&format!("with codeship-services.yml:\n\n```yaml\n{}```", ex.services)),
            at("error[SW102]: this step names unknown service `ap`"),
            at(&format!("Use instead:\n\ncodeship-steps.yml:\n\n```yaml\n{}```", ex.fixed_steps)),
        ];
        assert!(order.is_sorted(), "{order:?}\n{text}");
    }

    #[test]
    fn a_code_without_an_example_shows_its_summary() {
        let text = explain(Code::InputTooLarge);
        assert!(text.contains(Code::InputTooLarge.summary()) && !text.contains("## Example"), "{text}");
    }

    #[test]
    fn the_list_has_every_code_once() {
        let list = list();
        for c in Code::ALL {
            assert_eq!(list.lines().filter(|l| l.starts_with(c.as_str())).count(), 1, "{c}");
        }
    }
}
