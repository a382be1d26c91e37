//! Reports: the terminal sink of events, plus JUnit, JSON and GitHub annotations built
//! from the final outcomes (functions of the result, written once at the end).
//!
//! Reports never import the HTTP client or the executor, and every byte they write
//! passes through the run's [`crate::secret::Masker`].

pub mod curl;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod terminal;

use std::path::PathBuf;

pub use terminal::Terminal;

use crate::assert::Failure;
use crate::event::{StepOutcome, StepResult};
use crate::printable::{block, line};
use crate::snapshot::Verdict;
use crate::source::{SourceMap, Span};

/// A report file requested with `--report KIND=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    /// Format.
    pub kind: ReportKind,
    /// Where to write it.
    pub path: PathBuf,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// JUnit XML.
    Junit,
    /// baton's JSON (schema in `docs/report-json.md`).
    Json,
    /// One self-contained HTML page.
    Html,
}

impl ReportKind {
    /// Names accepted by `--report`.
    pub const NAMES: [&'static str; 3] = ["junit", "json", "html"];

    /// Parses a format name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "junit" => Some(ReportKind::Junit),
            "json" => Some(ReportKind::Json),
            "html" => Some(ReportKind::Html),
            _ => None,
        }
    }
}

/// A position for reports: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// File path as given.
    pub file: String,
    /// Line.
    pub line: usize,
    /// Column.
    pub column: usize,
}

/// Where a span is, if it points into a known file.
pub fn position(sources: &SourceMap, span: Span) -> Option<Position> {
    let f = sources.get(span.file)?;
    let (line, column) = f.line_col(span.start);
    Some(Position { file: f.path.display().to_string(), line, column })
}

/// One problem of a step, in words, with its position.
#[derive(Debug, Clone)]
pub struct Problem {
    /// `failure` (expectation, snapshot) or `error` (runtime).
    pub is_error: bool,
    /// One line.
    pub message: String,
    /// More detail (expected/actual, a diff).
    pub detail: String,
    /// Where the YAML asked.
    pub position: Option<Position>,
}

fn failure_problem(f: &Failure, sources: &SourceMap) -> Problem {
    let (expected, actual) = (line(&f.expected), line(&f.actual));
    Problem {
        is_error: false,
        message: format!("{}: expected {expected}", line(&f.subject)),
        detail: format!("expected: {expected}\nactual: {actual}"),
        position: position(sources, f.span),
    }
}

/// Every problem of a step (none when it passed or was skipped).
pub fn problems(s: &StepOutcome, sources: &SourceMap) -> Vec<Problem> {
    let mut out: Vec<Problem> = match &s.result {
        StepResult::Failed(failures) => failures.iter().map(|f| failure_problem(f, sources)).collect(),
        StepResult::Error(e) => vec![Problem {
            is_error: true,
            message: line(&e.message).into_owned(),
            detail: e.help.clone().unwrap_or_default(),
            position: e.span.and_then(|sp| position(sources, sp)),
        }],
        _ => Vec::new(),
    };
    if let Some((path, verdict)) = &s.snapshot {
        let (message, detail) = match verdict {
            Verdict::Mismatch(diff) => {
                (format!("snapshot mismatch: {}", path.display()), block(diff).into_owned())
            }
            Verdict::Missing => (format!("snapshot missing: {}", path.display()), "not written in CI".into()),
            _ => return out,
        };
        out.push(Problem { is_error: false, message, detail, position: position(sources, s.span) });
    }
    out
}
