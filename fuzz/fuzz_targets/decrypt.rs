//! Every encrypted format reader (jet's v1 and v2, Slipway's aead1) and the key parser. The
//! input is read as a file in whatever format its first line says, and again as the body of
//! a v2 and of an aead1 file; then it is used as plaintext: both writable formats must round
//! trip it, and changing any one byte of its aead1 file must make decryption fail (the
//! guarantee docs/encryption.md gives).
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use slipway_core::crypto::{self, AEAD_HEADER, Format, Key, RANDOM_BYTES, V2_HEADER};
use std::sync::LazyLock;

/// The key the generated vectors were made with, so seeds from them decrypt for real.
static KEY: LazyLock<Key> = LazyLock::new(|| {
    Key::parse(include_bytes!("../../core/tests/fixtures/vectors/jet-v2-generated/codeship.aes")).expect("vector key")
});

fuzz_target!(init: slipway_fuzz::init(), |data: &[u8]| -> Corpus { slipway_fuzz::run(|| one(data)) });

fn one(data: &[u8]) {
    let key = &*KEY;
    let _ = Key::parse(data);
    let _ = crypto::decrypt(key, data);
    for header in [V2_HEADER, AEAD_HEADER] {
        let mut file = header.as_bytes().to_vec();
        file.extend_from_slice(data);
        let _ = crypto::decrypt(key, &file);
    }

    let mut random = [0u8; RANDOM_BYTES];
    let n = data.len().min(RANDOM_BYTES);
    random[..n].copy_from_slice(&data[..n]);
    for format in [Format::Aead, Format::V2] {
        let file = crypto::encrypt(key, data, format, &random).expect("aead and v2 are writable");
        let (plain, got) = crypto::decrypt(key, &file).expect("our own output decrypts");
        assert_eq!((plain.as_slice(), got), (data, format), "round trip through {format:?}");
    }

    // One changed byte, at a place and to a value the input picks.
    if let [a, b, x, ..] = *data
        && x != 0
    {
        let mut file = crypto::encrypt(key, data, Format::Aead, &random).expect("aead is writable");
        let at = usize::from(u16::from_le_bytes([a, b])) % file.len();
        file[at] ^= x;
        // The final newline may become other trailing whitespace: line ends change no data
        // (git's autocrlf), so they are tolerated (docs/encryption.md).
        let trailing_space = at == file.len() - 1 && file[at].is_ascii_whitespace();
        if let Ok((_, format)) = crypto::decrypt(key, &file)
            && !trailing_space
        {
            panic!("byte {at} of an aead1 file changed (xor {x:#04x}) and it still decrypted, as {format:?}");
        }
    }
}
