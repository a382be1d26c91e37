//! GitHub Actions annotations (`::error file=…,line=…::message`), printed when
//! `GITHUB_ACTIONS=true` so failures show up on the pull request's diff.

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
