//! `slipway`: validate, plan, encrypt and decrypt Codeship Pro projects like `jet` did.

fn main() -> std::process::ExitCode {
    slipway::run_cli()
}
