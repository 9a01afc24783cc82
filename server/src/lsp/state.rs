//! The server's state: open buffers, one cached analysis per project folder, and which files
//! got diagnostics (to clear them when a file leaves the project).

use super::convert;
use super::disk;
use super::documents::Documents;
use super::siblings::{self, Pair};
use super::uri;
use crossbeam_channel::Sender;
use lsp_server::{Message, Notification};
use lsp_types as lsp;
use lsp_types::notification::Notification as _;
use slipway_core::SourceFile;
use slipway_core::check::Checker;
use slipway_core::ide::{Analysis, FileId};
use slipway_core::plan::PlanOptions;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The build values hovers render `image_tag`s with, for a project folder.
pub type BuildOptions = Box<dyn Fn(&Path) -> PlanOptions>;

pub struct State {
    sender: Sender<Message>,
    pub docs: Documents,
    analyses: HashMap<Pair, Rc<Analysis>>,
    /// Each project's last parses: an edit re-parses only the steps it touched.
    checkers: HashMap<Pair, Checker>,
    build_options: BuildOptions,
    options: HashMap<PathBuf, PlanOptions>,
    published: HashSet<PathBuf>,
}

/// The file a request is about, in its project.
pub struct At {
    pub pair: Pair,
    pub file: FileId,
    pub analysis: Rc<Analysis>,
}

impl At {
    pub fn uri(&self, file: FileId) -> Option<lsp::Uri> {
        uri::from_path(self.pair.path(file))
    }
}

impl State {
    pub fn new(sender: Sender<Message>, build_options: BuildOptions) -> State {
        State {
            sender,
            docs: Documents::default(),
            analyses: HashMap::new(),
            checkers: HashMap::new(),
            build_options,
            options: HashMap::new(),
            published: HashSet::new(),
        }
    }

    fn present(&self, path: &Path) -> bool {
        self.docs.is_open(path) || path.is_file()
    }

    /// The project of a document and its analysis (cached until either file changes).
    pub fn at(&mut self, uri: &lsp::Uri) -> Option<At> {
        let path = uri::to_path(uri)?;
        let (pair, file) = siblings::pair_of(&path, &|p| self.present(p))?;
        let analysis = self.analysis(&pair);
        Some(At { pair, file, analysis })
    }

    fn analysis(&mut self, pair: &Pair) -> Rc<Analysis> {
        if let Some(a) = self.analyses.get(pair) {
            return a.clone();
        }
        let services = self.source(&pair.services);
        let steps = self.source(&pair.steps);
        let dir = pair.steps.parent().unwrap_or(Path::new("/")).to_path_buf();
        let options = match self.options.get(&dir) {
            Some(o) => o.clone(),
            None => {
                let o = (self.build_options)(&dir);
                self.options.insert(dir, o.clone());
                o
            }
        };
        // The last parses are kept while one of the project's files is open in the editor:
        // files on disk alone change seldom, and their project may never come back.
        let a = if self.docs.is_open(&pair.services) || self.docs.is_open(&pair.steps) {
            let checker = self.checkers.entry(pair.clone()).or_default();
            Analysis::with_checker(services, steps, options, checker)
        } else {
            self.checkers.remove(pair);
            Analysis::new(services, steps, options)
        };
        let a = Rc::new(a);
        self.analyses.insert(pair.clone(), a.clone());
        a
    }

    /// The open buffer, else the file on disk, else nothing (a file still to be written, or
    /// one that is not safe to read: see [`disk`]).
    fn source(&self, path: &Path) -> SourceFile {
        let name = path.display().to_string();
        if let Some(text) = self.docs.get(path) {
            return SourceFile::new(name, text);
        }
        let dir = path.parent().unwrap_or(Path::new("/"));
        match disk::read_project_file(dir, path) {
            Ok(text) => SourceFile::new(name, text.unwrap_or_default()),
            Err(e) => {
                self.log(lsp::MessageType::WARNING, format!("{e:#}"));
                SourceFile::new(name, "")
            }
        }
    }

    /// `path` (open or on disk) changed: check its project again and publish both files'
    /// diagnostics. A file that is no longer part of a project has its diagnostics cleared.
    pub fn changed(&mut self, path: &Path) {
        self.analyses.retain(|pair, _| !pair.contains(path));
        match siblings::pair_of(path, &|p| self.present(p)) {
            Some((pair, _)) => {
                let a = self.analysis(&pair);
                self.publish(&pair, &a);
            }
            None => {
                self.checkers.retain(|pair, _| !pair.contains(path));
                self.clear(path);
            }
        }
    }

    /// Forget cached analyses (after a panic, in case one was half-built).
    pub fn reset(&mut self) {
        self.analyses.clear();
        self.checkers.clear();
    }

    fn publish(&mut self, pair: &Pair, a: &Analysis) {
        for file in [FileId::Services, FileId::Steps] {
            let path = pair.path(file).to_path_buf();
            if !self.present(&path) {
                self.clear(&path);
                continue;
            }
            let index = a.line_index(file);
            let diagnostics: Vec<lsp::Diagnostic> = a
                .report()
                .diagnostics
                .iter()
                .filter(|d| a.file_of(d) == Some(file))
                .map(|d| convert::diagnostic(index, d))
                .collect();
            // Published even when empty: the client learns the file is clean.
            self.published.insert(path.clone());
            self.send_diagnostics(&path, diagnostics);
        }
    }

    fn clear(&mut self, path: &Path) {
        if self.published.remove(path) {
            self.send_diagnostics(path, Vec::new());
        }
    }

    fn send_diagnostics(&self, path: &Path, diagnostics: Vec<lsp::Diagnostic>) {
        let Some(uri) = uri::from_path(path) else { return };
        let params = lsp::PublishDiagnosticsParams { uri, diagnostics, version: None };
        self.notify(lsp::notification::PublishDiagnostics::METHOD, params);
    }

    pub fn log(&self, typ: lsp::MessageType, message: String) {
        self.notify(lsp::notification::LogMessage::METHOD, lsp::LogMessageParams { typ, message });
    }

    fn notify(&self, method: &str, params: impl serde::Serialize) {
        // A closed channel means the client is gone; the main loop ends on its own.
        let _ = self.sender.send(Message::Notification(Notification::new(method.to_string(), params)));
    }
}
