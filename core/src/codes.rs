//! Every diagnostic code, once. Codes are stable: never renumber or reuse one.
//! The summary doubles as `slipway explain CODE` text and the studio's help; `Code::example`
//! (in `examples.rs`) gives the example and fix `slipway explain` shows.

mod examples;

pub use examples::Example;
use serde::{Serialize, Serializer};

macro_rules! codes {
    ($( $variant:ident = $code:literal, $name:literal, $summary:literal; )*) => {
        /// A stable rule code such as `SW101`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];
            /// The stable code, e.g. `SW101`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }
            /// A short kebab-case name, e.g. `unknown-key`.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }
            /// What the rule checks and how to fix a finding.
            pub fn summary(self) -> &'static str {
                match self { $( Code::$variant => $summary, )* }
            }
            pub fn lookup(s: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(s) || c.name() == s)
            }
        }
    };
}

codes! {
    YamlSyntax = "SW001", "yaml-syntax", "The file is not valid YAML (or JSON). Fix the syntax at the position shown.";
    InputTooLarge = "SW002", "input-too-large", "The file is larger than 1 MiB; configuration files this large are rejected to protect the parser.";
    InputLimits = "SW003", "input-limits", "Nesting deeper than 64 levels or alias expansion past the budget (a 'billion laughs' document) is rejected.";
    WrongType = "SW004", "wrong-type", "A value has the wrong shape, e.g. a list where a string is expected.";
    UnknownKey = "SW005", "unknown-key", "A key Codeship does not know. It is ignored; check the spelling (a suggestion is given when one is close).";
    IgnoredKey = "SW006", "ignored-key", "A docker-compose key that Codeship accepts but ignores.";
    UnsupportedKey = "SW007", "unsupported-key", "A host-linking key (ports, external_links, stdin_open) that Codeship does not support; it is ignored.";
    DeprecatedKey = "SW008", "deprecated-key", "A deprecated spelling (build.path, build.dockerfile_path, service-level dockerfile). It still works; use the new spelling.";
    NoBuildOrImage = "SW101", "service-without-image", "A service needs either `build` or `image`.";
    UnknownService = "SW102", "unknown-service", "A reference (step service, links, depends_on, volumes_from, dockercfg_service) names a service that is not defined.";
    DependencyCycle = "SW103", "dependency-cycle", "Services depend on each other in a cycle through links/depends_on/volumes_from.";
    AbsoluteHostVolume = "SW104", "absolute-host-volume", "A host volume path is absolute; host paths should be relative to the services file so builds are portable.";
    InvalidVolume = "SW105", "invalid-volume", "A volume is not `container_path` or `host_path:container_path[:ro|:rw]`, or a host path leaves the project.";
    EmptyFile = "SW106", "empty-file", "The file defines nothing.";
    NotApplied = "SW107", "not-applied", "A warning: a compose key Slipway accepts but does not apply to the service's containers, so the step runs without it: `restart` (each step's containers run once and are removed), a value it cannot read (`mem_limit: lots`, `cpus: many`), or `cpu_quota`/`cpu_period` next to `cpus` (Docker takes one or the other). Limits, capabilities, devices and the other keys Docker supports are applied; on a server, host access (`privileged`, `cap_add`, `devices`, …) needs a trusted project.";
    DuplicateStepName = "SW201", "duplicate-step-name", "A warning: two steps of the same list (siblings, with the same `tag`/`exclude`) have the same name, so their logs and results are hard to tell apart. Names are display labels: the same name under different groups (`deploy` under `staging` and under `production`) is fine.";
    ServiceAndServices = "SW202", "service-and-services", "`service` and `services` are mutually exclusive on a step.";
    ServiceOnGroupAndStep = "SW203", "service-on-group-and-step", "A group that sets `service`/`services` must not have sub-steps that set `service` too.";
    RunWithoutCommand = "SW204", "run-without-command", "A run step needs a `command`.";
    PushWithoutImageName = "SW205", "push-without-image-name", "A push step needs `image_name`.";
    PushWithoutBuild = "SW206", "push-without-build", "A push step normally pushes the image its service builds; a service with only `image:` makes it republish the pulled image (a warning: it works, but is often a mistake). The push tags the built image as `image_name:image_tag`: `image_name` may differ from the service's `build.image`, which may be absent.";
    InvalidRegex = "SW207", "invalid-regex", "A `tag`/`exclude` value with `^` or `$` is a Go RE2 regular expression and must compile (no look-around, no backreferences).";
    TemplateSyntax = "SW208", "template-syntax", "An `image_tag` or build arg is not a valid Go text/template.";
    TemplateUnknownVariable = "SW209", "template-unknown-variable", "A template uses a variable or method that does not exist (see the list of build variables).";
    ManualPlacement = "SW210", "manual-placement", "A `manual` group must be the last step of its branch context, and only one is allowed.";
    StepWithoutService = "SW211", "step-without-service", "A run or push step needs a `service`, on itself or on an enclosing group.";
    UnknownStepType = "SW212", "unknown-step-type", "`type` must be one of run, push, serial, parallel, manual, matrix.";
    EmptyGroup = "SW213", "empty-group", "A group step needs a non-empty `steps` list.";
    BothDockercfg = "SW214", "both-dockercfg", "Both `encrypted_dockercfg_path` and `dockercfg_service` are set; the encrypted file wins.";
    EmptySteps = "SW215", "empty-steps", "The steps file has no steps.";
    InvalidImageName = "SW216", "invalid-image-name", "A push step's `image_name` is not a Docker repository name: `[host[:port]/]path` with a lowercase path of letters, digits and single `.`, `_`, `__` or dashes between them (Docker refuses upper case: \"repository name must be lowercase\").";
    ImageNameWithTag = "SW217", "image-name-with-tag", "A push step's `image_name` carries a tag (`acme/app:test`) or a digest (`@sha256:…`). Give the repository only; the tag comes from `image_tag` (default `latest`).";
    UnexpandedVariable = "SW218", "unexpanded-variable", "A warning: `$VAR` or `${VAR}` in a run step's `command` reaches the program as written. Commands are split into arguments without a shell (as in jet), so nothing expands variables; use `sh -c '…'` (only the script after `-c` is expanded).";
    ExportInexact = "SW501", "export-inexact", "A warning of `slipway export` (not a validation rule): this part of the configuration is not translated exactly to the forge's file. The generated file carries the same message as a comment next to the job; adjust that job by hand.";
    ExportJobFails = "SW502", "export-job-fails", "An error of `slipway export` (not a validation rule): a job of the generated file would fail whenever it runs, because this part cannot be translated (e.g. an `image_tag` template beyond fields and `printf`). Nothing is written unless `--allow-partial` is given; then the job stops with the same message, and you write that part by hand.";
    DuplicateKey = "SW009", "duplicate-key", "A warning: a mapping has the same key twice (`service:` twice in a step, a service defined twice). jet's YAML parser used the later value, and so does Slipway; delete the one you do not mean.";
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn codes_and_names_are_unique() {
        let mut codes: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.name()).collect();
        codes.sort();
        names.sort();
        let n = codes.len();
        codes.dedup();
        names.dedup();
        assert_eq!(codes.len(), n);
        assert_eq!(names.len(), n);
        assert_eq!(Code::lookup("sw101"), Some(Code::NoBuildOrImage));
    }
}
