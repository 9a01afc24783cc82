//! Template variables in scope: a stack that `{{end}}` truncates, with an index by name so a
//! template declaring thousands of variables does not make every lookup scan them all (Go
//! scans; a hostile template would make that quadratic).

use std::collections::BTreeMap;

pub struct Scope<T> {
    entries: Vec<(String, T)>,
    /// Positions in `entries` per name, innermost last.
    by_name: BTreeMap<String, Vec<usize>>,
}

impl<T> Scope<T> {
    pub fn new() -> Self {
        Scope { entries: Vec::new(), by_name: BTreeMap::new() }
    }

    pub fn push(&mut self, name: &str, value: T) {
        self.by_name.entry(name.to_string()).or_default().push(self.entries.len());
        self.entries.push((name.to_string(), value));
    }

    /// A mark to `truncate` back to when a block ends.
    pub fn mark(&self) -> usize {
        self.entries.len()
    }

    pub fn truncate(&mut self, mark: usize) {
        while self.entries.len() > mark {
            let Some((name, _)) = self.entries.pop() else { break };
            if let Some(positions) = self.by_name.get_mut(&name) {
                positions.pop();
                if positions.is_empty() {
                    self.by_name.remove(&name);
                }
            }
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).and_then(|p| p.last().copied())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// The innermost variable of that name.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.position(name).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.position(name).map(|i| &mut self.entries[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_variables_shadow_and_end_with_their_block() {
        let mut s = Scope::new();
        s.push("$x", 1);
        let mark = s.mark();
        s.push("$x", 2);
        s.push("$y", 3);
        assert_eq!(s.get("$x"), Some(&2));
        *s.get_mut("$x").unwrap() = 5;
        s.truncate(mark);
        assert_eq!(s.get("$x"), Some(&1));
        assert!(!s.contains("$y"));
    }
}
