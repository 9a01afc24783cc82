//! Language services for editors: completion, hover, go to definition, references, quick
//! fixes and an outline, over both files at once. The studio's browser editor and the
//! language server (`slipway lsp`) both call this module, so they can never disagree.
//!
//! Positions are byte offsets into a file's text and results carry byte [`Span`]s, like the
//! rest of the core. Editors count differently (CodeMirror in UTF-16 code units of the whole
//! text, LSP in lines and UTF-16 code units within a line): [`LineIndex`] converts.
//!
//! Everything works on text that does not parse yet (the line being typed): the position's
//! context comes from indentation and the keys on the lines above it, not from the YAML tree,
//! and the typed model (services, steps) is used where it exists.
//!
//! Every result is plain data with `Serialize`, so the browser can hand it to JavaScript as
//! JSON.
//!
//! ```
//! use slipway_core::SourceFile;
//! use slipway_core::ide::{Analysis, FileId, Position};
//! use slipway_core::plan::PlanOptions;
//!
//! let services = SourceFile::new("codeship-services.yml", "app:\n  image: ruby\n");
//! let steps = SourceFile::new("codeship-steps.yml", "- name: tëst\n  service: a\n");
//! let a = Analysis::new(services, steps, PlanOptions::default());
//! let ix = a.line_index(FileId::Steps);
//! // CodeMirror: a UTF-16 offset into the document (after `a`; `ë` is 2 bytes, 1 unit).
//! let at = ix.from_utf16(25);
//! let c = a.completions(FileId::Steps, at);
//! assert_eq!(c.items[0].label, "app");
//! // The range to replace, back in CodeMirror's units; LSP wants line and character.
//! assert_eq!((ix.utf16(c.span.start), ix.utf16(c.span.end)), (24, 25));
//! assert_eq!(ix.position(c.span.start), Position { line: 1, character: 11 });
//! ```

mod completion;
mod context;
mod docs;
mod fixes;
mod hover;
mod line_index;
mod navigation;
mod outline;
mod scan;

/// Counters of the repeated work a query may do (split a text into lines, read a position's
/// context, pair the model's steps with the plan's), so tests can pin how often it happens
/// instead of timing it. Nothing is counted outside tests.
pub(crate) mod work {
    #[cfg(test)]
    thread_local! {
        pub(crate) static LINES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        pub(crate) static CONTEXTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        pub(crate) static PAIRS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    #[cfg(test)]
    pub(crate) type Counter = std::thread::LocalKey<std::cell::Cell<usize>>;
    #[cfg(test)]
    pub(crate) fn count(c: &'static Counter) {
        c.with(|n| n.set(n.get() + 1));
    }
    #[cfg(test)]
    pub(crate) fn get(c: &'static Counter) -> usize {
        c.with(|n| n.get())
    }
    #[cfg(not(test))]
    pub(crate) struct Counter;
    #[cfg(not(test))]
    pub(crate) static LINES: Counter = Counter;
    #[cfg(not(test))]
    pub(crate) static CONTEXTS: Counter = Counter;
    #[cfg(not(test))]
    pub(crate) static PAIRS: Counter = Counter;
    #[cfg(not(test))]
    #[inline(always)]
    pub(crate) fn count(_: &'static Counter) {}
}

pub use docs::{KeyDoc, KeyScope, key_doc};
pub use line_index::{LineIndex, Position};

use crate::check::{Checked, check};
use crate::diagnostics::{Diagnostic, Report};
use crate::plan::{Plan, PlanOptions};
use crate::source::{SourceFile, Span};
use serde::Serialize;
use std::sync::OnceLock;

/// Which of the two files a position or result is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileId {
    /// `codeship-services.yml` (or `docker-compose.yml`).
    Services,
    /// `codeship-steps.yml` (or `.json`).
    Steps,
}

/// A span in one of the two files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub file: FileId,
    pub span: Span,
}

/// Replace `span` of `file` with `new_text` (an empty span inserts, empty text deletes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TextEdit {
    pub file: FileId,
    pub span: Span,
    pub new_text: String,
}

/// What a completion item is, for its icon and sorting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompletionKind {
    /// A mapping key (`image`, `build`, `service`…).
    Key,
    /// A service name.
    Service,
    /// A step `type:` value.
    StepType,
    /// Another value from a known set (`true`/`false`).
    Value,
    /// A build variable inside `{{ }}` (`.Branch`).
    Variable,
    /// A method of `.Time` inside `{{ }}` (`.Format`).
    Method,
    /// A template function (`printf`, `eq`).
    Function,
    /// A template keyword (`if`, `end`).
    Keyword,
}

