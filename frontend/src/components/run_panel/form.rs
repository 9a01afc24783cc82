//! The panel's form (project, branch, push, files to use) as a reducer: one state, changed
//! only by `FormAction`s, read by the Run button when it is clicked.

use std::rc::Rc;
use yew::Reducible;

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct RunForm {
    pub(super) project: String,
    pub(super) branch: String,
    pub(super) push: bool,
    /// Send the editors' files instead of running the project's.
    pub(super) use_edits: bool,
}

pub(super) enum FormAction {
    Project(String),
    Branch(String),
    Push(bool),
    UseEdits(bool),
}

impl RunForm {
    pub(super) fn new(branch: &str) -> RunForm {
        RunForm { branch: branch.to_string(), ..RunForm::default() }
    }

    /// The build tag to send: the branch field, unless it is blank.
    pub(super) fn tag(&self) -> Option<&str> {
        let b = self.branch.trim();
        (!b.is_empty()).then_some(b)
    }
}

impl Reducible for RunForm {
    type Action = FormAction;

    fn reduce(self: Rc<Self>, action: FormAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            FormAction::Project(p) => next.project = p,
            FormAction::Branch(b) => next.branch = b,
            FormAction::Push(p) => next.push = p,
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
        let mut f = Rc::new(RunForm::new("  "));
        assert_eq!(f.tag(), None);
        for a in [
            FormAction::Project("demo".into()),
            FormAction::Branch(" main ".into()),
            FormAction::Push(true),
            FormAction::UseEdits(true),
        ] {
            f = f.reduce(a);
        }
        assert_eq!(*f, RunForm { project: "demo".into(), branch: " main ".into(), push: true, use_edits: true });
        assert_eq!(f.tag(), Some("main"));
    }
}
