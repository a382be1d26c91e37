//! Snapshot testing of responses: create, match, mismatch with a diff, CI mode, update,
//! orphans, redaction and masking.

use crate::support::{Server, baton_in};

fn collection(server: &Server, tag: &str, step: &str) -> String {
    format!(
        r#"name: snaps
vars:
  api_token: "{{{{ secret_env('SNAP_TOKEN', default='snap-secret-123') }}}}"
requests:
  - name: {step}
    url: {url}/echo?tag={tag}
    headers: {{x-token: "{{{{ api_token }}}}"}}
    snapshot:
      redact: ["$.headers['user-agent']", "$.headers.host"]
  - name: csv
    url: {url}/csv
    snapshot: true
"#,
        url = server.url
    )
}

#[test]
fn snapshots_are_created_matched_diffed_updated_and_guarded_in_ci() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tmp");
    let write = |tag: &str, step: &str| {
        std::fs::write(dir.path().join("api.yaml"), collection(&server, tag, step)).expect("write");
    };
    let snap = dir.path().join("__snapshots__/api/echo.snap");

    // CI without a stored snapshot: fails with exit 5 and writes nothing.
    write("one", "echo");
    let out = baton_in(dir.path(), &["run", "api.yaml"], &[("CI", "true")]);
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(out.stdout.contains("snapshot missing"), "{}", out.stdout);
    assert!(!snap.exists());

    // Locally: written.
    let out = baton_in(dir.path(), &["run", "api.yaml"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("snapshot written: __snapshots__/api/echo.snap"), "{}", out.stdout);
    let stored = std::fs::read_to_string(&snap).expect("snapshot");
    assert!(stored.starts_with("# baton snapshot: snaps / echo\n# GET /echo?tag=one\n"), "{stored}");
    assert!(stored.contains("\"user-agent\": \"[redacted]\""), "{stored}");
    assert!(stored.contains("\"x-token\": \"•••\""), "secrets are masked in snapshots:\n{stored}");
    assert!(!stored.contains("snap-secret-123"));
    let csv = std::fs::read_to_string(dir.path().join("__snapshots__/api/csv.snap")).expect("csv snapshot");
    assert!(csv.contains("header content-type: text/csv"), "{csv}");
    assert!(csv.contains("id,name,price\n"), "{csv}");

    // Same response: matches, in CI too.
    let out = baton_in(dir.path(), &["run", "api.yaml"], &[("CI", "true")]);
    assert_eq!(out.code, 0, "{}", out.all());

    // A different response: a unified diff, exit 5, the stored file untouched.
    write("two", "echo");
    let out = baton_in(dir.path(), &["run", "api.yaml"], &[]);
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(out.stdout.contains("snapshot mismatch: __snapshots__/api/echo.snap"), "{}", out.stdout);
    assert!(out.stdout.contains("-# GET /echo?tag=one"), "{}", out.stdout);
    assert!(out.stdout.contains("+# GET /echo?tag=two"), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(&snap).expect("read"), stored);

    // Accepted explicitly.
    let out = baton_in(dir.path(), &["run", "api.yaml", "--update-snapshots"], &[("CI", "true")]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("snapshot updated"), "{}", out.stdout);
    assert!(std::fs::read_to_string(&snap).expect("read").contains("tag=two"));
    let out = baton_in(dir.path(), &["run", "api.yaml"], &[("BATON_UPDATE", "no")]);
    assert_eq!(out.code, 0, "{}", out.all());

    // A renamed step leaves an orphan, which is reported.
    write("two", "echo renamed");
    let out = baton_in(dir.path(), &["run", "api.yaml"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("warning: snapshot __snapshots__/api/echo.snap belongs to no step"),
        "{}",
        out.stderr
    );

    // A bad BATON_UPDATE is a usage error.
    let out = baton_in(dir.path(), &["run", "api.yaml"], &[("BATON_UPDATE", "sometimes")]);
    assert_eq!(out.code, 2, "{}", out.all());
}
