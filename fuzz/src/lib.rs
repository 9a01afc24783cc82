//! What every fuzz target shares: panics that are known and still open are skipped, so a
//! run (and CI's smoke run) stops only for new ones. Any other panic aborts, and libFuzzer
//! saves the input as a crash.

use libfuzzer_sys::Corpus;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};

/// A panic found by fuzzing in code another engineer owns, reported in docs/fuzzing.md
/// ("Open") and not fixed yet. Matched by file and message rather than line, so edits
/// elsewhere in the file keep it matched. Delete the entry with the fix.
struct KnownOpen {
    file: &'static str,
    message: &'static str,
}

const KNOWN_OPEN: &[KnownOpen] = &[
    // docs/fuzzing.md, open 1: `{{"\` (a string whose backslash ends the template).
    KnownOpen { file: "core/src/template/parse.rs", message: "index out of bounds" },
    // docs/fuzzing.md, open 2: `{{ .Time.UnixNano }}` at timestamp 62135596801.
    KnownOpen { file: "core/src/template/exec.rs", message: "attempt to multiply with overflow" },
];

fn is_known_open(info: &PanicHookInfo) -> bool {
    let Some(location) = info.location() else { return false };
    let message = info.payload_as_str().unwrap_or_default();
    KNOWN_OPEN.iter().any(|k| location.file().ends_with(k.file) && message.contains(k.message))
}

/// Open 3 (docs/fuzzing.md): `printf` widths and precisions are not capped (Go prints
/// `%!(BADWIDTH)` past 10^6), so `{{printf "%#20755555555d" 0}}` allocates 20 GB and aborts,
/// which no panic hook can skip. Inputs with such a width or precision, or one taken from an
/// argument (`*`), are skipped by the targets that render templates. Delete with the fix.
pub fn known_open_input(data: &[u8]) -> bool {
    const GO_MAX: u64 = 1_000_000;
    let mut rest = data;
    while let Some(at) = rest.iter().position(|b| *b == b'%') {
        rest = &rest[at + 1..];
        let flags = rest.iter().take_while(|b| b"#0+- ".contains(b)).count();
        let spec = &rest[flags..];
        let (width, after) = number(spec);
        let (prec, after) = match after.strip_prefix(b".") {
            Some(p) => number(p),
            None => (0, after),
        };
        if width > GO_MAX || prec > GO_MAX || spec.starts_with(b"*") || after.starts_with(b"*") {
            return true;
        }
    }
    false
}

/// A leading decimal number (saturating) and what follows it.
fn number(s: &[u8]) -> (u64, &[u8]) {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let value = s[..digits].iter().fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')));
    (value, &s[digits..])
}

/// Call once from each target's `init`: known open panics unwind quietly to [`run`]; any
/// other goes on to libfuzzer-sys's hook, which prints it and aborts.
pub fn init() {
    let report_and_abort = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !is_known_open(info) {
            report_and_abort(info);
        }
    }));
}

/// Run one input through `body`; an input that hits a known open panic is kept out of the
/// corpus, so the run explores elsewhere.
pub fn run(body: impl FnOnce()) -> Corpus {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(()) => Corpus::Keep,
        Err(_) => Corpus::Reject,
    }
}
