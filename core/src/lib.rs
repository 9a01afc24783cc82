//! Slipway's shared core: everything the browser studio and the native CLI/server must agree
//! on. No I/O, no clock, no randomness, no threads: time and random bytes come in as arguments.

pub mod codes;
pub mod diagnostics;
pub mod source;
pub mod syntax;

pub use codes::Code;
pub use diagnostics::{Diagnostic, Report, Severity, Suggestion};
pub use source::{SourceFile, Span, Spanned};
pub mod argv;
pub mod check;
pub mod crypto;
pub mod dockercfg;
pub mod envfile;
pub mod export;
pub mod image_ref;
pub mod keys;
pub mod model;
pub mod origin;
pub mod plan;
mod rules;
pub mod run_state;
pub mod schema;
pub mod spelling;
pub mod template;

pub use check::{Checked, check};
pub mod ide;
pub mod inspect;
#[doc(hidden)]
pub mod synth;
