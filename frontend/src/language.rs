//! The editors' language services: completion, hover, definition and quick fixes for a file
//! and a byte offset, given both files and the preview's build values. A thin adapter: the
//! answers come from `slipway_core::ide`, shared with the CLI and the language server.

use crate::state::FileKind;
use slipway_core::Diagnostic;
use slipway_core::template::BuildVars;
use std::ops::Range;

/// What the language services see: both files as typed and the build values of the preview.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Workspace {
    pub services: String,
    pub steps: String,
    pub vars: BuildVars,
}

impl Workspace {
    pub fn text(&self, kind: FileKind) -> &str {
        match kind {
            FileKind::Services => &self.services,
            FileKind::Steps => &self.steps,
        }
    }

    pub fn set_text(&mut self, kind: FileKind, text: String) {
        match kind {
            FileKind::Services => self.services = text,
            FileKind::Steps => self.steps = text,
        }
    }
}

/// Completion items replacing the text from `from` (bytes) to the cursor.
pub struct Completions {
    pub from: usize,
    pub items: Vec<CompletionItem>,
}

pub struct CompletionItem {
    pub label: String,
    /// A one-line description shown beside the label.
    pub detail: Option<String>,
    /// The text inserted when it differs from the label.
    pub insert: Option<String>,
}

/// Documentation for the range under the pointer.
pub struct Hover {
    pub range: Range<usize>,
    pub text: String,
}

/// A position in one of the two files.
pub struct Target {
    pub file: FileKind,
    pub offset: usize,
}

/// An edit that resolves a diagnostic: replacements (byte ranges) in the diagnostic's file.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<(Range<usize>, String)>,
}

pub fn complete(_ws: &Workspace, _file: FileKind, _offset: usize, _explicit: bool) -> Option<Completions> {
    None
}

pub fn hover(_ws: &Workspace, _file: FileKind, _offset: usize) -> Option<Hover> {
    None
}

pub fn definition(_ws: &Workspace, _file: FileKind, _offset: usize) -> Option<Target> {
    None
}

pub fn fixes(_ws: &Workspace, _diagnostic: &Diagnostic) -> Vec<Fix> {
    Vec::new()
}
