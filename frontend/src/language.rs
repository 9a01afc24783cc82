//! What the editors' language callbacks ask: an [`Analysis`] (`slipway_core::ide`, shared
//! with the CLI's language server) of both files exactly as typed, with the preview's build
//! values. Built once per edit at most, and reused from the check when the texts agree.

use crate::state::FileKind;
use slipway_core::SourceFile;
use slipway_core::ide::{Analysis, FileId};
use slipway_core::plan::PlanOptions;
use std::rc::Rc;

pub fn file_id(kind: FileKind) -> FileId {
    match kind {
        FileKind::Services => FileId::Services,
        FileKind::Steps => FileId::Steps,
    }
}

pub fn kind_of(file: FileId) -> FileKind {
    match file {
        FileId::Services => FileKind::Services,
        FileId::Steps => FileKind::Steps,
    }
}

/// Both files as typed, the build values, and the analysis of them once asked for.
pub struct Workspace {
    services: String,
    steps: String,
    options: PlanOptions,
    analysis: Option<Rc<Analysis>>,
}

impl Workspace {
    pub fn new(services: String, steps: String, options: PlanOptions) -> Workspace {
        Workspace { services, steps, options, analysis: None }
    }

    pub fn text(&self, kind: FileKind) -> &str {
        match kind {
            FileKind::Services => &self.services,
            FileKind::Steps => &self.steps,
        }
    }

    pub fn set_text(&mut self, kind: FileKind, text: String) {
        if self.text(kind) == text {
            return;
        }
        match kind {
            FileKind::Services => self.services = text,
            FileKind::Steps => self.steps = text,
        }
        self.analysis = None;
    }

    pub fn set_options(&mut self, options: PlanOptions) {
        self.options = options;
        self.analysis = None;
    }

    /// Take an analysis made elsewhere (the page's check) if it is of the current texts.
    pub fn offer(&mut self, analysis: &Rc<Analysis>) {
        let same = |kind: FileKind| analysis.file(file_id(kind)).text == self.text(kind);
        if same(FileKind::Services) && same(FileKind::Steps) {
            self.analysis = Some(analysis.clone());
        }
    }

    /// The analysis of `services` and `steps` if it was already made (by a completion).
    pub fn made_for(&self, services: &str, steps: &str) -> Option<Rc<Analysis>> {
        (self.services == services && self.steps == steps).then(|| self.analysis.clone()).flatten()
    }

    /// The analysis of the current texts.
    pub fn analysis(&mut self) -> Rc<Analysis> {
        if let Some(a) = &self.analysis {
            return a.clone();
        }
        let a = Rc::new(analyse(&self.services, &self.steps, self.options.clone()));
        self.analysis = Some(a.clone());
        a
    }
}

pub fn analyse(services: &str, steps: &str, options: PlanOptions) -> Analysis {
    Analysis::new(
        SourceFile::new(FileKind::Services.file_name(), services.to_string()),
        SourceFile::new(FileKind::Steps.file_name(), steps.to_string()),
        options,
    )
}
