//! `baton state show|clear` and opening the state file for a run.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::{StateAction, StateLocation};
use crate::diagnostic::{Code, Diagnostic};
use crate::exit::Exit;
use crate::secret::Masker;
use crate::source::SourceMap;
use crate::state::{self, Cleared, StateStore};

use super::eprint;

/// Where the state lives; a temporary one lives as long as the returned guard.
fn state_path(location: &StateLocation) -> Result<(PathBuf, Option<tempfile::TempDir>), Diagnostic> {
    match location {
        StateLocation::At(p) => Ok((p.clone(), None)),
        StateLocation::Default => match state::default_path() {
            Some(p) => Ok((p, None)),
            None => Err(Diagnostic::usage(Code::StateFile, "no cache directory to keep state in")
                .help("pass `--state PATH`")),
        },
        #[cfg(feature = "playground")]
        StateLocation::Temporary => {
            let dir = tempfile::tempdir().map_err(|e| {
                Diagnostic::usage(Code::StateFile, format!("cannot create a temporary state: {e}"))
            })?;
            Ok((dir.path().join("state.json"), Some(dir)))
        }
    }
}

/// Opens the state file, warning once on stderr when others may read it; a temporary
/// one lives as long as the returned guard.
pub(super) fn open_state(
    location: &StateLocation,
) -> Result<(StateStore, Option<tempfile::TempDir>), Diagnostic> {
    let (path, temp) = state_path(location)?;
    let store = StateStore::open(path)?;
    if let Some(warning) = store.permission_warning() {
        eprint(&format!("warning: {warning}"), &Masker::default());
    }
    Ok((store, temp))
}

/// `baton state show|clear`.
pub(super) fn state_command(action: StateAction, location: &StateLocation) -> Exit {
    let result = match action {
        StateAction::Show => show(location),
        StateAction::Clear { collections, step } if collections.is_empty() && step.is_none() => {
            clear(location)
        }
        StateAction::Clear { collections, step } => clear_some(location, &collections, step.as_deref()),
    };
    result.unwrap_or_else(|d| {
        eprint(&d.render(&SourceMap::default(), true), &Masker::default());
        d.exit
    })
}

/// `baton state clear`: never reads the state the way a run does, so it also empties a
/// state file that `run` and `show` refuse as unreadable.
fn clear(location: &StateLocation) -> Result<Exit, Diagnostic> {
    let (path, _temp) = state_path(location)?;
    let what = match state::clear(&path)? {
        Cleared::Entries(n) => format!("removed {n} entries from {}", path.display()),
        Cleared::Unreadable(why) => {
            format!("replaced the unreadable state file {} ({why}) with an empty one", path.display())
        }
    };
    let _ = writeln!(anstream::stdout(), "{what}");
    Ok(Exit::Passed)
}

/// `baton state clear FILE… [--step NAME]`: forgets the entries those collection files
/// (and that step) saved, and keeps the rest. A file is named as given or by any path
/// to it: entries record the collection's canonical path.
fn clear_some(
    location: &StateLocation,
    collections: &[PathBuf],
    step: Option<&str>,
) -> Result<Exit, Diagnostic> {
    let (path, _temp) = state_path(location)?;
    let mut wanted = Vec::with_capacity(collections.len());
    for c in collections {
        let canonical = std::fs::canonicalize(c).map_err(|e| {
            Diagnostic::usage(Code::StateFile, format!("collection `{}`: {e}", c.display()))
                .help("name the collection file whose saved entries to forget")
        })?;
        wanted.push(canonical.display().to_string());
    }
    let removed =
        state::clear_some(&path, |e| wanted.contains(&e.collection) && step.is_none_or(|s| e.step == s))?;
    let what = match step {
        Some(s) => format!("step `{s}` of "),
        None => String::new(),
    };
    let files: Vec<String> = collections.iter().map(|c| c.display().to_string()).collect();
    let entries = if removed == 1 { "entry" } else { "entries" };
    let _ = writeln!(
        anstream::stdout(),
        "removed {removed} {entries} of {what}{} from {}",
        files.join(", "),
        path.display()
    );
    Ok(Exit::Passed)
}

/// `baton state show`: every entry, secrets masked.
fn show(location: &StateLocation) -> Result<Exit, Diagnostic> {
    let (store, _temp) = open_state(location)?;
    let mut out = anstream::stdout();
    let _ = writeln!(out, "state file: {}", store.path().display());
    let now = jiff::Timestamp::now().as_second();
    let mut n = 0;
    for (_, e) in store.entries() {
        n += 1;
        let env = if e.environment.is_empty() { String::new() } else { format!(" [env {}]", e.environment) };
        let when = |t: i64| jiff::Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default();
        let expiry = match e.expires_at {
            None => "kept until cleared".to_string(),
            Some(t) if t <= now => format!("expired {}", when(t)),
            Some(t) => format!("expires {}", when(t)),
        };
        let _ = writeln!(
            out,
            "\n{}{env}: step `{}`\n  saved {}, {expiry}",
            e.collection,
            e.step,
            when(e.saved_at)
        );
        for (name, value) in &e.captures {
            let shown =
                if e.secret.contains(name) { crate::secret::MASK.to_string() } else { value.to_string() };
            let _ = writeln!(out, "  {name} = {shown}");
        }
    }
    if n == 0 {
        let _ = writeln!(out, "(empty)");
    }
    Ok(Exit::Passed)
}
