//! The encryption test vectors (copied from the project's shared vectors): real jet v1
//! output, independently generated v2 files, and negative cases with their clear errors.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use slipway_core::crypto::{self, CryptoError, Format, Key, KeyError};

/// The vector files, compiled in so these tests also run in the browser (wasm32).
macro_rules! vectors {
    ($($name:literal),* $(,)?) => {
        fn fixture(rel: &str) -> Vec<u8> {
            match rel {
                $($name => include_bytes!(concat!("fixtures/vectors/", $name)).to_vec(),)*
                other => panic!("no vector {other}"),
            }
        }
    };
}

vectors!(
    "jet-v1-official/codeship.aes",
    "jet-v1-official/environment.encrypted",
    "jet-v1-official/environment.expected",
    "jet-v2-generated/codeship.aes",
    "jet-v2-generated/env",
    "jet-v2-generated/env.encrypted",
    "jet-v2-generated/env.v1.encrypted",
    "jet-v2-generated/empty",
    "jet-v2-generated/empty.encrypted",
    "jet-v2-generated/binary.bin",
    "jet-v2-generated/binary.bin.encrypted",
    "jet-v2-generated/dockercfg.json",
    "jet-v2-generated/dockercfg.json.encrypted",
    "jet-v2-generated/legacy.dockercfg",
    "jet-v2-generated/legacy.dockercfg.encrypted",
    "negative/wrong-key.aes",
    "negative/env.tampered.encrypted",
    "negative/env.truncated.encrypted",
    "negative/not-base64.encrypted",
    "negative/short-key.aes",
    "negative/not-base64-key.aes",
);

fn key(rel: &str) -> Key {
    Key::parse(&fixture(rel)).unwrap()
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn jet_v1_official_vector_decrypts_exactly() {
    let k = key("jet-v1-official/codeship.aes");
    let (plain, format) = crypto::decrypt(&k, &fixture("jet-v1-official/environment.encrypted")).unwrap();
    assert_eq!(format, Format::V1);
    assert_eq!(plain, fixture("jet-v1-official/environment.expected"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
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

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
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

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn wrong_key_gives_the_jet_checksum_error() {
    let k = key("negative/wrong-key.aes");
    let err = crypto::decrypt(&k, &fixture("jet-v2-generated/env.encrypted")).unwrap_err();
    assert_eq!(err, CryptoError::Checksum);
    assert_eq!(err.to_string(), "checksum for decrypted data is invalid, corrupt AES key or data");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn tampered_truncated_and_garbage_files_fail_clearly() {
    let k = key("jet-v2-generated/codeship.aes");
    assert_eq!(crypto::decrypt(&k, &fixture("negative/env.tampered.encrypted")).unwrap_err(), CryptoError::Checksum);
    let trunc = crypto::decrypt(&k, &fixture("negative/env.truncated.encrypted")).unwrap_err();
    assert!(matches!(trunc, CryptoError::TooShort { .. } | CryptoError::NotBase64 { .. }), "{trunc:?}");
    let garbage = crypto::decrypt(&k, &fixture("negative/not-base64.encrypted")).unwrap_err();
    assert!(matches!(garbage, CryptoError::NotBase64 { .. }), "{garbage:?}");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bad_keys_say_what_was_found() {
    let short = Key::parse(&fixture("negative/short-key.aes")).unwrap_err();
    assert_eq!(short, KeyError::WrongLength { len: 16 });
    assert!(short.to_string().contains("16 bytes"));
    let not_b64 = Key::parse(&fixture("negative/not-base64-key.aes")).unwrap_err();
    assert!(matches!(not_b64, KeyError::NotBase64 { .. }), "{not_b64:?}");
    assert_eq!(Key::parse(b"  \n").unwrap_err(), KeyError::Empty);
}
