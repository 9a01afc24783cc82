//! One delivery attempt per kind: a Slack incoming webhook (`{"text": …}`), a webhook (the
//! run as JSON, signed with HMAC-SHA256 when it has a secret), an e-mail (`email.rs`).
//! Blocking: called on the blocking pool. Every reason is masked with the target's secrets
//! (a Slack URL is one), so a failure on record never shows them.

use super::email::Mailer;
use super::{Attempt, Message};
use crate::forge::Secret;
use hmac::{Hmac, KeyInit, Mac};
use std::sync::Arc;
use std::time::Duration;

/// The signature header of a webhook with `secret_file`: `sha256=` and the hex HMAC-SHA256 of
/// the raw body under the secret, as GitHub signs its own deliveries.
pub const SIGNATURE_HEADER: &str = "X-Slipway-Signature-256";

/// A target with what it needs loaded (its secrets read at start).
pub enum Sender {
    Slack { url: Secret },
    Webhook { url: String, secret: Option<Secret> },
    Email { to: Vec<String>, mailer: Arc<Mailer> },
}

impl Sender {
    pub fn attempt(&self, agent: &ureq::Agent, m: &Message) -> Attempt {
        match self {
            Sender::Slack { url } => {
                let body = serde_json::json!({ "text": m.slack_text() }).to_string();
                let outcome = post(agent, url.expose(), &body, &[]);
                mask(outcome, url)
            }
            Sender::Webhook { url, secret } => {
                let body = m.json().to_string();
                let mut headers = vec![("X-Slipway-Event", m.event.as_str().to_string())];
                if let Some(s) = secret {
                    headers.push((SIGNATURE_HEADER, signature(s, body.as_bytes())));
                }
                match secret {
                    Some(s) => mask(post(agent, url, &body, &headers), s),
                    None => post(agent, url, &body, &headers),
                }
            }
            Sender::Email { to, mailer } => mailer.attempt(to, m),
        }
    }
}

pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn mask(a: Attempt, secret: &Secret) -> Attempt {
    match a {
        Attempt::Retry(r) => Attempt::Retry(secret.mask(&r)),
        Attempt::GiveUp(r) => Attempt::GiveUp(secret.mask(&r)),
        done => done,
    }
}

/// The agent every HTTP notification goes through: no redirects (a 3xx is an answer), at
/// most `timeout` per attempt.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// POSTs `body` as JSON. The reason names the answer, never the URL (a Slack URL is secret;
/// the caller masks it from transport errors too).
fn post(agent: &ureq::Agent, url: &str, body: &str, headers: &[(&str, String)]) -> Attempt {
    let mut req = agent.post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    match req.send(body) {
        Ok(resp) => {
            let code = resp.status().as_u16();
            match code {
                200..=299 => Attempt::Done,
                429 | 500.. => Attempt::Retry(format!("the receiver answered HTTP {code}")),
                _ => Attempt::GiveUp(format!("the receiver answered HTTP {code}")),
            }
        }
        Err(e) => Attempt::Retry(format!("cannot reach the receiver: {}", e.to_string().replace(url, "its URL"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signature a receiver checks: GitHub's documented test vector for
    /// `X-Hub-Signature-256` ("Validating webhook deliveries"), the same construction.
    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        let secret = Secret::new("It's a Secret to Everybody").unwrap();
        assert_eq!(
            signature(&secret, b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
