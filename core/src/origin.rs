//! An HTTP(S) origin as a setting or a variable names one: scheme, host and port, for the
//! endpoints the server lets a project's variables choose (the server's config parser and
//! its built-in generators compare them). Parsing only: names are never resolved.

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An endpoint's scheme, host (lower-case; an IPv6 address in brackets) and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Origin {
    /// `http(s)://host[:port][/]` only. AWS's endpoints are roots; refusing a path, query or
    /// user keeps an endpoint variable from aiming a request at another service's path.
    pub fn parse(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            _ => return None,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
        let (host, port) = match authority.strip_prefix('[') {
            // `[v6]` or `[v6]:port`
            Some(v6) => {
                let (addr, after) = v6.split_once(']')?;
                if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
                    return None;
                }
                (format!("[{addr}]"), after)
            }
            None => {
                let end = authority.find(':').unwrap_or(authority.len());
                let name = &authority[..end];
                let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
                if name.is_empty() || !name.bytes().all(ok) {
                    return None;
                }
                (name.to_string(), &authority[end..])
            }
        };
        let port = match port {
            "" => scheme.default_port(),
            p => {
                let digits = p.strip_prefix(':')?;
                if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse::<u16>().ok().filter(|p| *p != 0)?
            }
        };
        Some(Origin { scheme, host, port })
    }

    /// [`Origin::parse`] for a setting (`--generator-endpoint`, `[generators] endpoints`),
    /// with what to give instead.
    pub fn parse_setting(url: &str) -> Result<Origin, String> {
        Origin::parse(url).ok_or_else(|| {
            format!("`{url}` is not an endpoint: give `http://HOST[:PORT]` or `https://HOST[:PORT]`, with no path, query or user")
        })
    }

    /// The host as a request signs it: with the port unless it is the scheme's default.
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }

    /// The URL of the root, which the request is sent to.
    pub fn url(&self) -> String {
        format!("{self}/")
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_normalized_only_in_case_and_default_port() {
        let o = Origin::parse("HTTP://LocalHost:5005/").unwrap();
        assert_eq!(o.to_string(), "http://localhost:5005");
        assert_eq!((o.url(), o.authority()), ("http://localhost:5005/".to_string(), "localhost:5005".to_string()));
        assert_eq!(Origin::parse("https://sts.example:443"), Origin::parse("https://sts.example"));
        assert_eq!(Origin::parse("http://h:080"), Origin::parse("http://h"));
        assert_eq!(Origin::parse("http://[::1]:9000").unwrap().to_string(), "http://[::1]:9000");
        for different in ["http://localhost:5005", "http://127.1:5005", "http://[::1]:5005", "http://127.0.0.1.:5005"] {
            assert_ne!(Origin::parse(different), Origin::parse("http://127.0.0.1:5005"), "{different}");
        }
    }

    #[test]
    fn anything_but_a_root_url_is_refused() {
        for bad in [
            "127.0.0.1:5000",
            "ftp://h",
            "file:///etc",
            "http://",
            "http://h/path",
            "http://h?x=1",
            "http://user@h",
            "http://user:pw@h:80",
            "http://h:",
            "http://h:0",
            "http://h:65536",
            "http://h:80:80",
            "http://[]:80",
            "http://[::1",
            "http://[::1]x",
            "http://h%2e",
            "http://h#f",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
        assert!(Origin::parse_setting("http://h/x").unwrap_err().contains("`http://h/x` is not an endpoint"));
    }
}
