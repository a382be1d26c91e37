//! The response-size cap: reading stops as soon as the decoded body passes
//! `--max-body-size`, whether the body never ends, inflates from a small gzip, or
//! announces its size up front.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::server::{Ctx, RawServer, Request, answer};
use crate::support::Test;

/// What an endless body may cost the server before it gives up on its own.
const ENDLESS_LIMIT: u64 = 64 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
/// Slow machines are shared: generous, yet far below reading 64 MiB through a bug
/// and the 30 s default timeout.
const QUICK: Duration = Duration::from_secs(15);

const TOO_LARGE: &str = "response body larger than 1 MB (the limit); raise it with --max-body-size";

/// A chunked body that goes on until the client hangs up (or 64 MiB).
fn endless(_: &Request, w: &mut dyn Write, ctx: &Ctx<'_>) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    if w.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
    chunk.extend(std::iter::repeat_n(b'a', CHUNK));
    chunk.extend_from_slice(b"\r\n");
    while ctx.sent.load(Ordering::SeqCst) < ENDLESS_LIMIT && !ctx.stop.load(Ordering::SeqCst) {
        if w.write_all(&chunk).is_err() {
            return;
        }
        ctx.sent.fetch_add(CHUNK as u64, Ordering::SeqCst);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("compress")
}

fn run(server: &RawServer, args: &[&str]) -> (crate::support::Output, Duration) {
    let yaml = format!("name: big\nrequests:\n  - name: big\n    url: {}/big\n", server.url("http"));
    let mut all = vec!["run", "c.yaml"];
    all.extend_from_slice(args);
    let started = Instant::now();
    let out = Test::new().collection("c.yaml", &yaml).args(&all).run();
    (out, started.elapsed())
}

#[test]
fn an_endless_chunked_body_stops_at_the_cap() {
    let server = RawServer::start(endless);
    let (out, took) = run(&server, &["--max-body-size", "1MB"]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains(TOO_LARGE), "{}", out.all());
    assert!(took < QUICK, "took {took:?}");
    drop(out);
    // The server gives up once writes fail: baton hung up long before the 64 MiB.
    let deadline = Instant::now() + Duration::from_secs(10);
    let sent = loop {
        let before = server.sent();
        std::thread::sleep(Duration::from_millis(100));
        if server.sent() == before || Instant::now() > deadline {
            break server.sent();
        }
    };
    assert!(sent < ENDLESS_LIMIT / 2, "baton read on: the server wrote {sent} bytes");
}

#[test]
fn a_small_gzip_body_that_inflates_past_the_cap_stops_at_the_cap() {
    // 16 MiB of zeros compress to a few KiB: the cap counts what reqwest decodes.
    let bomb = gzip(&vec![0u8; 16 * 1024 * 1024]);
    assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
    let server = RawServer::start(move |_, w, _| {
        answer(w, "200 OK", &[("Content-Type", "application/json"), ("Content-Encoding", "gzip")], &bomb)
    });
    let (out, took) = run(&server, &["--max-body-size", "1MB"]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains(TOO_LARGE), "{}", out.all());
    assert!(took < QUICK, "took {took:?}");
}

#[test]
fn gzip_bodies_under_the_cap_are_decoded_as_before() {
    let body = gzip(br#"{"ok": true, "pad": "0000000000000000000000000000000000000000"}"#);
    let server = RawServer::start(move |_, w, _| {
        answer(w, "200 OK", &[("Content-Type", "application/json"), ("Content-Encoding", "gzip")], &body)
    });
    let yaml = format!(
        "name: small\nrequests:\n  - url: {}/small\n    expect: {{json: {{$.ok: true}}}}\n",
        server.url("http")
    );
    let out =
        Test::new().collection("c.yaml", &yaml).args(&["run", "c.yaml", "--max-body-size", "100"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn a_declared_length_over_the_cap_fails_without_waiting_for_the_body() {
    // Announces 10 MB, sends none of it and holds the connection: baton must not wait.
    let server = RawServer::start(|_, w, ctx| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10000000\r\n\r\n";
        let _ = w.write_all(head.as_bytes()).and_then(|()| w.flush());
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until && !ctx.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let (out, took) = run(&server, &["--max-body-size", "1MB", "--timeout", "20s"]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains(TOO_LARGE), "{}", out.all());
    assert!(took < Duration::from_secs(8), "waited for the body: {took:?}");
}

#[test]
fn a_bad_max_body_size_is_a_usage_error_that_shows_the_forms() {
    let out = Test::new().args(&["run", "c.yaml", "--max-body-size", "12 parsecs"]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("`--max-body-size 12 parsecs` is not a positive size"), "{}", out.stderr);
    assert!(out.stderr.contains("10MB, 512KiB, 1GiB"), "{}", out.stderr);
}

#[test]
fn a_head_answer_declaring_a_large_length_has_no_body_to_refuse() {
    let server = RawServer::start(|_, w, _| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n";
        let _ = w.write_all(head.as_bytes());
    });
    let yaml = format!("name: head\nrequests:\n  - {{method: HEAD, url: \"{}/big\"}}\n", server.url("http"));
    let out =
        Test::new().collection("c.yaml", &yaml).args(&["run", "c.yaml", "--max-body-size", "1MB"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(server.received()[0].method, "HEAD");
}
