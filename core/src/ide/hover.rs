//! Hover: documentation of what is under the cursor.

use super::{Analysis, FileId, Hover};

pub(crate) fn hover(_a: &Analysis, _file: FileId, _offset: u32) -> Option<Hover> {
    None
}
