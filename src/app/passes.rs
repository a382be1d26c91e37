//! Data rows and `--repeat`: the passes a collection's requests run, each checked like
//! the collection itself before anything is sent.

use std::sync::Arc;

use crate::cli::DataOptions;
use crate::data::{self, DataRow};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Collection, DataSpec, Role};
use crate::plan::{Pass, Plan};
use crate::secret::Masker;
use crate::source::{SourceMap, Span};
use crate::template::Engine;
use crate::validate::{self, Overrides};

/// The rows `c` runs: `--data FILE` (relative to the working folder) or its `data:`
/// (relative to the collection), narrowed by `--data-row`; empty: no data.
pub(super) fn load_rows(
    c: &Collection,
    opts: &DataOptions,
    sources: &mut SourceMap,
) -> Result<Vec<DataRow>, Vec<Diagnostic>> {
    let (spec, dir) = match (&opts.file, &c.data) {
        (Some(file), _) => (
            DataSpec::File { path: file.display().to_string(), span: Span::default() },
            std::path::PathBuf::new(),
        ),
        (None, Some(spec)) => {
            let dir = sources
                .get(spec.span().file)
                .and_then(|f| f.path.parent().map(std::path::Path::to_path_buf))
                .unwrap_or_default();
            (spec.clone(), dir)
        }
        (None, None) => {
            if let Some(n) = opts.row {
                return Err(vec![
                    Diagnostic::usage(
                        Code::BadValue,
                        format!("`--data-row {n}`, but `{}` has no `data:`", c.name),
                    )
                    .help("give the rows with `--data FILE`, or `data:` in the collection"),
                ]);
            }
            return Ok(Vec::new());
        }
    };
    let from_flag = opts.file.is_some();
    let rows = data::load(&spec, &dir, sources).map_err(|ds| {
        if !from_flag {
            return ds;
        }
        // `--data FILE` is not written anywhere: its problems are usage errors, shown
        // without a place in a collection (a bad row still points into the file).
        ds.into_iter()
            .map(|mut d| {
                let before = d.labels.len();
                d.labels.retain(|l| l.span != Span::default());
                if d.labels.len() < before {
                    d.exit = crate::exit::Exit::Usage;
                    d.message = format!("--data: {}", d.message);
                }
                d
            })
            .collect::<Vec<_>>()
    })?;
    let count = rows.len();
    match opts.row {
        None => Ok(rows),
        Some(n) => match rows.into_iter().nth(n.saturating_sub(1)) {
            Some(row) => Ok(vec![row]),
            None => Err(vec![
                Diagnostic::usage(
                    Code::BadValue,
                    format!("`--data-row {n}`: the data of `{}` has {count} rows", c.name),
                )
                .help("rows are numbered from 1, the header of a CSV file not counted"),
            ]),
        },
    }
}

/// The plan of `c`: validated once per row (the first row's plan is kept; a row that
/// breaks a template stops there, named in a note), with a pass per row and repetition.
pub(super) fn plan<'a>(
    c: &'a Collection,
    engine: &'a Engine,
    rows: &[DataRow],
    overrides: &Overrides,
    repeat: u32,
    sources: &SourceMap,
    masker: &Masker,
) -> Result<Plan<'a>, Vec<Diagnostic>> {
    let check = |row: Option<&DataRow>| {
        let mut layered = overrides.clone();
        if let Some(row) = row {
            layered.row = row.values.clone();
        }
        validate::resolve_vars(c, engine, &layered, sources, masker)
            .and_then(|scope| validate::check(c, engine, scope, sources, masker))
    };
    if rows.is_empty() {
        let mut plan = check(None)?;
        if repeat > 1 {
            plan.passes = (1..=repeat)
                .map(|i| Pass { label: format!("run {i}/{repeat}"), scope: Arc::clone(&plan.scope) })
                .collect();
        }
        return Ok(plan);
    }
    let mut kept: Option<Plan<'a>> = None;
    let mut passes = Vec::with_capacity(rows.len() * repeat as usize);
    for row in rows {
        let plan = check(Some(row)).map_err(|ds| {
            ds.into_iter()
                .map(|d| d.note(format!("with data {} ({})", row.label, sources.position(row.span))))
                .collect::<Vec<_>>()
        })?;
        for i in 1..=repeat {
            let label =
                if repeat > 1 { format!("{}, run {i}/{repeat}", row.label) } else { row.label.clone() };
            passes.push(Pass { label, scope: Arc::clone(&plan.scope) });
        }
        if kept.is_none() {
            auth_reads_no_column(&plan, rows, sources)?;
            kept = Some(plan);
        }
    }
    let mut plan = kept.expect("rows is not empty");
    plan.passes = passes;
    Ok(plan)
}

/// Auth steps run once, before the rows: one that reads a column would silently use
/// the first row's value.
fn auth_reads_no_column(
    plan: &Plan<'_>,
    rows: &[DataRow],
    sources: &SourceMap,
) -> Result<(), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    for ps in plan.steps.iter().filter(|ps| ps.step.role == Role::Auth) {
        let mut read = Vec::new();
        let _ = ps.step.map(&mut |t| t.variables(sources, &mut read));
        for (name, span) in read {
            if rows[0].values.iter().any(|(k, _)| *k == name) {
                diags.push(
                    Diagnostic::error(
                        Code::MisplacedField,
                        format!("auth step `{}` reads `{name}`, a column of the data rows", ps.step.name),
                    )
                    .at(span, "read once, before the rows")
                    .help("auth steps run once per file; put a step that needs each row under `requests:`"),
                );
            }
        }
    }
    if diags.is_empty() { Ok(()) } else { Err(diags) }
}
