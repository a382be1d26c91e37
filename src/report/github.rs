//! GitHub Actions annotations (`::error file=…,line=…::message`), printed when
//! `GITHUB_ACTIONS=true` so failures show up on the pull request's diff.
//!
//! What a run prints holds server text; the runner reads workflow commands in it (`::…`
//! at a line start, and the older `##[…]` anywhere in a line). Escaping CR/LF keeps data
//! from starting a line, but not `##[error]` mid-line, so the run is printed between
//! `::stop-commands::TOKEN` and `::TOKEN::` (GitHub's own means for untrusted output),
//! with a fresh token each run, and only baton's annotations come after.

use std::io::Write as _;

use super::problems;
use crate::event::CollectionOutcome;
use crate::secret::Masker;
use crate::source::SourceMap;

/// Escapes a value the way the workflow-command syntax requires.
fn escape(text: &str, property: bool) -> String {
    let mut out = text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

/// Workflow commands are off while this lives: created before a run prints anything,
/// dropped before the annotations.
pub struct Paused(String);

impl Paused {
    /// Turns command processing off until the value is dropped.
    pub fn start() -> Self {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let _ = writeln!(anstream::stdout(), "::stop-commands::{token}");
        Paused(token)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = writeln!(anstream::stdout(), "::{}::", self.0);
    }
}

/// One `::error …` line per problem (masked).
pub fn render(outcomes: &[CollectionOutcome], sources: &SourceMap, masker: &Masker) -> String {
    let mut out = String::new();
    for o in outcomes {
        for s in &o.steps {
            for p in problems(s, sources) {
                let title = escape(&format!("{} / {}", o.name, s.name), true);
                let location = p.position.as_ref().map_or_else(String::new, |pos| {
                    format!("file={},line={},col={},", escape(&pos.file, true), pos.line, pos.column)
                });
                let message = escape(&format!("{}\n{}", p.message, p.detail), false);
                out.push_str(&format!("::error {location}title={title}::{message}\n"));
            }
        }
    }
    masker.mask(&out)
}
