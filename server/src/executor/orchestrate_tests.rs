//! The orchestration on the scripted fake engine (`fake.rs`): the order of steps, what a
//! failure runs and skips, manual groups, cancellation at each point, limits and filters.
//! The Docker backend's behaviour is tested on the real engine (`server/tests/runner.rs`).

use super::super::events::StepStatus::{Cancelled, Failed, Skipped, Success};
use super::super::fake::{Call, StepScript, spec, start};
use super::super::outcome::RunOutcome;
use super::super::run_limits::{Limit, RunLimits, SetBy};
use super::super::{RunOptions, events::Event};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

fn step(name: &str) -> String {
    format!("- name: {name}\n  service: app\n  command: run {name}\n")
}

fn opts() -> RunOptions {
    RunOptions { parallelism: 4, ..RunOptions::default() }
}

#[tokio::test]
async fn steps_run_one_after_another_and_the_run_succeeds() {
    let steps = [step("one"), step("two"), step("three")].concat();
    let slow = StepScript { logs: vec!["hello".into()], ..StepScript::delayed(Duration::from_millis(50)) };
    let end = start(spec(&steps, None, opts()), &[("one", slow)]).await.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Succeeded);
    assert_eq!(end.steps(), [("one", Success), ("two", Success), ("three", Success)]);
    // One at a time: each ended before the next started.
    let order: Vec<Call> = end.calls.iter().filter(|c| matches!(c, Call::Run(_) | Call::Ended(_))).cloned().collect();
    let names = ["one", "two", "three"];
    let expected: Vec<Call> =
        names.iter().flat_map(|n| [Call::Run(n.to_string()), Call::Ended(n.to_string())]).collect();
    assert_eq!(order, expected);
    assert!(
        end.events
            .iter()
            .any(|e| matches!(e, Event::Log { step, line, build: false, .. } if step == "one" && line == "hello"))
    );
    assert!(end.cleaned_up(), "{:?}", end.calls);
}

#[tokio::test]
async fn a_failed_step_skips_what_comes_after_and_runs_its_on_fail() {
    let steps = format!(
        "{}- name: bad\n  service: app\n  command: fail\n  on_fail:\n    - command: rescue\n{}",
        step("ok"),
        step("after")
    );
    let end = start(spec(&steps, None, opts()), &[("bad", StepScript::exit(4))]).await.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Failed);
    assert_eq!(end.steps(), [("ok", Success), ("bad", Failed), ("bad_on_fail_1", Success), ("after", Skipped)]);
    assert_eq!(end.message("bad"), "exited with status 4");
    assert_eq!(end.message("after"), "an earlier step failed");
    assert_eq!(end.ran(), ["ok", "bad", "bad_on_fail_1"]);
    assert!(end.cleaned_up(), "{:?}", end.calls);
}

#[tokio::test]
async fn on_fail_runs_only_after_a_failure_and_an_engine_error_is_a_failure() {
    let steps = "- name: fine\n  service: app\n  command: ok\n  on_fail:\n    - command: rescue\n\
                 - name: broken\n  service: app\n  command: ok\n  on_fail:\n    - command: rescue\n      name: mend\n";
    let broken = StepScript { error: Some("no such image".into()), ..Default::default() };
    let end = start(spec(steps, None, opts()), &[("broken", broken)]).await.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Failed);
    assert_eq!(end.steps(), [("fine", Success), ("broken", Failed), ("mend", Success)]);
    assert_eq!(end.message("broken"), "no such image");
    assert!(!end.ran().contains(&"fine_on_fail_1"), "{:?}", end.ran());
}

#[tokio::test]
async fn a_failing_branch_of_a_parallel_group_lets_its_siblings_finish_then_the_group_fails() {
    // One slot: when `a` fails, `b` and `c` still wait for theirs; they run all the same.
    let steps = format!(
        "- name: group\n  type: parallel\n  service: app\n  steps:\n    - name: a\n      command: a\n    \
         - name: b\n      command: b\n    - name: c\n      command: c\n  on_fail:\n    - name: rescue\n      command: r\n{}",
        step("after")
    );
    for parallelism in [1, 4] {
        let script = [("a", StepScript::exit(1)), ("b", StepScript::delayed(Duration::from_millis(50)))];
        let options = RunOptions { parallelism, ..RunOptions::default() };
        let end = start(spec(&steps, None, options), &script).await.finish().await;
        assert_eq!(end.result.outcome, RunOutcome::Failed, "parallelism {parallelism}");
        assert_eq!(
            end.steps(),
            [("a", Failed), ("b", Success), ("c", Success), ("rescue", Success), ("after", Skipped)],
            "parallelism {parallelism}"
        );
        // The group's on_fail runs once every sibling is done.
        let at = |c: Call| end.calls.iter().position(|x| *x == c).unwrap();
        let rescue = at(Call::Run("rescue".into()));
        assert!(at(Call::Ended("b".into())) < rescue && at(Call::Ended("c".into())) < rescue, "{:?}", end.calls);
    }
}

