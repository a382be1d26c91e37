//! Snapshot tests of responses: normalise, redact, compare, diff, update.
//!
//! A step with `snapshot:` stores its normalised response — status, chosen headers,
//! pretty JSON with sorted keys (text as is) — in
//! `__snapshots__/<collection>/<step>.snap` beside the collection. Secrets are always
//! masked; `redact:` paths become `[redacted]`. A mismatch is shown as a unified diff.
//! The leading `#` lines name the collection, step and request as they were when the
//! file was written: they are a label, not compared, so per-run values in the URL (a
//! captured id, a timestamp) never fail a rerun.
//! New snapshots are written unless running in CI; `--update-snapshots` or
//! `BATON_UPDATE=always|new|no` decide explicitly. Files are written atomically.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::exchange::Exchange;
use crate::model::SnapshotSpec;
use crate::secret::Masker;

/// What may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateMode {
    /// Write new snapshots and overwrite mismatching ones.
    Always,
    /// Write new snapshots only (the default outside CI).
    #[default]
    New,
    /// Write nothing (the default in CI).
    No,
}

/// `BATON_UPDATE` holds a value that is not an update mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("BATON_UPDATE={0} is not one of always, new, no")]
pub struct UnknownUpdateMode(pub String);

impl UpdateMode {
    /// Resolves the flag, `BATON_UPDATE` and `CI`; an unknown `BATON_UPDATE` is an error.
    pub fn resolve(flag: bool, baton_update: Option<&str>, ci: bool) -> Result<Self, UnknownUpdateMode> {
        if flag {
            return Ok(UpdateMode::Always);
        }
        match baton_update.map(str::trim) {
            Some("always") => Ok(UpdateMode::Always),
            Some("new") => Ok(UpdateMode::New),
            Some("no") => Ok(UpdateMode::No),
            Some(other) => Err(UnknownUpdateMode(other.to_string())),
            None if ci => Ok(UpdateMode::No),
            None => Ok(UpdateMode::New),
        }
    }
}

/// The outcome of comparing one response with its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same as stored.
    Matched,
    /// No snapshot yet; written.
    Created,
    /// Differed; overwritten (update mode `always`).
    Updated,
    /// Differed; not written. Holds the unified diff.
    Mismatch(String),
    /// No snapshot and writing is off (CI).
    Missing,
}

impl Verdict {
    /// Whether this verdict fails the run.
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Mismatch(_) | Verdict::Missing)
    }
}

/// A file-name-safe form of a step name.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "step".into() } else { out }
}

/// The folder holding a collection's snapshots.
pub fn dir_for(collection: &Path) -> PathBuf {
    let stem =
        collection.file_stem().map_or_else(|| "collection".into(), |s| s.to_string_lossy().into_owned());
    collection.parent().unwrap_or(Path::new(".")).join("__snapshots__").join(stem)
}

/// Where one step's snapshot lives.
pub fn path_for(collection: &Path, step: &str) -> PathBuf {
    dir_for(collection).join(format!("{}.snap", slug(step)))
}

