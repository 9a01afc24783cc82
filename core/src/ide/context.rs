//! Where a position is, from the text alone: the keys and list items enclosing it (by
//! indentation, walking up from its line) and whether it is at a key or in a value. This is
//! what lets completion work on a line that does not parse yet.

use crate::source::Span;

/// One step from the document root towards the position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Item,
}

/// What the position is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// A mapping key (possibly partly typed; `span` may be empty).
    Key { span: Span },
    /// Text at the start of a line or list item that is not a `key:` yet: a key being typed,
    /// or a list item's value.
    Bare { span: Span },
    /// The value of `key` on the same line. `token` is the word under the cursor (for a flow
    /// list `[a, b]`, the element); `before` is the value's text up to the cursor.
    Value { key: String, token: Span, value: Span, flow_list: bool },
    /// Inside a multi-line scalar or something else we do not complete.
    Nothing,
}

/// The position's context.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    /// Enclosing keys and items, outermost first (the current line's own `- ` included).
    pub path: Vec<Seg>,
    pub at: At,
    /// The keys of the mapping the position is in, with their (plain) values, the
    /// position's own key excluded.
    pub siblings: Vec<(String, String)>,
}

/// A line, split into its structure.
#[derive(Clone, Debug, Default)]
pub(crate) struct Line {
    /// Byte offset of the line's start in the file.
    pub start: u32,
    /// Columns (bytes) of each `- ` marker.
    pub items: Vec<usize>,
    /// `key:` with its column and byte range in the line.
    pub key: Option<(usize, String, std::ops::Range<usize>)>,
    /// The value after `key:`, or the scalar after the markers: its byte range in the line
    /// (without a trailing comment); empty at the content column when there is none.
    pub value: std::ops::Range<usize>,
    /// Column of the content after the markers (the key or scalar), or the line's length.
    pub content: usize,
    /// Nothing but spaces and perhaps a comment.
    pub blank: bool,
}

impl Line {
    /// The column of the line's first opener (item marker or content).
    pub fn first_col(&self) -> usize {
        self.items.first().copied().unwrap_or(self.content)
    }
}

/// Split one line (without its newline).
pub(crate) fn parse_line(text: &str, start: u32) -> Line {
    let bytes = text.as_bytes();
    let mut p = bytes.iter().take_while(|b| **b == b' ').count();
    let mut line = Line { start, ..Line::default() };
    if p == bytes.len() || bytes[p] == b'#' || (bytes[p] == b'\r' && p + 1 == bytes.len()) {
        line.blank = true;
        line.content = p;
        line.value = p..p;
        return line;
    }
    // `- ` markers, possibly several (`- - a`).
    while bytes.get(p) == Some(&b'-') && matches!(bytes.get(p + 1), None | Some(b' ') | Some(b'\r')) {
        line.items.push(p);
        p += 1;
        p += bytes[p..].iter().take_while(|b| **b == b' ').count();
    }
    line.content = p;
    let end = comment_start(text, p);
    let end = text[..end].trim_end().len().max(p);
    if let Some((name, key_end)) = key_at(text, p, end) {
        line.key = Some((p, name, p..key_end));
        let after = key_end + 1;
        let v = after + bytes[after.min(end)..end].iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
        line.value = v.min(end)..end;
    } else {
        line.value = p..end;
    }
    line
}

/// The `key:` starting at `p`, if the line has one: its unquoted name and the colon's column.
fn key_at(text: &str, p: usize, end: usize) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    match bytes.get(p)? {
        q @ (b'"' | b'\'') => {
            let close = text[p + 1..end].find(*q as char)? + p + 1;
            (bytes.get(close + 1) == Some(&b':') && matches!(bytes.get(close + 2), None | Some(b' ' | b'\t' | b'\r')))
                .then(|| (text[p + 1..close].to_string(), close + 1))
        }
        b'[' | b'{' | b'|' | b'>' | b'&' | b'*' | b'!' | b'%' | b'@' | b'`' => None,
        _ => {
            let mut i = p;
            while i < end {
                if bytes[i] == b':' && (i + 1 >= end || matches!(bytes[i + 1], b' ' | b'\t')) {
                    return Some((text[p..i].trim_end().to_string(), i));
                }
                i += 1;
            }
            None
        }
    }
}

/// Where a comment starts (` #` outside quotes), or the line's end.
fn comment_start(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    for i in from..bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if (b == b'"' || b == b'\'') && (i == from || matches!(bytes[i - 1], b' ' | b'\t' | b':')) => {
                quote = Some(b)
            }
            None if b == b'#' && (i == from || matches!(bytes[i - 1], b' ' | b'\t')) => return i,
            None => {}
        }
    }
    bytes.len()
}

