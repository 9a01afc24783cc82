//! What started a run, as one line: `push to main · a1b2c3d Fix the build · Ada`, with the
//! commit linked when the forge gave a link, and a warning when the forge was not told the
//! run's status.

use crate::wire::Trigger;
use yew::prelude::*;

/// A trigger reduced to what the page shows; a plain value, so it is tested without a browser.
#[derive(Debug, PartialEq)]
pub(super) struct TriggerView {
    /// `push to main`, `tag v1.2`, `pull request #42`, `poll of main`.
    pub(super) what: String,
    pub(super) short_sha: Option<String>,
    pub(super) commit_url: Option<String>,
    /// The commit message's first line.
    pub(super) title: Option<String>,
    pub(super) author: Option<String>,
}

pub(super) fn view(t: &Trigger) -> TriggerView {
    let on = |prefix: &str, v: &Option<String>| match v.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => format!("{prefix} {v}"),
        None => prefix.trim_end_matches(" to").trim_end_matches(" of").to_string(),
    };
    let what = match t.kind.as_str() {
        "push" => on("push to", &t.branch),
        "tag" => on("tag", &t.tag),
        "pull_request" => match t.pr_number {
            Some(n) => format!("pull request #{n}"),
            None => "pull request".into(),
        },
        "poll" => on("poll of", &t.branch),
        other => other.replace('_', " "),
    };
    let present = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    TriggerView {
        what,
        short_sha: present(&t.commit_id).map(|c| c.chars().take(7).collect()),
        // Only web links: the URL comes from a webhook's payload.
        commit_url: present(&t.commit_url).filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        title: present(&t.commit_message).and_then(|m| m.lines().next().map(str::to_string)),
        author: present(&t.author),
    }
}

/// The trigger line, and the forge warning, for a run that has either.
pub(super) fn render(trigger: Option<&Trigger>, status_error: Option<&str>) -> Html {
    let line = trigger.map(|t| {
        let v = view(t);
        let sha = match (&v.short_sha, &v.commit_url) {
            (Some(s), Some(url)) => html! {
                // In a run list row, which opens its run on a click: the link opens the commit only.
                <a class="mono" href={url.clone()} target="_blank" rel="noopener noreferrer" data-testid="trigger-commit"
                    onclick={Callback::from(|e: MouseEvent| e.stop_propagation())}>{ s }</a>
            },
            (Some(s), None) => html! { <span class="mono" data-testid="trigger-commit">{ s }</span> },
            _ => html! {},
        };
        html! {
            <span class="trigger" data-testid="run-trigger" data-kind={t.kind.clone()}>
                <span class="trigger-kind">{ v.what }</span>
                { sha }
                if let Some(title) = v.title { <span class="trigger-title">{ title }</span> }
                if let Some(a) = v.author { <span class="muted">{ format!("by {a}") }</span> }
            </span>
        }
    });
    html! {
        <>
            { for line }
            if let Some(e) = status_error {
                <span class="warn" data-testid="run-status-error">{ format!("the forge was not told this run's status: {e}") }</span>
            }
        </>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(kind: &str) -> Trigger {
        Trigger {
            kind: kind.into(),
            branch: Some("main".into()),
            commit_id: Some("4f1c2a9e0d7b3c6a8e5f1d2c3b4a5968778695a4".into()),
            commit_message: Some("Fix the build\n\nThe long story.".into()),
            author: Some("Ada Lovelace".into()),
            commit_url: Some("https://github.com/acme/app/commit/4f1c2a9".into()),
            ..Trigger::default()
        }
    }

    #[test]
    fn a_push_shows_its_branch_short_commit_first_line_and_author() {
        let v = view(&trigger("push"));
        assert_eq!(
            v,
            TriggerView {
                what: "push to main".into(),
                short_sha: Some("4f1c2a9".into()),
                commit_url: Some("https://github.com/acme/app/commit/4f1c2a9".into()),
                title: Some("Fix the build".into()),
                author: Some("Ada Lovelace".into()),
            }
        );
    }

    #[test]
    fn tags_pull_requests_polls_and_missing_values() {
        let tag = Trigger { tag: Some("v1.2".into()), ..trigger("tag") };
        assert_eq!(view(&tag).what, "tag v1.2");
        let pr = Trigger { pr_number: Some(42), ..trigger("pull_request") };
        assert_eq!(view(&pr).what, "pull request #42");
        assert_eq!(view(&Trigger { pr_number: None, ..pr }).what, "pull request");
        assert_eq!(view(&trigger("poll")).what, "poll of main");
        let bare = Trigger { kind: "push".into(), commit_message: Some("  ".into()), ..Trigger::default() };
        assert_eq!(
            view(&bare),
            TriggerView { what: "push".into(), short_sha: None, commit_url: None, title: None, author: None }
        );
        assert_eq!(view(&Trigger { kind: "merge_train".into(), ..Trigger::default() }).what, "merge train");
        let script = Trigger { commit_url: Some("javascript:alert(1)".into()), ..trigger("push") };
        assert_eq!((view(&script).commit_url, view(&script).short_sha.as_deref()), (None, Some("4f1c2a9")));
    }

    #[test]
    fn the_trigger_is_read_from_the_run_json_and_absent_fields_are_none() {
        use crate::wire::{FromJson, RunSummary, tests::json};
        let run = RunSummary::from_json(&json(
            r#"{"id":"r1","project":"app","tag":"main","push":false,"status":"success","created_at":1,
                "trigger":{"kind":"pull_request","branch":"feature","tag":null,"commit_id":"abcdef0123","commit_message":"Add x",
                           "author":"Ada","commit_url":null,"pr_number":7,"delivery":"d-1"},
                "status_error":"GitHub answered 500"}"#,
        ))
        .unwrap();
        let t = run.trigger.as_ref().unwrap();
        assert_eq!((t.pr_number, t.delivery.as_deref()), (Some(7), Some("d-1")));
        assert_eq!(view(t).what, "pull request #7");
        assert_eq!(view(t).commit_url, None);
        assert_eq!(run.status_error.as_deref(), Some("GitHub answered 500"));
        let old = RunSummary::from_json(&json(
            r#"{"id":"r2","project":"app","tag":null,"push":false,"status":"queued","created_at":1}"#,
        ))
        .unwrap();
        assert_eq!((old.trigger, old.status_error), (None, None));
    }
}
