//! The example and its fix that `slipway explain CODE` shows. They are the files of the rule's
//! golden folders, `core/tests/fixtures/rules/SWnnn-name/example/` and `…/fixed/`, embedded
//! here, so the explanation and the tests read the same files: the golden tests check that the
//! example triggers its code and nothing else, and that the fix triggers nothing.

use super::Code;

/// A project (both files) that triggers a rule, and the same project fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Example {
    pub services: &'static str,
    pub steps: &'static str,
    pub fixed_services: &'static str,
    pub fixed_steps: &'static str,
}

macro_rules! examples {
    ($( $variant:ident => $folder:literal, )*) => {
        impl Code {
            /// The example `slipway explain` shows; `None` for a code no file can show
            /// (SW002 needs a file over 1 MiB).
            pub fn example(self) -> Option<Example> {
                match self {
                    $( Code::$variant => Some(Example {
                        services: include_str!(concat!("../../tests/fixtures/rules/", $folder, "/example/codeship-services.yml")),
                        steps: include_str!(concat!("../../tests/fixtures/rules/", $folder, "/example/codeship-steps.yml")),
                        fixed_services: include_str!(concat!("../../tests/fixtures/rules/", $folder, "/fixed/codeship-services.yml")),
                        fixed_steps: include_str!(concat!("../../tests/fixtures/rules/", $folder, "/fixed/codeship-steps.yml")),
                    }), )*
                    // Too large to embed, and `slipway export`'s finding (not a rule of `check`).
                    Code::InputTooLarge | Code::ExportInexact | Code::ExportJobFails => None,
                }
            }
        }
    };
}

examples! {
    YamlSyntax => "SW001-yaml-syntax",
    InputLimits => "SW003-input-limits",
    WrongType => "SW004-wrong-type",
    UnknownKey => "SW005-unknown-key",
    IgnoredKey => "SW006-ignored-key",
    UnsupportedKey => "SW007-unsupported-key",
    DeprecatedKey => "SW008-deprecated-key",
    NoBuildOrImage => "SW101-service-without-image",
    UnknownService => "SW102-unknown-service",
    DependencyCycle => "SW103-dependency-cycle",
    AbsoluteHostVolume => "SW104-absolute-host-volume",
    InvalidVolume => "SW105-invalid-volume",
    EmptyFile => "SW106-empty-file",
    NotApplied => "SW107-not-applied",
    DuplicateStepName => "SW201-duplicate-step-name",
    ServiceAndServices => "SW202-service-and-services",
    ServiceOnGroupAndStep => "SW203-service-on-group-and-step",
    RunWithoutCommand => "SW204-run-without-command",
    PushWithoutImageName => "SW205-push-without-image-name",
    PushWithoutBuild => "SW206-push-without-build",
    InvalidRegex => "SW207-invalid-regex",
    TemplateSyntax => "SW208-template-syntax",
    TemplateUnknownVariable => "SW209-template-unknown-variable",
    ManualPlacement => "SW210-manual-placement",
    StepWithoutService => "SW211-step-without-service",
    UnknownStepType => "SW212-unknown-step-type",
    EmptyGroup => "SW213-empty-group",
    BothDockercfg => "SW214-both-dockercfg",
    EmptySteps => "SW215-empty-steps",
    InvalidImageName => "SW216-invalid-image-name",
    ImageNameWithTag => "SW217-image-name-with-tag",
    UnexpandedVariable => "SW218-unexpanded-variable",
    DuplicateKey => "SW009-duplicate-key",
}
