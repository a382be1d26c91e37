//! Command-line behaviour: help, validate, TLS flags, exit codes.

use crate::support::{Server, Test};

#[test]
fn help_lists_commands_examples_and_exit_codes() {
    let out = Test::new().in_root().args(&["--help"]).run();
    assert_eq!(out.code, 0);
    for needle in ["run", "validate", "plan", "Examples:", "Exit codes: 0 passed"] {
        assert!(out.stdout.contains(needle), "missing {needle}:\n{}", out.stdout);
    }
    // `demo` and `playground` exist only with the `playground` feature (a default one).
    for needle in ["\n  demo ", "\n  playground ", "baton playground --port"] {
        let listed = out.stdout.contains(needle);
        assert_eq!(listed, cfg!(feature = "playground"), "{needle:?} listed: {listed}\n{}", out.stdout);
    }
    let out = Test::new().in_root().args(&["run", "--help"]).run();
    for needle in ["--var", "--env-file", "--verbose", "--timeout", "--cacert", "--insecure", "--fail-fast"] {
        assert!(out.stdout.contains(needle), "missing {needle}:\n{}", out.stdout);
    }
}

#[test]
fn no_arguments_is_a_usage_error() {
    let out = Test::new().in_root().run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("Usage"), "{}", out.stderr);
}

#[test]
fn validate_reports_each_collection_and_sends_nothing() {
    let out = Test::new().in_root().args(&["validate", "collections/"]).run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ collections/demo.yaml: Demo chain (7 steps)"), "{}", out.stdout);
}

#[test]
fn insecure_warns_and_bad_cacert_is_a_usage_error() {
    let server = Server::start();
    let t = Test::new().server(&server).collection("c.yaml", "requests:\n  - url: BASE/text\n");
    let out = t.clone().args(&["run", "c.yaml", "--insecure"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: --insecure: TLS certificates are NOT verified"), "{}", out.stderr);
    let out = t.file("bad.pem", "not a certificate").args(&["run", "c.yaml", "--cacert", "bad.pem"]).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--cacert"), "{}", out.stderr);
}

#[test]
fn bad_timeout_flag_is_a_usage_error() {
    let out = Test::new().in_root().args(&["run", "collections/demo.yaml", "--timeout", "soon"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`--timeout soon` is not a positive duration"), "{}", out.stderr);
}

#[test]
#[cfg(feature = "playground")]
fn demo_serves_the_playground_and_runs_the_shipped_collections() {
    let out = Test::new().in_root().args(&["demo"]).run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("playground on http://127.0.0.1:"), "{}", out.stdout);
    assert!(out.stdout.contains("Demo chain: 7 steps, 7 passed"), "{}", out.stdout);
}

#[test]
fn the_readme_collection_snippet_is_valid() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let section = readme.split("## A collection").nth(1).expect("section");
    let yaml = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next()).expect("yaml block");
    let out = Test::new().collection("readme.yaml", yaml).args(&["validate", "readme.yaml"]).run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn the_readme_security_examples_run() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let section = readme.split("## Security").nth(1).and_then(|s| s.split("\n## ").next()).expect("section");
    let commands: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("baton run api/ "))
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .collect();
    assert!(commands.len() >= 2, "{commands:?}");
    let server = crate::support::Server::start();
    for flags in commands {
        let mut args = vec!["run", "api/"];
        args.extend(flags.split_whitespace());
        let out = Test::new()
            .server(&server)
            .collection("api/c.yaml", "requests:\n  - url: BASE/text\n")
            .args(&args)
            .run();
        assert_eq!(out.code, 0, "baton {args:?}\n{}", out.all());
    }
}
