//! Templates come from untrusted configs and render in the server and the browser: no input
//! may panic, overflow the stack, loop or allocate without bound. Each regression below names
//! what the engine did before; the stress test feeds every truncated prefix (and seeded
//! mutations) of the conformance table through parse, check and render.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use slipway_core::template::{BuildVars, MAX_DEPTH, MAX_OUTPUT, Template, TemplateError, render};

fn vars() -> BuildVars {
    BuildVars {
        branch: "feature/x".into(),
        commit_id: "abcdef1234".into(),
        timestamp: 1_709_211_909,
        ..BuildVars::default()
    }
}

/// Everything a caller does with a template text, for inputs that must not panic.
fn exercise(src: &str) -> Result<String, TemplateError> {
    let t = Template::parse(src)?;
    let _ = t.unknown_variables();
    t.render(&vars())
}

fn render_err(src: &str) -> TemplateError {
    match render(src, &vars()) {
        Ok(out) => {
            panic!("{:?}… rendered {} bytes, wanted an error", src.chars().take(80).collect::<String>(), out.len())
        }
        Err(e) => e,
    }
}

/// Every template of the Go conformance table.
fn corpus() -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Case {
        template: String,
    }
    let cases: Vec<Case> = serde_json::from_str(include_str!("fixtures/templates/expected.json")).unwrap();
    cases.into_iter().map(|c| c.template).collect()
}

