//! The project key and the encrypted file formats: jet's v1 and v2 (read; v2 also written)
//! and Slipway's authenticated format (the default for new files). Byte layouts are in
//! `docs/encryption.md`. Randomness comes in as an argument: core does no I/O.

mod aead;
mod jet;
mod key;
pub mod rekey;

pub use key::{Key, KeyError};

/// A format we can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// jet before 2.6.0: base64(IV || CFB(plaintext)); no integrity check.
    V1,
    /// jet 2.6.0+: "codeship:v2\n" base64(IV || CFB(hex(md5(plaintext)) || plaintext)).
    V2,
    /// Slipway: "slipway:aead1\n" base64(nonce || AES-256-GCM(plaintext)), header as AAD.
    Aead,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::V1 => "v1",
            Format::V2 => "v2",
            Format::Aead => "aead",
        }
    }
    /// The formats a writer may produce.
    pub fn parse_write(s: &str) -> Option<Format> {
        match s {
            "aead" => Some(Format::Aead),
            "v2" => Some(Format::V2),
            _ => None,
        }
    }
}

pub const V2_HEADER: &str = "codeship:v2\n";
pub const AEAD_HEADER: &str = "slipway:aead1\n";

/// The words our headers start with; a file that starts with one must have a known header.
const HEADER_NAMES: [&str; 2] = ["codeship", "slipway"];

/// How much of a damaged header line an error shows (the rest may be the whole body).
const MAX_HEADER_SHOWN: usize = 40;

/// Bytes of randomness `encrypt` needs: a 16-byte IV (v2) or a 12-byte nonce (aead).
pub const RANDOM_BYTES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the encrypted data is not valid base64 ({detail}); is this an encrypted file?")]
    NotBase64 { detail: String },
    #[error(
        "the encrypted data is too short ({len} bytes after base64 decoding; at least {min} expected): the file is truncated"
    )]
    TooShort { len: usize, min: usize },
    #[error("checksum for decrypted data is invalid, corrupt AES key or data")]
    Checksum,
    #[error("authentication failed: the key is wrong or the file was modified")]
    Authentication,
    #[error("unknown encrypted format header {header:?}; expected `codeship:v2` or `slipway:aead1`")]
    UnknownHeader { header: String },
    #[error("cannot write format {0}: only `aead` and `v2` are written")]
    UnwritableFormat(&'static str),
}

/// The body after `header` (which ends in `\n`), also when the header line ends in `\r\n`:
/// git's `core.autocrlf` on Windows checks text files out that way.
fn after_header<'a>(data: &'a [u8], header: &str) -> Option<&'a [u8]> {
    let name = header.strip_suffix('\n').unwrap_or(header).as_bytes();
    let rest = data.strip_prefix(name)?;
    rest.strip_prefix(b"\n").or_else(|| rest.strip_prefix(b"\r\n"))
}

/// Which format a file is in, from its first line.
pub fn detect(data: &[u8]) -> Result<Format, CryptoError> {
    if after_header(data, V2_HEADER).is_some() {
        return Ok(Format::V2);
    }
    if after_header(data, AEAD_HEADER).is_some() {
        return Ok(Format::Aead);
    }
    // Our headers' names with the header damaged (`slipway aead1`: the colon changed to
    // whitespace). Without this, the whitespace-tolerant v1 reader takes `slipwayaead1…` for
    // base64 and returns garbage; a real v1 file starts with these letters once in 2^42.
    let start = data.trim_ascii_start();
    if HEADER_NAMES.iter().any(|name| start.starts_with(name.as_bytes())) {
        let line = start.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = &line[..line.len().min(MAX_HEADER_SHOWN)];
        return Err(CryptoError::UnknownHeader { header: String::from_utf8_lossy(line).into_owned() });
    }
    // A header-like first line we do not know (e.g. a future `codeship:v3`).
    if let Some(line) = data.split(|b| *b == b'\n').next()
        && data.contains(&b'\n')
        && line.contains(&b':')
        && line.len() < 40
        && data[line.len() + 1..].iter().any(|b| !b.is_ascii_whitespace())
    {
        return Err(CryptoError::UnknownHeader { header: String::from_utf8_lossy(line).into_owned() });
    }
    Ok(Format::V1)
}

/// Decrypt a file in any format; returns the plaintext and the format it was in.
pub fn decrypt(key: &Key, data: &[u8]) -> Result<(Vec<u8>, Format), CryptoError> {
    let format = detect(data)?;
    let plain = match format {
        Format::V1 => jet::decrypt_v1(key, data)?,
        Format::V2 => jet::decrypt_v2(key, after_header(data, V2_HEADER).unwrap_or_default())?,
        Format::Aead => aead::decrypt(key, after_header(data, AEAD_HEADER).unwrap_or_default())?,
    };
    Ok((plain, format))
}

