//! The project key file `codeship.aes`: standard base64 of 32 random bytes.

use zeroize_free::Secret;

mod zeroize_free {
    /// Key bytes with a Debug that never prints them.
    #[derive(Clone, PartialEq, Eq)]
    pub struct Secret(pub [u8; 32]);
    impl std::fmt::Debug for Secret {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Key(***)")
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Key(Secret);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key file is empty")]
    Empty,
    #[error("the key is not base64 ({detail}); a codeship.aes file holds one line of base64")]
    NotBase64 { detail: String },
    #[error("the key decodes to {len} bytes; an AES-256 key is 32 bytes (44 base64 characters)")]
    WrongLength { len: usize },
}

impl Key {
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(Secret(bytes))
    }

    /// Parse a key file's contents; surrounding whitespace (a trailing newline) is fine.
    pub fn parse(text: &[u8]) -> Result<Key, KeyError> {
        use base64::Engine;
        let trimmed = text.trim_ascii();
        if trimmed.is_empty() {
            return Err(KeyError::Empty);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(trimmed)
            .map_err(|e| KeyError::NotBase64 { detail: e.to_string() })?;
        let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::WrongLength { len: bytes.len() })?;
        Ok(Key::from_bytes(arr))
    }

    /// The key file text for freshly generated key bytes (one line, trailing newline).
    pub fn to_file_text(&self) -> String {
        format!("{}\n", super::encode_b64(&self.0.0))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0.0
    }
}
