//! Data rows: a collection's requests run once per row of a CSV or JSON file, or of an
//! inline `data:` list, each row a layer of variables.
//!
//! A data file is added to the [`SourceMap`], so a bad row is reported at its own
//! `file:line:col`, like a collection.

use std::path::Path;

use serde_json::Value as Json;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::DataSpec;
use crate::source::{Key, SourceMap, Span};
use crate::yaml::{Node, Value};

/// Most rows a data source may hold.
pub const MAX_ROWS: usize = 100_000;
/// Largest data file read.
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// One row: a label for reports, its values, where it is written.
#[derive(Debug, Clone)]
pub struct DataRow {
    /// `row 2: b@example.test`: the number and the first value that is not secret.
    pub label: String,
    /// Column → value, in column order.
    pub values: Vec<(String, Json)>,
    /// The row in its file.
    pub span: Span,
}

/// The rows of `spec`, read relative to `dir` (a file given with `--data` is relative to
/// the working directory: pass an absolute or cwd-relative path and an empty `dir`).
pub fn load(spec: &DataSpec, dir: &Path, sources: &mut SourceMap) -> Result<Vec<DataRow>, Vec<Diagnostic>> {
    let rows = match spec {
        DataSpec::Inline { rows, .. } => inline(rows)?,
        DataSpec::File { path, span } => {
            let full = dir.join(path);
            let text = read(&full, path, *span)?;
            let id = sources.add(&full, text);
            let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
            let lower = path.to_ascii_lowercase();
            if lower.ends_with(".json") {
                json_rows(&text, id, *span, path)?
            } else if lower.ends_with(".csv") || lower.ends_with(".tsv") {
                csv_rows(&text, id, lower.ends_with(".tsv"))?
            } else {
                return Err(vec![
                    Diagnostic::error(Code::BadValue, format!("`{path}` is not a CSV or JSON file"))
                        .at(*span, "unknown data format")
                        .help("name the file `….csv`, `….tsv` or `….json` (a list of objects)"),
                ]);
            }
        }
    };
    if rows.len() > MAX_ROWS {
        return Err(vec![
            Diagnostic::error(
                Code::BadValue,
                format!("{} data rows, more than the {MAX_ROWS} a collection may run", rows.len()),
            )
            .at(spec.span(), "too many rows")
            .help("split the data into several files and collections"),
        ]);
    }
    if rows.is_empty() {
        return Err(vec![
            Diagnostic::error(Code::BadValue, "the data has no rows")
                .at(spec.span(), "no rows")
                .help("add rows, or remove `data:` to run the requests once"),
        ]);
    }
    Ok(rows)
}

fn read(full: &Path, shown: &str, span: Span) -> Result<String, Vec<Diagnostic>> {
    let fail = |why: String| {
        vec![Diagnostic::error(Code::MissingPath, format!("cannot read the data file `{shown}`: {why}"))
            .at(span, "here")
            .help("a data file is read relative to the collection (`--data` relative to the current folder)")]
    };
    let meta = std::fs::metadata(full).map_err(|e| fail(e.to_string()))?;
    if meta.len() > MAX_FILE {
        return Err(fail("it is over 64 MiB".into()));
    }
    let bytes = std::fs::read(full).map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| fail("it is not UTF-8 text".into()))?;
    Ok(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text))
}

/// A column name must be a variable name; the problem is reported at the header.
fn check_name(name: &str, span: Span) -> Result<(), Diagnostic> {
    crate::parse::bad_variable_name(&Key { name: name.to_string(), span }).map_or(Ok(()), Err)
}

fn label(number: usize, values: &[(String, Json)]) -> String {
    let shown = values.iter().find(|(k, v)| !crate::secret::is_secret_name(k) && !v.is_null()).map(
        |(_, v)| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        },
    );
    match shown {
        Some(v) => {
            let v: String = v.chars().take(40).collect();
            format!("row {number}: {}", crate::printable::line(&v))
        }
        None => format!("row {number}"),
    }
}

fn inline(rows: &[Node]) -> Result<Vec<DataRow>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Value::Map(entries) = &row.value else {
            diags.push(
                Diagnostic::error(Code::WrongType, format!("data row {} is not a mapping", i + 1))
                    .at(row.span, "expected `{column: value, …}`")
                    .help("write each row as `- {email: a@example.test, name: Ann}`"),
            );
            continue;
        };
        let mut values = Vec::new();
        for (k, v) in entries {
            if let Err(d) = check_name(&k.name, k.span) {
                diags.push(d);
                continue;
            }
            values.push((k.name.clone(), v.to_json()));
        }
        out.push(DataRow { label: label(i + 1, &values), values, span: row.span });
    }
    if diags.is_empty() { Ok(out) } else { Err(diags) }
}

