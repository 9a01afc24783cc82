//! `kind = "email"`: a plain-text mail through the server's `[smtp]` relay (lettre's blocking
//! SMTP client, on a blocking thread). The connection is upgraded with STARTTLS, and must be
//! on any host but this machine: plain SMTP only to a relay on loopback, where nothing
//! travels over a network. Port 465 speaks TLS from the start.

use super::{Attempt, Message};
use crate::config::notify::Smtp;
use crate::forge::Secret;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use std::time::Duration;

use crate::config::notify::mailbox;

/// Whether `host` is this machine.
fn loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The relay and its password (read at start).
pub struct Mailer {
    smtp: Smtp,
    password: Option<Secret>,
    timeout: Duration,
}

impl Mailer {
    pub fn new(smtp: Smtp, password: Option<Secret>, timeout: Duration) -> Mailer {
        Mailer { smtp, password, timeout }
    }

    fn transport(&self) -> Result<SmtpTransport, String> {
        let host = &self.smtp.host;
        let params = TlsParameters::new(host.trim_start_matches('[').trim_end_matches(']').to_string())
            .map_err(|e| format!("TLS for {host}: {e}"))?;
        let tls = match (self.smtp.port, loopback(host)) {
            (465, _) => Tls::Wrapper(params),
            // STARTTLS when the relay offers it, else plain: on this machine only.
            (_, true) => Tls::Opportunistic(params),
            (_, false) => Tls::Required(params),
        };
        let mut b =
            SmtpTransport::builder_dangerous(host.as_str()).port(self.smtp.port).tls(tls).timeout(Some(self.timeout));
        if let (Some(user), Some(password)) = (&self.smtp.username, &self.password) {
            b = b.credentials(Credentials::new(user.clone(), password.expose().to_string()));
        }
        Ok(b.build())
    }

    /// One attempt to send `m` to `to`. Blocking.
    pub fn attempt(&self, to: &[String], m: &Message) -> Attempt {
        let built = (|| {
            let mut b = lettre::Message::builder()
                .from(mailbox(&self.smtp.from).ok_or("the `[smtp]` `from` address is not valid")?)
                .subject(format!(
                    "[Slipway] {} {}: {} (run {})",
                    m.project,
                    m.branch_or_dash(),
                    m.event.as_str(),
                    m.run_id
                ))
                .header(ContentType::TEXT_PLAIN);
            for a in to {
                b = b.to(mailbox(a).ok_or("an address in `to` is not valid")?);
            }
            b.body(m.text()).map_err(|_| "the mail cannot be built")
        })();
        let mail = match built {
            Ok(mail) => mail,
            Err(e) => return Attempt::GiveUp(e.to_string()),
        };
        let transport = match self.transport() {
            Ok(t) => t,
            Err(e) => return Attempt::GiveUp(e),
        };
        let mask = |text: String| match &self.password {
            Some(p) => p.mask(&text),
            None => text,
        };
        // A relay's answer is not repeated: one may echo what it was sent, and `AUTH PLAIN`'s
        // argument is the user and password in base64 (found by an adversarial pass). Its code
        // says enough; errors without an answer (connection, TLS) are ours and kept.
        let said = |e: &lettre::transport::smtp::Error| match e.status() {
            Some(code) => format!("it answered {code}"),
            None => e.to_string(),
        };
        match transport.send(&mail) {
            Ok(_) => Attempt::Done,
            // A 5xx answer will not change (a refused recipient, say).
            Err(e) if e.is_permanent() => Attempt::GiveUp(mask(format!(
                "the SMTP relay {}:{} refused the mail: {}",
                self.smtp.host,
                self.smtp.port,
                said(&e)
            ))),
            Err(e) => {
                let mut why = format!("the SMTP relay {}:{}: {}", self.smtp.host, self.smtp.port, said(&e));
                if why.contains("STARTTLS") {
                    why.push_str(
                        " (mail goes in the clear only to a relay on this machine: turn STARTTLS on in the relay, or use port 465)",
                    );
                }
                Attempt::Retry(mask(why))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_this_machine_is_loopback() {
        for host in ["localhost", "127.0.0.1", "127.0.0.53", "::1", "[::1]"] {
            assert!(super::loopback(host), "{host}");
        }
        for host in ["smtp.example.com", "10.0.0.1", "localhost.example.com", "[2001:db8::1]"] {
            assert!(!super::loopback(host), "{host}");
        }
    }
}