/// Encrypt into `format` (aead or v2) using `random` for the IV/nonce.
pub fn encrypt(
    key: &Key,
    plaintext: &[u8],
    format: Format,
    random: &[u8; RANDOM_BYTES],
) -> Result<Vec<u8>, CryptoError> {
    match format {
        Format::V2 => Ok(jet::encrypt_v2(key, plaintext, random)),
        Format::Aead => Ok(aead::encrypt(key, plaintext, random[..12].try_into().expect("12 bytes"))),
        Format::V1 => Err(CryptoError::UnwritableFormat("v1")),
    }
}

/// Decode base64 leniently about surrounding whitespace and line breaks (jet wrote one line;
/// editors and `base64` tools wrap).
pub(crate) fn decode_b64(text: &[u8]) -> Result<Vec<u8>, CryptoError> {
    use base64::Engine;
    let compact: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| CryptoError::NotBase64 { detail: e.to_string() })
}

pub(crate) fn encode_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_bytes([7u8; 32])
    }

    #[test]
    fn round_trips_both_writable_formats() {
        for format in [Format::Aead, Format::V2] {
            for plain in [&b""[..], b"FOO=bar\n", &[0u8, 255, 10, 13][..]] {
                let enc = encrypt(&key(), plain, format, &[3u8; 16]).unwrap();
                let (dec, got) = decrypt(&key(), &enc).unwrap();
                assert_eq!((dec.as_slice(), got), (plain, format));
            }
        }
    }

    /// git's `core.autocrlf` (Windows) checks files out with `\r\n`, editors add blank lines:
    /// neither changes the data, so neither may stop a decryption. Before, an aead file with
    /// either failed as "not valid base64" and a v2 file with `\r\n` as an unknown header.
    #[test]
    fn crlf_line_ends_and_trailing_blank_lines_still_decrypt() {
        for format in [Format::Aead, Format::V2] {
            let enc = encrypt(&key(), b"SECRET=1\n", format, &[5u8; 16]).unwrap();
            let text = String::from_utf8(enc).unwrap();
            for variant in [text.replace('\n', "\r\n"), format!("{text}\n\n"), format!("{text}\r\n")] {
                let (plain, got) = decrypt(&key(), variant.as_bytes()).unwrap_or_else(|e| panic!("{variant:?}: {e}"));
                assert_eq!((plain.as_slice(), got), (&b"SECRET=1\n"[..], format), "{variant:?}");
            }
        }
    }

    #[test]
    fn aead_rejects_any_changed_byte_and_wrong_key() {
        let enc = encrypt(&key(), b"SECRET=1\n", Format::Aead, &[9u8; 16]).unwrap();
        for i in 0..enc.len() - 1 {
            let mut bad = enc.clone();
            bad[i] ^= 0x01;
            assert!(decrypt(&key(), &bad).is_err(), "flipping byte {i} went unnoticed");
        }
        let other = Key::from_bytes([8u8; 32]);
        assert_eq!(decrypt(&other, &enc).unwrap_err(), CryptoError::Authentication);
    }

    /// Found by fuzzing: `slipway:aead1` with its colon changed to whitespace read as v1
    /// base64 (`slipwayaead1…` is valid base64) and "decrypted" to garbage.
    #[test]
    fn aead_rejects_every_single_byte_change() {
        let enc = encrypt(&key(), b"SECRET=1\n", Format::Aead, &[9u8; 16]).unwrap();
        for i in 0..enc.len() {
            for x in 1..=255u8 {
                let mut bad = enc.clone();
                bad[i] ^= x;
                // The final newline may become other trailing whitespace (see the test above).
                if i == enc.len() - 1 && bad[i].is_ascii_whitespace() {
                    continue;
                }
                if let Ok((_, format)) = decrypt(&key(), &bad) {
                    panic!("byte {i} changed to {:?} and the file still decrypted, as {format:?}", bad[i] as char);
                }
            }
        }
        let e = decrypt(&key(), &[b"slipway aead1\n", &enc[AEAD_HEADER.len()..]].concat()).unwrap_err();
        assert_eq!(e, CryptoError::UnknownHeader { header: "slipway aead1".into() });
    }

    #[test]
    fn unknown_header_is_named() {
        let e = decrypt(&key(), b"codeship:v3\nAAAA").unwrap_err();
        assert!(matches!(e, CryptoError::UnknownHeader { .. }));
    }
}
