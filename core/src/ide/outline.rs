//! The outline: services, and steps with the names and ids the planner gives them.

use super::{Analysis, FileId, Symbol};

pub(crate) fn outline(_a: &Analysis, _file: FileId) -> Vec<Symbol> {
    Vec::new()
}
