//! Golden tests of the language services (`slipway_core::ide`): one case per folder under
//! `fixtures/ide/<service>/`, holding a services and/or a steps file (the other comes from
//! `fixtures/ide/baseline/`), with the cursor marked `‸` in one of them. The expected
//! answer is an insta snapshot, rendered as text to read in review.
#![cfg(not(target_arch = "wasm32"))]

use slipway_core::SourceFile;
use slipway_core::ide::{Analysis, FileId, LineIndex};
use slipway_core::plan::PlanOptions;
use slipway_core::source::Span;
use slipway_core::template::BuildVars;
use std::fmt::Write;
use std::path::{Path, PathBuf};

const CURSOR: char = '‸';
const SERVICES: &str = "codeship-services.yml";
const STEPS: &str = "codeship-steps.yml";
const STEPS_JSON: &str = "codeship-steps.json";

struct Case {
    name: String,
    analysis: Analysis,
    /// The file with the cursor, and the cursor's byte offset.
    cursor: Option<(FileId, u32)>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ide")
}

/// The build values every case uses: branch `master`, a fixed commit and time.
pub fn options() -> PlanOptions {
    PlanOptions {
        tag: Some("master".into()),
        push: true,
        vars: BuildVars {
            branch: "master".into(),
            commit_id: "0123456789abcdef0123456789abcdef01234567".into(),
            build_id: "b-42".into(),
            committer_name: "Ada".into(),
            timestamp: 1_709_211_909,
            ..BuildVars::default()
        },
    }
}

fn cases(service: &str) -> Vec<Case> {
    let dir = root().join(service);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    names.iter().map(|p| load(p)).collect()
}

fn load(dir: &Path) -> Case {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .or_else(|_| std::fs::read_to_string(root().join("baseline").join(name)))
            .expect("fixture file")
    };
    let mut cursor = None;
    let mut take = |file: FileId, text: String| {
        if let Some(at) = text.find(CURSOR) {
            assert!(cursor.is_none(), "{}: one cursor per case", dir.display());
            cursor = Some((file, at as u32));
        }
        text.replace(CURSOR, "")
    };
    let services = take(FileId::Services, read(SERVICES));
    // A case may give its steps as JSON, as projects may.
    let (steps_name, steps) = match std::fs::read_to_string(dir.join(STEPS_JSON)) {
        Ok(json) => (STEPS_JSON, json),
        Err(_) => (STEPS, read(STEPS)),
    };
    let steps = take(FileId::Steps, steps);
    let analysis = Analysis::new(SourceFile::new(SERVICES, services), SourceFile::new(steps_name, steps), options());
    Case { name: dir.file_name().unwrap().to_string_lossy().into_owned(), analysis, cursor }
}

fn file_name(f: FileId) -> &'static str {
    match f {
        FileId::Services => "services",
        FileId::Steps => "steps",
    }
}

/// `steps:3:14` (1-based line and column, as editors show them).
fn at(a: &Analysis, file: FileId, offset: u32) -> String {
    let p = LineIndex::new(&a.file(file).text).position(offset);
    format!("{}:{}:{}", file_name(file), p.line + 1, p.character + 1)
}

fn slice(a: &Analysis, file: FileId, span: Span) -> &str {
    &a.file(file).text[span.start as usize..span.end as usize]
}

/// The line of `span` with the span underlined.
fn underline(a: &Analysis, file: FileId, span: Span) -> String {
    let text = &a.file(file).text;
    let start = text[..span.start as usize].rfind('\n').map_or(0, |i| i + 1);
    let end = text[span.start as usize..].find('\n').map_or(text.len(), |i| span.start as usize + i);
    let line = &text[start..end];
    let lead = text[start..span.start as usize].chars().count();
    let width = text[span.start as usize..(span.end as usize).min(end)].chars().count();
    format!("{line}\n{}{}", " ".repeat(lead), if width == 0 { "‸".to_string() } else { "^".repeat(width) })
}

