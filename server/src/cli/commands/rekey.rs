//! `slipway rekey`: re-encrypt every secret a project's configuration references under a new
//! key, all or nothing. With CodeShip gone nobody can rotate a leaked key for us any more.
//!
//! Three phases, so a failure anywhere before the last leaves every file as it was:
//! 1. read and decrypt everything with the old key (nothing is written);
//! 2. re-encrypt in memory and check each result decrypts to the same bytes under the new key;
//! 3. write every output to a temporary file beside its target, then rename them into place.
//!    A rename that fails puts back the files already renamed (their old bytes are in memory)
//!    and removes a key file this run created (kept, with its path printed, if one cannot be
//!    put back).
//!
//! A run that died between renames is finished by running it again: a secret the old key does
//! not open but the new one does is reported as already rekeyed and left as it is. A run killed
//! while staging leaves `.slipway-rekey-*` files beside the targets; the next run removes them
//! first and says so. Two rekeys of one project at once are refused (a lock on its folder), so
//! one never removes the other's staging files.

use crate::cli::{ConfigErrors, ProjectArgs};
use crate::fsutil::{Existing, read_limited, write_atomic, write_new};
use crate::gitinfo::GitInfo;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use slipway_core::crypto::rekey::{self, OpenedWith, RekeyError, Target};
use slipway_core::crypto::{self, Format, Key};
use slipway_core::model::encrypted::{Holds, Where};
use slipway_core::model::{ServicesFile, StepsFile};
use slipway_core::{SourceFile, Span};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// The executor's limit for encrypted files: rekey reads no more than a run would.
use crate::executor::secrets::MAX_ENCRYPTED;

#[derive(Args, Debug)]
pub struct RekeyArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The current project key [default: DIR/codeship.aes].
    #[arg(long, env = "SLIPWAY_KEY_PATH")]
    pub key_path: Option<PathBuf>,
    /// The new key: used if it exists, else generated there (owner-only; refused inside a git
    /// work tree unless ignored, like `slipway generate`).
    #[arg(long)]
    pub new_key_path: PathBuf,
    /// Upgrade v1 and v2 secrets to the authenticated format (default: keep each one's format).
    #[arg(long, value_parser = ["aead"])]
    pub format: Option<String>,
    /// Also rewrite encrypted files that are (or whose symlinks point) outside the project folder.
    #[arg(long)]
    pub allow_outside: bool,
}

/// What the configuration says is encrypted: a file it names, or a value written inline.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Secret {
    /// `path` is the file itself (symlinks resolved): what is read, and what the rename
    /// replaces, so a link stays a link.
    File {
        path: PathBuf,
        what: String,
        holds: Holds,
    },
    Inline {
        span: Span,
        value: String,
        what: String,
    },
}

/// Every encrypted file and inline value the configuration references, in file order, each
/// file once (two services may share one env file, or reach it through a symlink).
fn references(dir: &Path, services: &ServicesFile, steps: &StepsFile) -> Vec<Secret> {
    let mut out: Vec<Secret> = Vec::new();
    for r in slipway_core::model::encrypted_refs(services, steps) {
        let what = r.describe();
        match r.place {
            Where::Inline => out.push(Secret::Inline { span: r.value.span, value: r.value.value.clone(), what }),
            Where::File => {
                let rel = &r.value.value;
                // A path that does not resolve stays as written: phase 1 reports it.
                let path = std::fs::canonicalize(dir.join(rel)).unwrap_or_else(|_| dir.join(rel));
                let holds = r.holds;
                if !out.iter().any(|s| matches!(s, Secret::File { path: p, .. } if *p == path)) {
                    out.push(Secret::File { path, what, holds });
                }
            }
        }
    }
    out
}

/// Every inline encrypted value of a services file, in file order.
fn inline_values(services: &ServicesFile) -> Vec<&str> {
    static NO_STEPS: StepsFile = StepsFile { steps: Vec::new() };
    let refs = slipway_core::model::encrypted_refs(services, &NO_STEPS);
    refs.into_iter().filter(|r| r.place == Where::Inline).map(|r| r.value.value.as_str()).collect()
}

/// One secret, decrypted: where it lives, what it was and what it becomes.
struct Rewrite {
    secret: Secret,
    plain: Vec<u8>,
    from: Format,
    to: Format,
    /// The new ciphertext (for a file, its whole content; inline, the value's text).
    new: Vec<u8>,
    /// Already encrypted with the new key (a rekey that stopped half way): left as it is.
    done: bool,
}

