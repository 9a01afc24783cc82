//! The incremental parse (`syntax::Reparser`) against the whole parse, on random edits to
//! every steps file in the fixtures and a generated project: after every edit the tree (with
//! every span) or the error must be the whole parse's, and most edits must take the
//! incremental path, or the test proves nothing.

use slipway_core::syntax::{self, LastParse, Reparser};
use slipway_core::{SourceFile, check};
use std::path::Path;

/// xorshift64*: reproducible edits without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Snippets a person types or pastes, and ones that change how YAML reads what follows.
const SNIPPETS: &[&str] = &[
    "a",
    "x",
    " ",
    "\n",
    ": ",
    "- ",
    "\n- ",
    "\n- name: new\n  service: app\n  command: true\n",
    "\"",
    "'",
    "#",
    " # c",
    "\n# c\n",
    "[",
    "]",
    "{",
    "}",
    ",",
    "|",
    "|\n  block\n",
    ">-\n  folded\n",
    "&a ",
    "*a",
    "---\n",
    "\n...\n",
    "\t",
    "\n  ",
    "\n\n",
    "ü",
    "日本",
    "\r\n",
    "- - ",
    "-",
    "%YAML 1.2\n",
    "? ",
    "!!str ",
    "\n- \"open\n- closed\"\n",
    "\nkey: value\n",
    "  steps:\n    - service: app\n",
    // Found by review: an empty block scalar just before the next item (its span is at the
    // next item's `-`), and a lone CR (a line break to YAML).
    ": |\n",
    "|+\n\n",
    "\n  command: |\n",
    ">\n",
    "\r",
    "\r...\r\n",
    // Repeated keys (a warning, the later value wins): within a snippet, and likely with a
    // key already in the item.
    "\n  name: one\n  name: two\n",
    "\n  command: again\n",
    "\n  service: app\n",
    "{ a: 1, a: 2 }",
];

fn steps_files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n.to_string_lossy().contains("steps"))
                && path.extension().is_some_and(|e| e == "yml")
            {
                out.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out.push(("synth(300)".into(), slipway_core::synth::large_project(300).1));
    out
}

/// A char boundary at or before `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn edit(rng: &mut Rng, text: &str) -> String {
    let at = boundary(text, rng.below(text.len() + 1));
    let mut out = String::with_capacity(text.len() + 64);
    match rng.below(4) {
        // Delete a few bytes, sometimes across items.
        0 => {
            let most = if rng.below(4) == 0 { 200 } else { 4 };
            let end = boundary(text, at + 1 + rng.below(most));
            out.push_str(&text[..at]);
            out.push_str(&text[end.max(at)..]);
        }
        // Replace a few bytes.
        1 => {
            let end = boundary(text, at + rng.below(6)).max(at);
            out.push_str(&text[..at]);
            out.push_str(SNIPPETS[rng.below(SNIPPETS.len())]);
            out.push_str(&text[end..]);
        }
        // Insert.
        _ => {
            out.push_str(&text[..at]);
            out.push_str(SNIPPETS[rng.below(SNIPPETS.len())]);
            out.push_str(&text[at..]);
        }
    }
    out
}

fn same(
    a: &Result<&syntax::Parsed, slipway_core::Diagnostic>,
    b: &Result<syntax::Parsed, slipway_core::Diagnostic>,
) -> bool {
    // Debug, not `==`: a NaN float is equal to nothing, not even itself.
    match (a, b) {
        (Ok(a), Ok(b)) => format!("{a:?}") == format!("{b:?}"),
        (Err(a), Err(b)) => format!("{a:?}") == format!("{b:?}"),
        _ => false,
    }
}

#[test]
fn random_edits_parse_as_the_whole_text_does() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut good, mut incremental) = (0, 0);
    for (name, original) in steps_files() {
        for _round in 0..4 {
            let mut reparser = Reparser::default();
            let mut text = original.clone();
            let _ = reparser.parse(&SourceFile::new("codeship-steps.yml", text.as_str()));
            for step in 0..40 {
                // Now and then start again from the original, as a person undoes.
                text = if rng.below(8) == 0 { original.clone() } else { edit(&mut rng, &text) };
                let file = SourceFile::new("codeship-steps.yml", text.as_str());
                let got = reparser.parse(&file);
                let want = syntax::parse(&file);
                assert!(same(&got, &want), "{name}, edit {step}: incremental {got:?}\nwhole {want:?}\ntext {text:?}");
                if got.is_ok() {
                    good += 1;
                    if matches!(reparser.last_parse, LastParse::Items(_)) {
                        incremental += 1;
                    }
                }
            }
        }
    }
    // Texts with errors are parsed whole (to report the error at its place), and so are
    // files the short path does not take (anchors, flow style); of the good texts, far fewer
    // than this corpus gives would mean the short path stopped being taken.
    eprintln!("{incremental} of {good} good texts re-parsed incrementally");
    assert!(incremental * 2 > good, "{incremental} of {good} good texts re-parsed incrementally");
}

