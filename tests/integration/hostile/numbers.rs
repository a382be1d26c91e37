//! Numbers and waits a hostile server (or collection) sends: out of range is a clear
//! failure, never a panic, and no wait it asks for outlasts the request's timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::server::{RawServer, answer};
use crate::support::{Server, Test, squeeze};

/// Answers every request with `body` as JSON.
fn json_server(body: &'static str) -> RawServer {
    RawServer::start(move |_, w, _| {
        answer(w, "200 OK", &[("Content-Type", "application/json")], body.as_bytes())
    })
}

#[test]
fn a_token_lifetime_out_of_range_fails_the_auth_step_without_a_panic() {
    for body in [
        r#"{"access_token":"tok-1e19","expires_in":1e19}"#,
        r#"{"access_token":"tok-max","expires_in":18446744073709551615}"#,
        r#"{"access_token":"tok-neg","expires_in":-5}"#,
    ] {
        let server = json_server(body);
        let url = server.url("http");
        let yaml = format!(
            "auth:\n  oauth2:\n    token_url: {url}/token\n    client_id: app\n    client_secret: s3cret-value\nrequests:\n  - url: {url}/api\n"
        );
        let t = Test::new().collection("c.yaml", &yaml);
        let report = t.path("report.json");
        let out = t.clone().args(&["run", "c.yaml", "--report", &format!("json={report}")]).run();
        assert_eq!(out.code, 4, "{body}\n{}", out.all());
        assert!(!out.all().contains("panicked"), "{}", out.all());
        assert!(out.stdout.contains("expires_in: expected a lifetime from 0 to 10 years"), "{}", out.stdout);
        let written = std::fs::read_to_string(&report).expect("the report is still written");
        assert!(written.contains("\"exit_code\": 4"), "{written}");
        assert!(!out.all().contains("s3cret-value") && !out.all().contains("tok-"), "{}", out.all());
        assert_eq!(server.received().len(), 1, "only the token request was sent");
    }
}

/// Answers the first request with `first` (status and headers), every later one 200.
fn first_then_ok(first: &'static str, headers: &'static [(&'static str, &'static str)]) -> RawServer {
    let seen = AtomicUsize::new(0);
    RawServer::start(move |_, w, _| match seen.fetch_add(1, Ordering::SeqCst) {
        0 => answer(w, first, headers, b"busy"),
        _ => answer(w, "200 OK", &[], b"ok"),
    })
}

#[test]
fn a_retry_after_longer_than_the_timeout_is_capped_by_it() {
    let server = first_then_ok("503 Service Unavailable", &[("Retry-After", "100000")]);
    let yaml = format!("requests:\n  - name: busy\n    url: {}/x\n", server.url("http"));
    let started = Instant::now();
    let out = Test::new().collection("c.yaml", &yaml).args(&["run", "c.yaml", "--timeout", "1s"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(
        squeeze(&out.stdout).contains("(waited 1.0 s after 503 (Retry-After asked 100000.0 s; capped"),
        "{}",
        out.stdout
    );
    assert_eq!(server.received().len(), 2);
}

#[test]
fn a_throttled_answer_without_retry_after_is_final() {
    let server = first_then_ok("503 Service Unavailable", &[]);
    let yaml = format!("requests:\n  - name: busy\n    url: {}/x\n", server.url("http"));
    let out = Test::new().collection("c.yaml", &yaml).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 1, "the 503 stands: {}", out.all());
    assert!(!out.stdout.contains("waited"), "{}", out.stdout);
    assert_eq!(server.received().len(), 1, "not sent again");
}

#[test]
fn a_request_that_timed_out_shows_how_long_it_waited() {
    // Reads the request and answers only after the client has given up.
    let server = RawServer::start(|_, w, _| {
        std::thread::sleep(Duration::from_millis(800));
        answer(w, "200 OK", &[], b"late");
    });
    let yaml = format!("requests:\n  - name: slow\n    url: {}/x\n", server.url("http"));
    let out = Test::new().collection("c.yaml", &yaml).args(&["run", "c.yaml", "--timeout", "300ms"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    let shown = regex::Regex::new(r"--- (\d+) ms").expect("re");
    let ms: u64 = shown.captures(&out.stdout).and_then(|c| c[1].parse().ok()).expect("a duration");
    assert!(ms >= 300, "waited {ms} ms:\n{}", out.stdout);
}

#[test]
fn huge_numbers_in_a_collection_are_invalid_not_a_crash() {
    for (field, value) in [
        ("timeout", "1e20"),
        ("retry", "{interval: 1e300}"),
        ("expires_in", "1e300"),
        ("expires_in", "9223372036854775807"),
    ] {
        let yaml = format!("auth:\n  - url: http://127.0.0.1:9/t\n    {field}: {value}\nrequests: []\n");
        let t = Test::new().collection("c.yaml", &yaml);
        for cmd in ["validate", "run"] {
            let out = t.clone().args(&[cmd, "c.yaml"]).run();
            assert_eq!(out.code, 3, "{cmd} {field}: {value}\n{}", out.all());
            assert!(out.stderr.contains("error[bad-duration]"), "{}", out.stderr);
            assert!(out.stderr.contains("c.yaml:3:"), "points at the line: {}", out.stderr);
        }
    }
}

#[test]
fn a_short_secret_is_masked_as_a_word_only_and_warned_about() {
    let server = Server::start();
    let yaml = "requests:\n  - name: echo\n    url: BASE/echo\n    headers:\n      X-Api-Key: \"{{ secret_env('KEY') }}\"\n      X-Note: testing the test-suite\n";
    let out = Test::new()
        .server(&server)
        .collection("c.yaml", yaml)
        .env("KEY", "test")
        .args(&["run", "c.yaml", "-v"])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("x-api-key: •••"), "{}", out.stderr);
    assert!(
        out.stderr.contains("x-note: testing the •••-suite"),
        "words that merely contain it stay: {}",
        out.stderr
    );
    assert!(out.stderr.contains("warning: a secret of fewer than 6 characters"), "{}", out.stderr);
}

#[test]
fn a_template_that_would_exhaust_memory_is_refused_before_anything_is_sent() {
    for template in ["{{ [1] * 99999999 }}", "id-{{ [1] * 99999999 }}", "{{ ('x' * 99999999) | length }}"] {
        let yaml =
            format!("vars:\n  v: \"{template}\"\nrequests:\n  - url: http://127.0.0.1:9/{{{{ v }}}}\n");
        let t = Test::new().collection("c.yaml", &yaml);
        for cmd in ["validate", "run"] {
            let out = t.clone().args(&[cmd, "c.yaml"]).run();
            assert_eq!(out.code, 3, "{cmd} {template}\n{}", out.all());
            assert!(out.stderr.contains("error[render-error]"), "{}", out.stderr);
            assert!(out.stderr.contains("c.yaml:2:"), "points at the value: {}", out.stderr);
            assert!(
                out.stderr.contains("more than 256 MiB") || out.stderr.contains("too much work"),
                "says which bound: {}",
                out.stderr
            );
        }
    }
}