fn csv_rows(text: &str, file: u32, tab: bool) -> Result<Vec<DataRow>, Vec<Diagnostic>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tab { b'\t' } else { b',' })
        .flexible(false)
        .from_reader(text.as_bytes());
    let at = |offset: u64, len: usize| {
        let start = usize::try_from(offset).unwrap_or(text.len()).min(text.len());
        let end = text[start..].find('\n').map_or(text.len(), |n| start + n).min(start + len.max(1));
        Span::new(file, start, end)
    };
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![csv_error(&e, text, file)]),
    };
    let mut diags = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut offset = 0usize;
    for h in headers.iter() {
        let start = text[offset..].find(h).map_or(offset, |i| offset + i);
        let span = Span::new(file, start, start + h.len());
        offset = start + h.len();
        if let Err(d) = check_name(h.trim(), span) {
            diags.push(d);
        } else if names.iter().any(|n| n == h.trim()) {
            diags.push(
                Diagnostic::error(Code::DuplicateKey, format!("the column `{}` is named twice", h.trim()))
                    .at(span, "second column of that name")
                    .help("rename one of the two columns"),
            );
        }
        names.push(h.trim().to_string());
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => return Err(vec![csv_error(&e, text, file)]),
        };
        let pos = record.position().map_or(0, csv::Position::byte);
        let values: Vec<(String, Json)> =
            names.iter().cloned().zip(record.iter().map(|v| Json::String(v.to_string()))).collect();
        out.push(DataRow { label: label(i + 1, &values), values, span: at(pos, 200) });
    }
    Ok(out)
}

fn csv_error(e: &csv::Error, text: &str, file: u32) -> Diagnostic {
    let pos = e.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(0)).min(text.len());
    let end = text[pos..].find('\n').map_or(text.len(), |n| pos + n);
    let (message, help) = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => (
            format!(
                "this data row has {len} value{}, the header {expected_len} column{}",
                if *len == 1 { "" } else { "s" },
                if *expected_len == 1 { "" } else { "s" }
            ),
            "give every row one value per column (quote a value that holds a comma: \"a, b\")".to_string(),
        ),
        _ => (format!("the data file is not valid CSV: {e}"), "check the quoting on this line".to_string()),
    };
    Diagnostic::error(Code::BadValue, message)
        .at(Span::new(file, pos, end.max(pos + 1).min(text.len())), "this row")
        .help(help)
}

fn json_rows(text: &str, file: u32, span: Span, shown: &str) -> Result<Vec<DataRow>, Vec<Diagnostic>> {
    let doc: Json = serde_json::from_str(text).map_err(|e| {
        let line_start: usize =
            text.split_inclusive('\n').take(e.line().saturating_sub(1)).map(str::len).sum();
        let offset = text[line_start..]
            .char_indices()
            .nth(e.column().saturating_sub(1))
            .map_or(text.len(), |(i, _)| line_start + i);
        vec![
            Diagnostic::error(Code::BadValue, format!("`{shown}` is not valid JSON: {e}"))
                .at(Span::new(file, offset, (offset + 1).min(text.len())), "here")
                .help("a JSON data file is a list of objects: `[{\"email\": \"a@example.test\"}]`"),
        ]
    })?;
    let Json::Array(items) = doc else {
        return Err(vec![
            Diagnostic::error(Code::BadValue, format!("`{shown}` is not a list of rows"))
                .at(span, "expected a JSON list of objects")
                .help("write `[{\"email\": \"a@example.test\"}, …]`"),
        ]);
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Json::Object(map) = item else {
            return Err(vec![
                Diagnostic::error(Code::BadValue, format!("row {} of `{shown}` is not an object", i + 1))
                    .at(span, "in this file")
                    .help("each row is an object of column → value"),
            ]);
        };
        let mut values = Vec::new();
        for (k, v) in map {
            if let Err(d) = check_name(&k, span) {
                return Err(vec![d]);
            }
            values.push((k, v));
        }
        out.push(DataRow { label: label(i + 1, &values), values, span });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Vec<DataRow>, Vec<Diagnostic>> {
        let mut sources = SourceMap::default();
        let id = sources.add("d.csv", text.to_string());
        csv_rows(text, id, false)
    }

    #[test]
    fn csv_rows_are_named_by_their_header_and_labelled_by_their_first_value() {
        let rows =
            csv("email,password,age\na@example.test,pw-1,31\n\"b, c@example.test\",pw-2,42\n").expect("rows");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].values[0], ("email".to_string(), Json::String("b, c@example.test".into())));
        assert_eq!(rows[1].label, "row 2: b, c@example.test");
        let secret_first = csv("password,name\npw,Ann\n").expect("rows");
        assert_eq!(secret_first[0].label, "row 1: Ann", "a secret column never labels a row");
    }

    #[test]
    fn a_short_row_and_a_bad_column_name_are_errors_where_they_are() {
        let text = "email,name\na@example.test,Ann\nb@example.test\n";
        let errs = csv(text).expect_err("short row");
        assert!(errs[0].message.contains("has 1 value, the header 2 columns"), "{}", errs[0].message);
        let errs = csv("e-mail,name\nx,y\n").expect_err("bad name");
        assert!(
            errs[0].message.contains("`e-mail` cannot be used as a variable name"),
            "{}",
            errs[0].message
        );
    }
}