/// One completion candidate. `insert` replaces [`Completions::span`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CompletionItem {
    /// What the list shows and what the typed prefix is matched against.
    pub label: String,
    pub kind: CompletionKind,
    /// Short detail shown next to the label (a key's shape, a service's image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One line of documentation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// The text that replaces the span (a key gets its `: `).
    pub insert: String,
}

/// The candidates at a position. `span` is the word typed so far (possibly empty, at the
/// cursor): the range an accepted item replaces and the prefix clients filter by.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Completions {
    pub span: Span,
    pub items: Vec<CompletionItem>,
}

/// Documentation for what is under the cursor, as Markdown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hover {
    /// The word or value the hover is about (for highlighting it).
    pub span: Span,
    pub markdown: String,
}

/// An edit that fixes a diagnostic or improves the text at a range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuickFix {
    /// What the button or menu says, e.g. "Replace with `app`".
    pub title: String,
    /// The index in [`Analysis::report`]'s diagnostics of the diagnostic this fixes, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<usize>,
    /// Whether this is the one obvious fix (LSP's `isPreferred`).
    pub preferred: bool,
    pub edits: Vec<TextEdit>,
}

/// What an outline entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolKind {
    Service,
    Run,
    Push,
    Serial,
    Parallel,
    Manual,
}

/// One entry of a file's outline: a service, or a step with its nested steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Symbol {
    /// The service name, or the step's name as the planner assigns it (generated when the
    /// step has none, e.g. `step_3`).
    pub name: String,
    pub kind: SymbolKind,
    /// The plan's id of the step (`2.1`, `2.1.f1`); `None` for services. A step copied for
    /// each of a group's `services:` has the id of its first copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A short description: a step's service and command or image, a service's image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The whole entry.
    pub span: Span,
    /// The part to select when the entry is picked (the name, or the step's first key).
    pub selection: Span,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Symbol>,
}

/// Both files, checked, with what editors ask about them. Build one per edit and query it
/// with a file and a byte offset. Building costs what `check` costs (the queries are far
/// cheaper; `examples/ide_latency.rs` measures both), so an editor that already checks on
/// each edit should build this instead and read [`Analysis::report`].
pub struct Analysis {
    services: SourceFile,
    steps: SourceFile,
    options: PlanOptions,
    checked: Checked,
    /// Built on first use, per file (services, steps): an edit's analysis may never be
    /// asked for positions.
    indexes: [OnceLock<LineIndex>; 2],
    /// Each file's line starts, split once for all queries.
    line_starts: [OnceLock<Vec<u32>>; 2],
    /// Planned on first use: hover and outline need it, completion does not.
    plan: OnceLock<Plan>,
}

impl Analysis {
    /// Check both files. `options` are the build values the preview uses: the build tag for
    /// `tag`/`exclude` hovers and the variables `image_tag` hovers render with.
    pub fn new(services: SourceFile, steps: SourceFile, options: PlanOptions) -> Analysis {
        let checked = check(&services, &steps);
        Analysis::of(services, steps, options, checked)
    }

    /// [`Analysis::new`] for an editor checking the same files after each edit: `checker`
    /// keeps the last parses and re-parses only what changed since.
    pub fn with_checker(
        services: SourceFile,
        steps: SourceFile,
        options: PlanOptions,
        checker: &mut crate::check::Checker,
    ) -> Analysis {
        let checked = checker.check(&services, &steps);
        Analysis::of(services, steps, options, checked)
    }

    fn of(services: SourceFile, steps: SourceFile, options: PlanOptions, checked: crate::Checked) -> Analysis {
        Analysis {
            services,
            steps,
            options,
            checked,
            indexes: Default::default(),
            line_starts: Default::default(),
            plan: OnceLock::new(),
        }
    }

    /// The source of one file.
    pub fn file(&self, file: FileId) -> &SourceFile {
        match file {
            FileId::Services => &self.services,
            FileId::Steps => &self.steps,
        }
    }

    /// Which file a diagnostic (by its `file` name) belongs to.
    pub fn file_of(&self, diagnostic: &Diagnostic) -> Option<FileId> {
        [FileId::Services, FileId::Steps].into_iter().find(|f| self.file(*f).name == diagnostic.file)
    }

    pub fn line_index(&self, file: FileId) -> &LineIndex {
        self.indexes[file as usize].get_or_init(|| LineIndex::new(&self.file(file).text))
    }

