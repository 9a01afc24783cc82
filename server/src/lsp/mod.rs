//! `slipway lsp`: a Language Server over stdio with the core's language services
//! (`slipway_core::ide`): diagnostics of both files, completion, hover, definition,
//! references, rename of a service across both files, quick fixes and the outline.
//! No formatting: re-emitting YAML would lose comments and anchors.

mod convert;
mod disk;
mod documents;
mod handlers;
mod rename;
mod server;
mod siblings;
mod state;
mod transport;
mod uri;

pub use server::Ended;
pub use state::BuildOptions;

use anyhow::{Context, Result};
use lsp_server::{Connection, Message, Response};
use lsp_types as lsp;
use std::process::ExitCode;

/// Serve on stdin/stdout until the client says `exit` (or closes stdin). A frame that is not
/// a message is answered and skipped ([`transport`]), never the end of the session. The exit
/// code the spec gives: success after `shutdown` and `exit`, 1 for an `exit` without `shutdown`.
pub fn run(build_options: BuildOptions) -> Result<ExitCode> {
    let (sender, receiver, io_threads) = transport::stdio();
    let ended = serve(Connection { sender, receiver }, build_options)?;
    io_threads.join().context("the stdio threads failed")?;
    Ok(match ended {
        Ended::Clean => ExitCode::SUCCESS,
        Ended::ExitWithoutShutdown => ExitCode::from(1),
    })
}

/// The handshake, then the main loop; over any [`Connection`] (stdio, or memory in tests).
/// lsp-server's `initialize_finish` ends the session when the message after the answer is not
/// `initialized`; here `initialized` is optional (the main loop ignores it) and anything else
/// is handled as usual.
pub fn serve(connection: Connection, build_options: BuildOptions) -> Result<Ended> {
    let (id, _params) = connection.initialize_start()?;
    let result = lsp::InitializeResult {
        capabilities: capabilities(),
        server_info: Some(lsp::ServerInfo { name: "slipway".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
    };
    connection
        .sender
        .send(Message::Response(Response::new_ok(id, serde_json::to_value(result)?)))
        .context("the editor has gone")?;
    server::main_loop(&connection, build_options)
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        position_encoding: Some(lsp::PositionEncodingKind::UTF16),
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
            ..Default::default()
        })),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".into(), " ".into()]),
            ..Default::default()
        }),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(lsp::CodeActionOptions {
            code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
            ..Default::default()
        })),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        ..Default::default()
    }
}