/// Run `f` on every input, collecting the inputs that panic (natively; a panic in the browser
/// aborts the test, which fails it just as well).
fn no_panics(inputs: impl IntoIterator<Item = String>) -> usize {
    let mut count = 0;
    #[cfg_attr(target_arch = "wasm32", allow(unused_mut))] // only native runs catch panics
    let mut panicked: Vec<String> = Vec::new();
    for src in inputs {
        count += 1;
        #[cfg(not(target_arch = "wasm32"))]
        {
            let s = src.clone();
            if std::panic::catch_unwind(move || exercise(&s)).is_err() {
                panicked.push(src);
            }
        }
        #[cfg(target_arch = "wasm32")]
        {
            let _ = exercise(&src);
        }
    }
    assert!(panicked.is_empty(), "{} of {count} inputs panicked: {panicked:?}", panicked.len());
    count
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn truncated_prefixes_of_every_conformance_case_never_panic() {
    let mut inputs = Vec::new();
    for t in corpus() {
        for (i, _) in t.char_indices().chain([(t.len(), ' ')]) {
            let prefix = &t[..i];
            inputs.push(prefix.to_string());
            // Also closed, to get past the lexer into the parser and executor.
            inputs.push(format!("{prefix}}}}}"));
            inputs.push(format!("{prefix}\" }}}}"));
        }
    }
    let n = no_panics(inputs);
    assert!(n > 10_000, "only {n} inputs");
}

/// A small deterministic generator: no fuzzing crate, the same inputs on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn seeded_mutations_of_conformance_cases_never_panic() {
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        "\"",
        "\\",
        "`",
        "'",
        "(",
        ")",
        "|",
        "$",
        "$x",
        ":=",
        "=",
        ".",
        ".Time",
        ".Branch",
        "/*",
        "*/",
        "%",
        "%0999999999d",
        "%.65536f",
        "%*d",
        "%[2]",
        "1e400",
        "0x",
        "-",
        "é",
        "\n",
        " ",
        "nil",
        "printf",
        "if",
        "else",
        "end",
        "range",
        "with",
        "break",
        "18446744073709551615",
        "\u{0}",
    ];
    let corpus = corpus();
    let mut rng = XorShift(0x5eed_1234_abcd_9876);
    let inputs = (0..20_000).map(|_| {
        let mut s = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(3) {
            let boundaries: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
            let at = boundaries[rng.below(boundaries.len())];
            match rng.below(3) {
                0 => s.insert_str(at, PIECES[rng.below(PIECES.len())]),
                1 => {
                    let end = boundaries.iter().copied().find(|&b| b > at).unwrap_or(at);
                    s.replace_range(at..end, "");
                }
                _ => s.truncate(at),
            }
        }
        s
    });
    no_panics(inputs);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn end_of_input_inside_a_token_is_an_error_with_a_position() {
    // `{{"\` read past the end of the input and panicked.
    for src in [
        "{{\"\\",
        "x {{ \"\\",
        "{{ '\\",
        "{{ '",
        "{{ `",
        "{{ \"abc",
        "{{/*",
        "{{/* */",
        "{{- /* */ -",
        "{{ 1e",
        "{{ 0x",
        "{{ (",
        "{{-",
        "{{- ",
        "{{ $",
        "{{ .",
        "{{ :",
        "{{ \"\\x4",
        "{{ '\\u12",
        // A backslash before a multi-byte character split it and panicked (found by fuzzing).
        "{{ \"\\é\" }}",
        "{{ '\\é' }}",
        "{{ printf \"\\\u{1F600}\" }}",
    ] {
        let e = Template::parse(src).unwrap_err();
        assert!(e.offset <= src.len(), "{src:?}: offset {} past the end", e.offset);
        assert!(!e.message.is_empty());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn huge_precisions_do_not_panic() {
    // Rust's formatter panics past precision 65535; these went straight to it.
    assert_eq!(render("{{ printf \"%.65536g\" 1.5 }}", &vars()).unwrap(), "1.5");
    assert_eq!(render("{{ printf \"%.65536e\" 1.5 }}", &vars()).unwrap_err().message, too_long_message());
    // Go prints 65538 bytes here, past our output bound.
    assert_eq!(render("{{ printf \"%.65536f\" 1.5 }}", &vars()).unwrap_err().message, too_long_message());
    // Within the bound, the digits past those a float64 has are zeros, as in Go.
    let f = render("{{ printf \"%.65000f\" 1.5 }}", &vars()).unwrap();
    assert_eq!(f.len(), 65_002);
    assert!(f.starts_with("1.5000") && f.ends_with("0000"));
}

fn too_long_message() -> String {
    format!("the template's output or a value in it would be longer than {MAX_OUTPUT} bytes")
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn widths_past_go_limit_are_noverb_not_gigabytes() {
    // `%0999999999d` inserted zeros one by one (quadratic; it froze the server) and
    // `%999999999d` allocated 2 GB. Go refuses widths past 10⁶ and gives up on the verb.
    for f in ["%0999999999d", "%999999999d", "%.999999999d", "%-999999999d"] {
        let out = render(&format!("{{{{ printf \"{f}\" 5 }}}}"), &vars()).unwrap();
        assert_eq!(out, "%!(NOVERB)%!(EXTRA int=5)", "{f}");
    }
    // A width Go accepts but that passes our bound is an error before anything is padded.
    assert_eq!(render_err("{{ printf \"%01000000d\" 5 }}").message, too_long_message());
    assert_eq!(render_err("{{ printf \"%*d\" -1000000 5 }}").message, too_long_message());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn huge_timestamps_wrap_like_go_and_never_panic() {
    // `secs * 1_000_000_000` overflowed (a panic in debug builds).
    let every_method = "{{ .Time }} {{ .StringTime }} {{ .Time.Unix }} {{ .Time.UnixMilli }} {{ .Time.UnixMicro }} \
        {{ .Time.UnixNano }} {{ .Time.Year }} {{ .Time.Month }} {{ .Time.Day }} {{ .Time.Hour }} {{ .Time.Minute }} \
        {{ .Time.Second }} {{ .Time.Nanosecond }} {{ .Time.YearDay }} {{ .Time.Weekday }} {{ .Time.IsZero }} \
        {{ .Time.UTC.Local }} {{ .Time.Format \"Mon Jan _2 15:04:05.000 MST 2006 06 002 __2 pm -07:00\" }} \
        {{ printf \"%d %#v %v %x\" .Time .Time .Timestamp .Time }}";
    for timestamp in [i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1, -62_135_596_800, 0, -1] {
        let v = BuildVars { timestamp, ..vars() };
        render(every_method, &v).unwrap_or_else(|e| panic!("timestamp {timestamp}: {e}"));
    }
    // What Go prints: int64 arithmetic wraps (checked against go1.19 in expected.json too).
    let v = BuildVars { timestamp: i64::MAX, ..vars() };
    assert_eq!(render("{{ .Time.UnixNano }}", &v).unwrap(), i64::MAX.wrapping_mul(1_000_000_000).to_string());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = 100_000;
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(deep), ")".repeat(deep));
    let ifs = format!("{}x{}", "{{ if 1 }}".repeat(deep), "{{ end }}".repeat(deep));
    let withs = format!("{}x", "{{ with (1) }}".repeat(deep));
    for src in [&parens, &ifs, &withs] {
        let e = Template::parse(src).unwrap_err();
        assert!(e.message.contains(&format!("more than {MAX_DEPTH} levels")), "{}", e.message);
    }
    // As deep as allowed: parse, check and render all recurse that far.
    let half = MAX_DEPTH / 2;
    let allowed = format!(
        "{}{{{{ {}.Branch{} }}}}{}",
        "{{ if 1 }}".repeat(half),
        "(".repeat(MAX_DEPTH - half),
        ")".repeat(MAX_DEPTH - half),
        "{{ end }}".repeat(half)
    );
    assert_eq!(exercise(&allowed).unwrap(), "feature/x");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn output_and_values_are_bounded() {
    // Exactly the bound is fine; one byte more is not, in text, in actions, and in values
    // that are never printed.
    let full = format!("{{{{ printf \"%{MAX_OUTPUT}s\" \"\" }}}}");
    assert_eq!(render(&full, &vars()).unwrap().len(), MAX_OUTPUT);
    assert_eq!(render_err(&format!("{full}x")).message, too_long_message());
    assert_eq!(render_err(&format!("{full}{{{{ 1 }}}}")).message, too_long_message());
    assert_eq!(render_err(&"x".repeat(MAX_OUTPUT + 1)).message, too_long_message());
    // Doubling a variable: 2^40 bytes before the bound; it stops at 64 KiB.
    let doubling = format!("{{{{ $x := \"ab\" }}}}{}", "{{ $x = printf \"%s%s\" $x $x }}".repeat(40));
    assert_eq!(render_err(&doubling).message, too_long_message());
    let wide_print = "{{ $x := printf \"%60000s\" \"\" }}{{ len (print $x $x) }}";
    assert_eq!(render_err(wide_print).message, too_long_message());
    // Escaping grows text up to six times.
    let angles = "<".repeat(30_000);
    for f in ["html", "js", "urlquery"] {
        let src = format!("{{{{ len ({f} \"{angles}\") }}}}");
        assert_eq!(render_err(&src).message, too_long_message(), "{f}");
    }
    // Each `2` of a layout is the day: 29.
    let layout = format!("{{{{ len (.Time.Format \"{}\") }}}}", "2".repeat(40_000));
    assert_eq!(render_err(&layout).message, too_long_message());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn work_is_bounded() {
    // Each `$x` copies 60 KB: 2,000 of them would copy 120 MB.
    let copies = format!("{{{{ $x := printf \"%60000s\" \"\" }}}}{}", "{{ if $x }}{{ end }}".repeat(2_000));
    assert!(render_err(&copies).message.contains("too much work"));
    // A real tag is nowhere near.
    assert_eq!(render("{{ .Branch }}-{{ printf \"%.7s\" .CommitID }}", &vars()).unwrap(), "feature/x-abcdef1");
}

/// Native only: time and memory, measured (memory as the process's peak resident set, which
/// Linux lets a process reset; other tests running meanwhile add a few MB at most).
#[cfg(not(target_arch = "wasm32"))]
mod measured {
    use super::*;
    use std::time::{Duration, Instant};

    /// A field of /proc/self/status, in bytes.
    fn status_bytes(field: &str) -> Option<usize> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kb: usize = line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    }

    /// Render on another thread (so a hang fails the test instead of freezing it); how long
    /// it took and how far the peak resident memory rose above where it was, if Linux says.
    fn measure(src: String) -> (Duration, Option<usize>) {
        // "5" resets the peak to the current resident size.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let before = status_bytes("VmRSS:");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let start = Instant::now();
            let _ = exercise(&src);
            let _ = tx.send(start.elapsed());
        });
        let took = rx.recv_timeout(Duration::from_secs(30)).expect("did not finish within 30 s");
        let rise = match (reset, before, status_bytes("VmHWM:")) {
            (true, Some(before), Some(peak)) => Some(peak.saturating_sub(before)),
            _ => None,
        };
        (took, rise)
    }

    #[test]
    fn hostile_templates_finish_quickly_in_little_memory() {
        let many_vars: String =
            (0..50_000).map(|i| format!("{{{{ $v{i} := 1 }}}}")).collect::<String>() + &"{{ $ }}".repeat(50_000);
        let long_name = format!("{{{{ .{} }}}}", "a".repeat(200_000));
        let hostile = [
            "{{ printf \"%0999999999d\" 5 }}".to_string(),
            "{{ printf \"%999999999d\" 5 }}".to_string(),
            "{{ printf \"%.1000000d\" 5 }}".to_string(),
            "{{ printf \"%01000000d\" 5 }}".to_string(),
            "{{ printf \"%.1000000g\" 1.5 }}".repeat(5_000),
            "{{ printf \"%#.1000000g\" 1.5 }}".to_string(),
            "{{ printf \"%.1000000x\" 1.5 }}".to_string(),
            "{{ printf \"%.1000000U\" 1 }}".to_string(),
            // Go looks for the `]` of every `[` afresh: quadratic.
            format!("{{{{ printf \"{}\" 1 }}}}", "%[".repeat(300_000)),
            format!("{{{{ $x := \"ab\" }}}}{}", "{{ $x = printf \"%s%s\" $x $x }}".repeat(40)),
            format!("{{{{ $x := printf \"%60000s\" \"\" }}}}{}", "{{ if $x }}{{ end }}".repeat(20_000)),
            format!("{{{{ {}1{} }}}}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}x{}", "{{ if 1 }}".repeat(100_000), "{{ end }}".repeat(100_000)),
            many_vars,
            long_name,
        ];
        for src in hostile {
            let head: String = src.chars().take(60).collect();
            let (took, rise) = measure(src.clone());
            assert!(took < Duration::from_secs(5), "{head:?}… took {took:?}");
            // The template and its tokens take a few MB; nothing may grow far past that.
            if let Some(rise) = rise {
                assert!(rise < 64 * 1024 * 1024 + 40 * src.len(), "{head:?}… raised the peak memory by {rise} bytes");
            }
        }
    }

    #[test]
    fn the_allowed_depth_fits_a_small_stack() {
        // The browser's stack is 1 MiB; the deepest allowed template must fit well within it
        // even in a debug build.
        let d = MAX_DEPTH;
        let deepest = [
            format!("{}{{{{ .Branch }}}}{}", "{{ if 1 }}".repeat(d), "{{ end }}".repeat(d)),
            format!("{{{{ {}.Branch{} }}}}", "(".repeat(d), ")".repeat(d)),
            format!("{{{{ {}.Branch{} }}}}", "(print ".repeat(d), ")".repeat(d)),
            format!(
                "{}{{{{ {}.Branch{} }}}}{}",
                "{{ with $ }}".repeat(d / 2),
                "(".repeat(d / 2),
                ")".repeat(d / 2),
                "{{ end }}".repeat(d / 2)
            ),
        ];
        for src in deepest {
            let out = std::thread::Builder::new()
                .stack_size(512 * 1024)
                .spawn(move || exercise(&src).map_err(|e| e.message))
                .unwrap()
                .join()
                .expect("no panic");
            assert_eq!(out.unwrap(), "feature/x");
        }
    }
}
