//! baton's JSON report; the schema is documented in `docs/report-json.md`.

use serde_json::{Value, json};

use super::{Position, problems};
use crate::event::{CollectionOutcome, StepResult};
use crate::exit::Exit;
use crate::model::Role;
use crate::secret::Masker;
use crate::snapshot::Verdict;
use crate::source::SourceMap;

/// Schema version of the JSON report.
pub const SCHEMA: u32 = 1;

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn pos(p: Option<&Position>) -> Value {
    p.map_or(Value::Null, |p| json!({"file": p.file, "line": p.line, "column": p.column}))
}

/// The JSON report text for a run (masked).
pub fn render(outcomes: &[CollectionOutcome], exit: Exit, sources: &SourceMap, masker: &Masker) -> String {
    let mut totals = (0, 0, 0, 0);
    let collections: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let (p, f, e, s) = o.counts();
            totals = (totals.0 + p, totals.1 + f, totals.2 + e, totals.3 + s);
            let steps: Vec<Value> = o
                .steps
                .iter()
                .map(|s| {
                    let result = s.verdict().as_str();
                    let reason = match &s.result {
                        StepResult::Reused(r) | StepResult::Skipped(r) => Some(r.clone()),
                        _ => None,
                    };
                    let problems: Vec<Value> = problems(s, sources)
                        .iter()
                        .map(|p| {
                            json!({
                                "kind": if p.is_error { "error" } else { "failure" },
                                "message": p.message,
                                "detail": p.detail,
                                "position": pos(p.position.as_ref()),
                            })
                        })
                        .collect();
                    let snapshot = s.snapshot.as_ref().map_or(Value::Null, |(path, v)| {
                        let verdict = match v {
                            Verdict::Matched => "matched",
                            Verdict::Created => "created",
                            Verdict::Updated => "updated",
                            Verdict::Mismatch(_) => "mismatch",
                            Verdict::Missing => "missing",
                        };
                        json!({"file": path.display().to_string(), "verdict": verdict})
                    });
                    json!({
                        "name": s.name,
                        "description": s.description,
                        "role": if s.role == Role::Auth { "auth" } else { "request" },
                        "method": s.method,
                        "url": s.url,
                        "status": s.status,
                        "duration_ms": ms(s.elapsed),
                        "result": result,
                        "reason": reason,
                        "note": s.notes_text(),
                        "problems": problems,
                        "snapshot": snapshot,
                        "body_excerpt": s.body_excerpt,
                        "challenge": s.challenge,
                    })
                })
                .collect();
            json!({
                "name": o.name,
                "description": o.description,
                "file": o.path.display().to_string(),
                "duration_ms": ms(o.elapsed),
                "exit_code": o.exit().code(),
                "steps": steps,
            })
        })
        .collect();
    let doc = json!({
        "schema": SCHEMA,
        "tool": {"name": "baton", "version": env!("CARGO_PKG_VERSION")},
        "summary": {
            "collections": outcomes.len(),
            "steps": totals.0 + totals.1 + totals.2 + totals.3,
            "passed": totals.0,
            "failed": totals.1,
            "errors": totals.2,
            "skipped": totals.3,
            "exit_code": exit.code(),
            "duration_ms": outcomes.iter().map(|o| ms(o.elapsed)).sum::<u64>(),
        },
        "collections": collections,
    });
    masker.mask(&serde_json::to_string_pretty(&doc).unwrap_or_default())
}
