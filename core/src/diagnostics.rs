//! The one diagnostic type, shared by the CLI, the server and the studio, and its JSON form;
//! the text form is drawn in `render`.

mod render;

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
}
