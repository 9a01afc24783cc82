//! What slipway.toml says about notifications and badges (used by `crate::notify` and
//! `http::badge`):
//!
//! ```toml
//! [smtp]                                   # for `kind = "email"`
//! host = "smtp.example.com"
//! port = 587                               # default 587; 465 is TLS from the start
//! from = "Slipway <ci@example.com>"
//! username = "ci@example.com"              # optional
//! password_file = "secrets/smtp.password"  # with username
//!
//! [[project]]
//! name = "web"
//! public_badge = true                      # the badge without the token
//!
//! [[project.notify]]
//! kind = "slack"
//! url_file = "secrets/slack.url"           # the incoming-webhook URL is a secret
//! on = ["failed", "fixed"]                 # the default; also "success", "started"
//! branches = ["main"]                      # and `exclude`, as for the project
//!
//! [[project.notify]]
//! kind = "webhook"
//! url = "https://hooks.example.com/ci"
//! secret_file = "secrets/hook.secret"      # optional: X-Slipway-Signature-256
//!
//! [[project.notify]]
//! kind = "email"
//! to = ["team@example.com"]
//! ```
//!
//! Secrets are named by file only (an inline Slack URL or password is an error), and read at
//! start, so a missing one stops `slipway serve` with its name.

use super::{BranchFilter, ConfigError};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A `[[project.notify]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    url_file: Option<Spanned<PathBuf>>,
    secret_file: Option<Spanned<PathBuf>>,
    to: Option<Spanned<Vec<String>>>,
    on: Option<Spanned<Vec<String>>>,
    branches: Option<Spanned<Vec<String>>>,
    exclude: Option<Spanned<Vec<String>>>,
    /// Accepted only to be refused with a useful message.
    secret: Option<Spanned<toml::Value>>,
}

/// `[smtp]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    host: Spanned<String>,
    port: Option<Spanned<i64>>,
    from: Spanned<String>,
    username: Option<Spanned<String>>,
    password_file: Option<Spanned<PathBuf>>,
    /// Accepted only to be refused with a useful message.
    password: Option<Spanned<toml::Value>>,
}

/// What a run's change of state is, for `on = [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Started,
    Success,
    Failed,
    /// A success after a failed run of the same branch.
    Fixed,
}

impl Event {
    pub const ALL: [Event; 4] = [Event::Started, Event::Success, Event::Failed, Event::Fixed];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Success => "success",
            Event::Failed => "failed",
            Event::Fixed => "fixed",
        }
    }
}

/// Where a notification goes. File names only: what they hold is read at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Slack { url_file: PathBuf },
    Webhook { url: String, secret_file: Option<PathBuf> },
    Email { to: Vec<String> },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Slack { .. } => "slack",
            Kind::Webhook { .. } => "webhook",
            Kind::Email { .. } => "email",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub on: Vec<Event>,
    pub branches: BranchFilter,
}

/// `[smtp]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub from: String,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// Everything about notifications and badges in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// By project name.
    pub targets: HashMap<String, Vec<Target>>,
    pub public_badges: std::collections::HashSet<String>,
    pub smtp: Option<Smtp>,
}

/// `text` as an e-mail address (`ci@example.com` or `Name <ci@example.com>`).
pub fn mailbox(text: &str) -> Option<lettre::message::Mailbox> {
    text.trim().parse().ok()
}

/// The default of `on`: CodeShip notified on failures and fixes.
const DEFAULT_ON: [Event; 2] = [Event::Failed, Event::Fixed];

/// Reads `[smtp]`; `error` places a message at a span of the file.
pub fn smtp(
    raw: Option<&RawSmtp>,
    error: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
    base: &Path,
) -> Result<Option<Smtp>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    if let Some(p) = &raw.password {
        return Err(error(
            p.span(),
            "`[smtp]` `password` would keep the password in the config file; put it in a file readable only by the server and set `password_file = \"…\"`".into(),
        ));
    }
    let host = raw.host.get_ref().trim();
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
        return Err(error(raw.host.span(), format!("`[smtp]` `host = {host:?}` is not a host name")));
    }
    let port = match &raw.port {
        Some(p) => u16::try_from(*p.get_ref())
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| error(p.span(), format!("`[smtp]` `port = {}` is not a port (1 to 65535)", p.get_ref())))?,
        None => 587,
    };
    if mailbox(raw.from.get_ref()).is_none() {
        return Err(error(
            raw.from.span(),
            format!(
                "`[smtp]` `from = {:?}` is not an address like \"ci@example.com\" or \"Slipway <ci@example.com>\"",
                raw.from.get_ref()
            ),
        ));
    }
    if raw.password_file.is_some() != raw.username.is_some() {
        let span = raw.password_file.as_ref().map(|p| p.span()).or(raw.username.as_ref().map(|u| u.span()));
        return Err(error(
            span.unwrap_or(raw.host.span()),
            "`[smtp]` `username` and `password_file` go together".into(),
        ));
    }
    Ok(Some(Smtp {
        host: host.to_string(),
        port,
        from: raw.from.get_ref().clone(),
        username: raw.username.as_ref().map(|u| u.get_ref().clone()),
        password_file: raw.password_file.as_ref().map(|p| base.join(p.get_ref())),
    }))
}

