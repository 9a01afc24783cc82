//! The log's search: where a needle occurs in each line, counted once for all the lines shown
//! (the log draws only those in view, but "3 of 40" and the way to the 3rd need every line).

use crate::run_log::ShownLine;

/// Where `needle` occurs in `text`, ignoring ASCII case: byte ranges, not overlapping.
pub(super) fn matches(text: &str, needle: &str) -> Vec<(usize, usize)> {
    if needle.is_empty() {
        return Vec::new();
    }
    let (hay, needle) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    hay.match_indices(&needle).map(|(i, m)| (i, i + m.len())).collect()
}

/// The matches of one search in the lines shown.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Hits {
    /// For each line, the number of matches in the lines before it (its first match's index).
    before: Vec<usize>,
    pub total: usize,
}

impl Hits {
    pub(super) fn find(lines: &[ShownLine], needle: &str) -> Hits {
        if needle.is_empty() {
            return Hits::default();
        }
        let mut before = Vec::with_capacity(lines.len());
        let mut total = 0;
        for l in lines {
            before.push(total);
            total += matches(&l.text, needle).len();
        }
        Hits { before, total }
    }

    /// The index of line `i`'s first match (0 when there is no search).
    pub(super) fn first_in(&self, i: usize) -> usize {
        self.before.get(i).copied().unwrap_or(0)
    }

    /// The line holding match `hit`.
    pub(super) fn line_of(&self, hit: usize) -> Option<usize> {
        if hit >= self.total {
            return None;
        }
        // The last line whose first match is at or before `hit`.
        Some(self.before.partition_point(|&b| b <= hit) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_ignore_case_and_do_not_overlap() {
        assert_eq!(matches("Error: an ERROR", "error"), [(0, 5), (10, 15)]);
        assert_eq!(matches("aaaa", "aa"), [(0, 2), (2, 4)]);
        assert!(matches("anything", "").is_empty());
    }

    #[test]
    fn each_match_is_found_in_its_line() {
        let lines: Vec<ShownLine> = ["ok", "error error", "fine", "Error"]
            .iter()
            .enumerate()
            .map(|(n, t)| ShownLine { n: n + 1, text: t.to_string() })
            .collect();
        let h = Hits::find(&lines, "error");
        assert_eq!(h.total, 3);
        assert_eq!((h.line_of(0), h.line_of(1), h.line_of(2), h.line_of(3)), (Some(1), Some(1), Some(3), None));
        assert_eq!((h.first_in(1), h.first_in(2), h.first_in(3)), (0, 2, 2));
        assert_eq!(Hits::find(&lines, ""), Hits::default());
        assert_eq!(Hits::find(&lines, "absent").line_of(0), None);
    }
}
