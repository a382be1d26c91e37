//! Snapshot testing of responses: create, match, mismatch with a diff, CI mode, update,
//! orphans, redaction and masking.

use crate::support::{Server, Test, squeeze};

fn collection(tag: &str, step: &str) -> String {
    format!(
        r#"name: snaps
vars:
  api_token: "{{{{ secret_env('SNAP_TOKEN', default='snap-secret-123') }}}}"
requests:
  - name: {step}
    url: BASE/echo?tag={tag}
    headers: {{x-token: "{{{{ api_token }}}}"}}
    snapshot:
      redact: ["$.headers['user-agent']", "$.headers.host"]
  - name: csv
    url: BASE/csv?run={{{{ uuid() }}}}
    snapshot: true
"#
    )
}

#[test]
fn snapshots_are_created_matched_diffed_updated_and_guarded_in_ci() {
    let server = Server::start();
    let t = Test::new().server(&server).collection("api.yaml", &collection("one", "echo"));
    let run = |t: &Test| t.clone().args(&["run", "api.yaml"]);
    let snap = t.dir().join("__snapshots__/api/echo.snap");

    // CI without a stored snapshot: fails with exit 5 and writes nothing.
    let out = run(&t).env("CI", "true").run();
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(out.stdout.contains("snapshot missing"), "{}", out.stdout);
    assert!(!snap.exists());

    // Locally: written.
    let out = run(&t).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("snapshot written: __snapshots__/api/echo.snap"), "{}", out.stdout);
    let stored = std::fs::read_to_string(&snap).expect("snapshot");
    assert!(stored.starts_with("# baton snapshot: snaps / echo\n# GET /echo?tag=one\n"), "{stored}");
    assert!(stored.contains("\"user-agent\": \"[redacted]\""), "{stored}");
    assert!(stored.contains("\"x-token\": \"•••\""), "secrets are masked in snapshots:\n{stored}");
    assert!(!stored.contains("snap-secret-123"));
    let csv = std::fs::read_to_string(t.dir().join("__snapshots__/api/csv.snap")).expect("csv snapshot");
    assert!(csv.contains("header content-type: text/csv"), "{csv}");
    assert!(csv.contains("id,name,price\n"), "{csv}");

    // Same response: matches, in CI too, though the csv step's URL is new every run
    // (the `#` label naming the request is not compared).
    let out = run(&t).env("CI", "true").run();
    assert_eq!(out.code, 0, "{}", out.all());
    let csv_again = std::fs::read_to_string(t.dir().join("__snapshots__/api/csv.snap")).expect("csv");
    assert_eq!(csv_again, csv, "a matching rerun rewrites nothing");

    // A different response: a unified diff, exit 5, the stored file untouched.
    let t = t.collection("api.yaml", &collection("two", "echo"));
    let out = run(&t).run();
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(out.stdout.contains("snapshot mismatch: __snapshots__/api/echo.snap"), "{}", out.stdout);
    assert!(out.stdout.contains("-    \"tag\": \"one\""), "{}", out.stdout);
    assert!(out.stdout.contains("+    \"tag\": \"two\""), "{}", out.stdout);
    assert!(!out.stdout.contains("-# GET"), "the label is not a difference: {}", out.stdout);
    assert_eq!(std::fs::read_to_string(&snap).expect("read"), stored);
    // One verdict for the step, the same everywhere: failed.
    let out = run(&t).args(&["--report", "json=r.json", "--report", "junit=r.xml"]).run();
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(out.stdout.contains("✗ echo"), "{}", out.stdout);
    assert!(squeeze(&out.stdout).contains("2 steps, 1 passed, 1 failed"), "{}", out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("r.json")).expect("json")).expect("parses");
    let steps = report["collections"][0]["steps"].as_array().expect("steps");
    let echo = steps.iter().find(|s| s["name"] == "echo").expect("echo");
    assert_eq!(echo["result"], "failed", "{report}");
    assert_eq!(report["summary"]["failed"], 1, "{report}");
    assert_eq!(report["summary"]["passed"], 1, "{report}");
    let junit = std::fs::read_to_string(t.path("r.xml")).expect("junit");
    assert!(junit.contains("failures=\"1\""), "{junit}");

    // Accepted explicitly.
    let out = run(&t).args(&["--update-snapshots"]).env("CI", "true").run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("snapshot updated"), "{}", out.stdout);
    assert!(std::fs::read_to_string(&snap).expect("read").contains("tag=two"));
    let out = run(&t).env("BATON_UPDATE", "no").run();
    assert_eq!(out.code, 0, "{}", out.all());

    // A renamed step leaves an orphan, which is reported.
    let t = t.collection("api.yaml", &collection("two", "echo renamed"));
    let out = run(&t).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("warning: snapshot __snapshots__/api/echo.snap belongs to no step"),
        "{}",
        out.stderr
    );

    // A bad BATON_UPDATE is a usage error.
    let out = run(&t).env("BATON_UPDATE", "sometimes").run();
    assert_eq!(out.code, 2, "{}", out.all());
}
