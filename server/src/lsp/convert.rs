//! The core's results (byte spans) as LSP types (lines and UTF-16 columns), through the
//! analysis' [`LineIndex`] of each file.

use lsp_types as lsp;
use slipway_core::ide::{self, Analysis, CompletionKind, FileId, LineIndex, Position, SymbolKind};
use slipway_core::{Diagnostic, Severity, Span};

pub fn position(index: &LineIndex, offset: u32) -> lsp::Position {
    let p = index.position(offset);
    lsp::Position::new(p.line, p.character)
}

pub fn range(index: &LineIndex, span: Span) -> lsp::Range {
    lsp::Range::new(position(index, span.start), position(index, span.end))
}

pub fn offset(index: &LineIndex, p: lsp::Position) -> u32 {
    index.offset(Position { line: p.line, character: p.character })
}

pub fn span(index: &LineIndex, r: lsp::Range) -> Span {
    let (a, b) = (offset(index, r.start), offset(index, r.end));
    Span::new(a.min(b), a.max(b))
}

/// A diagnostic with its code; the message carries the help line, and hovering the range
/// shows the `slipway explain` text (the core's hover adds it).
pub fn diagnostic(index: &LineIndex, d: &Diagnostic) -> lsp::Diagnostic {
    let message = match &d.help {
        Some(h) => format!("{}\nhelp: {h}", d.message),
        None => d.message.clone(),
    };
    lsp::Diagnostic {
        range: range(index, d.span),
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
        source: Some("slipway".to_string()),
        message,
        data: Some(serde_json::json!({ "name": d.code.name(), "explain": d.code.summary() })),
        ..Default::default()
    }
}

pub fn completion(index: &LineIndex, c: ide::Completions) -> lsp::CompletionResponse {
    let range = range(index, c.span);
    let items = c
        .items
        .into_iter()
        .enumerate()
        .map(|(i, item)| lsp::CompletionItem {
            label: item.label,
            kind: Some(completion_kind(item.kind)),
            detail: item.detail,
            documentation: item.doc.map(|d| {
                lsp::Documentation::MarkupContent(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: d })
            }),
            // Keep the core's order (the model's order of keys, services as defined).
            sort_text: Some(format!("{i:04}")),
            text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit::new(range, item.insert))),
            ..Default::default()
        })
        .collect();
    lsp::CompletionResponse::List(lsp::CompletionList { is_incomplete: false, items })
}

fn completion_kind(k: CompletionKind) -> lsp::CompletionItemKind {
    match k {
        CompletionKind::Key => lsp::CompletionItemKind::PROPERTY,
        CompletionKind::Service => lsp::CompletionItemKind::MODULE,
        CompletionKind::StepType => lsp::CompletionItemKind::ENUM_MEMBER,
        CompletionKind::Value => lsp::CompletionItemKind::VALUE,
        CompletionKind::Variable => lsp::CompletionItemKind::VARIABLE,
        CompletionKind::Method => lsp::CompletionItemKind::METHOD,
        CompletionKind::Function => lsp::CompletionItemKind::FUNCTION,
        CompletionKind::Keyword => lsp::CompletionItemKind::KEYWORD,
    }
}

pub fn hover(index: &LineIndex, h: ide::Hover) -> lsp::Hover {
    lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: h.markdown }),
        range: Some(range(index, h.span)),
    }
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written, though deprecated.
pub fn symbol(index: &LineIndex, s: ide::Symbol) -> lsp::DocumentSymbol {
    let children: Vec<lsp::DocumentSymbol> = s.children.into_iter().map(|c| symbol(index, c)).collect();
    let detail = match (s.id, s.detail) {
        (Some(id), Some(d)) => Some(format!("{id} · {d}")),
        (id, d) => id.or(d),
    };
    lsp::DocumentSymbol {
        name: if s.name.is_empty() { "(unnamed)".to_string() } else { s.name },
        detail,
        kind: match s.kind {
            SymbolKind::Service => lsp::SymbolKind::MODULE,
            SymbolKind::Run => lsp::SymbolKind::FUNCTION,
            SymbolKind::Push => lsp::SymbolKind::EVENT,
            SymbolKind::Serial | SymbolKind::Parallel | SymbolKind::Manual => lsp::SymbolKind::NAMESPACE,
        },
        tags: None,
        deprecated: None,
        range: range(index, s.span),
        selection_range: range(index, s.selection),
        children: (!children.is_empty()).then_some(children),
    }
}

/// Edits grouped by the URI of their file, in the order the core gave them.
// `WorkspaceEdit::changes` is a map keyed by `Uri` (lsp-types' choice); its cell is a cache
// that does not change the hash.
#[allow(clippy::mutable_key_type)]
pub fn workspace_edit(
    a: &Analysis,
    uri_of: &dyn Fn(FileId) -> Option<lsp::Uri>,
    edits: &[ide::TextEdit],
) -> lsp::WorkspaceEdit {
    let mut changes: std::collections::HashMap<lsp::Uri, Vec<lsp::TextEdit>> = Default::default();
    for e in edits {
        let Some(uri) = uri_of(e.file) else { continue };
        let index = a.line_index(e.file);
        changes.entry(uri).or_default().push(lsp::TextEdit::new(range(index, e.span), e.new_text.clone()));
    }
    lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_become_utf16_ranges_and_back() {
        let text = "x: \"ü😀\"\ny: z\n";
        let index = LineIndex::new(text);
        let z = text.find('z').unwrap() as u32;
        let quote2 = text.rfind('"').unwrap() as u32;
        let r = range(&index, Span::new(3, quote2 + 1));
        assert_eq!((r.start, r.end), (lsp::Position::new(0, 3), lsp::Position::new(0, 8)));
        assert_eq!(
            span(&index, lsp::Range::new(lsp::Position::new(1, 3), lsp::Position::new(1, 4))),
            Span::new(z, z + 1)
        );
    }
}
