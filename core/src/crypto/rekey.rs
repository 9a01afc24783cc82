//! Re-encrypt secrets under a new key, the one implementation behind `slipway rekey` (a whole
//! project, files and inline values) and the studio's crypto panel (dropped files):
//! [`open`] a secret with the old key — or with the new one, when a rekey that stopped half way
//! already rewrote it — then [`seal`] it under the new key in its [`Target`] format, proven to
//! decrypt back to the same bytes. [`rekey_all`] does a batch all or nothing.
//!
//! v1 has no integrity check: a wrong key "decrypts" to garbage, and re-encrypting garbage would
//! lose the secret. So a v1 plaintext must read as what it holds (an env file or a dockercfg,
//! from the key that names it when the caller knows it, else either).

use super::{CryptoError, Format, Key, RANDOM_BYTES, V2_HEADER, decrypt, encrypt};
use crate::model::encrypted::Holds;
use base64::Engine;

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
    #[error("is a v1 file (no integrity check) and did not decrypt to {0}: is the old key the one it was made with?")]
    V1NotPlausible(&'static str),
    #[error("cannot write v1: a v1 file is written as `v2` or `aead`")]
    V1Target,
    #[error("the re-encrypted secret does not decrypt to the same bytes")]
    Unverified,
}

/// A file of a batch that could not be rekeyed, by name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {error}")]
pub struct FileRekeyError {
    pub name: String,
    pub error: RekeyError,
}

/// The format each secret is written back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Its own format, v1 included (`slipway rekey` without `--format`).
    Keep,
    /// Its own, except v1 becomes this (`v2` or `aead`): the studio writes no v1.
    V1As(Format),
    /// This one for every secret (`slipway rekey --format aead`).
    All(Format),
}

impl Target {
    pub fn format_for(self, from: Format) -> Format {
        match self {
            Target::Keep => from,
            Target::V1As(to) if from == Format::V1 => to,
            Target::V1As(_) => from,
            Target::All(to) => to,
        }
    }
}

/// Which key opened a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenedWith {
    Old,
    /// The new key: a rekey that stopped half way already rewrote it.
    New,
}

/// A secret decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub plain: Vec<u8>,
    pub from: Format,
    pub with: OpenedWith,
}

/// Decrypt `data` with `old`, else (when given) with `new`. `holds` is what the secret holds,
/// when the caller knows it from the key that names it; a v1 plaintext must read as that.
/// When neither key opens it, the error says why the old key did not.
pub fn open(old: &Key, new: Option<&Key>, data: &[u8], holds: Option<Holds>) -> Result<Opened, RekeyError> {
    match open_with(old, data, holds) {
        Ok((plain, from)) => Ok(Opened { plain, from, with: OpenedWith::Old }),
        Err(why) => match new.and_then(|k| open_with(k, data, holds).ok()) {
            Some((plain, from)) => Ok(Opened { plain, from, with: OpenedWith::New }),
            None => Err(why),
        },
    }
}

fn open_with(key: &Key, data: &[u8], holds: Option<Holds>) -> Result<(Vec<u8>, Format), RekeyError> {
    let (plain, from) = decrypt(key, data)?;
    if from == Format::V1 && !plausible(&plain, holds) {
        return Err(RekeyError::V1NotPlausible(match holds {
            Some(Holds::EnvLines) => "an env file",
            Some(Holds::DockerCfg) => "a dockercfg",
            None => "an env file or a dockercfg",
        }));
    }
    Ok((plain, from))
}

/// Whether a v1 plaintext is what the executor would read as `holds`.
fn plausible(plain: &[u8], holds: Option<Holds>) -> bool {
    let dockercfg = || crate::dockercfg::DockerCfg::parse(plain).is_ok();
    let env = || std::str::from_utf8(plain).is_ok_and(|t| crate::envfile::parse(t).is_ok());
    match holds {
        Some(Holds::DockerCfg) => dockercfg(),
        Some(Holds::EnvLines) => env(),
        None => dockercfg() || env(),
    }
}

/// Encrypt `plain` under `new` in format `to` and prove the result decrypts to the same bytes
/// in that format. `random` gives the IV/nonce.
///
/// v1 is written to keep a v1 secret's format: a v1 file is jet's v2 body without its
/// checksum. v2 is base64(IV ‖ CFB(hex(md5(p)) ‖ p)) and the checksum is exactly two AES
/// blocks, so with full-block CFB the ciphertext of `p` from byte 32 on is `p` encrypted with
/// the second ciphertext block as its IV: a valid v1 file whose IV is an unpredictable block.
pub fn seal(new: &Key, plain: &[u8], to: Format, random: &[u8; RANDOM_BYTES]) -> Result<Vec<u8>, RekeyError> {
    let bytes = if to == Format::V1 {
        let v2 = encrypt(new, plain, Format::V2, random)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = b64.decode(&v2[V2_HEADER.len()..]).map_err(|_| RekeyError::Unverified)?;
        b64.encode(&body[32..]).into_bytes()
    } else {
        encrypt(new, plain, to, random)?
    };
    match decrypt(new, &bytes) {
        Ok((back, format)) if back == plain && format == to => Ok(bytes),
        _ => Err(RekeyError::Unverified),
    }
}

