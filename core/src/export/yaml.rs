//! Just enough YAML writing for the generated files: scalars double-quoted when they need it,
//! scripts as literal blocks, comments before a key.

/// A scalar as YAML: plain when that is unambiguous, else double-quoted with escapes.
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !s.starts_with(['-', '.'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && s.parse::<f64>().is_err();
    if plain {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `key: |` and the script indented by `indent + 2` spaces; blank lines stay empty.
pub fn block(out: &mut String, indent: usize, key: &str, script: &str) {
    lines(out, indent, &format!("{key}: |"), script);
}

/// A list item `- |` holding the script.
pub fn item(out: &mut String, indent: usize, script: &str) {
    lines(out, indent, "- |", script);
}

fn lines(out: &mut String, indent: usize, head: &str, script: &str) {
    let pad = " ".repeat(indent);
    out.push_str(&format!("{pad}{head}\n"));
    for line in script.trim_end().lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!("{pad}  {line}\n"));
        }
    }
}

/// Comment lines at `indent`, one per message.
pub fn comments(out: &mut String, indent: usize, lines: &[String]) {
    let pad = " ".repeat(indent);
    for l in lines {
        for part in l.lines() {
            out.push_str(&format!("{pad}# {part}\n"));
        }
    }
}

/// A job or stage key from a step name: what both forges accept without quoting surprises.
pub fn ident(name: &str) -> String {
    let mut s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        s.insert(0, '_');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_yaml_would_misread() {
        assert_eq!(scalar("master"), "master");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("1.0"), "\"1.0\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("x\"y\\"), "\"x\\\"y\\\\\"");
        assert_eq!(ident("1 step"), "_1_step");
    }
}