/// Reads one project's `[[project.notify]]` entries; `smtp` is whether the file has `[smtp]`.
pub fn targets(
    project: &str,
    raw: &[RawTarget],
    smtp: bool,
    error: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
    base: &Path,
) -> Result<Vec<Target>, ConfigError> {
    let at = |span: std::ops::Range<usize>, m: String| {
        error(span, format!("project `{project}`: `[[project.notify]]`: {m}"))
    };
    let mut out = Vec::new();
    for t in raw {
        if let Some(s) = &t.secret {
            return Err(at(
                s.span(),
                "`secret` would keep the secret in the config file; put it in a file readable only by the server and set `secret_file = \"…\"`".into(),
            ));
        }
        let kind_span = t.kind.span();
        let not_for = |key: &str, present: Option<std::ops::Range<usize>>| match present {
            Some(span) => Err(at(span, format!("`{key}` does not apply to `kind = {:?}`", t.kind.get_ref()))),
            None => Ok(()),
        };
        let span_of = |v: &Option<Spanned<PathBuf>>| v.as_ref().map(|v| v.span());
        let kind = match t.kind.get_ref().as_str() {
            "slack" => {
                if let Some(u) = &t.url {
                    return Err(at(
                        u.span(),
                        "a Slack incoming-webhook URL is a secret (whoever has it can post to the channel); put it in a file readable only by the server and set `url_file = \"…\"`".into(),
                    ));
                }
                not_for("secret_file", span_of(&t.secret_file))?;
                not_for("to", t.to.as_ref().map(|v| v.span()))?;
                let Some(f) = &t.url_file else {
                    return Err(at(
                        kind_span,
                        "`kind = \"slack\"` needs `url_file`: a file holding the incoming-webhook URL".into(),
                    ));
                };
                Kind::Slack { url_file: base.join(f.get_ref()) }
            }
            "webhook" => {
                not_for("url_file", span_of(&t.url_file))?;
                not_for("to", t.to.as_ref().map(|v| v.span()))?;
                let Some(u) = &t.url else {
                    return Err(at(kind_span, "`kind = \"webhook\"` needs `url`".into()));
                };
                let url = u.get_ref().trim();
                if !(url.starts_with("https://") || url.starts_with("http://")) || url.chars().any(char::is_whitespace)
                {
                    return Err(at(u.span(), format!("`url = {url:?}` is not an http(s) URL")));
                }
                Kind::Webhook {
                    url: url.to_string(),
                    secret_file: t.secret_file.as_ref().map(|f| base.join(f.get_ref())),
                }
            }
            "email" => {
                not_for("url", t.url.as_ref().map(|v| v.span()))?;
                not_for("url_file", span_of(&t.url_file))?;
                not_for("secret_file", span_of(&t.secret_file))?;
                let Some(to) = &t.to else {
                    return Err(at(kind_span, "`kind = \"email\"` needs `to = [\"address\", …]`".into()));
                };
                if to.get_ref().is_empty() {
                    return Err(at(to.span(), "`to` is empty: name at least one address".into()));
                }
                if let Some(bad) = to.get_ref().iter().find(|a| mailbox(a).is_none()) {
                    return Err(at(to.span(), format!("`to`: {bad:?} is not an e-mail address")));
                }
                if !smtp {
                    return Err(at(kind_span, "`kind = \"email\"` is sent through the server's `[smtp]` section, which the file does not have".into()));
                }
                Kind::Email { to: to.get_ref().clone() }
            }
            other => {
                return Err(at(kind_span, format!("`kind = {other:?}`: expected \"slack\", \"webhook\" or \"email\"")));
            }
        };
        let on = match &t.on {
            None => DEFAULT_ON.to_vec(),
            Some(on) => {
                let mut events = Vec::new();
                for name in on.get_ref() {
                    let Some(e) = Event::ALL.into_iter().find(|e| e.as_str() == name) else {
                        return Err(at(
                            on.span(),
                            format!(
                                "`on`: {name:?} is not an event; expected \"failed\", \"fixed\", \"success\" or \"started\""
                            ),
                        ));
                    };
                    if !events.contains(&e) {
                        events.push(e);
                    }
                }
                if events.is_empty() {
                    return Err(at(
                        on.span(),
                        "`on` is empty, so nothing would ever be sent; remove the entry instead".into(),
                    ));
                }
                events
            }
        };
        let globs = |v: &Option<Spanned<Vec<String>>>| -> Result<Vec<String>, ConfigError> {
            let Some(v) = v else { return Ok(Vec::new()) };
            if v.get_ref().iter().any(|g| g.is_empty()) {
                return Err(at(v.span(), "an empty branch pattern matches nothing; remove it".into()));
            }
            Ok(v.get_ref().clone())
        };
        let branches = BranchFilter { include: globs(&t.branches)?, exclude: globs(&t.exclude)? };
        out.push(Target { kind, on, branches });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::parse_config;
    use super::*;

    fn settings(text: &str) -> Result<Settings, String> {
        parse_config(Path::new("/etc/slipway/slipway.toml"), text).map(|c| c.notify).map_err(|e| e.to_string())
    }

    #[test]
    fn entries_are_read_with_their_defaults() {
        let s = settings(
            "[smtp]\nhost = \"127.0.0.1\"\nport = 2525\nfrom = \"ci@example.com\"\n\n\
             [[project]]\nname = \"web\"\npath = \"web\"\npublic_badge = true\n\n\
             [[project.notify]]\nkind = \"slack\"\nurl_file = \"slack.url\"\n\n\
             [[project.notify]]\nkind = \"webhook\"\nurl = \"https://hooks.example.com/ci\"\nsecret_file = \"s\"\non = [\"started\", \"success\"]\nbranches = [\"main\"]\n\n\
             [[project.notify]]\nkind = \"email\"\nto = [\"team@example.com\"]\n\n\
             [[project]]\nname = \"api\"\nrepo = \"https://github.com/acme/api.git\"\n",
        )
        .unwrap();
        assert!(s.public_badges.contains("web") && !s.public_badges.contains("api"));
        let web = &s.targets["web"];
        assert_eq!(
            web[0],
            Target {
                kind: Kind::Slack { url_file: "/etc/slipway/slack.url".into() },
                on: vec![Event::Failed, Event::Fixed],
                branches: BranchFilter::default(),
            }
        );
        assert_eq!(web[1].on, vec![Event::Started, Event::Success]);
        assert!(web[1].branches.matches("main") && !web[1].branches.matches("dev"));
        assert_eq!(web[2].kind, Kind::Email { to: vec!["team@example.com".into()] });
        assert_eq!(s.smtp.unwrap().port, 2525);
        assert!(s.targets.get("api").is_none_or(|t| t.is_empty()));
    }

    #[test]
    fn mistakes_name_the_key_and_its_position() {
        let project = "[[project]]\nname = \"web\"\npath = \"web\"\n\n[[project.notify]]\n";
        let cases = [
            (
                "kind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"\n",
                "7:7",
                "a Slack incoming-webhook URL is a secret",
            ),
            ("kind = \"slack\"\n", "6:8", "needs `url_file`"),
            ("kind = \"pager\"\n", "6:8", "expected \"slack\", \"webhook\" or \"email\""),
            ("kind = \"webhook\"\nurl = \"ftp://x\"\n", "7:7", "is not an http(s) URL"),
            ("kind = \"webhook\"\nurl = \"https://x\"\nsecret = \"s\"\n", "8:10", "put it in a file"),
            ("kind = \"webhook\"\nurl = \"https://x\"\non = [\"broken\"]\n", "8:6", "\"broken\" is not an event"),
            ("kind = \"email\"\nto = [\"team@example.com\"]\n", "6:8", "the file does not have"),
            ("kind = \"email\"\nto = [\"not an address\"]\n", "7:6", "is not an e-mail address"),
        ];
        for (entry, at, message) in cases {
            let e = settings(&format!("{project}{entry}")).unwrap_err();
            assert!(e.starts_with(&format!("/etc/slipway/slipway.toml:{at}")), "{entry}: {e}");
            assert!(e.contains(message), "{entry}: {e}");
        }
        // toml places an unknown key in its own words.
        let e =
            settings(&format!("{project}kind = \"webhook\"\nurl = \"https://x\"\nchannel = \"#ci\"\n")).unwrap_err();
        assert!(e.contains("line 8") && e.contains("unknown field `channel`"), "{e}");
        let e = settings("[smtp]\nhost = \"h\"\nfrom = \"ci@example.com\"\npassword = \"hunter2\"\n").unwrap_err();
        assert!(e.contains("4:12") && e.contains("password_file"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
}