#[tokio::test]
async fn siblings_run_at_once_up_to_the_parallelism() {
    let steps = "- type: parallel\n  service: app\n  steps:\n    - name: a\n      command: a\n    - name: b\n      command: b\n";
    let (gate_a, gate_b) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let script = [("a", StepScript::gated(&gate_a)), ("b", StepScript::gated(&gate_b))];
    let mut run = start(spec(steps, None, opts()), &script).await;
    // Both run before either may end.
    run.running("a").await;
    run.running("b").await;
    gate_a.notify_one();
    gate_b.notify_one();
    let end = run.finish().await;
    assert_eq!(end.steps(), [("a", Success), ("b", Success)]);
}

/// A manual group must be the last step.
const MANUAL: &str =
    "- type: manual\n  name: release\n  service: app\n  steps:\n    - name: deploy\n      command: d\n";

#[tokio::test]
async fn a_manual_group_is_skipped_unless_approved() {
    let steps = [&step("before"), MANUAL].concat();
    let end = start(spec(&steps, None, opts()), &[]).await.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Succeeded);
    assert_eq!(end.steps(), [("before", Success), ("deploy", Skipped)]);
    assert_eq!(end.message("deploy"), "manual group not approved (--approve)");

    let approved = RunOptions { approve: true, ..opts() };
    let end = start(spec(&steps, None, approved), &[]).await.finish().await;
    assert_eq!(end.steps(), [("before", Success), ("deploy", Success)]);
}

#[tokio::test]
async fn a_manual_group_waits_for_its_approval() {
    let steps = [&step("before"), MANUAL].concat();
    let approval = Arc::new(Notify::new());
    let options = RunOptions { approval: Some(approval.clone()), ..opts() };
    let mut run = start(spec(&steps, None, options), &[]).await;
    run.until(|e| matches!(e, Event::Waiting { group, .. } if group == "release").then_some(())).await;
    // Nothing of the group ran while it waited.
    assert!(!run.calls().contains(&Call::Run("deploy".into())), "{:?}", run.calls());
    approval.notify_one();
    let end = run.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Succeeded);
    assert_eq!(end.steps(), [("before", Success), ("deploy", Success)]);
}

#[tokio::test]
async fn cancelling_a_queued_run_skips_every_step() {
    let steps = [step("one"), step("two")].concat();
    // The test's runtime has one thread: the run's task has not started when it is cancelled.
    let run = start(spec(&steps, None, opts()), &[]).await;
    run.cancel.cancel();
    let end = run.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Cancelled);
    assert_eq!(end.steps(), [("one", Skipped), ("two", Skipped)]);
    assert_eq!(end.message("one"), "cancelled");
    assert!(end.ran().is_empty(), "{:?}", end.calls);
    assert!(end.cleaned_up(), "{:?}", end.calls);
}

#[tokio::test]
async fn cancelling_a_step_waiting_for_a_slot_skips_it() {
    let steps = "- type: parallel\n  service: app\n  steps:\n    - name: a\n      command: a\n    - name: b\n      command: b\n";
    let gate = Arc::new(Notify::new());
    let options = RunOptions { parallelism: 1, ..RunOptions::default() };
    let mut run = start(spec(steps, None, options), &[("a", StepScript::gated(&gate))]).await;
    run.running("a").await;
    run.cancel.cancel();
    let end = run.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Cancelled);
    assert_eq!(end.steps(), [("a", Cancelled), ("b", Skipped)]);
    assert_eq!(end.message("b"), "cancelled");
    assert_eq!(end.ran(), ["a"]);
}

#[tokio::test]
async fn cancelling_while_an_image_builds_cancels_the_step_and_skips_the_rest() {
    let steps =
        format!("- name: one\n  service: app\n  command: c\n  on_fail:\n    - command: rescue\n{}", step("two"));
    let build = Arc::new(Notify::new());
    let script = [("one", StepScript { build_gate: Some(build.clone()), ..Default::default() })];
    let mut run = start(spec(&steps, None, opts()), &script).await;
    run.until(|e| matches!(e, Event::Log { step, build: true, .. } if step == "one").then_some(())).await;
    run.cancel.cancel();
    let end = run.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Cancelled);
    // A cancelled step is not a failed one: its on_fail does not run.
    assert_eq!(end.steps(), [("one", Cancelled), ("two", Skipped)]);
    assert_eq!(end.ran(), ["one"]);
    assert!(end.cleaned_up(), "{:?}", end.calls);
}