/// The byte offset of each line's start.
pub(crate) fn line_starts(text: &str) -> Vec<u32> {
    super::work::count(&super::work::LINES);
    let mut starts = vec![0];
    starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i as u32 + 1));
    starts
}

/// The lines of a text with their byte starts (split here, or kept by the analysis).
pub(crate) struct Lines<'a> {
    text: &'a str,
    starts: std::borrow::Cow<'a, [u32]>,
}

impl<'a> Lines<'a> {
    #[cfg(test)]
    pub fn new(text: &'a str) -> Lines<'a> {
        Lines { text, starts: line_starts(text).into() }
    }
    /// Over `starts` already computed by [`line_starts`] for `text`.
    pub fn with_starts(text: &'a str, starts: &'a [u32]) -> Lines<'a> {
        Lines { text, starts: starts.into() }
    }
    pub fn len(&self) -> usize {
        self.starts.len()
    }
    /// The byte offset where line `i` starts.
    pub fn start(&self, i: usize) -> u32 {
        self.starts[i]
    }
    pub fn line_of(&self, offset: u32) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }
    pub fn text(&self, i: usize) -> &'a str {
        let start = self.starts[i] as usize;
        let end = self.starts.get(i + 1).map_or(self.text.len(), |&e| e as usize - 1);
        self.text[start..end].trim_end_matches('\r')
    }
    pub fn parse(&self, i: usize) -> Line {
        parse_line(self.text(i), self.starts[i])
    }
}

/// Is `key`'s value on its line something that holds the lines below it (nothing, a block
/// scalar indicator, an anchor or a tag)?
fn opens_block(line: &Line, text: &str) -> bool {
    let v = &text[line.value.clone()];
    v.is_empty() || v.starts_with('&') || v.starts_with('!')
}

fn is_block_scalar(line: &Line, text: &str) -> bool {
    let v = &text[line.value.clone()];
    v.starts_with('|') || v.starts_with('>')
}

/// The context of byte `offset` in `text`.
#[cfg(test)]
pub(crate) fn context(text: &str, offset: u32) -> Context {
    context_at(&Lines::new(text), offset)
}

/// The context of byte `offset`, over lines already split (a query asking about many
/// offsets of one text splits it once).
pub(crate) fn context_at(lines: &Lines, offset: u32) -> Context {
    super::work::count(&super::work::CONTEXTS);
    let text = lines.text;
    let offset = offset.min(text.len() as u32);
    let n = lines.line_of(offset);
    let cur_text = lines.text(n);
    let cur = lines.parse(n);
    let col = ((offset - cur.start) as usize).min(cur_text.len());
    let abs = |r: std::ops::Range<usize>| Span::new(cur.start + r.start as u32, cur.start + r.end as u32);

    // The current line's own markers are ancestors only when the cursor is past them.
    let own_items: Vec<usize> = cur.items.iter().copied().filter(|&c| c < col).collect();
    let (at, content_col) = if cur.blank || (cur.items.len() > own_items.len()) || col < cur.content {
        // An empty line (or before the content): what is typed starts at the cursor.
        (At::Bare { span: Span::at(offset) }, col)
    } else if let Some((kcol, key, range)) = &cur.key {
        if col <= range.end {
            (At::Key { span: abs(range.clone()) }, *kcol)
        } else {
            (value_at(cur_text, &cur, key, col, abs), *kcol)
        }
    } else {
        let word = cur.value.start..cur.value.end.max(col);
        (At::Bare { span: abs(word) }, cur.content)
    };

    let mut path: Vec<Seg> = own_items.iter().map(|_| Seg::Item).collect();
    let mut siblings: Vec<(String, String)> = Vec::new();
    // Siblings only exist above when this line does not start the mapping itself.
    let mut collect_above = own_items.is_empty();
    let mut threshold = own_items.first().copied().unwrap_or(content_col);
    // YAML lets a list sit at its key's own column (`steps:` then `- …` under the `s`).
    let mut threshold_is_item = !own_items.is_empty();
    let mut at = at;
    let mut i = n;
    // Column 0 is the root: no Codeship file nests a list at column 0 under a key, so an
    // item there ends the walk (instead of reading every line above it).
    while threshold > 0 && i > 0 {
        i -= 1;
        let line = lines.parse(i);
        if line.blank {
            continue;
        }
        let t = lines.text(i);
        let indentless_parent = threshold_is_item
            && line.items.is_empty()
            && line.key.as_ref().is_some_and(|(c, _, _)| *c == threshold)
            && opens_block(&line, t);
        if line.first_col() >= threshold && !indentless_parent {
            if collect_above
                && line.items.is_empty()
                && line.content == content_col
                && let Some((_, k, _)) = &line.key
            {
                siblings.push((k.clone(), plain(&t[line.value.clone()])));
            }
            continue;
        }
        // An ancestor line: its openers left of the threshold enclose the position.
        let mut segs = Vec::new();
        for &c in &line.items {
            if c < threshold {
                segs.push(Seg::Item);
            }
        }
        if let Some((kcol, k, _)) = &line.key {
            if *kcol < threshold || indentless_parent {
                if is_block_scalar(&line, t) || !opens_block(&line, t) {
                    at = At::Nothing;
                }
                segs.push(Seg::Key(k.clone()));
            } else if collect_above && *kcol == content_col {
                siblings.push((k.clone(), plain(&t[line.value.clone()])));
            }
        } else if line.content < threshold && !line.value.is_empty() {
            at = At::Nothing; // a continued plain scalar
        }
        collect_above = false;
        threshold = line.first_col();
        threshold_is_item = !line.items.is_empty();
        path.splice(0..0, segs);
    }
    // Siblings below: until the mapping ends.
    for j in n + 1..lines.len() {
        let line = lines.parse(j);
        if line.blank {
            continue;
        }
        if line.first_col() < content_col {
            break;
        }
        if line.items.is_empty()
            && line.content == content_col
            && let Some((_, k, _)) = &line.key
        {
            siblings.push((k.clone(), plain(&lines.text(j)[line.value.clone()])));
        }
    }
    Context { path, at, siblings }
}

