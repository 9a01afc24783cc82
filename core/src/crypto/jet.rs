//! jet's formats. v1: base64(IV[16] || CFB128(plaintext)). v2: "codeship:v2\n" then
//! base64(IV[16] || CFB128(hex(md5(plaintext)) || plaintext)), one CFB stream over both.

use super::{CryptoError, Key, V2_HEADER, decode_b64, encode_b64};
use aes::cipher::KeyIvInit;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

type Enc = cfb_mode::Encryptor<aes::Aes256>;
type Dec = cfb_mode::Decryptor<aes::Aes256>;

fn cfb_decrypt(key: &Key, iv: &[u8], data: &mut [u8]) {
    let iv: [u8; 16] = iv.try_into().expect("16-byte IV");
    Dec::new(key.bytes().into(), &iv.into()).decrypt(data);
}

pub fn decrypt_v1(key: &Key, text: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let raw = decode_b64(text)?;
    if raw.len() < 16 {
        return Err(CryptoError::TooShort { len: raw.len(), min: 16 });
    }
    let (iv, body) = raw.split_at(16);
    let mut body = body.to_vec();
    cfb_decrypt(key, iv, &mut body);
    Ok(body)
}

pub fn decrypt_v2(key: &Key, body_text: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let raw = decode_b64(body_text)?;
    if raw.len() < 48 {
        return Err(CryptoError::TooShort { len: raw.len(), min: 48 });
    }
    let (iv, body) = raw.split_at(16);
    let mut body = body.to_vec();
    cfb_decrypt(key, iv, &mut body);
    let (checksum, plain) = body.split_at(32);
    let want = hex_md5(plain);
    if checksum.ct_eq(want.as_bytes()).into() { Ok(plain.to_vec()) } else { Err(CryptoError::Checksum) }
}

pub fn encrypt_v2(key: &Key, plaintext: &[u8], iv: &[u8; 16]) -> Vec<u8> {
    let mut body = Vec::with_capacity(32 + plaintext.len());
    body.extend_from_slice(hex_md5(plaintext).as_bytes());
    body.extend_from_slice(plaintext);
    Enc::new(key.bytes().into(), iv.into()).encrypt(&mut body);
    let mut raw = iv.to_vec();
    raw.extend_from_slice(&body);
    let mut out = V2_HEADER.as_bytes().to_vec();
    out.extend_from_slice(encode_b64(&raw).as_bytes());
    out
}

fn hex_md5(data: &[u8]) -> String {
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}
