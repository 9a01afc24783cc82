//! SW201 `duplicate-step-name`: names are display labels and may repeat under different groups
//! (`deploy` under `staging` and under `production`). Two steps of one list with the same name
//! and the same filters are hard to tell apart in logs: a warning. With different
//! `tag`/`exclude` they are usually alternatives for different branches, and fine.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::Step;
use crate::source::SourceFile;
use std::collections::HashMap;

/// One list of sibling steps.
pub(super) fn check(file: &SourceFile, siblings: &[Step], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<(&str, Option<&str>, Option<&str>), u32> = HashMap::new();
    for s in siblings {
        let Some(n) = &s.name else { continue };
        let key =
            (n.value.as_str(), s.tag.as_ref().map(|t| t.value.as_str()), s.exclude.as_ref().map(|t| t.value.as_str()));
        if let Some(&first) = seen.get(&key) {
            let first = file.line_col(first).0;
            diags.push(
                Diagnostic::warning(
                    Code::DuplicateStepName,
                    file,
                    n.span,
                    format!("the step on line {first} in the same list is also named `{}`", n.value),
                )
                .with_help("give one of them another name, so their logs and results can be told apart"),
            );
        } else {
            seen.insert(key, n.span.start);
        }
    }
}
