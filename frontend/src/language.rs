//! The language services' plumbing shared by the page and its analysis worker: file ids, the
//! build values as JSON (the worker gets them by message), and the one way an [`Analysis`]
//! (`slipway_core::ide`, shared with the CLI's language server) of both files is made.

use crate::state::FileKind;
use serde::{Deserialize, Serialize};
use slipway_core::SourceFile;
use slipway_core::ide::{Analysis, FileId};
use slipway_core::plan::PlanOptions;
use slipway_core::template::BuildVars;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Hand the build values to the analysis worker (editor.js keeps them until it starts).
    #[wasm_bindgen(js_namespace = SlipwayEditor, js_name = setOptions)]
    fn set_worker_options(json: &str);
}

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

/// [`PlanOptions`] as they cross to the worker.
#[derive(Serialize, Deserialize)]
struct OptionsJs {
    tag: Option<String>,
    push: bool,
    vars: BuildVars,
}

pub fn options_from_json(json: &str) -> Result<PlanOptions, serde_json::Error> {
    let o: OptionsJs = serde_json::from_str(json)?;
    Ok(PlanOptions { tag: o.tag, push: o.push, vars: o.vars })
}

/// The build values the editors' completion and hovers use (image tags, branch filters).
pub fn set_options(options: &PlanOptions) {
    let o = OptionsJs { tag: options.tag.clone(), push: options.push, vars: options.vars.clone() };
    if let Ok(json) = serde_json::to_string(&o) {
        set_worker_options(&json);
    }
}

pub fn analyse(services: &str, steps: &str, options: PlanOptions) -> Analysis {
    Analysis::new(
        SourceFile::new(FileKind::Services.file_name(), services.to_string()),
        SourceFile::new(FileKind::Steps.file_name(), steps.to_string()),
        options,
    )
}
