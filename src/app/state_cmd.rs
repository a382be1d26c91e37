//! `baton state show|clear` and opening the state file for a run.

use std::io::Write;

use crate::cli::{StateAction, StateLocation};
use crate::diagnostic::{Code, Diagnostic};
use crate::exit::Exit;
use crate::secret::Masker;
use crate::source::SourceMap;
use crate::state::{self, StateStore};

use super::eprint;

/// Opens the state file; a temporary one lives as long as the returned guard.
pub(super) fn open_state(
    location: &StateLocation,
) -> Result<(StateStore, Option<tempfile::TempDir>), Diagnostic> {
    let (path, temp) = match location {
        StateLocation::At(p) => (p.clone(), None),
        StateLocation::Default => match state::default_path() {
            Some(p) => (p, None),
            None => {
                return Err(Diagnostic::usage(Code::StateFile, "no cache directory to keep state in")
                    .help("pass `--state PATH`"));
            }
        },
        #[cfg(feature = "playground")]
        StateLocation::Temporary => {
            let dir = tempfile::tempdir().map_err(|e| {
                Diagnostic::usage(Code::StateFile, format!("cannot create a temporary state: {e}"))
            })?;
            (dir.path().join("state.json"), Some(dir))
        }
    };
    Ok((StateStore::open(path)?, temp))
}

/// `baton state show|clear`.
pub(super) fn state_command(action: StateAction, location: &StateLocation) -> Exit {
    let masker = Masker::default();
    let mut store = match open_state(location) {
        Ok((store, _)) => store,
        Err(d) => {
            eprint(&d.render(&SourceMap::default(), true), &masker);
            return d.exit;
        }
    };
    let mut out = anstream::stdout();
    match action {
        StateAction::Show => {
            let _ = writeln!(out, "state file: {}", store.path().display());
            let now = jiff::Timestamp::now().as_second();
            let mut n = 0;
            for (_, e) in store.entries() {
                n += 1;
                let env = if e.environment.is_empty() {
                    String::new()
                } else {
                    format!(" [env {}]", e.environment)
                };
                let when =
                    |t: i64| jiff::Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default();
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
                    let shown = if e.secret.contains(name) {
                        crate::secret::MASK.to_string()
                    } else {
                        value.to_string()
                    };
                    let _ = writeln!(out, "  {name} = {shown}");
                }
            }
            if n == 0 {
                let _ = writeln!(out, "(empty)");
            }
            Exit::Passed
        }
        StateAction::Clear => match store.clear() {
            Ok(n) => {
                let _ = writeln!(out, "removed {n} entries from {}", store.path().display());
                Exit::Passed
            }
            Err(d) => {
                eprint(&d.render(&SourceMap::default(), true), &masker);
                d.exit
            }
        },
    }
}
