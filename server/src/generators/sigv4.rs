//! AWS Signature Version 4 for the two calls the ECR generator makes (ECR's
//! `GetAuthorizationToken`, STS's `AssumeRole`): a pure function of the request, the
//! credentials and the time, checked against AWS's published test suite (see the tests).
//!
//! Written here rather than taken from `aws-sigv4`: that crate brings the smithy runtime
//! (a dozen crates) for what is forty lines over `hmac` and `sha2`, which the server already
//! links. Only what these calls need is supported: header signing (no presigned URLs, no
//! chunked payloads, no S3 path rules).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key, with the session token of temporary credentials (from STS).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key id names the key (AWS prints it in errors); the rest never leaves.
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// What is signed of a request. `host` is what the `Host` header will say (`host[:port]`,
/// without a default port); `headers` are the other headers sent, all of them signed.
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Where and when: `amz_date` is `YYYYMMDDTHHMMSSZ` (see [`amz_date`]).
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    pub amz_date: &'a str,
}

/// The headers to add to the request: `x-amz-date`, `x-amz-security-token` with temporary
/// credentials, and `authorization`.
pub fn sign(req: &Request, creds: &Credentials, scope: &Scope) -> Vec<(&'static str, String)> {
    let mut added = vec![("x-amz-date", scope.amz_date.to_string())];
    if let Some(token) = &creds.session_token {
        added.push(("x-amz-security-token", token.clone()));
    }
    let mut headers: Vec<(String, String)> = vec![("host".to_string(), req.host.to_string())];
    headers.extend(req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())));
    headers.extend(added.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let (canonical, signed_headers) = canonical_request(req, &headers);
    let date = &scope.amz_date[..scope.amz_date.len().min(8)];
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign =
        format!("{ALGORITHM}\n{}\n{credential_scope}\n{}", scope.amz_date, hex_sha256(canonical.as_bytes()));
    let key = signing_key(&creds.secret_access_key, date, scope.region, scope.service);
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    added.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    added
}

/// The canonical request and the list of signed header names.
fn canonical_request(req: &Request, headers: &[(String, String)]) -> (String, String) {
    // Headers: lower-case names, sorted; values trimmed with inner runs of spaces collapsed;
    // a repeated name's values joined by commas in the order sent.
    let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut canonical_headers = String::new();
    for name in &names {
        let values: Vec<String> = headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        let _ = writeln!(canonical_headers, "{name}:{}", values.join(","));
    }
    let signed_headers = names.join(";");
    let mut query: Vec<(String, String)> =
        req.query.iter().map(|(k, v)| (uri_encode(k, true), uri_encode(v, true))).collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let path = if req.path.is_empty() { "/".to_string() } else { uri_encode(req.path, false) };
    let canonical =
        format!("{}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{}", req.method, hex_sha256(req.body));
    (canonical, signed_headers)
}

/// RFC 3986 percent-encoding of everything but unreserved characters (and `/` in a path).
pub fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b'/' if !encode_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex_sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time, in UTC.
pub fn amz_date(unix: i64) -> String {
    let c = slipway_core::template::timefmt::civil(unix);
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

#[cfg(test)]
mod tests {
    //! Cases of AWS's Signature Version 4 test suite (aws-sig-v4-test-suite, as published with
    //! the SigV4 documentation): the example credentials, `example.amazonaws.com`, region
    //! `us-east-1`, service `service`, 2015-08-30T12:36:00Z. Each expected `Authorization` is
    //! the suite's `.authz` file.
    use super::*;

    const SUITE_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    fn suite(
        method: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &str,
        token: Option<&str>,
    ) -> String {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_string),
        };
        let req = Request { method, host: "example.amazonaws.com", path: "/", query, headers, body: body.as_bytes() };
        let scope = Scope { region: "us-east-1", service: "service", amz_date: &amz_date(1_440_938_160) };
        let added = sign(&req, &creds, &scope);
        assert_eq!(added[0], ("x-amz-date", "20150830T123600Z".to_string()));
        added.into_iter().find(|(k, _)| *k == "authorization").unwrap().1
    }

    fn authz(signed: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={signature}"
        )
    }

    #[test]
    fn get_vanilla() {
        let want = authz("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        assert_eq!(suite("GET", &[], &[], "", None), want);
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let q = [("Param2", "value2"), ("Param1", "value1")];
        let want = authz("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
        assert_eq!(suite("GET", &q, &[], "", None), want);
    }

    #[test]
    fn post_vanilla() {
        let want = authz("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
        assert_eq!(suite("POST", &[], &[], "", None), want);
    }

    #[test]
    fn post_header_value_case() {
        let want =
            authz("host;my-header1;x-amz-date", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
        assert_eq!(suite("POST", &[], &[("My-Header1", "VALUE1")], "", None), want);
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let h = [("Content-Type", "application/x-www-form-urlencoded")];
        let want =
            authz("content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
        assert_eq!(suite("POST", &[], &h, "Param1=value1", None), want);
    }

    #[test]
    fn post_sts_header_before() {
        let want = authz(
            "host;x-amz-date;x-amz-security-token",
            "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
        );
        assert_eq!(suite("POST", &[], &[], "", Some(SUITE_TOKEN)), want);
    }

    #[test]
    fn amz_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_709_164_800), "20240229T000000Z");
    }
}
