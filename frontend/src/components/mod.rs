pub mod crypto_panel;
pub mod diagnostics;
pub mod editor;
pub mod files;
pub mod preview;
