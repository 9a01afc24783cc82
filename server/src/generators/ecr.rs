//! The built-in `codeship/aws-ecr-dockercfg-generator`: ECR's `GetAuthorizationToken` over
//! HTTPS, signed with SigV4, after STS's `AssumeRole` when the service asks for a role.
//!
//! The variables are the image's (codeship-library/aws-ecr-dockercfg-generator, later
//! aws-utilities/dockercfg-generator): `AWS_REGION`, `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY` (required), `AWS_SESSION_TOKEN` (temporary keys, read by the AWS
//! CLI inside the image), `AWS_STS_ROLE` with `AWS_STS_ACCOUNT` (assume
//! `arn:aws:iam::ACCOUNT:role/ROLE` first, session `aws_docker_creds`),
//! `AWS_ECR_REGISTRY_IDS` (2017–2021 versions: space-separated registry ids to log in to) and
//! `ECR_PUBLIC` (set at all: `public.ecr.aws` through ECR Public). Besides, the AWS SDKs'
//! standard `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL_ECR_PUBLIC`,
//! `AWS_ENDPOINT_URL_STS` and `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`.
//!
//! The token's `expiresAt` is not checked: ECR's tokens last 12 hours, longer than a run, and
//! an emulator's may lie in the past (moto's is in 2015).

use super::Env;
use super::endpoints::{EndpointPolicy, Origin};
use super::sigv4::{self, Credentials, Request, Scope};
use base64::Engine;
use slipway_core::dockercfg::{Credential, DockerCfg, MAX_DOCKERCFG_BYTES};
use std::time::Duration;

/// How long to wait for a connection, and for a whole answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// An answer is a few KiB; refused past this without being read further.
const MAX_ANSWER: u64 = MAX_DOCKERCFG_BYTES as u64;

const ECR_TARGET: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
const ECR_PUBLIC_TARGET: &str = "SpencerFrontendService.GetAuthorizationToken";
const PUBLIC_REGISTRY: &str = "public.ecr.aws";
/// The session name the image gave `aws sts assume-role`.
const SESSION_NAME: &str = "aws_docker_creds";

/// Why no dockercfg was made. Each says which service (ECR, ECR Public, STS) and endpoint.
#[derive(Debug)]
pub enum EcrError {
    /// A variable is missing or malformed: which, and what to do.
    Setting(String),
    /// No answer: connection refused, name not found, timeout, TLS.
    Unreachable { api: &'static str, endpoint: String, detail: String },
    /// An answer other than success, with AWS's error code and message when it gave them.
    Refused { api: &'static str, endpoint: String, status: u16, error: String },
    /// A success whose body is not what the API answers.
    BadAnswer { api: &'static str, endpoint: String, detail: String },
    /// An endpoint variable names an origin this run may not ask (an untrusted server run):
    /// found before any request.
    EndpointNotAllowed { api: &'static str, var: &'static str, value: String, origin: Origin },
}

impl std::fmt::Display for EcrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EcrError::Setting(s) => f.write_str(s),
            EcrError::Unreachable { api, endpoint, detail } => write!(
                f,
                "cannot reach {api} at {endpoint}: {detail}; check the region, the endpoint variables and this host's network"
            ),
            EcrError::Refused { api, endpoint, status, error } => {
                let hint = match *api {
                    "STS" => "check AWS_STS_ROLE and AWS_STS_ACCOUNT, and that the access key may assume the role",
                    _ => {
                        "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that the key may call ecr:GetAuthorizationToken"
                    }
                };
                write!(f, "{api} at {endpoint} refused the request (HTTP {status}: {error}); {hint}")
            }
            EcrError::BadAnswer { api, endpoint, detail } => {
                write!(f, "{api} at {endpoint} gave an answer that is not {api}'s: {detail}; is the endpoint right?")
            }
            EcrError::EndpointNotAllowed { api, var, value, origin } => write!(
                f,
                "{var} `{value}` would make the server itself send the {api} request to {origin}, which this server \
                 does not allow for an untrusted run (nothing was sent); the server's operator can allow it with \
                 `slipway serve --generator-endpoint {origin}` or `endpoints = [\"{origin}\"]` under `[generators]` in \
                 slipway.toml, or trust the project (`trusted = true`); without {var}, AWS's own endpoint is used"
            ),
        }
    }
}

