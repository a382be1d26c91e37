//! Numbers a hostile server sends: out of range is a clear failure, never a panic, and
//! no wait it asks for outlasts the request's timeout.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::support::Test;

/// A raw HTTP server on 127.0.0.1:0 that answers every request with `body` as JSON, for at
/// most `max` connections or ten seconds, whichever comes first.
fn answering(body: &'static str, max: usize) -> (String, std::thread::JoinHandle<usize>) {
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    answering_in_turn(vec![response; max])
}

/// A raw HTTP server that gives the raw `responses` in turn, one per connection, then
/// stops (or after ten seconds); it returns how many it gave.
fn answering_in_turn(responses: Vec<String>) -> (String, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut served = 0;
        while served < responses.len() && Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(responses[served].as_bytes());
            served += 1;
        }
        served
    });
    (url, handle)
}

#[test]
fn a_token_lifetime_out_of_range_fails_the_auth_step_without_a_panic() {
    for body in [
        r#"{"access_token":"tok-1e19","expires_in":1e19}"#,
        r#"{"access_token":"tok-max","expires_in":18446744073709551615}"#,
        r#"{"access_token":"tok-neg","expires_in":-5}"#,
    ] {
        let (url, server) = answering(body, 1);
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
        assert_eq!(server.join().expect("server"), 1, "only the token request was sent");
    }
}

fn raw(status: &str, extra: &str) -> String {
    format!("HTTP/1.1 {status}\r\n{extra}content-length: 2\r\nconnection: close\r\n\r\nok")
}

#[test]
fn a_retry_after_longer_than_the_timeout_is_capped_by_it() {
    let (url, server) =
        answering_in_turn(vec![raw("503 Service Unavailable", "retry-after: 100000\r\n"), raw("200 OK", "")]);
    let t = Test::new().collection("c.yaml", &format!("requests:\n  - name: busy\n    url: {url}/x\n"));
    let started = Instant::now();
    let out = t.args(&["run", "c.yaml", "--timeout", "1s"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(
        crate::support::squeeze(&out.stdout)
            .contains("(waited 1.0 s after 503 (Retry-After asked 100000.0 s; capped"),
        "{}",
        out.stdout
    );
    assert_eq!(server.join().expect("server"), 2);
}

#[test]
fn a_throttled_answer_without_retry_after_is_final() {
    let (url, server) = answering_in_turn(vec![raw("503 Service Unavailable", ""), raw("200 OK", "")]);
    let t = Test::new().collection("c.yaml", &format!("requests:\n  - name: busy\n    url: {url}/x\n"));
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 1, "the 503 stands: {}", out.all());
    assert!(!out.stdout.contains("waited"), "{}", out.stdout);
    drop(server); // it still waits for a second connection that never comes; it stops by itself
}

#[test]
fn a_request_that_timed_out_shows_how_long_it_waited() {
    // Accepts and never answers (for five seconds at most).
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let held = listener.accept();
        std::thread::sleep(Duration::from_secs(5));
        drop(held);
    });
    let t = Test::new().collection("c.yaml", &format!("requests:\n  - name: slow\n    url: {url}/x\n"));
    let out = t.args(&["run", "c.yaml", "--timeout", "300ms"]).run();
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
    let server = crate::support::Server::start();
    let yaml = "requests:\n  - name: echo\n    url: BASE/echo\n    headers:\n      X-Api-Key: \"{{ secret_env('KEY') }}\"\n      X-Note: testing the test-suite\n";
    let out = Test::new()
        .server(&server)
        .collection("c.yaml", yaml)
        .env("KEY", "test")
        .args(&["run", "c.yaml", "-v"])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("X-Api-Key: •••"), "{}", out.stderr);
    assert!(
        out.stderr.contains("X-Note: testing the •••-suite"),
        "words that merely contain it stay: {}",
        out.stderr
    );
    assert!(out.stderr.contains("warning: a secret of fewer than 6 characters"), "{}", out.stderr);
}