/// Inline values are written on one line without the header's LF in some projects; the
/// executor trims them the same way.
fn decrypt_blob(key: &Key, blob: &str) -> Result<(Vec<u8>, Format), crypto::CryptoError> {
    crypto::decrypt(key, blob.trim().as_bytes())
}

/// What a secret holds, by the key that names it: how its plaintext is checked when it is v1
/// (an inline value is env lines).
fn holds(secret: &Secret) -> Holds {
    match secret {
        Secret::File { holds, .. } => *holds,
        Secret::Inline { .. } => Holds::EnvLines,
    }
}

fn random() -> Result<[u8; crypto::RANDOM_BYTES]> {
    let mut r = [0u8; crypto::RANDOM_BYTES];
    getrandom::fill(&mut r).map_err(|e| anyhow!("no randomness available: {e}"))?;
    Ok(r)
}

/// How an inline value is written back into YAML: base64 alone is a plain scalar; a value
/// with a header line is a double-quoted scalar with `\n` (base64 needs no other escape).
fn yaml_scalar(ciphertext: &[u8]) -> String {
    let text = String::from_utf8_lossy(ciphertext);
    if text.contains('\n') { format!("\"{}\"", text.replace('\n', "\\n")) } else { text.into_owned() }
}

fn key_for(args: &RekeyArgs) -> Result<(Key, Key, bool)> {
    let old_path = args.key_path.clone().unwrap_or_else(|| args.project.dir.join("codeship.aes"));
    let old = crate::keyfile::load_key(&old_path)?;
    let (new, generate) = if args.new_key_path.exists() {
        (crate::keyfile::load_key(&args.new_key_path)?, false)
    } else {
        if GitInfo::tracked_candidate(&args.new_key_path) == Some(true) {
            let name = args.new_key_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            bail!(
                "{} is inside a git work tree and not ignored; a committed key exposes every secret.\n  \
                 ignore it first: echo '{name}' >> .gitignore",
                args.new_key_path.display()
            );
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow!("no randomness available: {e}"))?;
        (Key::from_bytes(bytes), true)
    };
    if new.to_file_text() == old.to_file_text() {
        bail!("{} holds the same key as {}; nothing to rotate", args.new_key_path.display(), old_path.display());
    }
    Ok((old, new, generate))
}

pub fn run(args: RekeyArgs) -> Result<ExitCode> {
    let target = if args.format.is_some() { Target::All(Format::Aead) } else { Target::Keep };
    let files = args.project.load()?;
    let checked = slipway_core::check(&files.services, &files.steps);
    if checked.report.has_errors() {
        eprint!("{}", checked.report.render_text(&[&files.services, &files.steps]));
        return Err(ConfigErrors.into());
    }
    let (old, new, generate) = key_for(&args)?;
    let secrets = references(&files.services_dir, &checked.services, &checked.steps);
    if !args.allow_outside {
        refuse_outside(&files.services_dir, &secrets)?;
    }
    // Held until the end of the run; the kernel lets go of it if the run is killed.
    let _lock = lock_project(&files.services_dir)?;
    let services_real = std::fs::canonicalize(&files.services_path).unwrap_or_else(|_| files.services_path.clone());
    for stale in remove_stale_staging(&staging_dirs(&services_real, &secrets)) {
        eprintln!("slipway: removed {}, a staging file an interrupted rekey left behind", stale.display());
    }
    if secrets.is_empty() {
        eprintln!("slipway: the configuration references no encrypted file or value; nothing to rekey");
        return Ok(ExitCode::SUCCESS);
    }
    let rewrites = decrypt_all(&files.services, &secrets, &old, &new)?;
    let rewrites = reencrypt_all(rewrites, &new, target)?;
    // Symlinks resolved, so the rename replaces the file and keeps the link.
    let services_path = services_real;
    let outputs = outputs(&files.services, &files.steps, &services_path, &rewrites, &new)?;
    commit(&outputs, generate.then_some((&args.new_key_path, &new)))?;
    report(&rewrites, &services_path, generate.then_some(&args.new_key_path));
    Ok(ExitCode::SUCCESS)
}

/// The prefix of the files a rekey stages its outputs in, beside their targets.
const STAGING_PREFIX: &str = ".slipway-rekey-";