impl std::error::Error for EcrError {}

/// Where one API is reached: `url` as requested, `host` as signed, both made from `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub host: String,
    pub origin: Origin,
    /// The variable that chose it, with its value as written; `None` for AWS's own.
    pub set_by: Option<(&'static str, String)>,
    /// AWS's own endpoint for this API and region.
    pub aws: Origin,
}

impl Endpoint {
    fn new(origin: Origin, set_by: Option<(&'static str, String)>, aws: Origin) -> Endpoint {
        Endpoint { url: origin.url(), host: origin.authority(), origin, set_by, aws }
    }

    /// Whether `policy` lets this endpoint be asked: AWS's own always, another only when
    /// allowed (see [`super::endpoints`]).
    fn check(&self, api: &'static str, policy: &EndpointPolicy) -> Result<(), EcrError> {
        match &self.set_by {
            Some((var, value)) if self.origin != self.aws && !policy.allows(&self.origin) => {
                Err(EcrError::EndpointNotAllowed { api, var, value: value.clone(), origin: self.origin.clone() })
            }
            _ => Ok(()),
        }
    }
}

/// What the variables ask for, checked before any request.
#[derive(Debug)]
pub struct Settings {
    pub region: String,
    pub credentials: Credentials,
    /// `arn:…:iam::ACCOUNT:role/ROLE` to assume first.
    pub role_arn: Option<String>,
    pub registry_ids: Vec<String>,
    pub public: bool,
    pub api: Endpoint,
    pub sts: Endpoint,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Settings, EcrError> {
        let need = |k: &str| {
            env.get(k).map(str::to_string).ok_or_else(|| {
                EcrError::Setting(format!(
                    "{k} is not set for the ECR generator; set it in the service's environment or encrypted env file (the image needed AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                ))
            })
        };
        let region = need("AWS_REGION")?;
        // The region becomes part of a host name.
        if !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(EcrError::Setting(format!(
                "AWS_REGION `{region}` is not a region name (like `us-east-1`); check the ECR generator's environment"
            )));
        }
        let credentials = Credentials {
            access_key_id: need("AWS_ACCESS_KEY_ID")?,
            secret_access_key: need("AWS_SECRET_ACCESS_KEY")?,
            session_token: env.get("AWS_SESSION_TOKEN").map(str::to_string),
        };
        let role_arn = match (env.get("AWS_STS_ROLE"), env.get("AWS_STS_ACCOUNT")) {
            (None, None) => None,
            (Some(role), Some(account)) => Some(format!("arn:{}:iam::{account}:role/{role}", partition(&region))),
            (Some(_), None) => return Err(EcrError::Setting("AWS_STS_ROLE is set without AWS_STS_ACCOUNT; the ECR generator needs both to assume a role (or neither)".into())),
            (None, Some(_)) => return Err(EcrError::Setting("AWS_STS_ACCOUNT is set without AWS_STS_ROLE; the ECR generator needs both to assume a role (or neither)".into())),
        };
        let registry_ids: Vec<String> =
            env.get("AWS_ECR_REGISTRY_IDS").unwrap_or("").split_whitespace().map(str::to_string).collect();
        if let Some(bad) = registry_ids.iter().find(|id| !id.bytes().all(|b| b.is_ascii_digit())) {
            return Err(EcrError::Setting(format!(
                "AWS_ECR_REGISTRY_IDS holds `{bad}`, which is not an AWS account id (digits only; ids are separated by spaces)"
            )));
        }
        let public = env.is_set("ECR_PUBLIC");
        let domain = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        let (api_var, api_default) = match public {
            true => ("AWS_ENDPOINT_URL_ECR_PUBLIC", format!("https://api.ecr-public.{region}.{domain}/")),
            false => ("AWS_ENDPOINT_URL_ECR", format!("https://api.ecr.{region}.{domain}/")),
        };
        let api = endpoint(env, api_var, &api_default)?;
        let sts = endpoint(env, "AWS_ENDPOINT_URL_STS", &format!("https://sts.{region}.{domain}/"))?;
        Ok(Settings { region, credentials, role_arn, registry_ids, public, api, sts })
    }

    /// Whether `policy` lets every endpoint this run will ask be asked: ECR's, and STS's when
    /// a role is assumed.
    pub fn check_endpoints(&self, policy: &EndpointPolicy) -> Result<(), EcrError> {
        if self.role_arn.is_some() {
            self.sts.check("STS", policy)?;
        }
        self.api.check(self.api_name(), policy)
    }

    /// ECR or ECR Public, for messages.
    pub fn api_name(&self) -> &'static str {
        if self.public { "ECR Public" } else { "ECR" }
    }
}

/// The endpoint of one API: its own variable, else `AWS_ENDPOINT_URL`, else AWS's.
fn endpoint(env: &Env, var: &'static str, default: &str) -> Result<Endpoint, EcrError> {
    let aws = Origin::parse(default).ok_or_else(|| EcrError::Setting(format!("`{default}` is not a URL")))?;
    let ignore = env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let chosen =
        if ignore { None } else { [var, "AWS_ENDPOINT_URL"].into_iter().find_map(|k| env.get(k).map(|v| (k, v))) };
    match chosen {
        None => Ok(Endpoint::new(aws.clone(), None, aws)),
        Some((k, v)) => match Origin::parse(v) {
            Some(origin) => Ok(Endpoint::new(origin, Some((k, v.to_string())), aws)),
            None => Err(EcrError::Setting(format!(
                "{k} `{v}` is not an endpoint the ECR generator can use: give `http://HOST[:PORT]` or `https://HOST[:PORT]`, with no path, query or user"
            ))),
        },
    }
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// What the generator did, for the log: never a credential.
pub struct Outcome {
    pub cfg: DockerCfg,
    pub summary: String,
}

/// Ask for the token(s) and make the dockercfg: one entry per registry, user `AWS`. An
/// endpoint `policy` refuses fails it before any request.
pub fn generate(env: &Env, now_unix: i64, policy: &EndpointPolicy) -> Result<Outcome, EcrError> {
    let s = Settings::from_env(env)?;
    s.check_endpoints(policy)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(ANSWER_TIMEOUT))
        // A redirect would send the signed request elsewhere.
        .max_redirects(0)
        .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut notes = Vec::new();
    let credentials = match &s.role_arn {
        None => s.credentials.clone(),
        Some(arn) => {
            notes.push(format!("assumed role {arn}"));
            assume_role(&agent, &s, arn, now_unix)?
        }
    };
    let api = s.api_name();
    let (target, service, body) = if s.public {
        (ECR_PUBLIC_TARGET, "ecr-public", "{}".to_string())
    } else if s.registry_ids.is_empty() {
        (ECR_TARGET, "ecr", "{}".to_string())
    } else {
        (ECR_TARGET, "ecr", serde_json::json!({ "registryIds": s.registry_ids }).to_string())
    };
    let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
    let answer = call(&agent, api, &s.api, &s.region, service, &credentials, &headers, body.as_bytes(), now_unix)?;
    let bad = |detail: String| EcrError::BadAnswer { api, endpoint: s.api.url.clone(), detail };
    let json: serde_json::Value = serde_json::from_slice(&answer).map_err(|e| bad(format!("not JSON ({e})")))?;
    // ECR answers a list (one per registry); ECR Public one object for public.ecr.aws.
    let data: Vec<(String, &serde_json::Value)> = match &json["authorizationData"] {
        serde_json::Value::Array(list) if !s.public => list
            .iter()
            .map(|d| {
                let endpoint =
                    d["proxyEndpoint"].as_str().ok_or_else(|| bad("an entry has no proxyEndpoint".into()))?;
                let host = endpoint.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
                Ok((host.to_string(), d))
            })
            .collect::<Result<_, EcrError>>()?,
        d @ serde_json::Value::Object(_) if s.public => vec![(PUBLIC_REGISTRY.to_string(), d)],
        _ => return Err(bad("no authorizationData".into())),
    };
    if data.is_empty() {
        return Err(bad("authorizationData is empty".into()));
    }
    let mut cfg = DockerCfg::default();
    for (registry, d) in data {
        let token =
            d["authorizationToken"].as_str().ok_or_else(|| bad(format!("no authorizationToken for {registry}")))?;
        // The token is base64 of `AWS:password`, which is what a dockercfg's `auth` holds.
        let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok();
        let (user, password) = decoded
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())))
            .ok_or_else(|| bad(format!("the authorizationToken for {registry} is not base64 of user:password")))?;
        cfg.entries.push(Credential::basic(&registry, &user, &password));
    }
    let registries = cfg.registries().join(", ");
    notes.insert(0, format!("{api} at {}, region {}", s.api.url, s.region));
    Ok(Outcome { summary: format!("credentials for {registries} ({})", notes.join("; ")), cfg })
}