fn cursor(c: &Case) -> (FileId, u32) {
    c.cursor.unwrap_or_else(|| panic!("{}: no cursor", c.name))
}

#[test]
fn completion() {
    for c in cases("completion") {
        let (file, offset) = cursor(&c);
        let a = &c.analysis;
        let got = a.completions(file, offset);
        let mut out = format!(
            "{} replaces {:?}\n{}\n",
            at(a, file, offset),
            slice(a, file, got.span),
            underline(a, file, got.span)
        );
        for i in &got.items {
            let _ = write!(out, "{:?} {}", i.kind, i.label);
            if i.insert != i.label {
                let _ = write!(out, " → {:?}", i.insert);
            }
            if let Some(d) = &i.detail {
                let _ = write!(out, " ({d})");
            }
            if let Some(d) = &i.doc {
                let _ = write!(out, " — {d}");
            }
            out.push('\n');
        }
        insta::assert_snapshot!(format!("completion__{}", c.name), out);
    }
}

#[test]
fn hover() {
    for c in cases("hover") {
        let (file, offset) = cursor(&c);
        let a = &c.analysis;
        let out = match a.hover(file, offset) {
            None => format!("{}: no hover\n", at(a, file, offset)),
            Some(h) => format!("{}\n{}\n\n{}\n", at(a, file, offset), underline(a, file, h.span), h.markdown),
        };
        insta::assert_snapshot!(format!("hover__{}", c.name), out);
    }
}

#[test]
fn definition() {
    for c in cases("definition") {
        let (file, offset) = cursor(&c);
        let a = &c.analysis;
        let out = match a.definition(file, offset) {
            None => format!("{}: no definition\n", at(a, file, offset)),
            Some(l) => {
                format!("{} → {}\n{}\n", at(a, file, offset), at(a, l.file, l.span.start), underline(a, l.file, l.span))
            }
        };
        insta::assert_snapshot!(format!("definition__{}", c.name), out);
    }
}

#[test]
fn references() {
    for c in cases("references") {
        let (file, offset) = cursor(&c);
        let a = &c.analysis;
        let mut out = format!("{}\n", at(a, file, offset));
        for l in a.references(file, offset, true) {
            let _ = writeln!(out, "{}\n{}", at(a, l.file, l.span.start), underline(a, l.file, l.span));
        }
        insta::assert_snapshot!(format!("references__{}", c.name), out);
    }
}

/// Apply edits (of one file) to its text, last first.
fn apply(text: &str, edits: &[&slipway_core::ide::TextEdit]) -> String {
    let mut edits = edits.to_vec();
    edits.sort_by_key(|e| std::cmp::Reverse(e.span.start));
    let mut out = text.to_string();
    for e in edits {
        out.replace_range(e.span.start as usize..e.span.end as usize, &e.new_text);
    }
    out
}