/// An exclusive lock on the project folder for the run (`flock`, released when the process
/// ends, however it ends): a second rekey of the project is refused.
fn lock_project(dir: &Path) -> Result<std::fs::File> {
    use rustix::fs::{FlockOperation, Mode, OFlags};
    let fd = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot open the project folder {}", dir.display()))?;
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(std::fs::File::from(fd)),
        Err(rustix::io::Errno::WOULDBLOCK) => {
            bail!("another `slipway rekey` is running on {}; nothing was changed", dir.display())
        }
        Err(e) => Err(std::io::Error::from(e)).with_context(|| format!("cannot lock {}", dir.display())),
    }
}

/// The folders a run stages outputs in: those of the encrypted files and the services file.
fn staging_dirs(services_path: &Path, secrets: &[Secret]) -> std::collections::BTreeSet<PathBuf> {
    let files = secrets.iter().filter_map(|s| match s {
        Secret::File { path, .. } => Some(path.as_path()),
        Secret::Inline { .. } => None,
    });
    std::iter::once(services_path)
        .chain(files)
        .filter_map(|p| p.parent())
        .map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() })
        .collect()
}

/// Remove the staging files (`.slipway-rekey-` and tempfile's six random characters, regular
/// files only) an earlier run left in `dirs`; returns what was removed.
fn remove_stale_staging(dirs: &std::collections::BTreeSet<PathBuf>) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_staging = name
                .to_str()
                .and_then(|n| n.strip_prefix(STAGING_PREFIX))
                .is_some_and(|rest| rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
            // `file_type` does not follow links: a link with that name is left alone.
            if is_staging && entry.file_type().is_ok_and(|t| t.is_file()) && std::fs::remove_file(entry.path()).is_ok()
            {
                removed.push(entry.path());
            }
        }
    }
    removed
}

/// A rekey rewrites files in place; one outside the project folder (by path or by symlink)
/// may belong to another project or to nobody's repository, so it needs `--allow-outside`.
fn refuse_outside(dir: &Path, secrets: &[Secret]) -> Result<()> {
    let root = std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    for s in secrets {
        if let Secret::File { path, what, .. } = s
            && path.is_absolute()
            && !path.starts_with(&root)
        {
            bail!(
                "{} ({what}) is outside the project folder {}; nothing was changed.\n  \
                 pass --allow-outside to rewrite it anyway",
                path.display(),
                root.display()
            );
        }
    }
    Ok(())
}

/// Phase 1: read and decrypt every secret with the old key. One the old key cannot open but
/// the new key can was rewritten by a rekey that stopped half way: it is kept as it is, so
/// running the same rekey again finishes the job.
fn decrypt_all(services: &SourceFile, secrets: &[Secret], old: &Key, new: &Key) -> Result<Vec<Rewrite>> {
    let mut out = Vec::new();
    for secret in secrets {
        let data = match secret {
            Secret::File { path, what, .. } => {
                read_limited(path, MAX_ENCRYPTED).with_context(|| format!("{what}: nothing was changed"))?
            }
            Secret::Inline { value, .. } => value.trim().as_bytes().to_vec(),
        };
        match rekey::open(old, Some(new), &data, Some(holds(secret))) {
            Ok(o) => out.push(Rewrite {
                secret: secret.clone(),
                plain: o.plain,
                from: o.from,
                to: o.from,
                new: Vec::new(),
                done: o.with == OpenedWith::New,
            }),
            Err(why) => return Err(old_key_error(services, secret, why)),
        }
    }
    Ok(out)
}

/// Why the old key does not open a secret (which the new key does not open either), with
/// where the secret is.
fn old_key_error(services: &SourceFile, secret: &Secret, why: RekeyError) -> anyhow::Error {
    let err = match why {
        // Only a v1 secret "opens" under a wrong key; its plaintext was refused.
        RekeyError::V1NotPlausible(_) => anyhow!("{why} (is --key-path the key it was made with?)"),
        other => anyhow::Error::from(other),
    };
    match secret {
        Secret::File { path, what, .. } => {
            err.context(format!("cannot decrypt {} ({what}); nothing was changed", path.display()))
        }
        Secret::Inline { span, what, .. } => {
            let (line, col) = services.line_col(span.start);
            err.context(format!("cannot decrypt {what} at {}:{line}:{col}; nothing was changed", services.name))
        }
    }
}

/// Phase 2: encrypt under the new key and prove each result decrypts to the same bytes.
fn reencrypt_all(rewrites: Vec<Rewrite>, new: &Key, target: Target) -> Result<Vec<Rewrite>> {
    rewrites
        .into_iter()
        .map(|mut r| {
            if r.done {
                return Ok(r);
            }
            r.to = target.format_for(r.from);
            r.new = rekey::seal(new, &r.plain, r.to, &random()?).context("nothing was changed")?;
            Ok(r)
        })
        .collect()
}