/// STS `AssumeRole`: the role's temporary credentials.
fn assume_role(agent: &ureq::Agent, s: &Settings, arn: &str, now_unix: i64) -> Result<Credentials, EcrError> {
    let body =
        [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", arn), ("RoleSessionName", SESSION_NAME)]
            .iter()
            .map(|(k, v)| format!("{k}={}", sigv4::uri_encode(v, true)))
            .collect::<Vec<_>>()
            .join("&");
    let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
    let answer = call(agent, "STS", &s.sts, &s.region, "sts", &s.credentials, &headers, body.as_bytes(), now_unix)?;
    let text = String::from_utf8_lossy(&answer);
    let field = |name: &str| xml_text(&text, name);
    match (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken")) {
        (Some(access_key_id), Some(secret_access_key), session_token) => {
            Ok(Credentials { access_key_id, secret_access_key, session_token })
        }
        _ => Err(EcrError::BadAnswer {
            api: "STS",
            endpoint: s.sts.url.clone(),
            detail: "no Credentials in the AssumeRole answer".into(),
        }),
    }
}

/// One signed POST to `endpoint`; the body of a 2xx answer.
#[allow(clippy::too_many_arguments)]
fn call(
    agent: &ureq::Agent,
    api: &'static str,
    endpoint: &Endpoint,
    region: &str,
    service: &str,
    creds: &Credentials,
    headers: &[(&str, &str)],
    body: &[u8],
    now_unix: i64,
) -> Result<Vec<u8>, EcrError> {
    let amz_date = sigv4::amz_date(now_unix);
    let req = Request { method: "POST", host: &endpoint.host, path: "/", query: &[], headers, body };
    let signed = sigv4::sign(&req, creds, &Scope { region, service, amz_date: &amz_date });
    let mut request = agent.post(&endpoint.url);
    for (k, v) in headers.iter().copied().chain(signed.iter().map(|(k, v)| (*k, v.as_str()))) {
        request = request.header(k, v);
    }
    // ureq's error text names the host and the cause (refused, no such host, timeout, TLS);
    // it never holds a header.
    let mut response = request.send(body).map_err(|e| EcrError::Unreachable {
        api,
        endpoint: endpoint.url.clone(),
        detail: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let bytes = response.body_mut().with_config().limit(MAX_ANSWER).read_to_vec().map_err(|e| EcrError::BadAnswer {
        api,
        endpoint: endpoint.url.clone(),
        detail: format!("cannot read it: {e}"),
    })?;
    if (200..300).contains(&status) {
        return Ok(bytes);
    }
    // Never a credential, even one an odd endpoint echoes back.
    let mut error = aws_error(&bytes);
    for secret in [Some(&creds.secret_access_key), creds.session_token.as_ref()].into_iter().flatten() {
        if secret.len() >= 8 {
            error = error.replace(secret.as_str(), "***");
        }
    }
    Err(EcrError::Refused { api, endpoint: endpoint.url.clone(), status, error })
}

/// AWS's error code and message from a JSON (ECR) or XML (STS) error body, bounded; nothing
/// else of the body (the endpoint may be any server).
fn aws_error(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let (code, message) = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => {
            let code = v["__type"].as_str().map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
            let message = v["message"].as_str().or(v["Message"].as_str()).map(str::to_string);
            (code, message)
        }
        Err(_) => (xml_text(&text, "Code"), xml_text(&text, "Message")),
    };
    // A signature mismatch may go on to quote the canonical request, which holds the
    // session token: only the first sentence-line is kept.
    let clip = |s: String| -> String {
        let first = s.split("The Canonical String").next().unwrap_or("").lines().next().unwrap_or("");
        first.trim().chars().filter(|c| !c.is_control()).take(300).collect()
    };
    match (code.map(clip), message.map(clip)) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        (None, Some(m)) => m,
        (None, None) => "no AWS error in the answer".to_string(),
    }
}

/// The text of the first `<name>…</name>`, with XML's five entities decoded.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    let raw = xml[start..end].trim();
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    const BASE: [(&str, &str); 3] =
        [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_SECRET_ACCESS_KEY", "sk")];

    #[test]
    fn endpoints_default_to_aws_and_honour_the_standard_variables() {
        let s = Settings::from_env(&env(&BASE)).unwrap();
        assert_eq!(s.api.url, "https://api.ecr.eu-west-1.amazonaws.com/");
        assert_eq!(s.sts.host, "sts.eu-west-1.amazonaws.com");
        let mut v = BASE.to_vec();
        v.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:5005"));
        v.push(("AWS_ENDPOINT_URL_STS", "https://sts.example:443/"));
        let s = Settings::from_env(&env(&v)).unwrap();
        assert_eq!((s.api.url.as_str(), s.api.host.as_str()), ("http://127.0.0.1:5005/", "127.0.0.1:5005"));
        assert_eq!((s.sts.url.as_str(), s.sts.host.as_str()), ("https://sts.example/", "sts.example"));
        v.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        assert_eq!(Settings::from_env(&env(&v)).unwrap().api.host, "api.ecr.eu-west-1.amazonaws.com");
    }

    #[test]
    fn settings_are_checked_before_any_request() {
        let e = Settings::from_env(&env(&BASE[1..])).unwrap_err().to_string();
        assert!(e.contains("AWS_REGION is not set"), "{e}");
        let mut v = BASE.to_vec();
        v.push(("AWS_STS_ROLE", "deployer"));
        assert!(Settings::from_env(&env(&v)).unwrap_err().to_string().contains("without AWS_STS_ACCOUNT"));
        v.push(("AWS_STS_ACCOUNT", "222233334444"));
        let s = Settings::from_env(&env(&v)).unwrap();
        assert_eq!(s.role_arn.as_deref(), Some("arn:aws:iam::222233334444:role/deployer"));
        for (k, bad) in [
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:2375/containers/prune"),
            ("AWS_ENDPOINT_URL_ECR", "file:///etc"),
            ("AWS_REGION", "x.evil/"),
        ] {
            let mut v = BASE.to_vec();
            v.push((k, bad));
            let e = Settings::from_env(&env(&v)).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
        }
        let mut v = BASE.to_vec();
        v.push(("ECR_PUBLIC", ""));
        let s = Settings::from_env(&env(&v)).unwrap();
        assert!(s.public && s.api.host == "api.ecr-public.eu-west-1.amazonaws.com");
    }

    /// An untrusted run's endpoint variables may name only what the server allows (or AWS's
    /// own endpoint); the check is made before any request, on the endpoints the run asks.
    #[test]
    fn an_endpoint_variable_is_honoured_only_where_the_policy_allows() {
        let only = |urls: &[&str]| EndpointPolicy::Only(urls.iter().map(|u| Origin::parse(u).unwrap()).collect());
        let mut v = BASE.to_vec();
        v.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:2375"));
        let s = Settings::from_env(&env(&v)).unwrap();
        let e = s.check_endpoints(&only(&[])).unwrap_err().to_string();
        assert!(e.starts_with("AWS_ENDPOINT_URL `http://127.0.0.1:2375` would make the server itself send the ECR request to http://127.0.0.1:2375"), "{e}");
        assert!(e.contains("`slipway serve --generator-endpoint http://127.0.0.1:2375`"), "{e}");
        assert!(e.contains("`endpoints = [\"http://127.0.0.1:2375\"]` under `[generators]`"), "{e}");
        assert!(s.check_endpoints(&only(&["http://127.0.0.1:2375/"])).is_ok());
        assert!(s.check_endpoints(&only(&["http://localhost:2375"])).is_err(), "compared as written");
        assert!(s.check_endpoints(&EndpointPolicy::Any).is_ok());
        // The generator itself fails before it sends anything (nothing listens on port 9 here:
        // a request would be an "unreachable" error instead).
        v[3] = ("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        let e = generate(&env(&v), 0, &only(&[])).err().unwrap();
        assert!(matches!(e, EcrError::EndpointNotAllowed { var: "AWS_ENDPOINT_URL", .. }), "{e}");

        // STS's endpoint is checked when a role is assumed, by the variable that set it.
        let mut v = BASE.to_vec();
        v.push(("AWS_ENDPOINT_URL_STS", "http://10.0.0.1"));
        assert!(Settings::from_env(&env(&v)).unwrap().check_endpoints(&only(&[])).is_ok(), "no role, no STS request");
        v.extend([("AWS_STS_ROLE", "r"), ("AWS_STS_ACCOUNT", "222233334444")]);
        let e = Settings::from_env(&env(&v)).unwrap().check_endpoints(&only(&[])).unwrap_err().to_string();
        assert!(
            e.starts_with("AWS_ENDPOINT_URL_STS `http://10.0.0.1` would make the server itself send the STS request"),
            "{e}"
        );

        // Naming AWS's own endpoint changes nothing, and is not refused; a look-alike is.
        let mut v = BASE.to_vec();
        v.push(("AWS_ENDPOINT_URL_ECR", "https://API.ecr.eu-west-1.amazonaws.com:443/"));
        assert!(Settings::from_env(&env(&v)).unwrap().check_endpoints(&only(&[])).is_ok());
        v[3] = ("AWS_ENDPOINT_URL_ECR", "https://internal-lb.eu-west-1.elb.amazonaws.com");
        let e = Settings::from_env(&env(&v)).unwrap().check_endpoints(&only(&[])).unwrap_err().to_string();
        assert!(e.starts_with("AWS_ENDPOINT_URL_ECR `https://internal-lb"), "{e}");
    }

    /// ECR Public (`ECR_PUBLIC`): moto has no ECR Public, so a one-request stand-in answers
    /// here as AWS documents it (`authorizationData` an object, no `proxyEndpoint`), and checks
    /// the request is ECR Public's: its target and its signing name.
    #[test]
    fn ecr_public_writes_public_ecr_aws() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            let body = r#"{"authorizationData":{"authorizationToken":"QVdTOnB1YmxpYy10b2tlbg==","expiresAt":1.4E9}}"#;
            let answer =
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            conn.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&request).to_ascii_lowercase()
        });
        let mut v = BASE.to_vec();
        let url = format!("http://127.0.0.1:{port}");
        v.extend([("ECR_PUBLIC", "1"), ("AWS_ENDPOINT_URL_ECR_PUBLIC", url.as_str())]);
        let out = generate(&env(&v), 1_700_000_000, &EndpointPolicy::Any).unwrap();
        let request = server.join().unwrap();
        assert!(request.contains("x-amz-target: spencerfrontendservice.getauthorizationtoken"), "{request}");
        assert!(request.contains("/eu-west-1/ecr-public/aws4_request"), "{request}");
        let c = out.cfg.lookup("public.ecr.aws").unwrap();
        assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("AWS"), Some("public-token")));
        assert!(out.summary.starts_with("credentials for public.ecr.aws (ECR Public at"), "{}", out.summary);
    }

    #[test]
    fn aws_errors_keep_code_and_message_only() {
        let json = br#"{"__type":"com.amazon#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#;
        assert_eq!(
            aws_error(json),
            "UnrecognizedClientException: The security token included in the request is invalid."
        );
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not &lt;allowed&gt;</Message></Error></ErrorResponse>";
        assert_eq!(aws_error(xml), "AccessDenied: not <allowed>");
        let mismatch = b"<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match. The Canonical String for this request should have been\n'POST\n/\nx-amz-security-token:SESSION'</Message></Error>";
        assert_eq!(aws_error(mismatch), "SignatureDoesNotMatch: The request signature we calculated does not match.");
        assert_eq!(aws_error(b"<html>secret page</html>"), "no AWS error in the answer");
    }
}
