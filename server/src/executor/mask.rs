//! Masking of decrypted values in everything the runner prints or records.

/// Secrets shorter than this are not masked: masking `a` or `1` would garble every line
/// while protecting nothing. Such values are reported once as unmaskable.
pub const MIN_SECRET_LEN: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct Masker {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Masker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a secret value. Multi-line values are also masked line by line, since output
    /// is handled a line at a time.
    pub fn add(&mut self, secret: &str) {
        let mut parts = vec![secret.to_string()];
        if secret.contains('\n') {
            parts.extend(secret.lines().map(str::to_string));
        }
        for p in parts {
            let p = p.trim_end_matches('\r').to_string();
            if p.trim().len() >= MIN_SECRET_LEN && !self.secrets.contains(&p) {
                self.secrets.push(p);
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn extend<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, secrets: I) {
        for s in secrets {
            self.add(s.as_ref());
        }
    }

    /// A line splitter that never cuts a long line through one of these secrets.
    pub fn line_buffer(&self) -> LineBuffer {
        let secrets: Vec<Vec<u8>> = self.secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        let hold = secrets.iter().map(Vec::len).max().unwrap_or(1) - 1;
        LineBuffer { pending: Vec::new(), secrets, hold }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

/// The texts a project key goes by: its file's base64 (also without padding and URL-safe)
/// and its bytes in hex, lower and upper case. Masked like any decrypted value, so a key
/// passed to a step (an env file, a build arg) never reaches a log.
pub fn key_forms(key: &slipway_core::crypto::Key) -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = key.to_file_text();
    let Ok(bytes) = STANDARD.decode(text.trim()) else { return vec![text.trim().to_string()] };
    let hex = crate::names::hex(&bytes);
    let mut forms = vec![text.trim().to_string(), hex.to_ascii_uppercase(), hex];
    forms.extend([STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().map(|e| e.encode(&bytes)));
    forms
}

/// Splits a byte stream into lines, so secrets split across chunks are still masked. A line
/// longer than [`MAX_LINE`] is emitted in pieces, cut where no secret is (each piece is masked
/// on its own) and between UTF-8 characters.
#[derive(Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
    /// The secrets' bytes; a cut must not fall inside one.
    secrets: Vec<Vec<u8>>,
    /// Bytes kept beyond the limit before cutting (the longest secret less one), so a secret
    /// that starts before the cut is whole in the buffer when the cut is chosen.
    hold: usize,
}

/// A line longer than this is emitted in pieces (a log line is not unbounded memory).
const MAX_LINE: usize = 64 * 1024;

impl LineBuffer {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).trim_end_matches('\r').to_string());
        }
        while self.pending.len() > MAX_LINE + self.hold {
            let cut = self.cut_before(MAX_LINE);
            let piece: Vec<u8> = self.pending.drain(..cut).collect();
            lines.push(String::from_utf8_lossy(&piece).into_owned());
        }
        lines
    }

    /// The last position at or before `limit` that splits neither a character nor a secret.
    /// Only when secrets cover everything before `limit` (a line of one repeated secret made
    /// of overlapping copies) does it fall back to `limit`.
    fn cut_before(&self, limit: usize) -> usize {
        let mut cut = limit;
        loop {
            for _ in 0..3 {
                if cut > 0 && self.pending[cut] & 0xC0 == 0x80 {
                    cut -= 1;
                }
            }
            match self.secret_across(cut) {
                Some(start) if start > 0 => cut = start,
                Some(_) => return limit,
                None if cut == 0 => return limit,
                None => return cut,
            }
        }
    }

    /// The start of a secret occurrence that `cut` would split, scanning left to right
    /// without overlaps as the masker replaces them.
    fn secret_across(&self, cut: usize) -> Option<usize> {
        for s in self.secrets.iter().filter(|s| !s.is_empty()) {
            let mut from = 0;
            while let Some(i) = self.pending[from..].windows(s.len()).position(|w| w == s.as_slice()) {
                let start = from + i;
                if start >= cut {
                    break;
                }
                if start + s.len() > cut {
                    return Some(start);
                }
                from = start + s.len();
            }
        }
        None
    }

    pub fn finish(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            return None;
        }
        let line: Vec<u8> = self.pending.drain(..).collect();
        Some(String::from_utf8_lossy(&line).trim_end_matches('\r').to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_whole_and_multiline_secrets() {
        let mut m = Masker::new();
        m.add("hunter2!");
        m.add("line-one\nline-two");
        m.add("ab");
        assert_eq!(m.mask("pw=hunter2! ok"), "pw=*** ok");
        assert_eq!(m.mask("x line-two y"), "x *** y");
        assert_eq!(m.mask("ab stays"), "ab stays");
    }

    /// Push `line` in chunks of `chunk` bytes; the masked pieces, joined.
    fn masked_pieces(m: &Masker, line: &[u8], chunk: usize) -> (Vec<String>, String) {
        let mut b = m.line_buffer();
        let mut pieces: Vec<String> = line.chunks(chunk).flat_map(|c| b.push(c)).collect();
        pieces.extend(b.finish());
        let masked: Vec<String> = pieces.iter().map(|p| m.mask(p)).collect();
        let joined = masked.concat();
        (masked, joined)
    }

    #[test]
    fn a_secret_across_the_long_line_boundary_is_masked() {
        let mut m = Masker::new();
        m.add("s3cr3t-value");
        for start in MAX_LINE - 11..=MAX_LINE + 1 {
            let mut line = vec![b'a'; start];
            line.extend_from_slice(b"s3cr3t-value");
            line.extend_from_slice(&vec![b'b'; 70_000]);
            line.push(b'\n');
            for chunk in [1000, 4096, 16384, start + 5, MAX_LINE + 3] {
                let (pieces, joined) = masked_pieces(&m, &line, chunk);
                let want = format!("{}***{}", "a".repeat(start), "b".repeat(70_000));
                assert!(joined == want, "secret at {start}, chunks of {chunk}: not masked across a cut");
                // Pieces stay bounded: at most a chunk more than the limit.
                assert!(pieces.len() >= 2 && pieces.iter().all(|p| p.len() <= MAX_LINE + chunk), "{}", pieces.len());
            }
        }
    }

    #[test]
    fn long_lines_are_cut_between_characters() {
        let line = "é".repeat(MAX_LINE);
        let (pieces, joined) = masked_pieces(&Masker::new(), line.as_bytes(), MAX_LINE + 1);
        assert!(pieces.len() >= 2 && !joined.contains('\u{FFFD}') && joined == line);
    }

    #[test]
    fn every_form_of_the_key_is_masked() {
        let key = slipway_core::crypto::Key::from_bytes([0xfb; 32]);
        let mut m = Masker::new();
        m.extend(key_forms(&key));
        let b64 = key.to_file_text().trim().to_string();
        let line = format!("{b64} {} {} {} {}", "fb".repeat(32), "FB".repeat(32), b64.trim_end_matches('='), {
            b64.replace('+', "-").replace('/', "_")
        });
        assert_eq!(m.mask(&line), "*** *** *** *** ***");
    }

    #[test]
    fn secrets_split_across_chunks_are_masked_per_line() {
        let mut m = Masker::new();
        m.add("s3cr3t-value");
        let mut b = LineBuffer::default();
        let mut out: Vec<String> = b.push(b"token: s3cr");
        out.extend(b.push(b"3t-value\nnext"));
        out.extend(b.finish());
        let masked: Vec<String> = out.iter().map(|l| m.mask(l)).collect();
        assert_eq!(masked, ["token: ***", "next"]);
    }
}
