//! Which bytes a syntax error is about: the action (`{{ … }}`) around the place the parser
//! stopped, found by lexing the template again (the lexer knows where actions end, even with
//! `}}` inside a string). Where the lexer itself fails, the action runs to the next `}}`, or
//! to the end of the text when it never closes.

use super::lex::{Kind, Lexer};
use std::ops::Range;

/// The action of `src` holding `offset`; when no action does (an error in a comment, say),
/// from `offset` to the end of the text if a `{{` starts there, else the character there.
pub fn action_around(src: &str, offset: usize) -> Range<usize> {
    let offset = offset.min(src.len());
    let mut lexer = Lexer::new(src);
    let mut open = None;
    loop {
        let item = lexer.next_item();
        match item.kind {
            Kind::LeftDelim => {
                if item.pos > offset {
                    break;
                }
                open = Some(item.pos);
            }
            Kind::RightDelim => {
                let end = item.pos + item.text().len();
                if let Some(start) = open.take()
                    && offset < end
                {
                    return start..end;
                }
            }
            Kind::Eof | Kind::Error => break,
            _ => {}
        }
    }
    match open {
        // The lexer stopped inside the action (a stray `)`, an unclosed quote or action): up
        // to the next `}}` as text, or the end.
        Some(start) => start..src[offset..].find("}}").map_or(src.len(), |i| offset + i + 2),
        None if src[offset..].starts_with("{{") => offset..src.len(),
        None => offset..src[offset..].chars().next().map_or(offset, |c| offset + c.len_utf8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn around(src: &str, at: &str) -> String {
        let offset = src.find(at).unwrap();
        src[action_around(src, offset)].to_string()
    }

    #[test]
    fn the_action_holding_the_offset() {
        assert_eq!(around("a {{ .X }} b {{ f 1 }} c", "1"), "{{ f 1 }}");
        assert_eq!(around("a {{ .X }} b {{ f 1 }} c", "{{ .X"), "{{ .X }}");
        assert_eq!(around("{{- .X -}}  {{ .Y }}", ".X"), "{{- .X -}}");
        assert_eq!(around("{{ \"}}\" | f }}", "f }"), "{{ \"}}\" | f }}");
        assert_eq!(around("{{ .X }} {{ .Y", ".Y"), "{{ .Y");
        assert_eq!(around("{{ f ) }}x", ")"), "{{ f ) }}");
        // Outside any action: the character, or a comment that never closes.
        assert_eq!(around("text", "x"), "x");
        assert_eq!(around("a {{/* no end", "{{/*"), "{{/* no end");
        assert_eq!(action_around("ab", 2), 2..2);
    }
}
