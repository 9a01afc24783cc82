//! The panel's own form (project, files to use) as a reducer: one state, changed only by
//! `FormAction`s, read by the Run button when it is clicked. The branch and push come from the
//! build preview's values: one set for the plan shown and the run started.

use std::rc::Rc;
use yew::Reducible;

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct RunForm {
    pub(super) project: String,
    /// Send the editors' files instead of running the project's.
    pub(super) use_edits: bool,
}

pub(super) enum FormAction {
    Project(String),
    UseEdits(bool),
}

/// The build tag to send: the branch, unless it is blank.
pub(super) fn tag(branch: &str) -> Option<&str> {
    let b = branch.trim();
    (!b.is_empty()).then_some(b)
}

impl Reducible for RunForm {
    type Action = FormAction;

    fn reduce(self: Rc<Self>, action: FormAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            FormAction::Project(p) => next.project = p,
            FormAction::UseEdits(u) => next.use_edits = u,
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_change_one_field_each_and_a_blank_branch_sends_no_tag() {
        let mut f = Rc::new(RunForm::default());
        for a in [FormAction::Project("demo".into()), FormAction::UseEdits(true)] {
            f = f.reduce(a);
        }
        assert_eq!(*f, RunForm { project: "demo".into(), use_edits: true });
        assert_eq!((tag("  "), tag(" main ")), (None, Some("main")));
    }
}
