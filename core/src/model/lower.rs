//! Helpers that read spanned YAML nodes into typed values, turning shape errors into
//! diagnostics (never `Err`s): a wrong type is reported and the value is skipped.

use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Suggestion};
use crate::source::{SourceFile, Span, Spanned};
use crate::syntax::{Node, NodeKind};

pub struct Lower<'a> {
    pub file: &'a SourceFile,
    pub diags: &'a mut Vec<Diagnostic>,
}

impl Lower<'_> {
    pub fn error(&mut self, code: Code, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(code, self.file, span, msg));
        self.diags.last_mut().expect("just pushed")
    }

    pub fn warning(&mut self, code: Code, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::warning(code, self.file, span, msg));
        self.diags.last_mut().expect("just pushed")
    }

    pub fn wrong_type(&mut self, node: &Node, key: &str, expected: &str) {
        self.error(Code::WrongType, node.span, format!("`{key}` must be {expected}, found {}", node.kind_name()));
    }

    /// The scalar text of a node (numbers and booleans by their source text).
    pub fn text(&self, node: &Node) -> Option<String> {
        node.scalar_text(&self.file.text)
    }

    pub fn string(&mut self, node: &Node, key: &str) -> Option<Spanned<String>> {
        match self.text(node) {
            Some(s) => Some(Spanned::new(s, node.span)),
            None => {
                self.wrong_type(node, key, "a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, key: &str) -> Option<bool> {
        match node.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, key, "true or false");
                None
            }
        }
    }

    /// A string or a list of strings (`env_file: a.env` or `env_file: [a.env, b.env]`).
    pub fn string_or_list(&mut self, node: &Node, key: &str) -> Vec<Spanned<String>> {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().filter_map(|n| self.string(n, key)).collect(),
            NodeKind::Null => Vec::new(),
            _ => self.string(node, key).into_iter().collect(),
        }
    }

    pub fn list(&mut self, node: &Node, key: &str) -> Vec<Spanned<String>> {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().filter_map(|n| self.string(n, key)).collect(),
            NodeKind::Null => Vec::new(),
            _ => {
                self.wrong_type(node, key, "a list");
                Vec::new()
            }
        }
    }

    /// A map of strings, or a list of `KEY=VALUE` strings (docker-compose allows both).
    pub fn key_values(&mut self, node: &Node, key: &str) -> Vec<(Spanned<String>, Spanned<String>)> {
        let mut out = Vec::new();
        match &node.kind {
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    let Some(name) = self.string(k, key) else {
                        continue;
                    };
                    let value = if v.is_null() {
                        Spanned::new(String::new(), v.span)
                    } else {
                        match self.text(v) {
                            Some(s) => Spanned::new(s, v.span),
                            None => {
                                self.wrong_type(v, &format!("{key}.{}", name.value), "a string");
                                continue;
                            }
                        }
                    };
                    out.push((name, value));
                }
            }
            NodeKind::Seq(items) => {
                for item in items {
                    let Some(s) = self.string(item, key) else {
                        continue;
                    };
                    let (k, v) = s.value.split_once('=').unwrap_or((&s.value, ""));
                    out.push((Spanned::new(k.to_string(), item.span), Spanned::new(v.to_string(), item.span)));
                }
            }
            NodeKind::Null => {}
            _ => self.wrong_type(node, key, "a map or a list of KEY=VALUE"),
        }
        out
    }

    /// Warn about a key nobody knows, suggesting the closest known one.
    pub fn unknown_key(&mut self, key: &Node, name: &str, known: &[&str], what: &str) {
        // Not for a key merged in through `<<` (its span is the merge's).
        let exact = crate::syntax::scalar::name_span(self.file, key.span, name).is_some();
        let d = self.warning(Code::UnknownKey, key.span, format!("unknown key `{name}` in {what}; it is ignored"));
        if let Some(s) = crate::spelling::closest(name, known.iter().copied()) {
            d.help = Some(format!("did you mean `{s}`?"));
            if exact {
                d.suggestion = Some(Box::new(Suggestion { span: key.span, replacement: s.to_string() }));
            }
        }
    }
}
