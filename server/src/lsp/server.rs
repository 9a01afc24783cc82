//! The main loop: requests answered in order, notifications applied, every handler run under
//! `catch_unwind` so a bug answers one request with an error instead of ending the session.

use super::handlers::{self, Reply};
use super::state::{BuildOptions, State};
use super::uri;
use anyhow::Result;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use lsp_types::notification::{self as n, Notification as _};
use lsp_types::request::{self as r, Request as _};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// How a session ended, which decides the exit code (LSP 3.17, "exit"): 0 after `shutdown`
/// then `exit`, 1 on an `exit` that came without `shutdown` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// `exit` after `shutdown`, or the editor closed the input.
    Clean,
    /// `exit` without `shutdown`.
    ExitWithoutShutdown,
}

/// What the server answers a request after `shutdown` (the spec: "InvalidRequest").
pub const SHUTTING_DOWN: &str = "the server is shutting down (`shutdown` was received): only `exit` is taken now";

pub fn main_loop(connection: &Connection, build_options: BuildOptions) -> Result<Ended> {
    let mut state = State::new(connection.sender.clone(), build_options);
    // Not lsp-server's `handle_shutdown`: it ends the session with an error on any message
    // between `shutdown` and `exit`, where the spec wants requests answered with an error.
    let mut shut_down = false;
    for message in &connection.receiver {
        match message {
            Message::Request(req) if shut_down => {
                let answer = Response::new_err(req.id, ErrorCode::InvalidRequest as i32, SHUTTING_DOWN.into());
                connection.sender.send(Message::Response(answer))?;
            }
            Message::Request(req) if req.method == r::Shutdown::METHOD => {
                shut_down = true;
                connection.sender.send(Message::Response(Response::new_ok(req.id, serde_json::Value::Null)))?;
            }
            Message::Request(req) => {
                let response = request(&mut state, req);
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(note) if note.method == n::Exit::METHOD => {
                return Ok(if shut_down { Ended::Clean } else { Ended::ExitWithoutShutdown });
            }
            // After `shutdown` nothing changes any more: notifications are dropped.
            Message::Notification(_) if shut_down => {}
            Message::Notification(note) => notification(&mut state, note),
            Message::Response(_) => {}
        }
    }
    Ok(Ended::Clean)
}

fn request(state: &mut State, req: Request) -> Response {
    let id = req.id.clone();
    let result = guarded(|| match req.method.as_str() {
        r::Completion::METHOD => call(state, req, handlers::completion),
        r::HoverRequest::METHOD => call(state, req, handlers::hover),
        r::GotoDefinition::METHOD => call(state, req, handlers::definition),
        r::References::METHOD => call(state, req, handlers::references),
        r::PrepareRenameRequest::METHOD => call(state, req, handlers::prepare_rename),
        r::Rename::METHOD => call(state, req, handlers::rename),
        r::CodeActionRequest::METHOD => call(state, req, handlers::code_action),
        r::DocumentSymbolRequest::METHOD => call(state, req, handlers::document_symbol),
        other => Err((ErrorCode::MethodNotFound, format!("slipway does not handle `{other}`"))),
    });
    match result {
        Ok(Ok(value)) => Response::new_ok(id, value),
        Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
        Err(panic) => {
            state.reset();
            let message = format!("slipway: internal error (please report it): {panic}");
            state.log(lsp::MessageType::ERROR, message.clone());
            Response::new_err(id, ErrorCode::InternalError as i32, message)
        }
    }
}

type Answer = Result<serde_json::Value, (ErrorCode, String)>;

fn call<P, T>(state: &mut State, req: Request, handler: fn(&mut State, P) -> Reply<T>) -> Answer
where
    P: serde::de::DeserializeOwned,
    T: serde::Serialize,
{
    let params: P = serde_json::from_value(req.params)
        .map_err(|e| (ErrorCode::InvalidParams, format!("bad `{}` parameters: {e}", req.method)))?;
    let value = handler(state, params).map_err(|m| (ErrorCode::RequestFailed, m))?;
    serde_json::to_value(value).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

fn notification(state: &mut State, note: Notification) {
    let method = note.method.clone();
    let outcome = guarded(|| apply(state, note));
    let problem = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("bad `{method}` notification: {e}"),
        Err(panic) => {
            state.reset();
            format!("slipway: internal error in `{method}` (please report it): {panic}")
        }
    };
    state.log(lsp::MessageType::ERROR, problem);
}

fn apply(state: &mut State, note: Notification) -> Result<(), serde_json::Error> {
    let params = note.params;
    match note.method.as_str() {
        n::DidOpenTextDocument::METHOD => {
            let p: lsp::DidOpenTextDocumentParams = serde_json::from_value(params)?;
            if let Some(path) = uri::to_path(&p.text_document.uri) {
                state.docs.open(path.clone(), p.text_document.text);
                state.changed(&path);
            }
        }
        n::DidChangeTextDocument::METHOD => {
            let p: lsp::DidChangeTextDocumentParams = serde_json::from_value(params)?;
            if let Some(path) = uri::to_path(&p.text_document.uri)
                && state.docs.change(&path, p.content_changes)
            {
                state.changed(&path);
            }
        }
        n::DidCloseTextDocument::METHOD => {
            let p: lsp::DidCloseTextDocumentParams = serde_json::from_value(params)?;
            if let Some(path) = uri::to_path(&p.text_document.uri) {
                state.docs.close(&path);
                state.changed(&path);
            }
        }
        n::DidChangeWatchedFiles::METHOD => {
            let p: lsp::DidChangeWatchedFilesParams = serde_json::from_value(params)?;
            for path in p.changes.iter().filter_map(|c| uri::to_path(&c.uri)) {
                if !state.docs.is_open(&path) {
                    state.changed(&path);
                }
            }
        }
        // `initialized`, `didSave` (the buffer already holds the text), `$/cancelRequest`
        // (requests are answered in order, before the next is read) and the rest.
        _ => {}
    }
    Ok(())
}

/// Run `f`, turning a panic into its message.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_the_next_call_works() {
        assert_eq!(guarded(|| -> u8 { panic!("boom {}", 1) }), Err("boom 1".to_string()));
        assert_eq!(guarded(|| 2), Ok(2));
    }
}