/// One file to replace: its path, old and new content.
struct Output {
    path: PathBuf,
    old: Vec<u8>,
    new: Vec<u8>,
}

/// The new content of every file to replace, in path order: each encrypted file, and the
/// services file with its inline values replaced (checked by parsing it again).
fn outputs(
    services: &SourceFile,
    steps: &SourceFile,
    services_path: &Path,
    rewrites: &[Rewrite],
    new: &Key,
) -> Result<Vec<Output>> {
    let mut by_path = BTreeMap::new();
    let mut edits = Vec::new();
    for r in rewrites {
        match &r.secret {
            // Already rewritten: an inline value is replaced by its own text (so the check
            // below still sees every value), a file is left alone.
            Secret::Inline { span, .. } if r.done => {
                let own = services.text[span.start as usize..span.end as usize].to_string();
                edits.push((*span, own, r.plain.clone()));
            }
            Secret::File { .. } if r.done => {}
            Secret::File { path, .. } => {
                let old = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
                by_path.insert(path.clone(), Output { path: path.clone(), old, new: r.new.clone() });
            }
            Secret::Inline { span, .. } => edits.push((*span, yaml_scalar(&r.new), r.plain.clone())),
        }
    }
    if !edits.is_empty() {
        let text = replace_spans(&services.text, &edits);
        verify_inline(services, steps, &text, &edits, new)?;
        by_path.insert(
            services_path.to_path_buf(),
            Output {
                path: services_path.to_path_buf(),
                old: services.text.clone().into_bytes(),
                new: text.into_bytes(),
            },
        );
    }
    Ok(by_path.into_values().collect())
}

/// `text` with each span replaced, last first so earlier offsets stay valid.
fn replace_spans(text: &str, edits: &[(Span, String, Vec<u8>)]) -> String {
    let mut sorted: Vec<_> = edits.iter().collect();
    sorted.sort_by_key(|(span, ..)| std::cmp::Reverse(span.start));
    let mut out = text.to_string();
    for (span, scalar, _) in sorted {
        out.replace_range(span.start as usize..span.end as usize, scalar);
    }
    out
}

/// The rewritten services file must parse to the same configuration with every inline value
/// decrypting to its old plaintext under the new key; a value written through an alias or in
/// an unusual scalar style would otherwise be corrupted silently.
fn verify_inline(
    services: &SourceFile,
    steps: &SourceFile,
    text: &str,
    edits: &[(Span, String, Vec<u8>)],
    new: &Key,
) -> Result<()> {
    let rewritten = SourceFile::new(services.name.clone(), text);
    let checked = slipway_core::check(&rewritten, steps);
    let values = inline_values(&checked.services);
    let mut plains: Vec<&[u8]> = edits.iter().map(|(_, _, p)| p.as_slice()).collect();
    let mut got = Vec::new();
    for v in values {
        got.push(decrypt_blob(new, v).map(|(p, _)| p).ok());
    }
    let ok = got.len() == plains.len()
        && got.iter().all(|g| {
            g.as_ref().and_then(|g| plains.iter().position(|p| *p == g.as_slice())).map(|i| plains.remove(i)).is_some()
        });
    if !ok {
        bail!(
            "cannot rewrite the inline encrypted values of {} safely (written through an alias or an unusual YAML style?); nothing was changed",
            services.name
        );
    }
    Ok(())
}

/// Phase 3: stage every output beside its target, then rename; undo on a failed rename.
fn commit(outputs: &[Output], new_key: Option<(&PathBuf, &Key)>) -> Result<()> {
    let mut staged = Vec::new();
    for o in outputs {
        staged.push(stage(o).with_context(|| format!("cannot write {}; nothing was changed", o.path.display()))?);
    }
    if let Some((path, key)) = new_key {
        write_new(path, key.to_file_text().as_bytes(), true)
            .with_context(|| format!("cannot write the new key {}; nothing was changed", path.display()))?;
    }
    for (i, (tmp, o)) in staged.into_iter().zip(outputs).enumerate() {
        if let Err(e) = tmp.persist(&o.path) {
            let undone = undo(&outputs[..i], new_key.map(|(p, _)| p.as_path()));
            return Err(anyhow!(e.error)).with_context(|| format!("cannot replace {}; {undone}", o.path.display()));
        }
    }
    Ok(())
}

