//! Split a step's `command` into argv the way a shell would quote, without a shell:
//! `&&`, `|` and `>` stay literal arguments.

/// Why a command cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot split command: {0}")]
pub struct SplitError(pub String);

pub fn split(command: &str) -> Result<Vec<String>, SplitError> {
    shell_words::split(command).map_err(|e| SplitError(e.to_string()))
}

/// Quote one argument so that [`split`] returns it unchanged.
pub fn quote(arg: &str) -> String {
    shell_words::quote(arg).into_owned()
}
