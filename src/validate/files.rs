//! Files expectations read (`json_schema:`, `body: {file: …}`): loaded and checked once,
//! before anything is sent, relative to the file that names them (a recipe's own folder
//! for a recipe's steps).

use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{BodyExpect, Expect, Loaded, LocalFile};
use crate::source::SourceMap;

/// The largest file an expectation may read.
const MAX_EXPECTED_FILE: u64 = 64 * 1024 * 1024;

/// Loads every file `expect` names; each problem becomes a diagnostic at its path.
pub fn load<T>(expect: &mut Expect<T>, sources: &SourceMap, diags: &mut Vec<Diagnostic>) {
    if let Some(schema) = &mut expect.json_schema {
        load_one(schema, sources, diags, true);
    }
    if let Some(BodyExpect::File(file)) = &mut expect.body {
        load_one(file, sources, diags, false);
    }
}

fn load_one(file: &mut LocalFile, sources: &SourceMap, diags: &mut Vec<Diagnostic>, schema: bool) {
    let dir = sources
        .get(file.span.file)
        .and_then(|f| f.path.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    let path = dir.join(&file.path);
    let fail = |message: String, label: &str, help: &str| {
        Diagnostic::error(Code::MissingPath, message).at(file.span, label.to_string()).help(help.to_string())
    };
    let shown = crate::printable::line(&file.path).into_owned();
    let bytes = match std::fs::metadata(&path) {
        Ok(m) if m.len() > MAX_EXPECTED_FILE => {
            diags.push(fail(
                format!("`{shown}` is over the 64 MiB an expectation may read"),
                "too large",
                "compare a smaller document, or check parts of it with `json:`",
            ));
            return;
        }
        Ok(_) => match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                diags.push(fail(
                    format!("cannot read `{shown}`: {e}"),
                    "unreadable",
                    "check the path and its permissions",
                ));
                return;
            }
        },
        Err(e) => {
            diags.push(fail(
                format!("cannot read `{shown}`: {e}"),
                "no such file",
                "paths are relative to the collection file that names them",
            ));
            return;
        }
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    if !schema {
        file.loaded = Some(Arc::new(Loaded::Body(bytes, json)));
        return;
    }
    let Some(doc) = json else {
        let why = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        diags.push(
            Diagnostic::error(Code::BadValue, format!("`{shown}` is not JSON: {why}"))
                .at(file.span, "not a JSON Schema")
                .help("a schema is a JSON document such as `{\"type\": \"object\", \"required\": [\"id\"]}`"),
        );
        return;
    };
    match jsonschema::validator_for(&doc) {
        Ok(v) => file.loaded = Some(Arc::new(Loaded::Schema(v))),
        Err(e) => diags.push(
            Diagnostic::error(Code::BadValue, format!("`{shown}` is not a valid JSON Schema: {e}"))
                .at(file.span, "invalid schema")
                .help("check it against its `$schema` draft; remote and file `$ref`s are not fetched"),
        ),
    }
}
