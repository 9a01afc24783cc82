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

/// An argv as a person would type it: each argument quoted where a shell would need it, so
/// `["sh", "-c", "sleep 1; wget x"]` reads `sh -c 'sleep 1; wget x'`, and [`split`] of the
/// result gives the argv back.
pub fn display(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn display_quotes_arguments_a_shell_would_split() {
        let a = argv(&["sh", "-c", "sleep 1; wget -qO- http://app:8080/"]);
        assert_eq!(display(&a), "sh -c 'sleep 1; wget -qO- http://app:8080/'");
        assert_eq!(display(&argv(&["echo", "it's", ""])), r#"echo 'it'\''s' ''"#);
    }

    #[test]
    fn display_leaves_plain_words_alone_and_round_trips() {
        assert_eq!(display(&argv(&["npm", "test", "--", "-x"])), "npm test -- -x");
        for a in [argv(&["sh", "-c", "a && b | c > d"]), argv(&["printf", "%s\n", "tab\there", "ünï"])] {
            assert_eq!(split(&display(&a)).unwrap(), a);
        }
    }
}
