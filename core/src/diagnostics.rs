//! The one diagnostic type, shared by the CLI, the server and the studio, and its rendering
//! (rustc-like text with the source line and a caret, or JSON).

use crate::codes::Code;
use crate::source::{SourceFile, Span};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding. `line` and `column` are 1-based; `column` counts characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub file: String,
    pub line: u32,
    pub column: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip)]
    pub span: Span,
    /// The edit that does what `help` suggests, when it is one replacement in this file
    /// ("did you mean `app`?"): editors offer it as a quick fix. Boxed: most diagnostics
    /// have none, and `Result<_, Diagnostic>` stays small.
    #[serde(skip)]
    pub suggestion: Option<Box<Suggestion>>,
}

/// Replace `span` (in the diagnostic's file) with `replacement`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Suggestion {
    pub span: Span,
    pub replacement: String,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: Code, file: &SourceFile, span: Span, message: impl Into<String>) -> Self {
        let (line, column) = file.line_col(span.start);
        Diagnostic {
            severity,
            code,
            message: message.into(),
            file: file.name.clone(),
            line,
            column,
            help: None,
            span,
            suggestion: None,
        }
    }
    pub fn error(code: Code, file: &SourceFile, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, file, span, message)
    }
    pub fn warning(code: Code, file: &SourceFile, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, file, span, message)
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Attach the edit that applies the help's suggestion.
    pub fn with_suggestion(mut self, span: Span, replacement: impl Into<String>) -> Self {
        self.suggestion = Some(Box::new(Suggestion { span, replacement: replacement.into() }));
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// All diagnostics of one check, sorted by file and position.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub errors: usize,
    pub warnings: usize,
}

impl Report {
    pub fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by(|a, b| (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code)));
        diagnostics.dedup();
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = diagnostics.len() - errors;
        Report { diagnostics, errors, warnings }
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("diagnostics serialize")
    }

    /// rustc-style text. `files` supplies the source lines for the snippets; a diagnostic whose
    /// file is not among them is printed without a snippet.
    pub fn render_text(&self, files: &[&SourceFile]) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            render_one(&mut out, d, files.iter().copied().find(|f| f.name == d.file));
        }
        if self.diagnostics.is_empty() {
            out.push_str("no problems found\n");
        } else {
            out.push_str(&format!(
                "{} error{}, {} warning{}\n",
                self.errors,
                if self.errors == 1 { "" } else { "s" },
                self.warnings,
                if self.warnings == 1 { "" } else { "s" }
            ));
        }
        out
    }
}

fn render_one(out: &mut String, d: &Diagnostic, file: Option<&SourceFile>) {
    use std::fmt::Write;
    let _ = writeln!(out, "{}[{}]: {}", d.severity.as_str(), d.code, d.message);
    let _ = writeln!(out, "  --> {}:{}:{}", d.file, d.line, d.column);
    if let Some(file) = file {
        let text = file.line_text(d.line);
        let gutter = d.line.to_string().len();
        let width = {
            let len = file.slice(d.span).lines().next().map_or(0, |s| s.chars().count());
            len.clamp(1, text.chars().count().saturating_sub(d.column as usize - 1).max(1))
        };
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{} | {}", d.line, text.replace('\t', " "));
        let _ = writeln!(out, "{:gutter$} | {}{}", "", " ".repeat(d.column as usize - 1), "^".repeat(width));
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out.push('\n');
}