#[test]
fn quick_fixes() {
    for c in cases("fixes") {
        let (file, offset) = cursor(&c);
        let a = &c.analysis;
        let mut out = format!("{}\n", at(a, file, offset));
        let fixes = a.quick_fixes(file, Span::at(offset));
        if fixes.is_empty() {
            out.push_str("no fixes\n");
        }
        for f in &fixes {
            let about = f.diagnostic.map_or(String::new(), |i| {
                let d = &a.report().diagnostics[i];
                format!(" for {}: {}", d.code, d.message)
            });
            let _ = writeln!(out, "== {}{about}{}", f.title, if f.preferred { " (preferred)" } else { "" });
            for target in [FileId::Services, FileId::Steps] {
                let edits: Vec<_> = f.edits.iter().filter(|e| e.file == target).collect();
                if edits.is_empty() {
                    continue;
                }
                let fixed = apply(&a.file(target).text, &edits);
                let _ = writeln!(out, "-- {} becomes:\n{fixed}", file_name(target));
                // The fix must remove its diagnostic, and break nothing else: no code the
                // files did not have before, and never a syntax error (a YAML line in JSON).
                if let Some(i) = f.diagnostic {
                    let d = &a.report().diagnostics[i];
                    let (sv, st) = match target {
                        FileId::Services => (fixed.clone(), a.file(FileId::Steps).text.clone()),
                        FileId::Steps => (a.file(FileId::Services).text.clone(), fixed.clone()),
                    };
                    let after = slipway_core::check(
                        &SourceFile::new(SERVICES, sv),
                        &SourceFile::new(a.file(FileId::Steps).name.as_str(), st),
                    );
                    let left = after.report.diagnostics.iter().filter(|x| x.code == d.code).count();
                    let before = a.report().diagnostics.iter().filter(|x| x.code == d.code).count();
                    assert!(left < before, "{}: `{}` did not fix {}", c.name, f.title, d.code);
                }
                assert_fix_breaks_nothing(&c.name, &f.title, a, target, &fixed);
            }
        }
        insta::assert_snapshot!(format!("fixes__{}", c.name), out);
    }
}

/// Applying a fix adds no diagnostic code the files did not already have (and no syntax
/// error), and keeps the file's line endings.
fn assert_fix_breaks_nothing(case: &str, title: &str, a: &Analysis, target: FileId, fixed: &str) {
    let name = |f: FileId| a.file(f).name.clone();
    let text = |f: FileId| if f == target { fixed.to_string() } else { a.file(f).text.clone() };
    let after = slipway_core::check(
        &SourceFile::new(name(FileId::Services), text(FileId::Services)),
        &SourceFile::new(name(FileId::Steps), text(FileId::Steps)),
    );
    let had: Vec<_> = a.report().diagnostics.iter().map(|d| d.code).collect();
    for d in &after.report.diagnostics {
        assert!(d.code != slipway_core::Code::YamlSyntax, "{case}: `{title}` made a syntax error: {d:?}\n{fixed}");
        assert!(had.contains(&d.code), "{case}: `{title}` added {}: {}\n{fixed}", d.code, d.message);
    }
    let crlf = a.file(target).text.contains("\r\n");
    let bare_lf = fixed.replace("\r\n", "").contains('\n');
    assert!(!crlf || !bare_lf, "{case}: `{title}` mixed line endings: {fixed:?}");
    assert!(crlf || !fixed.contains('\r'), "{case}: `{title}` added a carriage return: {fixed:?}");
}

fn symbols(out: &mut String, a: &Analysis, file: FileId, symbols: &[slipway_core::ide::Symbol], depth: usize) {
    for s in symbols {
        let (from, to) = (at(a, file, s.span.start), at(a, file, s.span.end));
        let _ = writeln!(
            out,
            "{}{:?} {}{} [{from}..{to}] selects {:?}{}",
            "  ".repeat(depth),
            s.kind,
            s.name,
            s.id.as_ref().map_or(String::new(), |i| format!(" #{i}")),
            slice(a, file, s.selection),
            s.detail.as_ref().map_or(String::new(), |d| format!(" — {d}")),
        );
        symbols_children(out, a, file, s, depth);
    }
}

fn symbols_children(out: &mut String, a: &Analysis, file: FileId, s: &slipway_core::ide::Symbol, depth: usize) {
    symbols(out, a, file, &s.children, depth + 1);
}

/// Outline cases need no cursor: both files' outlines are snapshotted.
#[test]
fn outline() {
    for c in cases("outline") {
        let a = &c.analysis;
        let mut out = String::new();
        for file in [FileId::Services, FileId::Steps] {
            let _ = writeln!(out, "-- {}", file_name(file));
            symbols(&mut out, a, file, &a.outline(file), 0);
        }
        insta::assert_snapshot!(format!("outline__{}", c.name), out);
    }
}