    /// The lines of a file, split on first use.
    pub(crate) fn lines(&self, file: FileId) -> context::Lines<'_> {
        let text = &self.file(file).text;
        context::Lines::with_starts(text, self.line_starts[file as usize].get_or_init(|| context::line_starts(text)))
    }

    /// Everything `check` found, sorted by file and position.
    pub fn report(&self) -> &Report {
        &self.checked.report
    }

    /// The typed model and the report, as [`crate::check`] returns them.
    pub fn checked(&self) -> &Checked {
        &self.checked
    }

    /// The plan for the build values given to [`Analysis::new`].
    pub fn plan(&self) -> &Plan {
        self.plan.get_or_init(|| crate::plan::plan(&self.checked.services, &self.checked.steps, &self.options))
    }

    pub fn options(&self) -> &PlanOptions {
        &self.options
    }

    /// What may be typed at `offset`: keys valid there, service names, step types, and
    /// inside `{{ }}` of templates the build variables and template functions.
    pub fn completions(&self, file: FileId, offset: u32) -> Completions {
        completion::completions(self, file, self.snap(file, offset))
    }

    /// Documentation of the key, value or diagnostic at `offset`.
    pub fn hover(&self, file: FileId, offset: u32) -> Option<Hover> {
        hover::hover(self, file, self.snap(file, offset))
    }

    /// Where the service named at `offset` is defined.
    pub fn definition(&self, file: FileId, offset: u32) -> Option<Location> {
        navigation::definition(self, file, self.snap(file, offset))
    }

    /// Every use of the service named (or defined) at `offset`, in both files, in file and
    /// position order; its definition first when `include_definition`.
    pub fn references(&self, file: FileId, offset: u32, include_definition: bool) -> Vec<Location> {
        navigation::references(self, file, self.snap(file, offset), include_definition)
    }

    /// Fixes for the diagnostics that overlap `range` in `file`, then edits offered for the
    /// position itself (e.g. adding `image_tag` to a push step).
    pub fn quick_fixes(&self, file: FileId, range: Span) -> Vec<QuickFix> {
        let range = Span::new(self.snap(file, range.start), self.snap(file, range.end.max(range.start)));
        fixes::quick_fixes(self, file, range)
    }

    /// Fixes for one diagnostic of [`Analysis::report`], by its index there.
    pub fn fixes_for(&self, diagnostic: usize) -> Vec<QuickFix> {
        fixes::fixes_for(self, diagnostic)
    }

    /// An offset from outside, clamped to the text and moved back to a character boundary.
    fn snap(&self, file: FileId, offset: u32) -> u32 {
        let text = &self.file(file).text;
        let mut o = (offset as usize).min(text.len());
        while !text.is_char_boundary(o) {
            o -= 1;
        }
        o as u32
    }

    /// The services (services file) or the step tree (steps file).
    pub fn outline(&self, file: FileId) -> Vec<Symbol> {
        outline::outline(self, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queries reuse what the analysis has computed: each file is split into lines once per
    /// analysis, a hover reads its position's context once, and quick fixes find their step
    /// in the model instead of pairing every step with the plan.
    #[test]
    fn queries_do_not_repeat_work() {
        let services = "app:\n  build:\n    image: acme/app\n  depends_on: [db]\ndb:\n  image: postgres\n";
        let steps = "- service: app\n  command: ./t\n- type: push\n  service: app\n  image_name: acme/app:1.2\n- type: push\n  service: app\n";
        let a =
            Analysis::new(SourceFile::new("s.yml", services), SourceFile::new("t.yml", steps), PlanOptions::default());
        let tag = steps.find("1.2").unwrap() as u32;
        let service = steps.find("app").unwrap() as u32;
        let lines = work::get(&work::LINES);
        for _ in 0..3 {
            let _ = a.completions(FileId::Steps, service);
            let _ = a.hover(FileId::Steps, tag);
            let _ = a.quick_fixes(FileId::Steps, Span::at(tag));
            let _ = a.references(FileId::Steps, service, true);
            let _ = a.outline(FileId::Services);
            let _ = a.outline(FileId::Steps);
        }
        assert!(work::get(&work::LINES) - lines <= 2, "split lines {} times", work::get(&work::LINES) - lines);
        let contexts = work::get(&work::CONTEXTS);
        let _ = a.hover(FileId::Steps, tag);
        assert_eq!(work::get(&work::CONTEXTS) - contexts, 1, "contexts read by one hover");
        for at in [tag, steps.rfind("type").unwrap() as u32] {
            let pairs = work::get(&work::PAIRS);
            let fixes = a.quick_fixes(FileId::Steps, Span::at(at));
            assert!(!fixes.is_empty());
            assert_eq!(work::get(&work::PAIRS) - pairs, 0, "quick fixes paired the whole plan");
        }
    }
}
