//! Invalid-input corpus.
//!
//! Every file in `tests/fixtures/invalid/` holds one problem, described by its first
//! line (`# …`). `baton validate` must reject each with exit 3, a `file:line:col`
//! position past that comment, a hint where useful, and never a panic; `baton run` must
//! reject it the same way without sending anything. Usage errors exit 2.
//!
//! Fixture URLs use `http://localhost:9` (discard): the redactor rewrites
//! `127.0.0.1:<port>`, which would shift the quoted source lines under their carets.

use std::path::Path;

use regex::Regex;

use crate::support::{self, Output, Test};

/// Fixtures that currently expose a bug in baton. For these the full checks are
/// skipped, but the test fails as soon as the bug is gone, so that the entry is removed
/// here and the fixture's snapshot is reviewed and accepted.
const KNOWN_BUGS: &[(&str, &str)] = &[];

/// Fixtures whose problem is the whole file, so the position is 1:1 by design.
const WHOLE_FILE: &[&str] = &["empty.yaml", "only-comments.yaml"];

fn known_bug(name: &str) -> Option<&'static str> {
    KNOWN_BUGS.iter().find(|(f, _)| *f == name).map(|(_, why)| *why)
}

/// `(file name, path relative to the crate root)` of a fixture.
fn fixture(path: &Path) -> (String, String) {
    let name = path.file_name().expect("file name").to_string_lossy().into_owned();
    let rel = format!("tests/fixtures/invalid/{name}");
    assert!(support::root().join(&rel).is_file(), "{rel} is not a fixture");
    (name, rel)
}

/// Every fixture, sorted, as `(file name, relative path)`.
fn fixtures() -> Vec<(String, String)> {
    let dir = support::root().join("tests/fixtures/invalid");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| fixture(&p))
        .collect();
    out.sort();
    out
}

fn assert_no_panic(what: &str, out: &Output) {
    let all = out.all();
    assert!(!all.contains("panicked"), "{what}: baton panicked\n{all}");
    assert!(!all.contains("RUST_BACKTRACE"), "{what}: baton printed a backtrace hint\n{all}");
}

/// Fails once a known bug no longer reproduces.
fn assert_still_buggy(rel: &str, why: &str, out: &Output) {
    let rejected = out.code == 3 && !out.all().contains("panicked");
    assert!(
        !rejected,
        "{rel} looks fixed ({why}): remove it from KNOWN_BUGS in tests/integration/invalid.rs \
         and review its snapshot\n{}",
        out.all()
    );
}

#[test]
fn every_fixture_is_rejected_with_a_position() {
    let position = Regex::new(r"(?m)^\s*--> (\S+):(\d+):(\d+)$").expect("re");
    // Base folder relative to this file (tests/integration/); insta refuses `../` in the pattern.
    insta::glob!("../fixtures/invalid", "*.yaml", |path| {
        let (name, rel) = fixture(path);
        let bytes = std::fs::read(path).expect("read fixture");
        assert!(
            bytes.is_empty() || bytes.starts_with(b"# "),
            "{rel} must start with a `# …` line saying what is wrong"
        );
        let out = Test::new().in_root().args(&["validate", &rel]).run();
        if let Some(why) = known_bug(&name) {
            assert_still_buggy(&rel, why, &out);
            return;
        }
        let text = out.transcript();
        assert_eq!(out.code, 3, "{rel}: expected exit 3 (invalid collection)\n{text}");
        assert_no_panic(&rel, &out);
        assert!(out.stdout.is_empty(), "{rel}: nothing belongs on stdout\n{text}");
        assert!(out.stderr.contains("error["), "{rel}: no diagnostic\n{text}");
        assert!(
            out.stderr.trim_end().ends_with("nothing was sent"),
            "{rel}: should end with the problem count\n{text}"
        );
        let with_pos = Regex::new(&format!(r"{}:\d+:\d+", regex::escape(&rel))).expect("re");
        assert!(with_pos.is_match(&out.stderr), "{rel}: no `{rel}:LINE:COL` in stderr\n{text}");
        // The first diagnostic's position: the problem sits after the leading comment.
        let first = position.captures(&out.stderr).expect("a `-->` line");
        assert_eq!(&first[1], rel, "{rel}: the first diagnostic points into another file\n{text}");
        let line: usize = first[2].parse().expect("line");
        if WHOLE_FILE.contains(&name.as_str()) {
            assert_eq!((&first[2], &first[3]), ("1", "1"), "{rel}\n{text}");
        } else {
            assert!(line > 1, "{rel}: position {line} is on the comment line, not the problem\n{text}");
        }
        insta::assert_snapshot!("validate", text);
    });
}

