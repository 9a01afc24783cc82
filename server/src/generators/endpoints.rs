//! Where a built-in generator may send its requests. The ECR generator makes them from the
//! server itself, and a project's `AWS_ENDPOINT_URL…` variables (its own configuration, which
//! a push controls) choose the host: honoured as they are, they would let any branch make the
//! server POST to its own loopback or to private networks that step containers cannot reach.
//!
//! So in an untrusted server run an endpoint variable is honoured only for an origin the
//! server allows (`slipway serve --generator-endpoint URL`, `[generators] endpoints` in
//! slipway.toml); a trusted project's runs and the CLI (a developer's own machine) may use
//! any. Without a variable, AWS's own hosts are used, which a project cannot change beyond
//! the region (checked to be a region name).
//!
//! Origins are compared as written — scheme, host and port, normalized only in case and
//! default port — and names are never resolved: `localhost`, `127.0.0.1`, `127.1` and
//! `[::1]` are four different origins, and each must be allowed by itself. The request is
//! made to the URL built from the compared origin, so what was checked is what is asked for.

pub use slipway_core::origin::Origin;

/// Which endpoints a project's variables may choose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EndpointPolicy {
    /// Any: the CLI (a developer's own machine) and a trusted project's runs.
    #[default]
    Any,
    /// Only these, besides AWS's own: an untrusted server run.
    Only(Vec<Origin>),
}

impl EndpointPolicy {
    /// The policy of a run: any endpoint when it is trusted, else the server's `allowed`.
    pub fn for_run(trusted: bool, allowed: &[Origin]) -> EndpointPolicy {
        if trusted { EndpointPolicy::Any } else { EndpointPolicy::Only(allowed.to_vec()) }
    }

    pub fn allows(&self, origin: &Origin) -> bool {
        match self {
            EndpointPolicy::Any => true,
            EndpointPolicy::Only(list) => list.contains(origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are not resolved: each spelling of loopback is an origin of its own.
    #[test]
    fn only_the_listed_origins_are_allowed_unless_the_run_is_trusted() {
        let allowed = EndpointPolicy::Only(vec![Origin::parse("http://127.0.0.1:5000").unwrap()]);
        assert!(allowed.allows(&Origin::parse("http://127.0.0.1:5000/").unwrap()));
        for other in [
            "http://localhost:5000",
            "http://127.1:5000",
            "http://[::1]:5000",
            "https://127.0.0.1:5000",
            "http://127.0.0.1:5001",
            "http://127.0.0.1",
            "http://127.0.0.1.:5000",
            "http://2130706433:5000",
        ] {
            assert!(!allowed.allows(&Origin::parse(other).unwrap()), "{other}");
        }
        let private = Origin::parse("http://10.0.0.1").unwrap();
        assert!(EndpointPolicy::for_run(true, &[]).allows(&private));
        assert!(!EndpointPolicy::for_run(false, &[]).allows(&private));
    }
}
