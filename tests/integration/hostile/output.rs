//! What a hostile server sends cannot forge output, reach the terminal as control
//! sequences, unmask a secret, or pull credentials to another host.

use super::server::{RawServer, answer};
use crate::support::{Server, Test};

#[test]
fn captured_control_characters_are_printed_escaped() {
    // `next` holds a newline, a fake GitHub command and an ESC sequence; a header holds a
    // C1 control sequence introducer (hyper refuses ESC in header values).
    let server = RawServer::start(|_, w, _| {
        let body = br#"{"next":"/x\n::error ::forged\u001b[2J","note":"line1\r\n::warning ::also forged"}"#;
        answer(w, "200 OK", &[("Content-Type", "application/json"), ("X-Trace", "a\u{9b}31mred")], body)
    });
    let yaml = format!(
        "vars: {{base: '{}'}}\nrequests:\n  - name: first\n    url: '{{{{ base }}}}/start'\n    capture: {{next: $.next}}\n  - name: second\n    url: '{{{{ base }}}}{{{{ next }}}}'\n    expect: {{json: {{$.note: nothing}}}}\n",
        server.url("http")
    );
    let out = Test::new().collection("c.yaml", &yaml).args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 1, "the second step's expectation fails: {}", out.all());
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("::")),
            "{name} has a line a CI system would take for a command:\n{text}"
        );
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{9b}'),
            "{name} carries a raw control:\n{text}"
        );
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
}

#[test]
fn on_github_actions_server_text_is_printed_with_workflow_commands_off() {
    // `##[error]` is read by the runner anywhere in a line: escaping cannot defuse it.
    let server = RawServer::start(|_, w, _| {
        answer(w, "200 OK", &[("Content-Type", "application/json")], br#"{"note":"see ##[error]forged"}"#)
    });
    let yaml = format!(
        "requests:\n  - name: call\n    url: '{}/x'\n    expect: {{json: {{$.note: nothing}}}}\n",
        server.url("http")
    );
    let out =
        Test::new().collection("c.yaml", &yaml).env("GITHUB_ACTIONS", "true").args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    let token = lines.first().and_then(|l| l.strip_prefix("::stop-commands::")).expect("paused first");
    assert_eq!(token.len(), 32, "a fresh uuid: {token}");
    let resume = lines.iter().position(|l| *l == format!("::{token}::")).expect("resumed");
    // An annotation may quote it: the runner reads that line as one `::error` command.
    let forged = lines
        .iter()
        .rposition(|l| l.contains("##[error]forged") && !l.starts_with("::error "))
        .expect("the body is shown");
    assert!(forged < resume, "server text only while paused:\n{}", out.stdout);
    let annotations: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| l.starts_with("::error ")).map(|(i, _)| i).collect();
    assert!(!annotations.is_empty() && annotations.iter().all(|&i| i > resume), "{}", out.stdout);
    // Off GitHub Actions nothing of this is printed.
    let plain = Test::new().collection("c.yaml", &yaml).args(&["run", "c.yaml"]).run();
    assert!(!plain.stdout.contains("stop-commands"), "{}", plain.stdout);
}

