//! Re-encrypt files under a new key, keeping each one's format: what the studio's crypto panel
//! does with dropped files (`slipway rekey` rewrites a whole project and keeps its own code).
//! All or nothing: a batch either rekeys every file or says which one did not decrypt.

use super::{CryptoError, Format, Key, RANDOM_BYTES, decrypt, encrypt};

/// One file re-encrypted: its new bytes and the formats it was read in and written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rekeyed {
    pub bytes: Vec<u8>,
    pub from: Format,
    pub to: Format,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RekeyError {
    #[error("does not decrypt with the old key: {0}")]
    Decrypt(#[from] CryptoError),
    /// v1 has no integrity check: a wrong key "decrypts" to garbage. Re-encrypting garbage
    /// would lose the secret, so a v1 file must read as what projects encrypt.
    #[error(
        "is a v1 file (no integrity check) and did not decrypt to an env file or a dockercfg: is the old key the one it was made with?"
    )]
    V1NotPlausible,
    #[error("cannot write v1: a v1 file is written as `v2` or `aead`")]
    V1Target,
}

/// A file of a batch that could not be rekeyed, by name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {error}")]
pub struct FileRekeyError {
    pub name: String,
    pub error: RekeyError,
}

/// The format a file in `from` is written back in: the same, except v1 (which nothing should
/// write any more) becomes `v1_to`.
pub fn target_format(from: Format, v1_to: Format) -> Format {
    if from == Format::V1 { v1_to } else { from }
}

/// Decrypt `data` with `old` and encrypt it with `new` in the same format (v1 as `v1_to`, which
/// must be `v2` or `aead`), using `random` for the IV/nonce.
pub fn rekey(
    old: &Key,
    new: &Key,
    data: &[u8],
    v1_to: Format,
    random: &[u8; RANDOM_BYTES],
) -> Result<Rekeyed, RekeyError> {
    if v1_to == Format::V1 {
        return Err(RekeyError::V1Target);
    }
    let (plain, from) = decrypt(old, data)?;
    if from == Format::V1 && !plausible_secret(&plain) {
        return Err(RekeyError::V1NotPlausible);
    }
    let to = target_format(from, v1_to);
    let bytes = encrypt(new, &plain, to, random)?;
    Ok(Rekeyed { bytes, from, to })
}

/// Rekey every `(name, bytes)` file, or none: the first file that fails is named in the error.
/// `random` is called once per file.
pub fn rekey_all(
    old: &Key,
    new: &Key,
    files: &[(String, Vec<u8>)],
    v1_to: Format,
    mut random: impl FnMut() -> [u8; RANDOM_BYTES],
) -> Result<Vec<Rekeyed>, FileRekeyError> {
    files
        .iter()
        .map(|(name, data)| {
            rekey(old, new, data, v1_to, &random()).map_err(|error| FileRekeyError { name: name.clone(), error })
        })
        .collect()
}

/// What a v1 file of a Codeship project holds: an env file or a dockercfg.
fn plausible_secret(plain: &[u8]) -> bool {
    crate::dockercfg::DockerCfg::parse(plain).is_ok()
        || std::str::from_utf8(plain).is_ok_and(|t| crate::envfile::parse(t).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_KEY: &str = include_str!("../../tests/fixtures/vectors/jet-v1-official/codeship.aes");
    const V1_FILE: &[u8] = include_bytes!("../../tests/fixtures/vectors/jet-v1-official/environment.encrypted");
    const V1_PLAIN: &[u8] = include_bytes!("../../tests/fixtures/vectors/jet-v1-official/environment.expected");

    fn key(b: u8) -> Key {
        Key::from_bytes([b; 32])
    }

    #[test]
    fn keeps_v2_and_aead_and_only_the_new_key_opens_the_result() {
        for format in [Format::V2, Format::Aead] {
            let plain = b"API_TOKEN=s3cret\n";
            let mut enc = encrypt(&key(1), plain, format, &[5; 16]).unwrap();
            if !enc.ends_with(b"\n") {
                enc.push(b'\n'); // as a file on disk usually ends
            }
            let out = rekey(&key(1), &key(2), &enc, Format::Aead, &[6; 16]).unwrap();
            assert_eq!((out.from, out.to), (format, format));
            assert_eq!(decrypt(&key(2), &out.bytes).unwrap(), (plain.to_vec(), format));
            assert!(decrypt(&key(1), &out.bytes).is_err(), "{format:?}: the old key still opens it");
        }
    }

    #[test]
    fn v1_is_upgraded_to_the_format_asked_for() {
        let old = Key::parse(V1_KEY.as_bytes()).unwrap();
        for v1_to in [Format::V2, Format::Aead] {
            let out = rekey(&old, &key(2), V1_FILE, v1_to, &[6; 16]).unwrap();
            assert_eq!((out.from, out.to), (Format::V1, v1_to));
            assert_eq!(decrypt(&key(2), &out.bytes).unwrap(), (V1_PLAIN.to_vec(), v1_to));
        }
        assert_eq!(rekey(&old, &key(2), V1_FILE, Format::V1, &[6; 16]).unwrap_err(), RekeyError::V1Target);
    }

    #[test]
    fn a_wrong_old_key_is_an_error_for_every_format() {
        let v2 = encrypt(&key(1), b"A=1\n", Format::V2, &[5; 16]).unwrap();
        let aead = encrypt(&key(1), b"A=1\n", Format::Aead, &[5; 16]).unwrap();
        let wrong = key(9);
        assert_eq!(rekey(&wrong, &key(2), &v2, Format::Aead, &[6; 16]), Err(CryptoError::Checksum.into()));
        assert_eq!(rekey(&wrong, &key(2), &aead, Format::Aead, &[6; 16]), Err(CryptoError::Authentication.into()));
        // v1 decrypts to garbage under a wrong key; the garbage is refused, not re-encrypted.
        assert_eq!(rekey(&wrong, &key(2), V1_FILE, Format::Aead, &[6; 16]), Err(RekeyError::V1NotPlausible));
    }

    #[test]
    fn a_batch_is_all_or_nothing_and_names_the_file_that_failed() {
        let good = encrypt(&key(1), b"A=1\n", Format::V2, &[5; 16]).unwrap();
        let other = encrypt(&key(3), b"B=2\n", Format::Aead, &[5; 16]).unwrap();
        let files = vec![("a.encrypted".to_string(), good.clone()), ("b.encrypted".to_string(), other)];
        let mut calls = 0;
        let e = rekey_all(&key(1), &key(2), &files, Format::Aead, || {
            calls += 1;
            [calls as u8; 16]
        })
        .unwrap_err();
        assert_eq!(e.name, "b.encrypted");
        assert_eq!(
            e.to_string(),
            format!("b.encrypted: does not decrypt with the old key: {}", CryptoError::Authentication)
        );

        let both = vec![("a".to_string(), good.clone()), ("c".to_string(), good)];
        let out = rekey_all(&key(1), &key(2), &both, Format::Aead, || [7; 16]).unwrap();
        assert_eq!(out.len(), 2);
        for r in out {
            assert_eq!(decrypt(&key(2), &r.bytes).unwrap().0, b"A=1\n");
        }
    }
}
