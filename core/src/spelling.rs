//! "Did you mean …?": the closest known name to a misspelt one. Used by the model (unknown
//! keys and step types), the rules (unknown services) and templates (unknown variables), so it
//! lives below all of them.

/// The closest candidate by edit distance (adjacent swaps count as one edit), if it is close
/// enough to be a likely typo: at most a third of the longer name's length.
///
/// Called once per unknown key, so a file of 68,000 unknown keys calls it 68,000 times against
/// every known key: candidates whose length alone puts them out of reach are skipped, and the
/// distance is the optimal-string-alignment one (a plain table, no allocation per letter as
/// the unrestricted Damerau-Levenshtein needs). docs/perf.md has the figures.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    candidates
        .into_iter()
        .filter_map(|c| {
            let c_len = c.chars().count();
            let allowed = (len.max(c_len) / 3).max(1);
            // The distance is at least the difference in length.
            if len.abs_diff(c_len) > allowed {
                return None;
            }
            let d = strsim::osa_distance(name, c);
            (d <= allowed).then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn typos_find_their_key_and_strangers_find_nothing() {
        let known = ["image", "build", "environment", "depends_on", "volumes_from"];
        assert_eq!(closest("imgae", known), Some("image"), "a swap is one edit");
        assert_eq!(closest("enviroment", known), Some("environment"));
        assert_eq!(closest("depend_on", known), Some("depends_on"));
        assert_eq!(closest("k00001", known), None);
        assert_eq!(closest("", known), None);
        assert_eq!(closest("imageimageimage", known), None, "too long to be a typo of `image`");
    }
}
