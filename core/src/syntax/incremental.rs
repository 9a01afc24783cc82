//! Re-parsing after an edit: only the top-level sequence items the edit touched.
//!
//! A steps file is a block sequence whose items start at column 0 (`- name: …`). Between
//! items the YAML scanner is in the same state as at the start of a document inside that
//! sequence: no open flow collection, quoted or block scalar, and (without anchors) nothing
//! a later item can refer to. So the items an edit falls in can be parsed on their own, as a
//! little document, and spliced into the last tree with every later span moved by the edit's
//! length. Whatever does not fit that picture — an edit before the first item, a column-0 line
//! that is not an item, a comment or indented, anchors anywhere, items the parser's tree does
//! not line up with, a region that does not parse on its own — is parsed whole, so the result
//! (tree or error) is always the whole parse's. A text with an error is parsed whole (for the
//! error at its place) and the last good parse is kept, so the next good text re-parses only
//! what differs from it. Repeated keys (warnings, see [`super::Duplicate`]) lie inside one
//! item, so the region's replace the old region's, and later ones move with the edit. Tests
//! (core/tests/reparse.rs) and a fuzz target (`reparse`) compare the two parses on random
//! edits.
//!
//! At 5,000 steps (480 KB) a whole parse is ~15 ms natively and ~25 ms in the browser; a
//! keystroke's re-parse is a compare with the last text, one item, and moving later spans.

use super::{Duplicate, Node, NodeKind, Parsed, builder};
use crate::diagnostics::Diagnostic;
use crate::source::{SourceFile, Span};

/// The last parse of one file, reused by the next [`Reparser::parse`].
#[derive(Debug, Default)]
pub struct Reparser {
    last: Option<Last>,
    /// How the last call parsed, for tests and benchmarks.
    pub last_parse: LastParse,
}

/// How [`Reparser::parse`] got its tree.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum LastParse {
    #[default]
    None,
    /// The text had not changed.
    Unchanged,
    /// Only these many top-level items were parsed again.
    Items(usize),
    /// The whole text was parsed.
    Whole,
}

#[derive(Debug)]
struct Last {
    text: String,
    parsed: Parsed,
    /// Where each top-level item's line starts, when the root is a block sequence of items
    /// at column 0 that the tree's items line up with; `None`: every parse is whole.
    items: Option<Vec<u32>>,
}

impl Reparser {
    /// Parse `file`, as [`super::parse`] would.
    pub fn parse(&mut self, file: &SourceFile) -> Result<&Parsed, Diagnostic> {
        self.last_parse = LastParse::Whole;
        super::check_size(file)?;
        let reused = match self.last.as_mut() {
            Some(last) if last.text == file.text => Some(LastParse::Unchanged),
            Some(last) => reparse(last, file).map(LastParse::Items),
            None => None,
        };
        match reused {
            Some(how) => self.last_parse = how,
            None => {
                // On an error the last good parse stays: typing goes through texts that are
                // not YAML yet, and the next good one differs from it only where typed.
                let built = builder::build(file)?;
                let items = (!built.anchored).then(|| item_lines(file, &built.root)).flatten();
                let parsed = Parsed { root: built.root, duplicates: built.duplicates };
                self.last = Some(Last { text: file.text.clone(), parsed, items });
            }
        }
        Ok(&self.last.as_ref().expect("parsed").parsed)
    }
}

/// Re-parse the items of `last` that the edit to `file` touched; `None` when the whole text
/// must be parsed (see the module's comment). Returns how many items were parsed.
fn reparse(last: &mut Last, file: &SourceFile) -> Option<usize> {
    let starts = last.items.as_ref()?;
    let (old, new) = (last.text.as_bytes(), file.text.as_bytes());
    let p = common_prefix(old, new);
    let s = common_prefix_rev(&old[p..], &new[p..]);
    let old_end = old.len() - s;
    let first = *starts.first()? as usize;
    if p < first {
        return None;
    }
    // The items the changed bytes [p, old_end) fall in: from the one `p` is in to the first
    // that starts at or after `old_end` (an insertion at an item's start is in that item).
    let at = starts.partition_point(|&b| b as usize <= p) - 1;
    let k1 = starts.partition_point(|&b| (b as usize) < old_end).max(at + 1);
    // An edit at an item's very start may also continue the item before (an indented line
    // typed above it), so that one is parsed again too.
    let k0 = if starts[at] as usize == p { at.saturating_sub(1) } else { at };
    let start = starts[k0] as usize;
    let old_stop = starts.get(k1).map_or(old.len(), |&b| b as usize);
    let new_stop = (old_stop + new.len()).checked_sub(old.len())?;
    // The unchanged rest must still begin a line, or it would join the edited region's.
    if k1 < starts.len() && new.get(new_stop.checked_sub(1)?) != Some(&b'\n') {
        return None;
    }
    let region = file.text.get(start..new_stop)?;
    if region.is_empty() {
        return None;
    }
    // Where an item follows, the region is parsed with a stand-in for it: the parser puts
    // some spans at the next token (an empty block scalar's, `command: |` just typed, at the
    // next item's `-`), which the region's own end would put elsewhere.
    let followed = k1 < starts.len();
    let source = SourceFile::new(file.name.as_str(), if followed { format!("{region}-\n") } else { region.into() });
    if !region_lines_fit(&source) {
        return None;
    }
    let built = builder::build(&source).ok()?;
    if built.anchored {
        return None;
    }
    let mut region_starts = item_lines(&source, &built.root)?;
    let NodeKind::Seq(mut items) = built.root.kind else { return None };
    if followed {
        items.pop();
        region_starts.pop();
    }
    let (region_start, region_end) = (built.root.span.start, built.root.span.end);
    let shift_new = start as i64;
    let delta = new.len() as i64 - old.len() as i64;
    for item in &mut items {
        shift(item, shift_new);
    }
    let NodeKind::Seq(all) = &mut last.parsed.root.kind else { return None };
    for item in &mut all[k1..] {
        shift(item, delta);
    }
    let parsed = items.len();
    all.splice(k0..k1, items);
    // The stand-in item has no keys, so every repeat the region holds is its items'.
    let region_duplicates = built.duplicates.into_iter().map(|d| shift_duplicate(d, shift_new));
    splice_duplicates(&mut last.parsed.duplicates, start as u32..old_stop as u32, delta, region_duplicates);
    let root = &mut last.parsed.root;
    if k0 == 0 {
        root.span.start = moved(region_start, shift_new);
    }
    root.span.end = if k1 == starts.len() { moved(region_end, shift_new) } else { moved(root.span.end, delta) };
    root.def = root.span;
    let mut lines: Vec<u32> = starts[..k0].to_vec();
    lines.extend(region_starts.iter().map(|&b| moved(b, shift_new)));
    lines.extend(starts[k1..].iter().map(|&b| moved(b, delta)));
    last.items = Some(lines);
    last.text.clone_from(&file.text);
    Some(parsed)
}

