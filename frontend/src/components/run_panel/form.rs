//! The build tag a run is started with. The branch and push come from the build preview's
//! values: one set for the plan shown and the run started.

/// The build tag to send: the branch, unless it is blank.
pub(crate) fn tag(branch: &str) -> Option<&str> {
    let b = branch.trim();
    (!b.is_empty()).then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_branch_sends_no_tag() {
        assert_eq!((tag("  "), tag(" main ")), (None, Some("main")));
    }
}
