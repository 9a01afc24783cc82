//! The open buffers, kept in step with the editor by incremental changes. An open buffer
//! wins over the file on disk.

use lsp_types::TextDocumentContentChangeEvent;
use slipway_core::ide::{LineIndex, Position};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Default)]
pub struct Documents {
    open: HashMap<PathBuf, String>,
}

impl Documents {
    pub fn open(&mut self, path: PathBuf, text: String) {
        self.open.insert(path, text);
    }

    pub fn close(&mut self, path: &Path) {
        self.open.remove(path);
    }

    pub fn get(&self, path: &Path) -> Option<&str> {
        self.open.get(path).map(String::as_str)
    }

    pub fn is_open(&self, path: &Path) -> bool {
        self.open.contains_key(path)
    }

    /// Apply changes in order (each one's range is in the text the previous ones left).
    /// Returns false for a document that is not open (the client is out of step).
    pub fn change(&mut self, path: &Path, changes: Vec<TextDocumentContentChangeEvent>) -> bool {
        let Some(text) = self.open.get_mut(path) else { return false };
        for change in changes {
            apply(text, change);
        }
        true
    }
}

/// One change: a range replaced (positions in UTF-16, clamped to the text), or the whole text.
pub fn apply(text: &mut String, change: TextDocumentContentChangeEvent) {
    let Some(range) = change.range else {
        *text = change.text;
        return;
    };
    let index = LineIndex::new(text);
    let at = |p: lsp_types::Position| index.offset(Position { line: p.line, character: p.character }) as usize;
    let (start, end) = (at(range.start), at(range.end));
    let (start, end) = (start.min(end), start.max(end));
    text.replace_range(start..end, &change.text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp_types::Range;

    fn edit(sl: u32, sc: u32, el: u32, ec: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range::new(lsp_types::Position::new(sl, sc), lsp_types::Position::new(el, ec))),
            range_length: None,
            text: text.to_string(),
        }
    }

    /// Columns count UTF-16 units: `😀` is two, `é` one, though they are 4 and 2 bytes.
    #[test]
    fn ranges_are_utf16_and_applied_in_order() {
        let mut text = "- name: 😀é\n  service: ap\n".to_string();
        apply(&mut text, edit(0, 10, 0, 11, "e"));
        assert_eq!(text, "- name: 😀e\n  service: ap\n");
        apply(&mut text, edit(1, 13, 1, 13, "p"));
        apply(&mut text, edit(2, 0, 2, 0, "- x\n"));
        assert_eq!(text, "- name: 😀e\n  service: app\n- x\n");
        // A range past the end is clamped, not a panic.
        apply(&mut text, edit(1, 99, 40, 7, ""));
        assert_eq!(text, "- name: 😀e\n  service: app");
        // Reversed ranges too.
        apply(&mut text, edit(0, 2, 0, 0, ""));
        assert_eq!(text, "name: 😀e\n  service: app");
    }

    #[test]
    fn a_change_without_range_replaces_everything() {
        let mut d = Documents::default();
        let p = PathBuf::from("/p/codeship-steps.yml");
        d.open(p.clone(), "a".into());
        let whole = TextDocumentContentChangeEvent { range: None, range_length: None, text: "b".into() };
        assert!(d.change(&p, vec![whole.clone()]));
        assert_eq!(d.get(&p), Some("b"));
        assert!(!d.change(Path::new("/p/other.yml"), vec![whole]));
    }
}
