//! The editor's incremental parse (`syntax::Reparser`) against the whole parse: the input is
//! a steps file, then edits, each after a NUL byte: two bytes of position (little-endian,
//! modulo the text's length), one byte of how many bytes to delete, then the text to insert.
//! After the file and after every edit, both parses must give the same tree, with every
//! span, or the same error.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use slipway_core::SourceFile;
use slipway_core::syntax::{self, Reparser};

fuzz_target!(init: slipway_fuzz::init(), |data: &[u8]| -> Corpus {
    slipway_fuzz::run(|| one(data))
});

fn one(data: &[u8]) {
    let mut parts = data.split(|b| *b == 0);
    let mut text = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let mut reparser = Reparser::default();
    compare(&mut reparser, &text);
    for op in parts {
        let [lo, hi, delete, insert @ ..] = op else { continue };
        let at = boundary(&text, usize::from(u16::from_le_bytes([*lo, *hi])) % (text.len() + 1));
        let end = boundary(&text, at + usize::from(*delete)).max(at);
        text.replace_range(at..end, &String::from_utf8_lossy(insert));
        compare(&mut reparser, &text);
    }
}

fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn compare(reparser: &mut Reparser, text: &str) {
    let file = SourceFile::new("codeship-steps.yml", text);
    // Debug, not `==`: a NaN float equals nothing, not even itself.
    let got = reparser.parse(&file).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
    let want = syntax::parse(&file).map(|n| format!("{n:?}")).map_err(|d| format!("{d:?}"));
    assert_eq!(got, want, "incremental and whole parses differ for {text:?}");
}
