//! The build preview: build values in, the planned pipeline and rendered image tags out.

use super::plan_tree;
use crate::state::{BuildInputs, SharedPlan};
use slipway_core::plan::{Kind, PlannedStep, Status};
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct PreviewProps {
    pub build: BuildInputs,
    /// The last valid plan; `None` until the configuration has been valid once.
    pub plan: Option<SharedPlan>,
    /// The files have errors now: `plan` is from before them.
    pub stale: bool,
    pub on_change: Callback<BuildInputs>,
}

#[function_component(Preview)]
pub fn preview(props: &PreviewProps) -> Html {
    let b = &props.build;
    let field = |label: &'static str, testid: &'static str, value: String, set: fn(&mut BuildInputs, String)| {
        let cb = props.on_change.clone();
        let current = b.clone();
        let oninput = Callback::from(move |e: InputEvent| {
            let mut next = current.clone();
            set(&mut next, e.target_unchecked_into::<HtmlInputElement>().value());
            cb.emit(next);
        });
        html! {
            <label>{ label }<input type="text" data-testid={testid} value={value} {oninput} /></label>
        }
    };
    let on_push = {
        let cb = props.on_change.clone();
        let current = b.clone();
        Callback::from(move |e: Event| {
            let mut next = current.clone();
            next.push = e.target_unchecked_into::<HtmlInputElement>().checked();
            cb.emit(next);
        })
    };
    html! {
        <section class="preview">
            <header>{ "Build preview" }</header>
            <div class="inputs">
                { field("Branch or tag", "branch-input", b.branch.clone(), |b, v| b.branch = v) }
                { field("Commit id", "commit-input", b.commit_id.clone(), |b, v| b.commit_id = v) }
                { field("Committer", "committer-input", b.committer.clone(), |b, v| b.committer = v) }
                { field("Message", "message-input", b.message.clone(), |b, v| b.message = v) }
                { field("Build id", "build-id-input", b.build_id.clone(), |b, v| b.build_id = v) }
                { field("Time (unix seconds)", "time-input", b.timestamp.to_string(), |b, v| {
                    if let Ok(t) = v.trim().parse() { b.timestamp = t }
                }) }
                <label class="check"><input type="checkbox" data-testid="push-toggle" checked={b.push} onchange={on_push} />{ " run push steps (--push)" }</label>
            </div>
            {
                match &props.plan {
                    None => html! { <p class="muted" data-testid="plan">{ "Fix the errors to see the plan." }</p> },
                    Some(plan) => html! {
                        <>
                            if props.stale {
                                <p class="stale-note" data-testid="plan-stale">{ "The files have errors: this is the plan from before them. Fix the errors (see Problems) to update it." }</p>
                            }
                            <ul class={classes!("plan", props.stale.then_some("stale"))} data-testid="plan" data-stale={props.stale.to_string()}>{ for plan.steps.iter().map(plan_tree::node) }</ul>
                            <h3>{ "Image tags" }</h3>
                            { tags(plan) }
                        </>
                    },
                }
            }
        </section>
    }
}

/// The tags the pushes that run would push; the pushes that do not run for these build values
/// are named below, not listed with tags they will not push.
fn tags(plan: &SharedPlan) -> Html {
    let pushes: Vec<&PlannedStep> = plan.leaves().into_iter().filter(|s| s.kind == Kind::Push).collect();
    let (run, skipped): (Vec<&PlannedStep>, Vec<&PlannedStep>) =
        pushes.into_iter().partition(|s| s.status == Status::WillRun);
    let names = skipped.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    html! {
        <>
            <ul class="tags" data-testid="tag-preview">{ for run.into_iter().map(tag_item) }</ul>
            if !skipped.is_empty() {
                <p class="muted tags-skipped" data-testid="tag-skipped">
                    { format!("Not pushed for these build values: {names}") }
                </p>
            }
        </>
    }
}

fn tag_item(s: &PlannedStep) -> Html {
    match (s.image_ref(), &s.tag_error) {
        (Some(r), _) => html! { <li class="will-run" data-step-name={s.name.clone()}>{ r }</li> },
        (None, Some(e)) => {
            html! { <li class="tag-error" data-step-name={s.name.clone()}>{ format!("{}: {e}", s.name) }</li> }
        }
        _ => html! {},
    }
}