/// Open `data` with `old` and seal it under `new` in the format `target` gives it.
pub fn rekey(
    old: &Key,
    new: &Key,
    data: &[u8],
    target: Target,
    random: &[u8; RANDOM_BYTES],
) -> Result<Rekeyed, RekeyError> {
    if let Target::V1As(Format::V1) = target {
        return Err(RekeyError::V1Target);
    }
    let opened = open(old, None, data, None)?;
    let to = target.format_for(opened.from);
    let bytes = seal(new, &opened.plain, to, random)?;
    Ok(Rekeyed { bytes, from: opened.from, to })
}

/// Rekey every `(name, bytes)` file, or none: the first file that fails is named in the error.
/// `random` is called once per file.
pub fn rekey_all(
    old: &Key,
    new: &Key,
    files: &[(String, Vec<u8>)],
    target: Target,
    mut random: impl FnMut() -> [u8; RANDOM_BYTES],
) -> Result<Vec<Rekeyed>, FileRekeyError> {
    files
        .iter()
        .map(|(name, data)| {
            rekey(old, new, data, target, &random()).map_err(|error| FileRekeyError { name: name.clone(), error })
        })
        .collect()
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
            let out = rekey(&key(1), &key(2), &enc, Target::V1As(Format::Aead), &[6; 16]).unwrap();
            assert_eq!((out.from, out.to), (format, format));
            assert_eq!(decrypt(&key(2), &out.bytes).unwrap(), (plain.to_vec(), format));
            assert!(decrypt(&key(1), &out.bytes).is_err(), "{format:?}: the old key still opens it");
        }
    }

    #[test]
    fn v1_is_upgraded_to_the_format_asked_for() {
        let old = Key::parse(V1_KEY.as_bytes()).unwrap();
        for v1_to in [Format::V2, Format::Aead] {
            let out = rekey(&old, &key(2), V1_FILE, Target::V1As(v1_to), &[6; 16]).unwrap();
            assert_eq!((out.from, out.to), (Format::V1, v1_to));
            assert_eq!(decrypt(&key(2), &out.bytes).unwrap(), (V1_PLAIN.to_vec(), v1_to));
        }
        assert_eq!(
            rekey(&old, &key(2), V1_FILE, Target::V1As(Format::V1), &[6; 16]).unwrap_err(),
            RekeyError::V1Target
        );
    }

    #[test]
    fn a_wrong_old_key_is_an_error_for_every_format() {
        let v2 = encrypt(&key(1), b"A=1\n", Format::V2, &[5; 16]).unwrap();
        let aead = encrypt(&key(1), b"A=1\n", Format::Aead, &[5; 16]).unwrap();
        let wrong = key(9);
        assert_eq!(
            rekey(&wrong, &key(2), &v2, Target::V1As(Format::Aead), &[6; 16]),
            Err(CryptoError::Checksum.into())
        );
        assert_eq!(
            rekey(&wrong, &key(2), &aead, Target::V1As(Format::Aead), &[6; 16]),
            Err(CryptoError::Authentication.into())
        );
        // v1 decrypts to garbage under a wrong key; the garbage is refused, not re-encrypted.
        assert_eq!(
            rekey(&wrong, &key(2), V1_FILE, Target::V1As(Format::Aead), &[6; 16]),
            Err(RekeyError::V1NotPlausible("an env file or a dockercfg"))
        );
    }

    #[test]
    fn a_batch_is_all_or_nothing_and_names_the_file_that_failed() {
        let good = encrypt(&key(1), b"A=1\n", Format::V2, &[5; 16]).unwrap();
        let other = encrypt(&key(3), b"B=2\n", Format::Aead, &[5; 16]).unwrap();
        let files = vec![("a.encrypted".to_string(), good.clone()), ("b.encrypted".to_string(), other)];
        let mut calls = 0;
        let e = rekey_all(&key(1), &key(2), &files, Target::V1As(Format::Aead), || {
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
        let out = rekey_all(&key(1), &key(2), &both, Target::V1As(Format::Aead), || [7; 16]).unwrap();
        assert_eq!(out.len(), 2);
        for r in out {
            assert_eq!(decrypt(&key(2), &r.bytes).unwrap().0, b"A=1\n");
        }
    }

    #[test]
    fn v1_is_kept_when_asked_and_its_plaintext_checked_by_what_it_holds() {
        let old = Key::parse(V1_KEY.as_bytes()).unwrap();
        let out = rekey(&old, &key(2), V1_FILE, Target::Keep, &[6; 16]).unwrap();
        assert_eq!((out.from, out.to), (Format::V1, Format::V1));
        assert_eq!(decrypt(&key(2), &out.bytes).unwrap(), (V1_PLAIN.to_vec(), Format::V1));
        // The official vector is an env file: it is not a plausible dockercfg.
        assert_eq!(open(&old, None, V1_FILE, Some(Holds::EnvLines)).unwrap().with, OpenedWith::Old);
        assert_eq!(open(&old, None, V1_FILE, Some(Holds::DockerCfg)), Err(RekeyError::V1NotPlausible("a dockercfg")));
    }

    #[test]
    fn a_secret_already_under_the_new_key_is_opened_with_it() {
        let done = encrypt(&key(2), b"A=1\n", Format::Aead, &[5; 16]).unwrap();
        let opened = open(&key(1), Some(&key(2)), &done, None).unwrap();
        assert_eq!((opened.plain.as_slice(), opened.with), (&b"A=1\n"[..], OpenedWith::New));
        // Neither key: the old key's reason.
        assert_eq!(open(&key(1), Some(&key(3)), &done, None), Err(CryptoError::Authentication.into()));
    }
}