#[test]
fn a_refused_request_shows_the_challenge_and_the_body_masked_everywhere() {
    let server = RawServer::start(|_, w, _| {
        let body = br#"{"error":"invalid_token","token":"tok-9f8e7d6c5b4a"}"#;
        let challenge = r#"Bearer error="invalid_token", hint="tok-9f8e7d6c5b4a""#;
        answer(
            w,
            "401 Unauthorized",
            &[("Content-Type", "application/json"), ("WWW-Authenticate", challenge)],
            body,
        )
    });
    let yaml = format!(
        "requests:\n  - name: me\n    url: '{}/me'\n    bearer: \"{{{{ secret_env('TOKEN') }}}}\"\n",
        server.url("http")
    );
    let t = Test::new().collection("c.yaml", &yaml).env("TOKEN", "tok-9f8e7d6c5b4a");
    let out = t.clone().args(&["run", "c.yaml", "--report", "json=r.json", "--report", "junit=r.xml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout.contains(r#"www-authenticate: Bearer error="invalid_token", hint="•••""#),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(r#"response 401 body: {"error":"invalid_token","token":"•••"}"#),
        "{}",
        out.stdout
    );
    let json = std::fs::read_to_string(t.path("r.json")).expect("json");
    let junit = std::fs::read_to_string(t.path("r.xml")).expect("junit");
    assert!(json.contains(r#"invalid_token\",\"token\":\"•••"#), "{json}");
    assert!(json.contains("\"challenge\": \"www-authenticate: Bearer"), "{json}");
    assert!(junit.contains("<system-out>www-authenticate: Bearer"), "{junit}");
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("json", &json), ("junit", &junit)]
    {
        assert!(!text.contains("tok-9f8e7d6c5b4a"), "{name} shows the token:\n{text}");
    }
}

#[test]
fn a_secret_changed_by_a_filter_or_echoed_encoded_is_still_masked() {
    let server = Server::start();
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
    assert!(out.stderr.contains("x-rev: •••"), "{}", out.stderr);
}

#[test]
fn a_secret_the_server_spells_with_json_escapes_is_masked_in_a_failed_step() {
    // The token comes plainly; the next auth step's answer echoes it back \u-escaped (a
    // failed auth step shows its body).
    let server = RawServer::start(|req, w, _| {
        if req.path == "/token" {
            answer(
                w,
                "200 OK",
                &[("Content-Type", "application/json")],
                br#"{"access_token":"tok/ABCDEFGH12345"}"#,
            )
        } else {
            let body = br#"{"error":"bad token \u0074ok\/ABCDEFGH12345"}"#;
            answer(w, "403 Forbidden", &[("Content-Type", "application/json")], body)
        }
    });
    let url = server.url("http");
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

/// Issues a token, then answers the create call with `Location: @{other}/steal`.
fn location_server(other: String) -> RawServer {
    RawServer::start(move |req, w, _| {
        if req.path == "/token" {
            answer(
                w,
                "200 OK",
                &[("Content-Type", "application/json")],
                br#"{"access_token":"tok-pinned-98765"}"#,
            )
        } else {
            answer(w, "201 Created", &[("Location", &format!("@{other}/steal"))], b"")
        }
    })
}

fn following(base: &str) -> String {
    format!(
        "vars: {{base_url: '{base}'}}\nauth:\n  - name: token\n    url: '{{{{ base_url }}}}/token'\n    capture: {{token: $.access_token}}\ndefaults:\n  bearer: '{{{{ token }}}}'\nrequests:\n  - name: create\n    method: POST\n    url: '{{{{ base_url }}}}/items'\n    capture: {{item_url: {{header: location}}}}\n  - name: follow\n    url: '{{{{ base_url }}}}{{{{ item_url }}}}'\n"
    )
}

/// A server that answers 200 to anything and records what it gets.
fn recording() -> RawServer {
    RawServer::start(|_, w, _| answer(w, "200 OK", &[], b"ok"))
}

#[test]
fn a_captured_value_cannot_move_credentials_to_another_host() {
    let other = recording();
    let base = location_server(format!("127.0.0.1:{}", other.port));
    let out = Test::new().collection("c.yaml", &following(&base.url("http"))).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("chosen by the captured `item_url`"), "{}", out.stdout);
    assert!(out.stdout.contains("--allow-origin"), "the help names the way out: {}", out.stdout);
    assert!(other.received().is_empty(), "the other host received: {:?}", other.received());
    assert!(!out.all().contains("tok-pinned-98765"), "{}", out.all());
}

#[test]
fn an_allowed_origin_receives_the_credentials_a_capture_sends_it() {
    let other = recording();
    let base = location_server(format!("127.0.0.1:{}", other.port));
    let out = Test::new()
        .collection("c.yaml", &following(&base.url("http")))
        .args(&["run", "c.yaml", "--allow-origin", &other.url("http")])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    let got = other.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].method.as_str(), got[0].path.as_str()), ("GET", "/steal"));
    let bad = Test::new()
        .collection("c.yaml", "requests: []\n")
        .args(&["run", "c.yaml", "--allow-origin", "ftp://x"])
        .run();
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(bad.stderr.contains("error[bad-origin]"), "{}", bad.stderr);
}
