//! Slipway's authenticated format:
//!
//! ```text
//! file  := "slipway:aead1\n" base64(nonce[12] || ciphertext || tag[16]) "\n"
//! key   := HKDF-SHA256(ikm = project key, salt = none, info = "slipway aead1 aes-256-gcm")
//! aad   := "slipway:aead1\n"
//! ```
//! The body must be canonical base64 (a changed character fails decryption, GCM authenticates
//! every byte it decodes to). Line ends around it may be `\n` or `\r\n`, and trailing blank
//! lines are fine: editors and git's `core.autocrlf` change those without changing the data.

use super::{AEAD_HEADER, CryptoError, Key, encode_b64};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

const INFO: &[u8] = b"slipway aead1 aes-256-gcm";

fn cipher(key: &Key) -> Aes256Gcm {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, key.bytes());
    let mut okm = [0u8; 32];
    hk.expand(INFO, &mut okm).expect("32 bytes is a valid HKDF-SHA256 length");
    Aes256Gcm::new(&okm.into())
}

pub fn encrypt(key: &Key, plaintext: &[u8], nonce: &[u8; 12]) -> Vec<u8> {
    let ct = cipher(key)
        .encrypt(&Nonce::from(*nonce), Payload { msg: plaintext, aad: AEAD_HEADER.as_bytes() })
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&ct);
    format!("{AEAD_HEADER}{}\n", encode_b64(&raw)).into_bytes()
}

/// Decrypt the body that follows the header line.
pub fn decrypt(key: &Key, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
    use base64::Engine;
    let body = body.trim_ascii_end();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| CryptoError::NotBase64 { detail: e.to_string() })?;
    if raw.len() < 12 + 16 {
        return Err(CryptoError::TooShort { len: raw.len(), min: 28 });
    }
    let (nonce, ct) = raw.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().expect("12 bytes");
    cipher(key)
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: AEAD_HEADER.as_bytes() })
        .map_err(|_| CryptoError::Authentication)
}
