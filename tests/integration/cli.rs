//! Command-line behaviour: help, validate, TLS flags, exit codes.

use crate::support::{Server, baton, temp_file};

#[test]
fn help_lists_commands_examples_and_exit_codes() {
    let out = baton(&["--help"]);
    assert_eq!(out.code, 0);
    for needle in ["run", "validate", "plan", "Examples:", "Exit codes: 0 passed"] {
        assert!(out.stdout.contains(needle), "missing {needle}:\n{}", out.stdout);
    }
    // `demo` and `playground` exist only with the `playground` feature (a default one).
    for needle in ["\n  demo ", "\n  playground ", "baton playground --port"] {
        let listed = out.stdout.contains(needle);
        assert_eq!(listed, cfg!(feature = "playground"), "{needle:?} listed: {listed}\n{}", out.stdout);
    }
    let out = baton(&["run", "--help"]);
    for needle in ["--var", "--env-file", "--verbose", "--timeout", "--cacert", "--insecure", "--fail-fast"] {
        assert!(out.stdout.contains(needle), "missing {needle}:\n{}", out.stdout);
    }
}

#[test]
fn no_arguments_is_a_usage_error() {
    let out = baton(&[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("Usage"), "{}", out.stderr);
}

#[test]
fn validate_reports_each_collection_and_sends_nothing() {
    let out = baton(&["validate", "collections/"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ collections/demo.yaml: Demo chain (7 steps)"), "{}", out.stdout);
}

#[test]
fn insecure_warns_and_bad_cacert_is_a_usage_error() {
    let server = Server::start();
    let (dir, path) = temp_file("c.yaml", &format!("requests:\n  - url: {}/text\n", server.url));
    let p = path.to_string_lossy().into_owned();
    let out = baton(&["run", &p, "--insecure"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: --insecure: TLS certificates are NOT verified"), "{}", out.stderr);
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").expect("write");
    let out = baton(&["run", &p, "--cacert", &bad.to_string_lossy()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--cacert"), "{}", out.stderr);
}

#[test]
fn bad_timeout_flag_is_a_usage_error() {
    let out = baton(&["run", "collections/demo.yaml", "--timeout", "soon"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`--timeout soon` is not a positive duration"), "{}", out.stderr);
}

#[test]
#[cfg(feature = "playground")]
fn demo_serves_the_playground_and_runs_the_shipped_collections() {
    let out = baton(&["demo"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("playground on http://127.0.0.1:"), "{}", out.stdout);
    assert!(out.stdout.contains("Demo chain: 7 steps, 7 passed"), "{}", out.stdout);
}

#[test]
fn the_readme_collection_snippet_is_valid() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let section = readme.split("## A collection").nth(1).expect("section");
    let yaml = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next()).expect("yaml block");
    let (dir, path) = crate::support::temp_file("readme.yaml", yaml);
    let out = baton(&["validate", &path.to_string_lossy()]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    drop(dir);
}
