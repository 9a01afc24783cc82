//! Validation rules over the typed model. Shape problems (wrong types, unknown keys, bad
//! volumes) are reported while lowering (`model/`); these rules check meaning and
//! cross-references.
//!
//! One rule a file, named for its code (`SW102 unknown-service` is `unknown_service.rs`), as in
//! ruff: the file's doc says what the rule checks and why, `codes.rs` holds the text users see
//! (`slipway explain`), and `tests/fixtures/rules/SWnnn-name/` its golden cases. A new rule is a
//! new file and a line in [`run`]. Per-step rules get the step and its [`walk::Place`].

mod both_dockercfg;
mod command_vars;
mod command_words;
mod dependency_cycle;
mod duplicate_step_name;
mod image_name_with_tag;
mod invalid_image_name;
mod invalid_regex;
mod manual_placement;
mod not_applied;
mod push_without_build;
mod push_without_image_name;
mod run_without_command;
mod service_and_services;
mod service_on_group_and_step;
mod service_without_image;
mod step_without_service;
mod template;
mod unexpanded_variable;
mod unknown_service;
mod walk;

use crate::diagnostics::Diagnostic;
use crate::model::{ServicesFile, StepsFile};
use crate::source::SourceFile;

pub(crate) fn run(
    services_file: &SourceFile,
    services: &ServicesFile,
    steps_file: &SourceFile,
    steps: &StepsFile,
    diags: &mut Vec<Diagnostic>,
) {
    let file = services_file;
    service_without_image::check(file, services, diags);
    unknown_service::in_services(file, services, diags);
    template::in_build_args(file, services, diags);
    dependency_cycle::check(file, services, diags);
    not_applied::check(file, services, diags);

    let file = steps_file;
    let mut compiled = invalid_regex::Compiled::default();
    walk::steps(&steps.steps, &mut |s, at| {
        unknown_service::in_step(file, services, s, diags);
        service_and_services::check(file, s, diags);
        service_on_group_and_step::check(file, s, at, diags);
        step_without_service::check(file, services, s, at, diags);
        both_dockercfg::check(file, s, diags);
        invalid_regex::check(file, s, &mut compiled, diags);
        run_without_command::check(file, s, diags);
        command_words::check(file, s, diags);
        unexpanded_variable::check(file, services, s, at, diags);
        push_without_image_name::check(file, s, diags);
        invalid_image_name::check(file, s, diags);
        image_name_with_tag::check(file, s, diags);
        push_without_build::check(file, services, s, at, diags);
        template::in_image_tag(file, s, diags);
        manual_placement::nested(file, s, at, diags);
    });
    walk::lists(&steps.steps, &mut |siblings| duplicate_step_name::check(file, siblings, diags));
    manual_placement::last(file, &steps.steps, diags);
}
