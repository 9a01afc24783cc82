//! Times the language services on Codeship's aggregate example and on a generated project
//! of ~5,000 steps: `cargo run --release -p slipway-core --example ide_latency`.
//! Also a services file of 68,000 unknown keys (one spelling suggestion each).
//! Prints the median and the worst of repeated runs; the figures go into docs/perf.md.

use slipway_core::SourceFile;
use slipway_core::ide::{Analysis, FileId};
use slipway_core::plan::PlanOptions;
use slipway_core::source::Span;
use slipway_core::template::BuildVars;
use std::time::{Duration, Instant};

fn options() -> PlanOptions {
    PlanOptions {
        tag: Some("master".into()),
        push: true,
        vars: BuildVars {
            branch: "master".into(),
            commit_id: "0123456789abcdef".into(),
            timestamp: 1_709_211_909,
            ..BuildVars::default()
        },
    }
}

fn time(label: &str, runs: usize, mut f: impl FnMut()) {
    let mut took: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("  {label:<44} median {:>8.3} ms   max {:>8.3} ms", ms(took[runs / 2]), ms(took[runs - 1]));
}

/// The byte offset just after the last occurrence of `needle`.
fn after_last(text: &str, needle: &str) -> u32 {
    (text.rfind(needle).unwrap_or_else(|| panic!("no {needle:?}")) + needle.len()) as u32
}

fn project(name: &str, services: String, steps: String, runs: usize) {
    println!("{name}: services {} bytes, steps {} bytes", services.len(), steps.len());
    let sv = SourceFile::new("codeship-services.yml", services.clone());
    let st = SourceFile::new("codeship-steps.yml", steps.clone());
    time("check alone (what the studio runs today)", runs, || {
        std::hint::black_box(slipway_core::check(&sv, &st));
    });
    time("Analysis::new (check both files)", runs, || {
        std::hint::black_box(Analysis::new(sv.clone(), st.clone(), options()));
    });
    // Completion while typing a new key at the end of the last step (the line does not
    // parse yet: the text is checked with the partial line in it).
    let typed = format!("{steps}  serv");
    let a = Analysis::new(sv.clone(), SourceFile::new("codeship-steps.yml", typed.clone()), options());
    let end = typed.len() as u32;
    time("completions: step key at the end", runs, || {
        std::hint::black_box(a.completions(FileId::Steps, end));
    });
    let a = Analysis::new(sv.clone(), st.clone(), options());
    let service = after_last(&steps, "service: ");
    time("completions: service name (last step)", runs, || {
        std::hint::black_box(a.completions(FileId::Steps, service));
    });
    if let Some(i) = steps.rfind("{{ .") {
        let at = i as u32 + 4;
        time("completions: build variable in image_tag", runs, || {
            std::hint::black_box(a.completions(FileId::Steps, at));
        });
        let fresh = Analysis::new(sv.clone(), st.clone(), options());
        let t = Instant::now();
        std::hint::black_box(fresh.hover(FileId::Steps, at));
        println!(
            "  {:<44} once   {:>8.3} ms (plans first)",
            "hover: image_tag, first call",
            t.elapsed().as_secs_f64() * 1000.0
        );
        time("hover: image_tag (planned)", runs, || {
            std::hint::black_box(a.hover(FileId::Steps, at));
        });
    }
    time("hover: service reference", runs, || {
        std::hint::black_box(a.hover(FileId::Steps, service));
    });
    time("definition: service reference", runs, || {
        std::hint::black_box(a.definition(FileId::Steps, service));
    });
    time("references: service reference", runs, || {
        std::hint::black_box(a.references(FileId::Steps, service, true));
    });
    time("quick_fixes at a position", runs, || {
        std::hint::black_box(a.quick_fixes(FileId::Steps, Span::at(service)));
    });
    time("outline: steps", runs, || {
        std::hint::black_box(a.outline(FileId::Steps));
    });
    // References while the steps file does not parse (a flow list being typed at the end):
    // the file is read line by line instead of from the model.
    let broken = format!("{steps}- service: [\n");
    let b = Analysis::new(sv.clone(), SourceFile::new("codeship-steps.yml", broken), options());
    time("references: steps file does not parse", broken_runs(runs), || {
        std::hint::black_box(b.references(FileId::Steps, service, true));
    });
    let ix = a.line_index(FileId::Steps);
    time("line_index: utf16 ↔ byte of the last offset", runs, || {
        std::hint::black_box(ix.from_utf16(ix.utf16(service)));
    });
}

/// `IDE_LATENCY_BROKEN_RUNS` bounds the runs of the broken-file case (to time a slow build).
fn broken_runs(runs: usize) -> usize {
    std::env::var("IDE_LATENCY_BROKEN_RUNS").ok().and_then(|r| r.parse().ok()).map_or(runs, |r: usize| r.clamp(1, runs))
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/examples/00.aggregate/");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).expect("aggregate fixture");
    project("00.aggregate", read("codeship-services.yml"), read("codeship-steps.yml"), 200);
    let (services, steps) = slipway_core::synth::large_project(5_000);
    project("synthetic 5,000 steps", services, steps, 30);
    // The largest file of unknown keys that fits the 1 MiB cap: one spelling suggestion each.
    let mut text = String::from("app:\n  image: busybox\n");
    for i in 0..68_000 {
        text.push_str(&format!("  k{i:05}: 1\n"));
    }
    let services = SourceFile::new("codeship-services.yml", text);
    let steps = SourceFile::new("codeship-steps.yml", "- service: app\n  command: \"true\"\n");
    time("check: 68,000 unknown keys (SW005)", 5, || {
        assert_eq!(slipway_core::check(&services, &steps).report.warnings, 68_000);
    });
}