#[tokio::test]
async fn cancelling_a_running_step_stops_it_and_skips_the_rest() {
    let steps = [step("one"), step("two")].concat();
    let gate = Arc::new(Notify::new());
    let mut run = start(spec(&steps, None, opts()), &[("one", StepScript::gated(&gate))]).await;
    run.running("one").await;
    run.cancel.cancel();
    let end = run.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Cancelled);
    assert_eq!(end.steps(), [("one", Cancelled), ("two", Skipped)]);
    // The step's work was dropped: it never ended on its own.
    assert!(!end.calls.contains(&Call::Ended("one".into())), "{:?}", end.calls);
    assert!(end.cleaned_up(), "{:?}", end.calls);
}

#[tokio::test]
async fn cancelling_while_waiting_for_approval_skips_the_group() {
    let steps = [&step("before"), MANUAL].concat();
    let options = RunOptions { approval: Some(Arc::new(Notify::new())), ..opts() };
    let mut run = start(spec(&steps, None, options), &[]).await;
    run.until(|e| matches!(e, Event::Waiting { .. }).then_some(())).await;
    run.cancel.cancel();
    let end = run.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Cancelled);
    assert_eq!(end.steps(), [("before", Success), ("deploy", Skipped)]);
    assert_eq!(end.message("deploy"), "cancelled while waiting for approval");
    assert_eq!(end.ran(), ["before"]);
}

#[tokio::test]
async fn steps_filtered_out_by_tag_or_exclude_are_skipped_without_running() {
    let steps = "- name: everywhere\n  service: app\n  command: a\n\
                 - name: release_only\n  service: app\n  tag: release\n  command: b\n\
                 - name: not_on_main\n  service: app\n  exclude: main\n  command: c\n\
                 - name: on_main\n  service: app\n  tag: main\n  command: d\n";
    let end = start(spec(steps, Some("main"), opts()), &[]).await.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Succeeded);
    assert_eq!(
        end.steps(),
        [("everywhere", Success), ("release_only", Skipped), ("not_on_main", Skipped), ("on_main", Success)]
    );
    assert_eq!(end.ran(), ["everywhere", "on_main"]);
}

#[tokio::test]
async fn a_step_over_its_limit_fails_has_its_containers_removed_and_skips_the_rest() {
    let steps = [step("slow"), step("after")].concat();
    let limits = RunLimits {
        step: Some(Limit { value: Duration::from_millis(200), set_by: SetBy::Flag }),
        ..RunLimits::default()
    };
    let options = RunOptions { run_limits: limits, ..opts() };
    let gate = Arc::new(Notify::new());
    let end = start(spec(&steps, None, options), &[("slow", StepScript::gated(&gate))]).await.finish().await;
    assert_eq!(end.result.outcome, RunOutcome::Failed);
    assert_eq!(end.steps(), [("slow", Failed), ("after", Skipped)]);
    assert!(end.message("slow").contains("ran longer than its limit"), "{}", end.message("slow"));
    assert!(end.calls.contains(&Call::RemoveStep("slow".into())), "{:?}", end.calls);
}

#[tokio::test]
async fn waiting_for_an_image_does_not_count_against_the_step() {
    let steps = step("built");
    let limits = RunLimits {
        step: Some(Limit { value: Duration::from_millis(300), set_by: SetBy::Flag }),
        ..RunLimits::default()
    };
    let options = RunOptions { run_limits: limits, ..opts() };
    let slow_build = StepScript { build_delay: Duration::from_millis(600), ..Default::default() };
    let end = start(spec(&steps, None, options), &[("built", slow_build)]).await.finish().await;
    assert_eq!(end.steps(), [("built", Success)], "{}", end.message("built"));
}

#[test]
fn each_outcome_is_stored_as_its_status() {
    use slipway_core::run_state::RunStatus;
    assert_eq!(RunOutcome::Succeeded.status(), RunStatus::Success);
    assert_eq!(RunOutcome::Failed.status(), RunStatus::Failed);
    assert_eq!(RunOutcome::Cancelled.status(), RunStatus::Cancelled);
}
