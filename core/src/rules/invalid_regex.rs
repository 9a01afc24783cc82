//! SW207 `invalid-regex`: a `tag`/`exclude` value with `^` or `$` is a Go RE2 regular
//! expression (otherwise an exact branch name) and must compile.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::Step;
use crate::plan::filter::Filter;
use crate::source::SourceFile;
use std::collections::HashMap;

/// Patterns already compiled, with their problem if any: a pattern repeated on many steps is
/// compiled once.
#[derive(Default)]
pub(super) struct Compiled(HashMap<String, Option<(String, Option<String>)>>);

pub(super) fn check(file: &SourceFile, s: &Step, compiled: &mut Compiled, diags: &mut Vec<Diagnostic>) {
    for (f, key) in [(&s.tag, "tag"), (&s.exclude, "exclude")] {
        let Some(f) = f else { continue };
        let problem = compiled
            .0
            .entry(f.value.clone())
            .or_insert_with(|| Filter::compile(&f.value).err().map(|e| (e.message, e.help)));
        if let Some((message, help)) = problem {
            let mut d = Diagnostic::error(Code::InvalidRegex, file, f.span, format!("`{key}`: {message}"));
            d.help = help.clone();
            diags.push(d);
        }
    }
}
