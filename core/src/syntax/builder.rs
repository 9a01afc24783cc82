//! Build a [`Node`] tree from parser events with an explicit stack (no recursion), resolving
//! anchors, aliases and `<<` merge keys, and enforcing the depth and alias budgets.

use super::{Duplicate, MAX_ALIAS_REPLAY_EVENTS, MAX_DEPTH, Node, NodeKind};
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::source::{SourceFile, Span};
use granit_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

enum Frame {
    Seq { items: Vec<Node>, span: Span, anchor: usize },
    Map { entries: Vec<(Node, Node)>, keys: KeySet, merges: Vec<Node>, key: Option<Key>, span: Span, anchor: usize },
}

/// A map key read, waiting for its value.
enum Key {
    /// `<<`: the value is merged.
    Merge,
    /// A key new to the mapping, with its identity (`None` for a key equal to nothing).
    New(Node, Option<KeyId>),
    /// A key the mapping has already, at this entry: the value replaces that entry's.
    Again(Node, usize),
}

/// A map key as a hashable value with the equality of `NodeKind`'s `==` (which decides whether
/// two keys are the same): a mapping's duplicate keys are found in linear time, not quadratic.
#[derive(PartialEq, Eq, Hash)]
enum KeyId {
    Null,
    Bool(bool),
    Int(i64),
    /// The bits of a float, with `-0.0` as `0.0` (they are `==`).
    Float(u64),
    Str(String),
}

impl KeyId {
    /// `None` for keys equal to nothing, not even themselves (NaN), and for collections,
    /// which cannot be keys.
    fn of(node: &Node) -> Option<KeyId> {
        Some(match &node.kind {
            NodeKind::Null => KeyId::Null,
            NodeKind::Bool(b) => KeyId::Bool(*b),
            NodeKind::Int(i) => KeyId::Int(*i),
            NodeKind::Float(f) if f.is_nan() => return None,
            NodeKind::Float(f) => KeyId::Float(if *f == 0.0 { 0 } else { f.to_bits() }),
            NodeKind::Str(s) => KeyId::Str(s.clone()),
            NodeKind::Seq(_) | NodeKind::Map(_) => return None,
        })
    }
}

/// The keys of one mapping so far, each with the index of its entry.
type KeySet = HashMap<KeyId, usize>;

struct Builder<'a> {
    file: &'a SourceFile,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    replayed: usize,
    root: Option<Node>,
    duplicates: Vec<Duplicate>,
}

/// A parsed file.
pub(super) struct Built {
    pub root: Node,
    /// Whether the file defines an anchor (then later text may depend on earlier text).
    pub anchored: bool,
    /// Keys repeated in their mapping, in the order of the repeats' positions.
    pub duplicates: Vec<Duplicate>,
}

pub(super) fn build(file: &SourceFile) -> Result<Built, Diagnostic> {
    let mut b =
        Builder { file, stack: Vec::new(), anchors: HashMap::new(), replayed: 0, root: None, duplicates: Vec::new() };
    let mut documents = 0;
    for event in Parser::new_from_str(&file.text) {
        let (event, span) = event.map_err(|e| {
            let offset = e.marker().byte_offset().unwrap_or(0) as u32;
            super::explain::scan_error(file, offset, &e.info().to_string())
        })?;
        let span = Span::new(span.start.byte_offset().unwrap_or(0) as u32, span.end.byte_offset().unwrap_or(0) as u32);
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(Diagnostic::error(
                        Code::YamlSyntax,
                        file,
                        span,
                        "more than one YAML document; a Codeship file holds exactly one",
                    ));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let kind = if style == ScalarStyle::Plain && tag.is_none() {
                    resolve_plain(&value)
                } else {
                    NodeKind::Str(value.into_owned())
                };
                b.finish(Node { kind, span, def: span }, anchor)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                b.open(Frame::Seq { items: Vec::new(), span, anchor }, span)?;
            }
            Event::MappingStart(_, anchor, _) => {
                b.open(
                    Frame::Map {
                        entries: Vec::new(),
                        keys: KeySet::new(),
                        merges: Vec::new(),
                        key: None,
                        span,
                        anchor,
                    },
                    span,
                )?;
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, span: start, anchor }) = b.stack.pop() {
                    let s = Span::new(start.start, span.end.max(start.start));
                    b.finish(Node { kind: NodeKind::Seq(items), span: s, def: s }, anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { entries, keys, merges, span: start, anchor, .. }) = b.stack.pop() {
                    let entries = apply_merges(entries, keys, merges);
                    let s = Span::new(start.start, span.end.max(start.start));
                    b.finish(Node { kind: NodeKind::Map(entries), span: s, def: s }, anchor)?;
                }
            }
            Event::Alias(id) => {
                let Some((node, size)) = b.anchors.get(&id) else {
                    return Err(Diagnostic::error(Code::YamlSyntax, file, span, "alias to an unknown anchor"));
                };
                b.replayed += size;
                if b.replayed > MAX_ALIAS_REPLAY_EVENTS {
                    return Err(Diagnostic::error(
                        Code::InputLimits,
                        file,
                        span,
                        format!("alias expansion exceeds the budget of {MAX_ALIAS_REPLAY_EVENTS} nodes"),
                    )
                    .with_help("the document expands aliases exponentially (a 'billion laughs' document)"));
                }
                let mut node = node.clone();
                node.span = span;
                b.finish(node, 0)?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(Diagnostic::error(
                    Code::YamlSyntax,
                    file,
                    span,
                    format!("alias `*{name}` refers to no anchor defined before it"),
                ));
            }
            _ => {}
        }
    }
    let anchored = !b.anchors.is_empty();
    Ok(Built { root: b.root.unwrap_or_else(|| Node::null(Span::at(0))), anchored, duplicates: b.duplicates })
}