/// The start of each column-0 item line (`-` then a blank or the end of the line) of `text`,
/// when `root` is a sequence whose items line up with them one to one (each item's node
/// starts on or after its line and no later than the next item's line); `None` otherwise.
fn item_lines(file: &SourceFile, root: &Node) -> Option<Vec<u32>> {
    let NodeKind::Seq(items) = &root.kind else { return None };
    // A lone CR breaks a line for YAML, not for the line starts here.
    let bytes = file.text.as_bytes();
    if bytes.iter().enumerate().any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
        return None;
    }
    let lines: Vec<u32> =
        file.line_starts().iter().copied().filter(|&at| is_item_line(&bytes[at as usize..])).collect();
    if lines.len() != items.len() || lines.first() != Some(&root.span.start) {
        return None;
    }
    let fits = items.iter().enumerate().all(|(i, item)| {
        let next = lines.get(i + 1).copied().unwrap_or(u32::MAX);
        item.span.start >= lines[i] && item.span.start <= next
    });
    fits.then_some(lines)
}

/// Whether every column-0 line of `region` (with its stand-in item) is an item line, a comment or blank, and the
/// first is an item line: anything else at column 0 (`---`, `...`, a directive, a key) could
/// end the sequence, which only a whole parse can tell.
fn region_lines_fit(region: &SourceFile) -> bool {
    let bytes = region.text.as_bytes();
    is_item_line(bytes)
        && region.line_starts().iter().all(|&at| {
            let line = &bytes[at as usize..];
            is_item_line(line) || matches!(line.first(), None | Some(b' ' | b'#' | b'\n' | b'\r'))
        })
}

fn is_item_line(line: &[u8]) -> bool {
    line.first() == Some(&b'-') && matches!(line.get(1), None | Some(b' ' | b'\t' | b'\n' | b'\r'))
}

fn moved(at: u32, by: i64) -> u32 {
    (at as i64 + by) as u32
}

/// Replace the repeats inside `old` (the old text's bytes of the re-parsed items) with the
/// region's, and move the ones after it by `delta`; the list stays in position order.
fn splice_duplicates(
    all: &mut Vec<Duplicate>,
    old: std::ops::Range<u32>,
    delta: i64,
    region: impl Iterator<Item = Duplicate>,
) {
    let from = all.partition_point(|d| d.again.start < old.start);
    let to = all.partition_point(|d| d.again.start < old.end);
    for d in &mut all[to..] {
        *d = shift_duplicate(*d, delta);
    }
    all.splice(from..to, region);
}

fn shift_duplicate(d: Duplicate, by: i64) -> Duplicate {
    let span = |s: Span| Span::new(moved(s.start, by), moved(s.end, by));
    Duplicate { first: span(d.first), again: span(d.again) }
}

/// Move every span of `node` by `by` bytes.
fn shift(node: &mut Node, by: i64) {
    node.span = Span::new(moved(node.span.start, by), moved(node.span.end, by));
    node.def = Span::new(moved(node.def.start, by), moved(node.def.end, by));
    match &mut node.kind {
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| shift(n, by)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift(k, by);
            shift(v, by);
        }),
        _ => {}
    }
}

/// The length of the longest common prefix, compared a block at a time (a `memcmp`).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    i + a[i..n].iter().zip(&b[i..n]).take_while(|(x, y)| x == y).count()
}

/// The length of the longest common suffix.
fn common_prefix_rev(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[a.len() - i - BLOCK..a.len() - i] == b[b.len() - i - BLOCK..b.len() - i] {
        i += BLOCK;
    }
    i + a[..a.len() - i].iter().rev().zip(b[..b.len() - i].iter().rev()).take_while(|(x, y)| x == y).count().min(n - i)
}
