pub mod crypto_panel;
pub mod diagnostics;
pub mod editor;
pub mod export_panel;
pub mod files;
pub mod plan_tree;
pub mod preview;
pub mod run_panel;