/// Typing a step into a large file, one key at a time, never parses it whole once it has
/// been parsed (each keystroke's text is valid YAML or an error inside the item).
#[test]
fn typing_inside_one_step_reparses_only_that_step() {
    let (_, steps) = slipway_core::synth::large_project(2000);
    let mut reparser = Reparser::default();
    reparser.parse(&SourceFile::new("codeship-steps.yml", steps.as_str())).unwrap();
    assert_eq!(reparser.last_parse, LastParse::Whole);
    let at = steps.find("- name: push100").unwrap();
    let typed = "- name: added\n  service: svc1\n  command: echo hi\n";
    for n in 1..=typed.len() {
        let text = format!("{}{}{}", &steps[..at], &typed[..n], &steps[at..]);
        let file = SourceFile::new("codeship-steps.yml", text);
        let got = reparser.parse(&file).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
        let want = syntax::parse(&file).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
        assert_eq!(got, want, "after typing {:?}", &typed[..n]);
        if got.is_ok() {
            assert!(
                matches!(reparser.last_parse, LastParse::Items(1 | 2)),
                "{:?} after {:?}",
                reparser.last_parse,
                &typed[..n]
            );
        }
    }
}

/// Cases where the items are not independent: each must come out as the whole parse does.
#[test]
fn edits_that_reach_past_their_item_are_parsed_whole() {
    let base = "- name: a\n  command: one\n- name: b\n  command: two\n- name: c\n  command: three\n";
    for (from, to) in [
        // An anchor, then an alias to it in a later item.
        ("name: a", "name: &n a"),
        // A quote opened in one item and closed in the next.
        ("one\n", "\"one\n"),
        // A second document.
        ("- name: c", "---\n- name: c"),
        // A key at column 0 ends the sequence.
        ("- name: b", "oops: 1\n- name: b"),
        // The item indicator removed: the item joins the one before.
        ("- name: b", "  name: b"),
        // A duplicate key inside an item.
        ("  command: two", "  command: two\n  name: again"),
        // All items removed.
        (base, ""),
        // An empty block scalar at an item's end: its span is the next item's `-`.
        ("  command: one\n", "  command: |\n"),
        ("  command: two\n", "  command: |+\n\n"),
        // A lone CR ends a line for YAML: here it starts a second document.
        ("one\n", "one\r...\r\n"),
    ] {
        let mut reparser = Reparser::default();
        reparser.parse(&SourceFile::new("s.yml", base)).unwrap();
        let text = base.replacen(from, to, 1);
        let file = SourceFile::new("s.yml", text.as_str());
        let got = reparser.parse(&file).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
        let want = syntax::parse(&file).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
        assert_eq!(got, want, "{text:?}");
        // And a further edit elsewhere still agrees.
        let text2 = text.replacen("three", "four", 1);
        let file2 = SourceFile::new("s.yml", text2.as_str());
        let got2 = reparser.parse(&file2).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
        let want2 = syntax::parse(&file2).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
        assert_eq!(got2, want2, "{text2:?}");
    }
}

/// Repeated keys are warnings now (they were a parse error), so an item with one re-parses
/// on its own: its repeats replace the item's old ones and later items' move with the edit.
#[test]
fn repeated_keys_follow_their_items() {
    let base = "- name: a\n  command: one\n  command: uno\n- name: b\n  command: two\n- name: c\n  name: cc\n";
    let mut reparser = Reparser::default();
    let first = reparser.parse(&SourceFile::new("s.yml", base)).unwrap();
    assert_eq!(first.duplicates.len(), 2);
    let mut text = base.to_string();
    for (from, to) in [
        // Longer text in the middle item: the last item's repeat moves.
        ("command: two", "command: two two two"),
        // The first item's repeat goes.
        ("  command: uno\n", ""),
        // A repeat appears in the middle item, and another in the last.
        ("command: two two two\n", "command: two\n  name: bb\n"),
        ("name: cc\n", "name: cc\n  name: ccc\n"),
        // Shorter text before every repeat.
        ("name: a\n", "name: \n"),
    ] {
        text = text.replacen(from, to, 1);
        let file = SourceFile::new("s.yml", text.as_str());
        let got = reparser.parse(&file).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
        let want = syntax::parse(&file).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
        assert_eq!(got, want, "{text:?}");
        assert!(matches!(reparser.last_parse, LastParse::Items(_)), "{:?} for {text:?}", reparser.last_parse);
    }
    let last = syntax::parse(&SourceFile::new("s.yml", text.as_str())).unwrap();
    assert_eq!(last.duplicates.len(), 3, "{text:?}");
}

/// `check` with a reparser gives the diagnostics `check` does, positions included.
#[test]
fn incremental_check_reports_what_check_does() {
    let services =
        SourceFile::new("codeship-services.yml", include_str!("fixtures/examples/00.aggregate/codeship-services.yml"));
    let original = include_str!("fixtures/examples/00.aggregate/codeship-steps.yml").to_string();
    let mut checker = slipway_core::check::Checker::default();
    let mut rng = Rng(42);
    let mut text = original.clone();
    for _ in 0..300 {
        text = if rng.below(10) == 0 { original.clone() } else { edit(&mut rng, &text) };
        let steps = SourceFile::new("codeship-steps.yml", text.as_str());
        let got = checker.check(&services, &steps).report.to_json();
        let want = check(&services, &steps).report.to_json();
        assert_eq!(got, want, "{text:?}");
    }
}
