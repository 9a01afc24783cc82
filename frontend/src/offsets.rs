//! Byte offsets (the core's spans) to UTF-16 code units (the browser's and CodeMirror's
//! offsets) and back. Plain ASCII text, the common case, needs no table.

/// A conversion table for one text: per line, where it starts in bytes and in UTF-16 units.
pub struct Utf16Index<'a> {
    text: &'a str,
    /// `None` for ASCII text, where both offsets agree.
    lines: Option<Vec<(usize, u32)>>,
}

impl<'a> Utf16Index<'a> {
    pub fn new(text: &'a str) -> Self {
        if text.is_ascii() {
            return Utf16Index { text, lines: None };
        }
        let mut lines = vec![(0, 0)];
        let mut units = 0u32;
        for (i, c) in text.char_indices() {
            units += c.len_utf16() as u32;
            if c == '\n' {
                lines.push((i + 1, units));
            }
        }
        Utf16Index { text, lines: Some(lines) }
    }

    /// The UTF-16 offset of byte `b` (clamped to the text; inside a character: its start).
    pub fn to_utf16(&self, b: usize) -> u32 {
        let b = b.min(self.text.len());
        let Some(lines) = &self.lines else { return b as u32 };
        let (start, units) = lines[lines.partition_point(|&(s, _)| s <= b) - 1];
        let mut end = b;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        units + self.text[start..end].encode_utf16().count() as u32
    }

    /// The byte offset of UTF-16 offset `u` (clamped; inside a surrogate pair: the character's start).
    pub fn to_byte(&self, u: u32) -> usize {
        let Some(lines) = &self.lines else { return (u as usize).min(self.text.len()) };
        let (start, mut units) = lines[lines.partition_point(|&(_, s)| s <= u) - 1];
        for (i, c) in self.text[start..].char_indices() {
            let next = units + c.len_utf16() as u32;
            if next > u {
                return start + i;
            }
            units = next;
        }
        self.text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_offsets_are_unchanged() {
        let ix = Utf16Index::new("app:\n  image: x\n");
        assert_eq!((ix.to_utf16(7), ix.to_byte(7)), (7, 7));
        assert_eq!(ix.to_utf16(99), 16);
    }

    #[test]
    fn non_ascii_text_counts_utf16_units() {
        // "é" is 2 bytes and 1 unit; "🚀" is 4 bytes and 2 units.
        let text = "# café 🚀\n- service: nope\n";
        let ix = Utf16Index::new(text);
        let nope = text.find("nope").unwrap();
        let expected = text[..nope].encode_utf16().count() as u32;
        assert_eq!(ix.to_utf16(nope), expected);
        assert_eq!(ix.to_byte(expected), nope);
        // Every character boundary round-trips.
        for (b, _) in text.char_indices() {
            assert_eq!(ix.to_byte(ix.to_utf16(b)), b, "byte {b}");
        }
        // Inside the rocket's surrogate pair: the rocket's start.
        let rocket = text.find('🚀').unwrap();
        assert_eq!(ix.to_byte(ix.to_utf16(rocket) + 1), rocket);
    }
}