/// The value position of `key` on the current line.
fn value_at(text: &str, line: &Line, key: &str, col: usize, abs: impl Fn(std::ops::Range<usize>) -> Span) -> At {
    let v = line.value.clone();
    let value = v.start..v.end.max(col);
    let raw = &text[v.start.min(col)..col.max(v.start)];
    if text[v.clone()].starts_with('[') && col > v.start {
        // The element of a flow list the cursor is in.
        let from = v.start + raw.rfind([',', '[']).map_or(0, |i| i + 1);
        let from = from + text[from..col].len() - text[from..col].trim_start().len();
        let to = col + text[col..v.end.max(col)].find([',', ']']).unwrap_or(v.end.max(col) - col);
        let to = from.max(to - (text[from.min(to)..to].len() - text[from.min(to)..to].trim_end().len()));
        return At::Value { key: key.to_string(), token: abs(from..to), value: abs(value), flow_list: true };
    }
    let token = if v.is_empty() || col < v.start {
        // Nothing typed yet: insert at the cursor, not over the space after the colon.
        col..col
    } else if text[v.clone()].contains("{{") {
        word_around(text, v.start, col)
    } else {
        v.start..v.end.max(col)
    };
    At::Value { key: key.to_string(), token: abs(token), value: abs(value), flow_list: false }
}

/// The identifier (with a leading `.`) around `col` within a template.
fn word_around(text: &str, min: usize, col: usize) -> std::ops::Range<usize> {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut s = col;
    while s > min && ident(bytes[s - 1]) {
        s -= 1;
    }
    if s > min && bytes[s - 1] == b'.' {
        s -= 1;
    }
    let mut e = col;
    while e < bytes.len() && ident(bytes[e]) {
        e += 1;
    }
    s..e
}