/// A temporary file beside `o.path` with the new content and the old file's permissions.
fn stage(o: &Output) -> Result<tempfile::NamedTempFile> {
    let dir = o.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(STAGING_PREFIX).tempfile_in(dir)?;
    tmp.write_all(&o.new)?;
    tmp.as_file().sync_all()?;
    let perms = std::fs::metadata(&o.path)?.permissions();
    std::fs::set_permissions(tmp.path(), perms)?;
    Ok(tmp)
}

/// Put back the files already replaced; remove the key this run created only when every file
/// was put back (a file still encrypted with it would otherwise be lost for good).
fn undo(done: &[Output], new_key: Option<&Path>) -> String {
    let failed: Vec<String> =
        done.iter().filter(|o| restore(o).is_err()).map(|o| o.path.display().to_string()).collect();
    if failed.is_empty() {
        if let Some(p) = new_key {
            let _ = std::fs::remove_file(p);
        }
        return "every file was put back as it was".into();
    }
    match new_key {
        Some(p) => format!(
            "COULD NOT RESTORE {} (still encrypted with the new key, kept at {})",
            failed.join(", "),
            p.display()
        ),
        None => format!("COULD NOT RESTORE {} (still encrypted with the new key)", failed.join(", ")),
    }
}

/// Write a file's old bytes back with the mode it had: the replaced file carries it (staged
/// with the old file's permissions), and `write_atomic` alone would make it 0644.
fn restore(o: &Output) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let perms = std::fs::metadata(&o.path)?.permissions();
    // Owner-only files stay owner-only while in the temporary file too.
    write_atomic(&o.path, &o.old, perms.mode() & 0o077 == 0, Existing::Replace)?;
    std::fs::set_permissions(&o.path, perms)?;
    Ok(())
}

fn report(rewrites: &[Rewrite], services_path: &Path, new_key: Option<&PathBuf>) {
    if let Some(p) = new_key {
        println!("wrote a new key to {} (keep it out of version control)", p.display());
    }
    let resumed = rewrites.iter().filter(|r| r.done).count();
    if resumed > 0 {
        println!(
            "{resumed} secrets were already encrypted with the new key (an earlier rekey stopped half way); left as they are"
        );
    }
    for r in rewrites {
        if r.done {
            match &r.secret {
                Secret::File { path, what, .. } => println!("already rekeyed {}: {what}", path.display()),
                Secret::Inline { what, .. } => println!("already rekeyed {}: inline {what}", services_path.display()),
            }
            continue;
        }
        let change = if r.from == r.to {
            r.to.as_str().to_string()
        } else {
            format!("{} → {}", r.from.as_str(), r.to.as_str())
        };
        match &r.secret {
            Secret::File { path, what, .. } => println!("rewrote {} ({change}): {what}", path.display()),
            Secret::Inline { what, .. } => println!("rewrote {} ({change}): inline {what}", services_path.display()),
        }
    }
    if rewrites.iter().any(|r| r.to == Format::V1) {
        eprintln!("note: v1 has no integrity check; `--format aead` upgrades such secrets");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rollback that cannot put a file back must keep the key that file is now encrypted
    /// with, and say where it is.
    #[test]
    fn a_failed_rollback_keeps_the_new_key() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("new.aes");
        std::fs::write(&key, "key").unwrap();
        // A file whose folder is gone cannot be written back, whoever runs the test.
        let lost = d.path().join("gone/a.encrypted");
        let done = [Output { path: lost.clone(), old: b"old".to_vec(), new: b"new".to_vec() }];
        let message = undo(&done, Some(&key));
        assert!(key.exists(), "the key of an unrestored file was removed: {message}");
        assert!(
            message.contains(&lost.display().to_string()) && message.contains(&key.display().to_string()),
            "{message}"
        );
        // Every file restored: the key goes.
        let ok = d.path().join("b.encrypted");
        std::fs::write(&ok, "new").unwrap();
        let done = [Output { path: ok.clone(), old: b"old".to_vec(), new: b"new".to_vec() }];
        assert_eq!(undo(&done, Some(&key)), "every file was put back as it was");
        assert!(!key.exists());
        assert_eq!(std::fs::read(&ok).unwrap(), b"old");
    }

    #[test]
    fn a_rollback_restores_the_mode_too() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.encrypted");
        std::fs::write(&f, "new").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let done = [Output { path: f.clone(), old: b"old".to_vec(), new: b"new".to_vec() }];
        assert_eq!(undo(&done, None), "every file was put back as it was");
        assert_eq!(std::fs::read(&f).unwrap(), b"old");
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
