//! `check` on both files, as `slipway validate` and the studio call it: the input is the
//! services file, a NUL byte, then the steps file (without a NUL the steps file is empty).
//! The report is also rendered as text and JSON, and a clean configuration is planned and
//! its plan rendered, as `slipway plan` does.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use slipway_core::plan::{PlanOptions, plan, render_text};
use slipway_core::template::BuildVars;
use slipway_core::{SourceFile, check};

fuzz_target!(init: slipway_fuzz::init(), |data: &[u8]| -> Corpus {
    slipway_fuzz::run(|| one(data))
});

fn one(data: &[u8]) {
    let (services, steps) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let sv = SourceFile::new("codeship-services.yml", String::from_utf8_lossy(services));
    let st = SourceFile::new("codeship-steps.yml", String::from_utf8_lossy(steps));
    let checked = check(&sv, &st);
    let _ = checked.report.render_text(&[&sv, &st]);
    let _ = checked.report.to_json();
    if checked.report.has_errors() {
        return;
    }
    let vars = BuildVars {
        branch: "master".into(),
        commit_id: "0123456789abcdef0123456789abcdef01234567".into(),
        timestamp: 1_709_211_909,
        ..BuildVars::default()
    };
    for (tag, push) in [(Some("master"), true), (None, false)] {
        let p = plan(
            &checked.services,
            &checked.steps,
            &PlanOptions { tag: tag.map(String::from), push, vars: vars.clone() },
        );
        let _ = render_text(&p);
    }
}
