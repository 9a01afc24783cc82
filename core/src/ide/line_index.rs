//! Byte offsets ↔ UTF-16 offsets ↔ (line, UTF-16 column). CodeMirror positions are UTF-16
//! code units into the whole document (JavaScript strings); LSP positions are a 0-based line
//! and UTF-16 code units into that line. The core's spans are bytes.

use serde::Serialize;

/// A 0-based line and a 0-based column in UTF-16 code units, as LSP counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

/// One file's lines, built once per text.
#[derive(Clone, Debug)]
pub struct LineIndex {
    text_len: u32,
    /// Byte offset of each line's start.
    starts: Vec<u32>,
    /// UTF-16 offset of each line's start.
    starts16: Vec<u32>,
    /// Whether a line is all ASCII (then bytes and UTF-16 units are the same).
    ascii: Vec<bool>,
    /// The text, kept for the lines that are not ASCII.
    text: String,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0u32];
        let mut starts16 = vec![0u32];
        let mut ascii = Vec::new();
        let (mut units, mut start) = (0u32, 0usize);
        // Line by line: an ASCII line (most are) is counted by its length, not char by char.
        loop {
            let newline = text.as_bytes()[start..].iter().position(|&b| b == b'\n').map(|i| start + i);
            let line = &text[start..newline.map_or(text.len(), |n| n + 1)];
            let is_ascii = line.is_ascii();
            units += if is_ascii { line.len() } else { line.encode_utf16().count() } as u32;
            ascii.push(is_ascii);
            let Some(n) = newline else { break };
            start = n + 1;
            starts.push(start as u32);
            starts16.push(units);
        }
        LineIndex { text_len: text.len() as u32, starts, starts16, ascii, text: text.to_string() }
    }

    /// Number of lines (a text ending in a newline has an empty last line).
    pub fn line_count(&self) -> u32 {
        self.starts.len() as u32
    }

    /// Length of the text in UTF-16 code units.
    pub fn len_utf16(&self) -> u32 {
        let last = self.starts.len() - 1;
        self.starts16[last] + self.units(last, self.text_len)
    }

    /// The 0-based line holding byte `offset` (clamped to the text).
    pub fn line_of(&self, offset: u32) -> u32 {
        let offset = offset.min(self.text_len);
        (self.starts.partition_point(|&s| s <= offset) - 1) as u32
    }

    /// The byte offset where a 0-based line starts (the text's end past the last line).
    pub fn line_start(&self, line: u32) -> u32 {
        self.starts.get(line as usize).copied().unwrap_or(self.text_len)
    }

    /// Byte offset → LSP position. An offset inside a character counts as its start.
    pub fn position(&self, offset: u32) -> Position {
        let line = self.line_of(offset) as usize;
        Position { line: line as u32, character: self.units(line, offset.min(self.text_len)) }
    }

    /// LSP position → byte offset. A column past the line's end is the line's end (before
    /// its newline); a line past the end is the text's end; inside a surrogate pair, the
    /// character's start.
    pub fn offset(&self, position: Position) -> u32 {
        let line = position.line as usize;
        if line >= self.starts.len() {
            return self.text_len;
        }
        let start = self.starts[line];
        let end = self.line_end(line);
        self.advance(start, end, position.character, self.ascii[line])
    }

    /// Byte offset → UTF-16 offset into the whole text (CodeMirror's positions).
    pub fn utf16(&self, offset: u32) -> u32 {
        let line = self.line_of(offset) as usize;
        self.starts16[line] + self.units(line, offset.min(self.text_len))
    }

    /// UTF-16 offset into the whole text → byte offset (clamped to the text; inside a
    /// surrogate pair, the character's start).
    pub fn from_utf16(&self, offset16: u32) -> u32 {
        let line = self.starts16.partition_point(|&s| s <= offset16) - 1;
        let start = self.starts[line];
        let end = self.starts.get(line + 1).copied().unwrap_or(self.text_len);
        self.advance(start, end, offset16 - self.starts16[line], self.ascii[line])
    }

    /// UTF-16 units from the start of `line` to byte `offset` on it.
    fn units(&self, line: usize, offset: u32) -> u32 {
        let start = self.starts[line];
        if self.ascii[line] {
            return offset - start;
        }
        let mut units = 0;
        for (i, c) in self.text[start as usize..].char_indices() {
            // A character reaching past `offset` holds it: it counts from its start.
            if start + (i + c.len_utf8()) as u32 > offset {
                break;
            }
            units += c.len_utf16() as u32;
        }
        units
    }

    /// The byte offset `units` UTF-16 units after `start`, not past `end`.
    fn advance(&self, start: u32, end: u32, units: u32, ascii: bool) -> u32 {
        if ascii {
            return (start + units).min(end);
        }
        let mut left = units;
        for (i, c) in self.text[start as usize..end as usize].char_indices() {
            let w = c.len_utf16() as u32;
            if left < w {
                return start + i as u32;
            }
            left -= w;
        }
        end
    }

    /// The end of a line's text, before `\n` or `\r\n`.
    fn line_end(&self, line: usize) -> u32 {
        let Some(&next) = self.starts.get(line + 1) else { return self.text_len };
        let mut end = next - 1;
        if end > self.starts[line] && self.text.as_bytes()[end as usize - 1] == b'\r' {
            end -= 1;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_round_trips() {
        let ix = LineIndex::new("ab\ncd\n");
        assert_eq!(ix.position(4), Position { line: 1, character: 1 });
        assert_eq!(ix.offset(Position { line: 1, character: 1 }), 4);
        assert_eq!(ix.offset(Position { line: 1, character: 99 }), 5);
        assert_eq!(ix.offset(Position { line: 9, character: 0 }), 6);
        assert_eq!(ix.utf16(4), 4);
        assert_eq!(ix.line_count(), 3);
    }

    /// `é` is 2 bytes and 1 unit; `😀` is 4 bytes and 2 units (a surrogate pair).
    #[test]
    fn non_ascii_counts_utf16_units() {
        let text = "é: 😀x\ny: ü\n";
        let ix = LineIndex::new(text);
        let x = text.find('x').unwrap() as u32;
        assert_eq!(ix.position(x), Position { line: 0, character: 5 });
        assert_eq!(ix.offset(Position { line: 0, character: 5 }), x);
        // Inside the surrogate pair: the emoji's start.
        assert_eq!(ix.offset(Position { line: 0, character: 4 }), x - 4);
        assert_eq!(ix.utf16(x), 5);
        assert_eq!(ix.from_utf16(5), x);
        let u = text.find('ü').unwrap() as u32;
        assert_eq!(ix.utf16(u), 10);
        assert_eq!(ix.from_utf16(10), u);
        assert_eq!(ix.len_utf16(), 12);
        assert_eq!(ix.from_utf16(99), text.len() as u32);
    }

    /// An offset inside a multi-byte character is that character's start, as documented.
    #[test]
    fn inside_a_character_counts_as_its_start() {
        let ix = LineIndex::new("aé😀\n");
        assert_eq!(ix.position(2), Position { line: 0, character: 1 });
        assert_eq!(ix.position(3), Position { line: 0, character: 2 });
        assert_eq!(ix.position(5), Position { line: 0, character: 2 });
        assert_eq!(ix.position(7), Position { line: 0, character: 4 });
        assert_eq!(ix.utf16(2), 1);
    }

    #[test]
    fn crlf_line_end_is_before_the_cr() {
        let ix = LineIndex::new("a: 1\r\nb: 2\r\n");
        assert_eq!(ix.offset(Position { line: 0, character: 50 }), 4);
        assert_eq!(ix.position(6), Position { line: 1, character: 0 });
    }
}
