//! Validation cost against a parse-only baseline, for the aggregate example and a
//! generated ~5,000-step project, and an editor's check after a keystroke. Figures go to
//! docs/perf.md.

use criterion::{Criterion, criterion_group, criterion_main};
use slipway_core::check::Checker;
use slipway_core::{SourceFile, check, syntax};
use std::hint::black_box;

fn files(services: &str, steps: &str) -> (SourceFile, SourceFile) {
    (SourceFile::new("codeship-services.yml", services), SourceFile::new("codeship-steps.yml", steps))
}

fn bench(c: &mut Criterion) {
    let agg = files(
        include_str!("../tests/fixtures/examples/00.aggregate/codeship-services.yml"),
        include_str!("../tests/fixtures/examples/00.aggregate/codeship-steps.yml"),
    );
    let (s, t) = slipway_core::synth::large_project(5000);
    let large = files(&s, &t);
    for (name, (sv, st)) in [("aggregate", &agg), ("5000_steps", &large)] {
        let mut g = c.benchmark_group(name);
        g.bench_function("parse_only", |b| {
            b.iter(|| (black_box(syntax::parse(sv).is_ok()), black_box(syntax::parse(st).is_ok())))
        });
        g.bench_function("validate", |b| b.iter(|| black_box(check(sv, st).report.errors)));
        // An editor's check after a keystroke: the studio's benchmark adds a last step and
        // types at its end, breaking and mending its service's name; `Checker` re-parses
        // that step only.
        let service = sv.text.lines().next().unwrap_or_default().trim_end_matches(':');
        let typed = |end: &str| {
            let text = format!("{}- command: \"true\"\n  service: {service}{end}", st.text);
            SourceFile::new("codeship-steps.yml", text)
        };
        let (mended, broken) = (typed(""), typed("x"));
        let mut checker = Checker::default();
        let mut flip = false;
        g.bench_function("validate_after_edit", |b| {
            b.iter(|| {
                flip = !flip;
                black_box(checker.check(sv, if flip { &broken } else { &mended }).report.errors)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
