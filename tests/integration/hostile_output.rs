//! Text from a hostile server cannot forge output lines or reach the terminal as control
//! sequences: captured values, URLs, headers and bodies are printed escaped.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::support::Test;

/// Answers every request (at most `max`, or for ten seconds) with a JSON body whose
/// `next` field holds a newline, a fake GitHub command and an ESC sequence, and a header
/// holding a C1 control sequence introducer (hyper refuses ESC in header values).
fn forging_server(max: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut served = 0;
        while served < max && Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body =
                r#"{"next":"/x\n::error ::forged\u001b[2J","note":"line1\r\n::warning ::also forged"}"#;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-trace: a\u{9b}31mred\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes());
            served += 1;
        }
    });
    url
}

#[test]
fn captured_control_characters_are_printed_escaped() {
    let url = forging_server(4);
    let yaml = format!(
        "vars: {{base: '{url}'}}\nrequests:\n  - name: first\n    url: '{{{{ base }}}}/start'\n    capture: {{next: $.next}}\n  - name: second\n    url: '{{{{ base }}}}{{{{ next }}}}'\n    expect: {{json: {{$.note: nothing}}}}\n"
    );
    let out = Test::new().collection("c.yaml", &yaml).args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 1, "the second step's expectation fails: {}", out.all());
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("::")),
            "{name} has a line a CI system would take for a command:\n{text}"
        );
        assert!(!text.contains('\u{1b}'), "{name} carries a raw ESC:\n{text}");
    }
    assert!(
        out.stdout.contains(r"/x\n::error ::forged\u{1b}[2J"),
        "the URL is shown escaped:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(r"line1\r\n::warning ::also forged"),
        "the actual value too:\n{}",
        out.stdout
    );
    assert!(out.stderr.contains(r"x-trace: a\u{9b}31mred"), "headers in -v traces:\n{}", out.stderr);
    assert!(!out.all().contains('\u{9b}'), "no raw C1 control either");
}

#[test]
fn a_secret_changed_by_a_filter_or_echoed_encoded_is_still_masked() {
    let server = crate::support::Server::start();
    let secret = "Pa$$/w+rd-Zq9";
    let yaml = "requests:\n  - name: echo\n    url: BASE/echo\n    query:\n      q: \"{{ secret_env('PW') | urlencode }}\"\n      u: \"{{ secret_env('PW') | upper }}\"\n    headers:\n      X-Low: \"{{ secret_env('PW') | lower }}\"\n      X-Rev: \"{{ secret_env('PW') | reverse }}\"\n    expect: {status: 200, body_contains: [never-there]}\n";
    let out = Test::new()
        .server(&server)
        .collection("c.yaml", yaml)
        .env("PW", secret)
        .args(&["run", "c.yaml", "-v"])
        .run();
    assert_eq!(out.code, 1, "the body_contains fails, so the echo is shown: {}", out.all());
    let reversed: String = secret.chars().rev().collect();
    let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    for spelling in [secret.to_string(), secret.to_uppercase(), secret.to_lowercase(), reversed, encoded] {
        assert!(!out.all().contains(&spelling), "`{spelling}` shows:\n{}", out.all());
    }
    assert!(out.stderr.contains("X-Rev: •••"), "{}", out.stderr);
}

#[test]
fn a_secret_the_server_spells_with_json_escapes_is_masked_in_a_failed_step() {
    // The token server sends the token plainly; the next auth step's answer echoes it
    // back \u-escaped (a failed auth step shows its body).
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut served = 0;
        while served < 2 && Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let (status, body) = if served == 0 {
                ("200 OK", r#"{"access_token":"tok/ABCDEFGH12345"}"#)
            } else {
                ("403 Forbidden", r#"{"error":"bad token \u0074ok\/ABCDEFGH12345"}"#)
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes());
            served += 1;
        }
    });
    let yaml = format!(
        "auth:\n  - name: token\n    url: {url}/token\n    capture: {{token: $.access_token}}\n  - name: session\n    url: {url}/session\n    bearer: '{{{{ token }}}}'\nrequests: []\n"
    );
    let t = Test::new().collection("c.yaml", &yaml);
    let report = t.path("r.json");
    let out = t.clone().args(&["run", "c.yaml", "--report", &format!("json={report}")]).run();
    assert_eq!(out.code, 4, "a failed auth step: {}", out.all());
    let written = std::fs::read_to_string(&report).expect("report");
    for text in [&out.stdout, &out.stderr, &written] {
        assert!(!text.contains("ABCDEFGH12345"), "{text}");
    }
    assert!(out.stdout.contains("bad token •••"), "the body excerpt is shown, masked:\n{}", out.stdout);
}

/// A server on 127.0.0.1:0 that records what it receives (for ten seconds at most).
fn recording_server() -> (String, std::sync::Arc<std::sync::Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 8192];
            let n = conn.read(&mut buf).unwrap_or(0);
            if let Ok(mut s) = log.lock() {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (addr, seen)
}

/// A server that issues a token, then answers `201` with `Location: @{other}/steal`
/// (two connections, or ten seconds).
fn location_server(other: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut served = 0;
        while served < 2 && Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let response = if served == 0 {
                let body = r#"{"access_token":"tok-pinned-98765"}"#;
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                format!(
                    "HTTP/1.1 201 Created\r\nlocation: @{other}/steal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
            };
            let _ = conn.write_all(response.as_bytes());
            served += 1;
        }
    });
    base
}

fn following(base: &str) -> String {
    format!(
        "vars: {{base_url: '{base}'}}\nauth:\n  - name: token\n    url: '{{{{ base_url }}}}/token'\n    capture: {{token: $.access_token}}\ndefaults:\n  bearer: '{{{{ token }}}}'\nrequests:\n  - name: create\n    method: POST\n    url: '{{{{ base_url }}}}/items'\n    capture: {{item_url: {{header: location}}}}\n  - name: follow\n    url: '{{{{ base_url }}}}{{{{ item_url }}}}'\n"
    )
}

#[test]
fn a_captured_value_cannot_move_credentials_to_another_host() {
    let (other, received) = recording_server();
    let base = location_server(other);
    let out = Test::new().collection("c.yaml", &following(&base)).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("chosen by the captured `item_url`"), "{}", out.stdout);
    assert!(out.stdout.contains("--allow-origin"), "the help names the way out: {}", out.stdout);
    std::thread::sleep(Duration::from_millis(100));
    let seen = received.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(seen.is_empty(), "the other host received:\n{seen}");
    assert!(!out.all().contains("tok-pinned-98765"), "{}", out.all());
}

#[test]
fn an_allowed_origin_receives_the_credentials_a_capture_sends_it() {
    let (other, received) = recording_server();
    let base = location_server(other.clone());
    let allowed = format!("http://{other}");
    let out = Test::new()
        .collection("c.yaml", &following(&base))
        .args(&["run", "c.yaml", "--allow-origin", &allowed])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    let seen = received.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(seen.starts_with("GET /steal"), "the allowed host got the request:\n{seen}");
    let bad = Test::new()
        .collection("c.yaml", "requests: []\n")
        .args(&["run", "c.yaml", "--allow-origin", "ftp://x"])
        .run();
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(bad.stderr.contains("error[bad-origin]"), "{}", bad.stderr);
}
