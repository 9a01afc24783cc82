//! The server's operational log (`slipway serve`: requests failing, runs ending, the queue)
//! through `tracing`, on stderr. What the CLI prints for its user (progress, results) is not
//! logging and stays plain `println!`/`eprintln!`. Run errors are logged as the run recorded
//! them: decrypted values never reach them (the executor masks every message it emits).

use anyhow::{Result, anyhow};
use tracing_subscriber::EnvFilter;

/// The level when neither `--log-level` nor `RUST_LOG` says: what an operator wants to see.
const DEFAULT: &str = "info";

/// `--log-level` wins over `RUST_LOG`; both take `tracing` filter directives (`debug`,
/// `slipway=debug,warn`).
pub fn filter(flag: Option<&str>, env: Option<&str>) -> Result<EnvFilter> {
    let (directives, from) = match (flag, env) {
        (Some(f), _) => (f, "--log-level"),
        (None, Some(e)) if !e.trim().is_empty() => (e, "RUST_LOG"),
        _ => (DEFAULT, "the default"),
    };
    EnvFilter::builder().parse(directives).map_err(|e| anyhow!("{from} `{directives}` is not a log filter: {e}"))
}

/// Install the subscriber once, at the start of `slipway serve`.
pub fn init(flag: Option<&str>) -> Result<()> {
    let filter = filter(flag, std::env::var("RUST_LOG").ok().as_deref())?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init()
        .map_err(|e| anyhow!("cannot start logging: {e}"))
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn the_flag_wins_over_rust_log_and_info_is_the_default() {
        assert_eq!(filter(Some("debug"), Some("error")).unwrap().to_string(), "debug");
        assert_eq!(filter(None, Some("warn")).unwrap().to_string(), "warn");
        assert_eq!(filter(None, None).unwrap().to_string(), "info");
        assert_eq!(filter(None, Some(" ")).unwrap().to_string(), "info");
        let e = filter(Some("slipway=loud"), None).unwrap_err().to_string();
        assert!(e.starts_with("--log-level `slipway=loud` is not a log filter"), "{e}");
    }
}