impl Builder<'_> {
    fn open(&mut self, frame: Frame, span: Span) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::error(
                Code::InputLimits,
                self.file,
                span,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// A complete node: record its anchor, then hand it to the enclosing collection.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            let size = count_nodes(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, keys, merges, key, .. }) => match key.take() {
                None => {
                    if !node.is_scalar() {
                        return Err(Diagnostic::error(
                            Code::YamlSyntax,
                            self.file,
                            node.span,
                            "a map key must be a plain value, not a list or map",
                        ));
                    }
                    // Repeats are found when the key is read, so they come in the order of
                    // their positions (a repeat inside the value comes after its key's).
                    *key = Some(if node.as_str() == Some("<<") {
                        Key::Merge
                    } else {
                        let id = KeyId::of(&node);
                        match id.as_ref().and_then(|id| keys.get(id)) {
                            Some(&i) => {
                                self.duplicates.push(Duplicate { first: entries[i].0.span, again: node.span });
                                Key::Again(node, i)
                            }
                            None => Key::New(node, id),
                        }
                    });
                }
                Some(Key::Merge) => merges.push(node),
                // As jet's YAML parser (Go's yaml.v2) did: the later value wins.
                Some(Key::Again(k, i)) => entries[i] = (k, node),
                Some(Key::New(k, id)) => {
                    if let Some(id) = id {
                        keys.insert(id, entries.len());
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

/// `<<: *base` or `<<: [*a, *b]`: keys already present win; earlier merge sources win over later.
/// `keys` holds the keys of `entries`.
fn apply_merges(mut entries: Vec<(Node, Node)>, mut keys: KeySet, merges: Vec<Node>) -> Vec<(Node, Node)> {
    for merge in merges {
        let sources: Vec<Node> = match merge.kind {
            NodeKind::Seq(items) => items,
            _ => vec![merge],
        };
        for source in sources {
            let site = source.span;
            if let NodeKind::Map(src_entries) = source.kind {
                for (mut k, mut v) in src_entries {
                    let new = match KeyId::of(&k) {
                        Some(id) => match keys.entry(id) {
                            Entry::Occupied(_) => false,
                            Entry::Vacant(slot) => {
                                slot.insert(entries.len());
                                true
                            }
                        },
                        None => true,
                    };
                    if new {
                        // Report merged values where they are used (the `<<` site), like aliases.
                        k.span = site;
                        v.span = site;
                        entries.push((k, v));
                    }
                }
            }
        }
    }
    entries
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Map(entries) => entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum(),
        _ => 0,
    }
}

/// YAML 1.1 resolution of plain scalars, as Go's yaml.v2 (which jet used) did.
fn resolve_plain(s: &str) -> NodeKind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return NodeKind::Bool(true);
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return NodeKind::Bool(false);
        }
        _ => {}
    }
    let plain = s.replace('_', "");
    let (neg, digits) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain.strip_prefix('+').unwrap_or(&plain)),
    };
    let int = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&digits[1..], 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return NodeKind::Int(if neg { -i } else { i });
    }
    let looks_float = !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float && let Ok(f) = plain.parse::<f64>() {
        return NodeKind::Float(f);
    }
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" => NodeKind::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => NodeKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => NodeKind::Float(f64::NAN),
        _ => NodeKind::Str(s.to_string()),
    }
}