/// Every query at every offset of every fixture (and of text with multi-byte characters,
/// tabs, CRLF and half-typed lines) answers without panicking, inside the text's bounds.
#[test]
fn every_offset_is_safe() {
    let odd = [
        "é:\r\n  build:\r\n    args:\r\n      X: \"{{ .Tïme.\"\n  depends_on: [ü, \n",
        "- name: ✓\n  type: push\n  image_tag: {{ .Branch\n\t- service: \"ap\n  services: [\n- - x: y\n  on_fail:\n    - comm",
        "services:\n  app:\n    links: [\"db:\n  db:\n    image: |\n      {{ x }}\n",
        "",
        "-",
        ":",
        "- \"a\": b\n  'c': [d, {e: f}]\n  g: &anchor\n    h: *anchor\n  <<: *anchor\n",
    ];
    let mut all: Vec<(String, String)> = Vec::new();
    for service in ["completion", "hover", "definition", "references", "fixes", "outline"] {
        // The aggregate is large and plain; its every offset would only slow the test.
        for c in cases(service).into_iter().filter(|c| c.name != "aggregate") {
            all.push((c.analysis.file(FileId::Services).text.clone(), c.analysis.file(FileId::Steps).text.clone()));
        }
    }
    for t in odd {
        all.push((t.to_string(), t.to_string()));
    }
    for (sv, st) in all {
        let a = Analysis::new(SourceFile::new(SERVICES, sv), SourceFile::new(STEPS, st), options());
        for file in [FileId::Services, FileId::Steps] {
            let len = a.file(file).text.len() as u32;
            for offset in 0..=len + 2 {
                let c = a.completions(file, offset);
                assert!(c.span.start <= c.span.end && c.span.end <= len, "{file:?} {offset}: {c:?}");
                if let Some(h) = a.hover(file, offset) {
                    assert!(h.span.end <= len);
                }
                for l in a.references(file, offset, true).iter().chain(a.definition(file, offset).as_ref()) {
                    assert!(l.span.end <= a.file(l.file).text.len() as u32);
                }
                for f in a.quick_fixes(file, Span::at(offset)) {
                    for e in &f.edits {
                        let text = &a.file(e.file).text;
                        assert!(
                            text.is_char_boundary(e.span.start as usize) && text.is_char_boundary(e.span.end as usize)
                        );
                    }
                }
            }
            let _ = a.outline(file);
        }
    }
}

/// Every "did you mean …?" comes with the edit that applies it, and that edit is a quick fix.
#[test]
fn every_did_you_mean_has_a_fix() {
    let services = "\
app:
  imgae: ruby
  build:
    contxt: .
    args:
      REV: \"{{ .ComitID }}\"
  depends_on: [dbb]
  links:
    - \"dbb:database\"
  volumes_from: [dta]
  dockercfg_service: gne
db:
  image: postgres
data:
  image: busybox
gen:
  image: acme/gen
";
    let steps = "\
- name: test
  servce: app
  service: ap
  command: ./test.sh
- type: paralel
  services: [app, dv]
  steps:
    - command: ./x
- type: push
  service: app
  dockercfg_service: gen
  image_name: acme/app
  image_tag: \"{{ .Brnch }}-{{ .Time.Fromat \\\"2006\\\" }}\"
";
    let a = Analysis::new(SourceFile::new(SERVICES, services), SourceFile::new(STEPS, steps), options());
    let mut checked = 0;
    for (i, d) in a.report().diagnostics.iter().enumerate() {
        if !d.help.as_deref().is_some_and(|h| h.starts_with("did you mean")) {
            continue;
        }
        checked += 1;
        let s = d.suggestion.as_ref().unwrap_or_else(|| panic!("no suggestion: {d:?}"));
        let fixes = a.fixes_for(i);
        assert!(fixes.iter().any(|f| f.edits.iter().any(|e| e.span == s.span && e.new_text == s.replacement)), "{d:?}");
    }
    assert_eq!(checked, 13, "suggestions: {:#?}", a.report().diagnostics);
}