fn sorted(v: Json) -> Json {
    match v {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The normalised text stored for a response.
pub fn render(
    collection: &str,
    step: &str,
    request_line: &str,
    ex: &Exchange,
    spec: &SnapshotSpec,
    masker: &Masker,
) -> String {
    let mut out =
        format!("# baton snapshot: {collection} / {step}\n# {request_line}\n\nstatus: {}\n", ex.status);
    let mut names: Vec<&str> = vec!["content-type"];
    names.extend(spec.headers.iter().map(String::as_str).filter(|h| *h != "content-type"));
    for name in names {
        if let Some(v) = ex.header(name) {
            out.push_str(&format!("header {name}: {v}\n"));
        }
    }
    out.push('\n');
    match ex.json() {
        Some(doc) => {
            let mut doc = doc.clone();
            for path in &spec.redact {
                let pointers: Vec<String> =
                    path.compiled.query_located(&doc).locations().map(|l| l.to_json_pointer()).collect();
                for p in pointers {
                    if let Some(slot) = doc.pointer_mut(&p) {
                        *slot = Json::String("[redacted]".into());
                    }
                }
            }
            out.push_str(&serde_json::to_string_pretty(&sorted(doc)).unwrap_or_default());
            out.push('\n');
        }
        None => {
            let text = ex.text();
            out.push_str(&text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    masker.mask(&out)
}

fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    crate::atomic::write(path, text.as_bytes(), false)
}

/// Splits a snapshot into its label (the leading `#` lines and the blank line after
/// them) and the compared response. A file without a label is all response.
fn split_label(text: &str) -> (&str, &str) {
    if !text.starts_with("# ") {
        return ("", text);
    }
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        end += line.len();
        if line == "\n" {
            return text.split_at(end);
        }
        if !line.starts_with('#') {
            return ("", text);
        }
    }
    ("", text)
}

/// Compares `received` with the stored snapshot at `path`, writing as `mode` allows.
/// Only the response is compared, not the label (see the module docs). Blocking: call
/// it off the async path.
pub fn compare(path: &Path, received: &str, mode: UpdateMode) -> std::io::Result<Verdict> {
    match std::fs::read_to_string(path) {
        Ok(stored) if split_label(&stored).1 == split_label(received).1 => Ok(Verdict::Matched),
        Ok(stored) => {
            if mode == UpdateMode::Always {
                write_atomic(path, received)?;
                return Ok(Verdict::Updated);
            }
            // The diff shows only what is compared: the received label over the stored body.
            let stored = format!("{}{}", split_label(received).0, split_label(&stored).1);
            let diff = similar::TextDiff::from_lines(&stored, received)
                .unified_diff()
                .context_radius(3)
                .header("stored", "received")
                .to_string();
            Ok(Verdict::Mismatch(diff))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match mode {
            UpdateMode::No => Ok(Verdict::Missing),
            UpdateMode::Always | UpdateMode::New => {
                write_atomic(path, received)?;
                Ok(Verdict::Created)
            }
        },
        Err(e) => Err(e),
    }
}

/// Snapshot files of a collection whose step no longer exists.
pub fn orphans(collection: &Path, steps: &[&str]) -> Vec<PathBuf> {
    let wanted: Vec<String> = steps.iter().map(|s| format!("{}.snap", slug(s))).collect();
    let Ok(entries) = std::fs::read_dir(dir_for(collection)) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .filter(|p| p.file_name().is_some_and(|n| !wanted.iter().any(|w| w.as_str() == n)))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_mode_follows_flag_then_env_then_ci() {
        assert_eq!(UpdateMode::resolve(true, Some("no"), true), Ok(UpdateMode::Always));
        assert_eq!(UpdateMode::resolve(false, Some("new"), true), Ok(UpdateMode::New));
        assert_eq!(UpdateMode::resolve(false, None, true), Ok(UpdateMode::No));
        assert_eq!(UpdateMode::resolve(false, None, false), Ok(UpdateMode::New));
        assert!(UpdateMode::resolve(false, Some("sometimes"), false).is_err());
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(slug("GET /users/{id}"), "get-users-id");
        assert_eq!(slug("Créer un élément"), "créer-un-élément");
        assert_eq!(slug("///"), "step");
    }

    #[test]
    fn json_is_sorted_redacted_and_masked() {
        let masker = Masker::default();
        masker.add("tok-secret");
        let ex = Exchange::new(
            200,
            vec![("content-type".into(), "application/json".into()), ("x-id".into(), "7".into())],
            br#"{"b": 1, "a": {"id": 42, "token": "tok-secret"}, "when": "2026-01-01"}"#.to_vec(),
        );
        let path = serde_json_path::JsonPath::parse("$.when").expect("path");
        let spec = SnapshotSpec {
            redact: vec![crate::model::Compiled {
                compiled: path,
                source: "$.when".into(),
                span: Default::default(),
            }],
            headers: vec!["x-id".into()],
            span: Default::default(),
        };
        let text = render("c", "s", "GET /x", &ex, &spec, &masker);
        let expected = "# baton snapshot: c / s\n# GET /x\n\nstatus: 200\nheader content-type: application/json\nheader x-id: 7\n\n{\n  \"a\": {\n    \"id\": 42,\n    \"token\": \"•••\"\n  },\n  \"b\": 1,\n  \"when\": \"[redacted]\"\n}\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn compare_creates_matches_diffs_and_updates() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s.snap");
        assert_eq!(compare(&path, "a\n", UpdateMode::No).expect("io"), Verdict::Missing);
        assert!(!path.exists());
        assert_eq!(compare(&path, "a\n", UpdateMode::New).expect("io"), Verdict::Created);
        assert_eq!(compare(&path, "a\n", UpdateMode::No).expect("io"), Verdict::Matched);
        let Verdict::Mismatch(diff) = compare(&path, "b\n", UpdateMode::New).expect("io") else {
            panic!("mismatch")
        };
        assert!(diff.contains("-a\n+b\n"), "{diff}");
        assert_eq!(compare(&path, "b\n", UpdateMode::Always).expect("io"), Verdict::Updated);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "b\n");
    }

    fn no_spec() -> SnapshotSpec {
        SnapshotSpec { redact: Vec::new(), headers: Vec::new(), span: Default::default() }
    }

    #[test]
    fn baton_update_is_trimmed_and_named_in_the_error() {
        assert_eq!(UpdateMode::resolve(false, Some(" always "), false), Ok(UpdateMode::Always));
        let err = UpdateMode::resolve(false, Some("yes"), true).expect_err("unknown");
        assert_eq!(err.to_string(), "BATON_UPDATE=yes is not one of always, new, no");
    }

    #[test]
    fn only_mismatch_and_missing_fail_the_run() {
        let failing: Vec<bool> = [
            Verdict::Matched,
            Verdict::Created,
            Verdict::Updated,
            Verdict::Mismatch(String::new()),
            Verdict::Missing,
        ]
        .iter()
        .map(Verdict::is_failure)
        .collect();
        assert_eq!(failing, [false, false, false, true, true]);
    }

    #[test]
    fn snapshots_live_beside_the_collection_under_its_stem() {
        let collection = Path::new("api/users.yaml");
        assert_eq!(dir_for(collection), Path::new("api/__snapshots__/users"));
        assert_eq!(path_for(collection, "Get user #1"), Path::new("api/__snapshots__/users/get-user-1.snap"));
        assert_eq!(path_for(Path::new("top.yaml"), "x"), Path::new("__snapshots__/top/x.snap"));
    }

    #[test]
    fn text_bodies_end_with_one_newline_and_empty_bodies_add_none() {
        let masker = Masker::default();
        let ex = Exchange::new(200, vec![("content-type".into(), "text/plain".into())], b"hello".to_vec());
        let text = render("c", "s", "GET /t", &ex, &no_spec(), &masker);
        assert!(text.ends_with("header content-type: text/plain\n\nhello\n"), "{text:?}");
        let empty = Exchange::new(204, Vec::new(), Vec::new());
        let text = render("c", "s", "GET /e", &empty, &no_spec(), &masker);
        assert_eq!(text, "# baton snapshot: c / s\n# GET /e\n\nstatus: 204\n\n");
    }

    #[test]
    fn content_type_is_listed_once_even_when_asked_for() {
        let spec = SnapshotSpec { headers: vec!["content-type".into(), "etag".into()], ..no_spec() };
        let ex = Exchange::new(
            200,
            vec![("Content-Type".into(), "text/csv".into()), ("ETag".into(), "\"v1\"".into())],
            b"a,b\n".to_vec(),
        );
        let text = render("c", "s", "GET /csv", &ex, &spec, &Masker::default());
        assert_eq!(text.matches("header content-type").count(), 1, "{text}");
        assert!(text.contains("header etag: \"v1\"\n"), "{text}");
    }

    #[test]
    fn a_mismatch_diff_is_labelled_stored_and_received() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s.snap");
        std::fs::write(&path, "status: 200\n").expect("write");
        let Verdict::Mismatch(diff) = compare(&path, "status: 201\n", UpdateMode::No).expect("io") else {
            panic!("mismatch")
        };
        assert!(diff.starts_with("--- stored\n+++ received\n"), "{diff}");
        assert!(diff.contains("-status: 200\n+status: 201\n"), "{diff}");
    }

    #[test]
    fn the_label_is_not_compared_and_not_in_the_diff() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s.snap");
        let first = "# baton snapshot: c / s\n# GET /users/41?ts=1\n\nstatus: 200\n\n{}\n";
        assert_eq!(compare(&path, first, UpdateMode::New).expect("io"), Verdict::Created);
        let rerun = "# baton snapshot: c / s\n# GET /users/42?ts=2\n\nstatus: 200\n\n{}\n";
        assert_eq!(compare(&path, rerun, UpdateMode::No).expect("io"), Verdict::Matched);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), first, "a matching rerun writes nothing");
        let changed = "# baton snapshot: c / s\n# GET /users/43\n\nstatus: 404\n\n{}\n";
        let Verdict::Mismatch(diff) = compare(&path, changed, UpdateMode::No).expect("io") else {
            panic!("mismatch")
        };
        assert!(diff.contains("-status: 200\n+status: 404\n"), "{diff}");
        assert!(diff.contains("\n # GET /users/43\n"), "the received label is context: {diff}");
        assert!(!diff.contains("-# GET") && !diff.contains("+# GET"), "a label is not a difference: {diff}");
        // A stored file without a label (or hand-edited) is compared whole.
        assert_eq!(split_label("status: 200\n\n{}\n"), ("", "status: 200\n\n{}\n"));
        assert_eq!(split_label("# a\nstatus: 200\n\n"), ("", "# a\nstatus: 200\n\n"));
        assert_eq!(split_label("# a\n# b\n\nx\n"), ("# a\n# b\n\n", "x\n"));
    }

    #[test]
    fn orphans_are_snapshots_whose_step_is_gone() {
        let dir = tempfile::tempdir().expect("tmp");
        let collection = dir.path().join("api.yaml");
        let snaps = dir_for(&collection);
        std::fs::create_dir_all(&snaps).expect("mkdir");
        for f in ["login.snap", "old-step.snap", "another.snap", "notes.txt"] {
            std::fs::write(snaps.join(f), "x").expect("write");
        }
        let found: Vec<String> = orphans(&collection, &["Login"])
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, ["another.snap", "old-step.snap"], "sorted, `.snap` only, slugs compared");
        assert!(orphans(&dir.path().join("none.yaml"), &[]).is_empty(), "no folder, no orphans");
    }
}
