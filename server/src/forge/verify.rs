//! Webhook verification, on the raw body and before any parsing: a body that is not signed
//! with the project's secret never reaches the JSON parser.
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
//! - Gitea / Forgejo: `X-Gitea-Signature` / `X-Forgejo-Signature: <hex HMAC-SHA256>`.
//! - GitLab: `X-Gitlab-Token: <the secret itself>`.
//!
//! Every comparison is constant-time: HMACs through `hmac`'s `verify_slice`, GitLab's token
//! by comparing SHA-256 digests of both sides with `subtle` (equal lengths, so the length of
//! the secret does not leak either).

use super::{Forge, Secret};
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// GitHub caps webhook payloads at 25 MB; a push of 2,048 commits stays far below this.
pub const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// A delivery whose signature checked out: the only input [`super::trigger::parse`] takes.
#[derive(Debug)]
pub struct Verified<'a> {
    pub forge: Forge,
    /// The forge's event name: `push`, `pull_request`, `Push Hook`, `Merge Request Hook` …
    pub event: String,
    /// The delivery id, for de-duplication (a forge re-sends a delivery with the same id).
    pub delivery: Option<String>,
    pub body: &'a [u8],
    /// Sent as `application/x-www-form-urlencoded` (GitHub's other content type): the JSON is
    /// then inside a `payload=` field, which is not read.
    pub form_encoded: bool,
}

/// Why a delivery was refused. Nothing about the secret or the expected signature is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    TooLarge { limit: usize, size: usize },
    MissingSignature { header: &'static str },
    MalformedSignature { header: &'static str },
    WrongSignature { header: &'static str },
    MissingEvent { header: &'static str },
}

impl std::error::Error for Refused {}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::TooLarge { limit, size } => write!(f, "the body has {size} bytes, more than the limit of {limit}"),
            Refused::MissingSignature { header } => write!(f, "the delivery is not signed (no {header} header)"),
            Refused::MalformedSignature { header } => write!(f, "the {header} header is not a hex SHA-256 signature"),
            Refused::WrongSignature { header } => {
                write!(f, "the {header} header does not match this project's webhook secret")
            }
            Refused::MissingEvent { header } => write!(f, "no {header} header names the event"),
        }
    }
}

impl Refused {
    /// 413 for an oversized body, 401 for everything about the signature, 400 for a signed
    /// delivery that does not say what it is.
    pub fn status(&self) -> StatusCode {
        match self {
            Refused::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::MissingEvent { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// What can be checked before a byte of the body is read: the signature header is there and
/// well-formed (GitHub, Gitea: 64 hex digits), or the token matches (GitLab, whose token does
/// not depend on the body). A delivery that fails here is refused without reading its body,
/// so unsigned requests cost the server no memory whatever their size.
pub fn precheck(forge: Forge, secret: &Secret, headers: &HeaderMap) -> Result<(), Refused> {
    match forge {
        Forge::GitHub => signature(headers, "X-Hub-Signature-256", Some("sha256=")).map(|_| ()),
        Forge::Gitea => signature(headers, gitea_header(headers), None).map(|_| ()),
        Forge::GitLab => check_token(headers, secret),
    }
}

/// Gitea sends both names; Forgejo its own.
fn gitea_header(headers: &HeaderMap) -> &'static str {
    ["X-Forgejo-Signature", "X-Gitea-Signature"]
        .into_iter()
        .find(|h| headers.contains_key(*h))
        .unwrap_or("X-Gitea-Signature")
}

/// Checks size and signature of a delivery for a project on `forge` with `secret`.
pub fn verify<'a>(
    forge: Forge,
    secret: &Secret,
    headers: &HeaderMap,
    body: &'a [u8],
    max_body_bytes: usize,
) -> Result<Verified<'a>, Refused> {
    if body.len() > max_body_bytes {
        return Err(Refused::TooLarge { limit: max_body_bytes, size: body.len() });
    }
    match forge {
        Forge::GitHub => check_hmac(headers, "X-Hub-Signature-256", Some("sha256="), secret, body)?,
        Forge::Gitea => check_hmac(headers, gitea_header(headers), None, secret, body)?,
        Forge::GitLab => check_token(headers, secret)?,
    }
    let (event_headers, delivery_headers): (&[&'static str], &[&str]) = match forge {
        Forge::GitHub => (&["X-GitHub-Event"], &["X-GitHub-Delivery"]),
        Forge::Gitea => (&["X-Forgejo-Event", "X-Gitea-Event"], &["X-Forgejo-Delivery", "X-Gitea-Delivery"]),
        // Idempotency-Key stays the same when GitLab retries a delivery (GitLab 17.4 and later).
        Forge::GitLab => (&["X-Gitlab-Event"], &["Idempotency-Key", "X-Gitlab-Event-UUID"]),
    };
    let event = first_header(headers, event_headers).ok_or(Refused::MissingEvent { header: event_headers[0] })?;
    let delivery = first_header(headers, delivery_headers);
    let form_encoded = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    Ok(Verified { forge, event, delivery, body, form_encoded })
}

fn first_header(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| headers.get(*n)?.to_str().ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()))
}

/// The 32 bytes of a hex HMAC-SHA256 signature header.
fn signature(headers: &HeaderMap, header: &'static str, prefix: Option<&str>) -> Result<Vec<u8>, Refused> {
    let value = headers.get(header).ok_or(Refused::MissingSignature { header })?;
    let value = value.to_str().map_err(|_| Refused::MalformedSignature { header })?.trim();
    let hex = match prefix {
        Some(p) => value.strip_prefix(p).ok_or(Refused::MalformedSignature { header })?,
        None => value,
    };
    decode_hex(hex).filter(|b| b.len() == 32).ok_or(Refused::MalformedSignature { header })
}

fn check_hmac(
    headers: &HeaderMap,
    header: &'static str,
    prefix: Option<&str>,
    secret: &Secret,
    body: &[u8],
) -> Result<(), Refused> {
    let given = signature(headers, header, prefix)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| Refused::WrongSignature { header })
}

fn check_token(headers: &HeaderMap, secret: &Secret) -> Result<(), Refused> {
    let header = "X-Gitlab-Token";
    let given = headers.get(header).ok_or(Refused::MissingSignature { header })?;
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(secret.expose().as_bytes());
    if bool::from(a.as_slice().ct_eq(b.as_slice())) { Ok(()) } else { Err(Refused::WrongSignature { header }) }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The hex HMAC-SHA256 of `body` under `secret`: what GitHub and Gitea put in their headers.
/// (Used by the tests to sign deliveries the way the forges do.)
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}
