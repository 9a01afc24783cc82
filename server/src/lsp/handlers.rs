//! One function per request: find the document's project, ask the core, convert.

use super::convert;
use super::rename;
use super::state::State;
use lsp_types as lsp;

pub type Reply<T> = Result<T, String>;

pub fn completion(s: &mut State, p: lsp::CompletionParams) -> Reply<Option<lsp::CompletionResponse>> {
    let tdp = p.text_document_position;
    let Some(at) = s.at(&tdp.text_document.uri) else { return Ok(None) };
    let index = at.analysis.line_index(at.file);
    let c = at.analysis.completions(at.file, convert::offset(index, tdp.position));
    Ok(Some(convert::completion(index, c)))
}

pub fn hover(s: &mut State, p: lsp::HoverParams) -> Reply<Option<lsp::Hover>> {
    let tdp = p.text_document_position_params;
    let Some(at) = s.at(&tdp.text_document.uri) else { return Ok(None) };
    let index = at.analysis.line_index(at.file);
    Ok(at.analysis.hover(at.file, convert::offset(index, tdp.position)).map(|h| convert::hover(index, h)))
}

pub fn definition(s: &mut State, p: lsp::GotoDefinitionParams) -> Reply<Option<lsp::GotoDefinitionResponse>> {
    let tdp = p.text_document_position_params;
    let Some(at) = s.at(&tdp.text_document.uri) else { return Ok(None) };
    let index = at.analysis.line_index(at.file);
    let Some(def) = at.analysis.definition(at.file, convert::offset(index, tdp.position)) else { return Ok(None) };
    let Some(uri) = at.uri(def.file) else { return Ok(None) };
    let range = convert::range(at.analysis.line_index(def.file), def.span);
    Ok(Some(lsp::GotoDefinitionResponse::Scalar(lsp::Location::new(uri, range))))
}

pub fn references(s: &mut State, p: lsp::ReferenceParams) -> Reply<Option<Vec<lsp::Location>>> {
    let tdp = p.text_document_position;
    let Some(at) = s.at(&tdp.text_document.uri) else { return Ok(None) };
    let offset = convert::offset(at.analysis.line_index(at.file), tdp.position);
    let locations = at
        .analysis
        .references(at.file, offset, p.context.include_declaration)
        .into_iter()
        .filter_map(|l| {
            Some(lsp::Location::new(at.uri(l.file)?, convert::range(at.analysis.line_index(l.file), l.span)))
        })
        .collect();
    Ok(Some(locations))
}

pub fn prepare_rename(s: &mut State, p: lsp::TextDocumentPositionParams) -> Reply<Option<lsp::PrepareRenameResponse>> {
    let Some(at) = s.at(&p.text_document.uri) else { return Ok(None) };
    let index = at.analysis.line_index(at.file);
    let span = rename::target(&at.analysis, at.file, convert::offset(index, p.position));
    Ok(span.map(|span| lsp::PrepareRenameResponse::Range(convert::range(index, span))))
}

pub fn rename(s: &mut State, p: lsp::RenameParams) -> Reply<Option<lsp::WorkspaceEdit>> {
    let tdp = p.text_document_position;
    let Some(at) = s.at(&tdp.text_document.uri) else { return Ok(None) };
    let offset = convert::offset(at.analysis.line_index(at.file), tdp.position);
    let edits = rename::edits(&at.analysis, at.file, offset, &p.new_name)?;
    Ok(Some(convert::workspace_edit(&at.analysis, &|f| at.uri(f), &edits)))
}

pub fn code_action(s: &mut State, p: lsp::CodeActionParams) -> Reply<Option<lsp::CodeActionResponse>> {
    let Some(at) = s.at(&p.text_document.uri) else { return Ok(None) };
    let a = &at.analysis;
    let span = convert::span(a.line_index(at.file), p.range);
    let actions = a
        .quick_fixes(at.file, span)
        .into_iter()
        .map(|fix| {
            let diagnostics = fix.diagnostic.and_then(|i| a.report().diagnostics.get(i)).and_then(|d| {
                let file = a.file_of(d)?;
                Some(vec![convert::diagnostic(a.line_index(file), d)])
            });
            lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: fix.title,
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics,
                edit: Some(convert::workspace_edit(a, &|f| at.uri(f), &fix.edits)),
                is_preferred: Some(fix.preferred),
                ..Default::default()
            })
        })
        .collect();
    Ok(Some(actions))
}

pub fn document_symbol(s: &mut State, p: lsp::DocumentSymbolParams) -> Reply<Option<lsp::DocumentSymbolResponse>> {
    let Some(at) = s.at(&p.text_document.uri) else { return Ok(None) };
    let index = at.analysis.line_index(at.file);
    let symbols = at.analysis.outline(at.file).into_iter().map(|sym| convert::symbol(index, sym)).collect();
    Ok(Some(lsp::DocumentSymbolResponse::Nested(symbols)))
}