#[test]
fn run_rejects_every_fixture_without_sending() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 30, "the corpus shrank to {} fixtures", fixtures.len());
    for (name, rel) in fixtures {
        let validate = Test::new().in_root().args(&["validate", &rel]).run();
        let run = Test::new().in_root().args(&["run", &rel]).run();
        if let Some(why) = known_bug(&name) {
            assert_still_buggy(&rel, why, &validate);
            continue;
        }
        let all = run.all();
        assert_eq!(run.code, validate.code, "{rel}: `run` and `validate` disagree\n{all}");
        assert_no_panic(&rel, &run);
        assert!(!all.contains('✓') && !all.contains('✗'), "{rel}: `run` reported a step result\n{all}");
        assert!(run.stderr.contains("nothing was sent"), "{rel}\n{all}");
    }
}

#[test]
fn ten_megabyte_collection_is_refused_quickly() {
    let step = "  - url: http://127.0.0.1:9/get\n    expect: {status: 200}\n";
    let mut text = String::from("# a collection far over the size limit\nrequests:\n");
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(step);
    }
    text.truncate(10 * 1024 * 1024);
    let t = Test::new().in_root().file("big.yaml", &text);
    for cmd in ["validate", "run"] {
        let out = t.clone().args(&[cmd, &t.path("big.yaml")]).run();
        let shown = out.transcript();
        assert_eq!(out.code, 3, "{cmd}\n{shown}");
        assert_no_panic(cmd, &out);
        assert!(out.stderr.contains("limited to"), "{cmd}\n{shown}");
        assert!(out.stderr.contains("big.yaml:1:1"), "{cmd}\n{shown}");
        if cmd == "validate" {
            insta::assert_snapshot!("too_large", shown);
        }
    }
}

/// Runs `test` from the crate root; it must be a usage error (exit 2). Snapshots its
/// transcript as `snapshot` and returns it.
fn usage_error(snapshot: &str, test: Test) -> String {
    let out = test.in_root().run();
    let text = out.transcript();
    assert_eq!(out.code, 2, "{snapshot}: expected exit 2 (usage)\n{text}");
    assert_no_panic(snapshot, &out);
    assert!(out.stdout.is_empty(), "{snapshot}: usage errors go to stderr\n{text}");
    assert!(out.stderr.contains("error"), "{snapshot}\n{text}");
    insta::assert_snapshot!(snapshot, text);
    text
}

#[test]
fn var_without_value_is_a_usage_error() {
    let args = ["validate", "collections/demo.yaml", "--var", "novalue"];
    let text = usage_error("usage_var_novalue", Test::new().args(&args));
    assert!(text.contains("novalue=value"), "{text}");
}

#[test]
fn var_with_bad_name_is_a_usage_error() {
    let args = ["validate", "collections/demo.yaml", "--var", "1bad=x"];
    let text = usage_error("usage_var_bad_name", Test::new().args(&args));
    assert!(text.contains("`1bad`"), "{text}");
}

#[test]
fn missing_env_file_is_a_usage_error() {
    let args = ["validate", "collections/demo.yaml", "--env-file", "missing.env"];
    let text = usage_error("usage_env_file_missing", Test::new().args(&args));
    assert!(text.contains("missing.env"), "{text}");
}

#[test]
fn env_file_with_an_invalid_line_is_a_usage_error() {
    // `this` is read as a name, then `=` is wanted and `is not valid` found.
    let t = Test::new().file("bad.env", "# settings\nGOOD=1\nthis is not valid\nAFTER=2\n");
    let env_file = t.path("bad.env");
    let text = usage_error(
        "usage_env_file_bad_line",
        t.args(&["validate", "collections/demo.yaml", "--env-file", &env_file]),
    );
    assert!(text.contains("bad.env:3:6"), "{text}");
}

#[test]
fn env_file_with_an_unclosed_quote_points_at_the_quote_not_past_the_end() {
    let t = Test::new().file("bad.env", "A=1\nB=\"never closed\nC=2\n");
    let env_file = t.path("bad.env");
    let text = usage_error(
        "usage_env_file_unclosed_quote",
        t.args(&["validate", "collections/demo.yaml", "--env-file", &env_file]),
    );
    assert!(text.contains("bad.env:2:3"), "{text}");
    assert!(text.contains("B=\"never closed"), "the line is shown: {text}");
}

#[test]
fn missing_path_is_a_usage_error() {
    let args = ["validate", "tests/fixtures/invalid/no-such-file.yaml"];
    let text = usage_error("usage_missing_path", Test::new().args(&args));
    assert!(text.contains("no-such-file.yaml"), "{text}");
}

#[test]
fn empty_folder_is_a_usage_error() {
    let t = Test::new();
    let empty = t.dir().to_string_lossy().into_owned();
    let text = usage_error("usage_empty_folder", t.args(&["validate", &empty]));
    assert!(text.contains("[tmp]"), "{text}");
}

#[test]
fn run_without_a_path_is_a_usage_error() {
    let text = usage_error("usage_run_no_path", Test::new().args(&["run"]));
    assert!(text.contains("<PATHS>"), "{text}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let args = ["validate", "--frobnicate", "collections/demo.yaml"];
    let text = usage_error("usage_unknown_flag", Test::new().args(&args));
    assert!(text.contains("--frobnicate"), "{text}");
}
