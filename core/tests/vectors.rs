//! The encryption test vectors (copied from the project's shared vectors): real jet v1
//! output, independently generated v2 files, and negative cases with their clear errors.

use slipway_core::crypto::{self, CryptoError, Format, Key, KeyError};
use std::path::PathBuf;

fn fixture(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vectors").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn key(rel: &str) -> Key {
    Key::parse(&fixture(rel)).unwrap()
}

#[test]
fn jet_v1_official_vector_decrypts_exactly() {
    let k = key("jet-v1-official/codeship.aes");
    let (plain, format) = crypto::decrypt(&k, &fixture("jet-v1-official/environment.encrypted")).unwrap();
    assert_eq!(format, Format::V1);
    assert_eq!(plain, fixture("jet-v1-official/environment.expected"));
}

#[test]
fn jet_v2_generated_vectors_decrypt_exactly() {
    let k = key("jet-v2-generated/codeship.aes");
    for name in ["env", "empty", "binary.bin", "dockercfg.json", "legacy.dockercfg"] {
        let (plain, format) = crypto::decrypt(&k, &fixture(&format!("jet-v2-generated/{name}.encrypted"))).unwrap();
        assert_eq!(format, Format::V2, "{name}");
        assert_eq!(plain, fixture(&format!("jet-v2-generated/{name}")), "{name}");
    }
    let (plain, format) = crypto::decrypt(&k, &fixture("jet-v2-generated/env.v1.encrypted")).unwrap();
    assert_eq!((plain, format), (fixture("jet-v2-generated/env"), Format::V1));
}

#[test]
fn our_v2_output_is_readable_as_jet_layout() {
    // Re-encrypting with the vector's IV must reproduce the generated file byte for byte.
    let k = key("jet-v2-generated/codeship.aes");
    let file = fixture("jet-v2-generated/env.encrypted");
    let body = std::str::from_utf8(&file[crypto::V2_HEADER.len()..]).unwrap().trim();
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    let iv: [u8; 16] = raw[..16].try_into().unwrap();
    let again = crypto::encrypt(&k, &fixture("jet-v2-generated/env"), Format::V2, &iv).unwrap();
    assert_eq!(String::from_utf8(again).unwrap().trim_end(), String::from_utf8(file).unwrap().trim_end());
}

#[test]
fn wrong_key_gives_the_jet_checksum_error() {
    let k = key("negative/wrong-key.aes");
    let err = crypto::decrypt(&k, &fixture("jet-v2-generated/env.encrypted")).unwrap_err();
    assert_eq!(err, CryptoError::Checksum);
    assert_eq!(err.to_string(), "checksum for decrypted data is invalid, corrupt AES key or data");
}

#[test]
fn tampered_truncated_and_garbage_files_fail_clearly() {
    let k = key("jet-v2-generated/codeship.aes");
    assert_eq!(crypto::decrypt(&k, &fixture("negative/env.tampered.encrypted")).unwrap_err(), CryptoError::Checksum);
    let trunc = crypto::decrypt(&k, &fixture("negative/env.truncated.encrypted")).unwrap_err();
    assert!(matches!(trunc, CryptoError::TooShort { .. } | CryptoError::NotBase64 { .. }), "{trunc:?}");
    let garbage = crypto::decrypt(&k, &fixture("negative/not-base64.encrypted")).unwrap_err();
    assert!(matches!(garbage, CryptoError::NotBase64 { .. }), "{garbage:?}");
}

#[test]
fn bad_keys_say_what_was_found() {
    let short = Key::parse(&fixture("negative/short-key.aes")).unwrap_err();
    assert_eq!(short, KeyError::WrongLength { len: 16 });
    assert!(short.to_string().contains("16 bytes"));
    let not_b64 = Key::parse(&fixture("negative/not-base64-key.aes")).unwrap_err();
    assert!(matches!(not_b64, KeyError::NotBase64 { .. }), "{not_b64:?}");
    assert_eq!(Key::parse(b"  \n").unwrap_err(), KeyError::Empty);
}
