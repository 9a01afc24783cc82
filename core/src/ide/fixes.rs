//! Quick fixes: edits that apply a diagnostic's suggestion, and a few more.

use super::{Analysis, FileId, QuickFix};
use crate::source::Span;

pub(crate) fn quick_fixes(_a: &Analysis, _file: FileId, _range: Span) -> Vec<QuickFix> {
    Vec::new()
}

pub(crate) fn fixes_for(_a: &Analysis, _diagnostic: usize) -> Vec<QuickFix> {
    Vec::new()
}