/// A scalar's text without quotes.
pub(crate) fn plain(v: &str) -> String {
    let v = v.trim();
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        return v[1..v.len() - 1].to_string();
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(marked: &str) -> (Context, String) {
        let at = marked.find('‸').unwrap();
        let text = marked.replace('‸', "");
        (context(&text, at as u32), text)
    }

    fn keys(path: &[Seg]) -> Vec<String> {
        path.iter()
            .map(|s| match s {
                Seg::Key(k) => k.clone(),
                Seg::Item => "-".into(),
            })
            .collect()
    }

    #[test]
    fn key_positions_and_paths() {
        let (c, t) = ctx("app:\n  build:\n    ima‸\n  image: x\n");
        assert_eq!(keys(&c.path), ["app", "build"]);
        let At::Bare { span } = c.at else { panic!("{:?}", c.at) };
        assert_eq!(&t[span.start as usize..span.end as usize], "ima");
        let (c, _) = ctx("- name: a\n  ‸\n  type: push\n");
        assert_eq!(keys(&c.path), ["-"]);
        let mut sib: Vec<_> = c.siblings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        sib.sort();
        assert_eq!(sib, ["name=a", "type=push"]);
    }

    /// `steps:` with its items at the key's own column.
    #[test]
    fn indentless_lists() {
        let (c, _) = ctx("- type: serial\n  steps:\n  - service: app\n    comm‸\n  - service: db\n");
        assert_eq!(keys(&c.path), ["-", "steps", "-"]);
        let mut sib: Vec<_> = c.siblings.iter().map(|(k, _)| k.clone()).collect();
        sib.sort();
        assert_eq!(sib, ["service"]);
        let (c, _) = ctx("app:\n  links:\n  - db\n  - ‸\n");
        assert_eq!(keys(&c.path), ["app", "links", "-"]);
    }

    #[test]
    fn value_positions() {
        let (c, t) = ctx("- type: parallel\n  steps:\n    - service: ap‸\n");
        assert_eq!(keys(&c.path), ["-", "steps", "-"]);
        let At::Value { key, token, .. } = c.at else { panic!("{:?}", c.at) };
        assert_eq!((key.as_str(), &t[token.start as usize..token.end as usize]), ("service", "ap"));
        let (c, t) = ctx("app:\n  depends_on: [db, ca‸]\n");
        let At::Value { token, flow_list, .. } = c.at else { panic!("{:?}", c.at) };
        assert!(flow_list);
        assert_eq!(&t[token.start as usize..token.end as usize], "ca");
        let (c, _) = ctx("app:\n  command: |\n    echo ‸\n");
        assert_eq!(c.at, At::Nothing);
    }

    /// YAML separates a key from its value by any blank, a tab too.
    #[test]
    fn tab_after_colon() {
        for marked in ["- service:\tap‸\n", "- \"service\":\tap‸\n", "- service:\t ap‸\n"] {
            let (c, t) = ctx(marked);
            let At::Value { key, token, .. } = c.at else { panic!("{marked:?}: {:?}", c.at) };
            assert_eq!((key.as_str(), &t[token.start as usize..token.end as usize]), ("service", "ap"), "{marked:?}");
        }
    }
}

/// What a path leads to, in the schema of its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// The services file's top level (service names), or the map under `services:`.
    ServicesTop,
    /// A service's mapping.
    Service,
    /// A service's `build:` mapping.
    Build,
    /// A service's `build.args` mapping or list.
    BuildArgs,
    /// The value under a key of a service (`ServiceValue("depends_on")`).
    ServiceValue(String),
    /// An item of a list under a key of a service.
    ServiceItem(String),
    /// A value under `build:`.
    BuildValue(String),
    /// A build argument's value (by name), or an item of the args list.
    BuildArg,
    /// A list of steps (the file, `steps:`, `on_fail:`).
    StepList,
    /// A step's mapping.
    Step,
    /// The value under a key of a step.
    StepValue(String),
    /// An item of a list under a key of a step (`services:`).
    StepItem(String),
    Unknown,
}

/// Follow `path` from the root of `file`.
pub(crate) fn place(file: super::FileId, path: &[Seg]) -> Place {
    let mut p = match file {
        super::FileId::Services => Place::ServicesTop,
        super::FileId::Steps => Place::StepList,
    };
    let mut nested = false;
    for seg in path {
        p = match (p, seg) {
            (Place::ServicesTop, Seg::Key(k)) if k == "services" && !nested => {
                nested = true;
                Place::ServicesTop
            }
            (Place::ServicesTop, Seg::Key(_)) => Place::Service,
            (Place::Service, Seg::Key(k)) if k == "build" => Place::Build,
            (Place::Service, Seg::Key(k)) => Place::ServiceValue(k.clone()),
            (Place::ServiceValue(k), Seg::Item) => Place::ServiceItem(k),
            (Place::Build, Seg::Key(k)) if k == "args" => Place::BuildArgs,
            (Place::Build, Seg::Key(k)) => Place::BuildValue(k.clone()),
            (Place::BuildArgs, _) => Place::BuildArg,
            (Place::StepList, Seg::Item) => Place::Step,
            (Place::Step, Seg::Key(k)) if k == "steps" || k == "on_fail" => Place::StepList,
            (Place::Step, Seg::Key(k)) => Place::StepValue(k.clone()),
            (Place::StepValue(k), Seg::Item) => Place::StepItem(k),
            _ => Place::Unknown,
        };
    }
    p
}

/// The place of a key's value: `place` of the path plus the key.
pub(crate) fn value_place(file: super::FileId, path: &[Seg], key: &str) -> Place {
    let mut full = path.to_vec();
    full.push(Seg::Key(key.to_string()));
    place(file, &full)
}
