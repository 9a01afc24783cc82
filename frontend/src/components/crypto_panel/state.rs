//! The crypto panel's one state and its actions (Yew's `use_reducer`). Pure: randomness comes
//! in with the action (a key's bytes, a nonce), so encrypting and decrypting are tested
//! without a browser. Downloads are the callers' side effects.

use slipway_core::crypto::{self, Format, Key, KeyError};
use std::rc::Rc;
use yew::Reducible;

/// What decrypting gave, and whether a dockercfg's secrets are shown.
#[derive(Clone, Debug, PartialEq, Default)]
pub(super) struct Decrypted {
    pub(super) bytes: Vec<u8>,
    pub(super) format: &'static str,
    pub(super) show_secrets: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct CryptoState {
    pub(super) key: String,
    /// The key is a secret: hidden as a password is, until asked for.
    pub(super) show_key: bool,
    pub(super) plaintext: String,
    pub(super) ciphertext: String,
    /// The format new files are written in.
    pub(super) format: Format,
    pub(super) decrypted: Option<Decrypted>,
    /// The last action's outcome: `(ok, text)`.
    pub(super) message: Option<(bool, String)>,
}

impl Default for CryptoState {
    fn default() -> Self {
        CryptoState {
            key: String::new(),
            show_key: false,
            plaintext: String::new(),
            ciphertext: String::new(),
            format: Format::Aead,
            decrypted: None,
            message: None,
        }
    }
}

pub(super) enum CryptoAction {
    Key(String),
    ToggleKey,
    /// A new key from these random bytes (the caller downloads it as codeship.aes).
    NewKey([u8; 32]),
    Plaintext(String),
    Ciphertext(String),
    Format(Format),
    /// Encrypt the plaintext with this random nonce.
    Encrypt([u8; 16]),
    Decrypt,
    ToggleSecrets,
}

/// What is wrong with a pasted key, in words a person can act on: the base64 decoder's own
/// message ("Invalid symbol 45, offset 3.") names byte values. The key's characters are not
/// repeated, only the position.
pub(super) fn key_problem(text: &str, e: &KeyError) -> String {
    const SHAPE: &str = "a codeship.aes key is one line of 44 characters: A–Z, a–z, 0–9, + and /, ending in =";
    match e {
        KeyError::NotBase64 { .. } => {
            let bad = text.trim().chars().position(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')));
            match bad {
                Some(i) => format!("not a key: character {} cannot appear in one; {SHAPE}", i + 1),
                None => format!("not a key: its length or `=` padding is off; {SHAPE}"),
            }
        }
        other => other.to_string(),
    }
}

impl CryptoState {
    fn parsed_key(&self) -> Result<Key, String> {
        Key::parse(self.key.as_bytes()).map_err(|e| format!("Key: {}", key_problem(&self.key, &e)))
    }
}

impl Reducible for CryptoState {
    type Action = CryptoAction;

    fn reduce(self: Rc<Self>, action: CryptoAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            CryptoAction::Key(k) => next.key = k,
            CryptoAction::ToggleKey => next.show_key = !next.show_key,
            CryptoAction::NewKey(bytes) => {
                next.key = Key::from_bytes(bytes).to_file_text().trim().to_string();
                next.message = Some((
                    true,
                    "New key generated and downloaded as codeship.aes. Keep it out of git: add it to .gitignore."
                        .into(),
                ));
            }
            CryptoAction::Plaintext(t) => next.plaintext = t,
            CryptoAction::Ciphertext(t) => next.ciphertext = t,
            CryptoAction::Format(f) => next.format = f,
            CryptoAction::Encrypt(nonce) => {
                next.message = Some(match next.parsed_key() {
                    Err(e) => (false, e),
                    Ok(k) => match crypto::encrypt(&k, next.plaintext.as_bytes(), next.format, &nonce) {
                        Ok(out) => {
                            next.ciphertext = String::from_utf8_lossy(&out).into_owned();
                            let (n, f) = (next.plaintext.len(), next.format.as_str());
                            (true, format!("Encrypted {n} bytes ({f} format)."))
                        }
                        Err(e) => (false, e.to_string()),
                    },
                });
            }
            CryptoAction::Decrypt => {
                next.message = Some(match next.parsed_key() {
                    Err(e) => (false, e),
                    Ok(k) => match crypto::decrypt(&k, next.ciphertext.as_bytes()) {
                        Ok((bytes, fmt)) => {
                            let note = if fmt == Format::V1 {
                                " (v1 has no integrity check: garbage means a wrong key)"
                            } else {
                                ""
                            };
                            let m = format!("Decrypted {} bytes ({} format){note}.", bytes.len(), fmt.as_str());
                            next.decrypted = Some(Decrypted { bytes, format: fmt.as_str(), show_secrets: false });
                            (true, m)
                        }
                        Err(e) => {
                            next.decrypted = None;
                            (false, e.to_string())
                        }
                    },
                });
            }
            CryptoAction::ToggleSecrets => {
                if let Some(d) = &mut next.decrypted {
                    d.show_secrets = !d.show_secrets;
                }
            }
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> String {
        match Key::parse(text.as_bytes()) {
            Ok(_) => panic!("{text:?} parsed as a key"),
            Err(e) => key_problem(text, &e),
        }
    }

    #[test]
    fn a_bad_key_says_where_not_what_the_decoder_saw() {
        let m = problem("abc-defgh");
        assert!(m.starts_with("not a key: character 4 cannot appear"), "{m}");
        assert!(!m.contains("symbol") && !m.contains("offset"), "{m}");
        let m = problem("abcde");
        assert!(m.contains("padding is off"), "{m}");
        // Right alphabet, wrong length: the core's message already says so.
        assert!(problem("YWJj").contains("decodes to 3 bytes"));
    }

    fn run(actions: Vec<CryptoAction>) -> CryptoState {
        let mut s = Rc::new(CryptoState::default());
        for a in actions {
            s = s.reduce(a);
        }
        (*s).clone()
    }

    #[test]
    fn what_is_encrypted_decrypts_to_the_same_bytes_with_secrets_hidden() {
        let s = run(vec![
            CryptoAction::NewKey([7; 32]),
            CryptoAction::Plaintext("A=1\n".into()),
            CryptoAction::Encrypt([1; 16]),
        ]);
        assert!(s.message.as_ref().is_some_and(|(ok, m)| *ok && m.contains("Encrypted 4 bytes (aead")), "{s:?}");
        assert!(!s.ciphertext.is_empty());
        let mut s = Rc::new(s).reduce(CryptoAction::Decrypt);
        let d = s.decrypted.clone().unwrap();
        assert_eq!((d.bytes.as_slice(), d.format, d.show_secrets), (&b"A=1\n"[..], "aead", false));
        s = s.reduce(CryptoAction::ToggleSecrets);
        assert!(s.decrypted.as_ref().unwrap().show_secrets);
    }

    #[test]
    fn a_bad_key_or_a_tampered_file_is_a_message_and_nothing_decrypted() {
        let s = run(vec![CryptoAction::Key("abc-".into()), CryptoAction::Encrypt([0; 16])]);
        assert!(s.message.as_ref().is_some_and(|(ok, m)| !ok && m.starts_with("Key: not a key")), "{s:?}");
        let s = run(vec![
            CryptoAction::NewKey([7; 32]),
            CryptoAction::Plaintext("x".into()),
            CryptoAction::Encrypt([1; 16]),
            CryptoAction::Decrypt,
            CryptoAction::Ciphertext("garbage".into()),
            CryptoAction::Decrypt,
        ]);
        assert!(s.decrypted.is_none() && s.message.as_ref().is_some_and(|(ok, _)| !ok), "{s:?}");
        assert!(run(vec![CryptoAction::ToggleKey]).show_key);
    }
}
