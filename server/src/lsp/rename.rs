//! Rename a service across both files, on top of the core's references: the definition
//! and every use, as one edit per occurrence. The core has no rename of its own.

use slipway_core::Span;
use slipway_core::ide::{Analysis, FileId, TextEdit};

/// The span of the service name at `offset` (a use or the definition), if it can be renamed.
pub fn target(a: &Analysis, file: FileId, offset: u32) -> Option<Span> {
    a.references(file, offset, true)
        .into_iter()
        .find(|l| l.file == file && l.span.start <= offset && offset <= l.span.end)
        .map(|l| l.span)
}

/// The edits renaming the service at `offset` to `new_name`, in both files.
pub fn edits(a: &Analysis, file: FileId, offset: u32, new_name: &str) -> Result<Vec<TextEdit>, String> {
    check_name(new_name)?;
    if target(a, file, offset).is_none() {
        return Err("no service name here to rename".to_string());
    }
    if a.checked().services.get(new_name).is_some() {
        return Err(format!("a service named `{new_name}` already exists"));
    }
    Ok(a.references(file, offset, true)
        .into_iter()
        .map(|l| TextEdit { file: l.file, span: l.span, new_text: new_name.to_string() })
        .collect())
}

/// A name that stays a plain YAML scalar and a Docker hostname: letters, digits, `_`, `-`, `.`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok { Ok(()) } else { Err(format!("`{name}` is not a service name: use letters, digits, `_`, `-` and `.`")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::SourceFile;
    use slipway_core::plan::PlanOptions;

    fn analysis(services: &str, steps: &str) -> Analysis {
        Analysis::new(
            SourceFile::new("codeship-services.yml", services),
            SourceFile::new("codeship-steps.yml", steps),
            PlanOptions::default(),
        )
    }

    #[test]
    fn renames_the_definition_and_every_use_in_both_files() {
        let services = "app:\n  build: .\n  depends_on: [db]\ndb:\n  image: postgres\n";
        let steps = "- service: db\n  command: true\n- service: \"db\"\n  command: x\n";
        let a = analysis(services, steps);
        let at = steps.find("db").unwrap() as u32;
        let mut edits = edits(&a, FileId::Steps, at + 1, "database").unwrap();
        edits.sort_by_key(|e| (e.file, e.span.start));
        let got: Vec<(FileId, &str)> = edits.iter().map(|e| (e.file, a.file(e.file).slice(e.span))).collect();
        assert_eq!(
            got,
            [(FileId::Services, "db"), (FileId::Services, "db"), (FileId::Steps, "db"), (FileId::Steps, "db")]
        );
        assert!(edits.iter().all(|e| e.new_text == "database"));
    }

    #[test]
    fn refuses_bad_names_clashes_and_non_services() {
        let a = analysis("app:\n  image: x\ndb:\n  image: y\n", "- service: app\n  command: true\n");
        let at = "- service: a".len() as u32;
        assert!(edits(&a, FileId::Steps, at, "a b").is_err());
        assert!(edits(&a, FileId::Steps, at, "").is_err());
        assert_eq!(edits(&a, FileId::Steps, at, "db").unwrap_err(), "a service named `db` already exists");
        assert!(edits(&a, FileId::Steps, 25, "x").is_err(), "`command` is not a service");
    }
}
