//! The format for real collections: cookies, redirects per step, conditions, waits,
//! descriptions and the richer captures and expectations, run for real against the
//! playground and raw loopback servers.

use crate::hostile::server::{RawServer, answer};
use crate::support::{Server, Test, requests_to};

/// A session cookie value that must never print, nor reach another origin.
const SESSION: &str = "sess-Rk83-only-for-a";

/// A: `/login` sets the session (HttpOnly) and a harmless cookie, `/go-b` redirects to B,
/// anything else answers with the `Cookie` header it got.
fn cookie_server(b_url: String) -> RawServer {
    RawServer::start(move |req, w, _| match req.path.as_str() {
        "/login" => answer(
            w,
            "200 OK",
            &[
                ("Set-Cookie", &format!("session={SESSION}; Path=/; HttpOnly")),
                ("Set-Cookie", "lang=en-gb; Path=/"),
                ("Content-Type", "application/json"),
            ],
            b"{\"ok\": true}",
        ),
        "/go-b" => answer(w, "302 Found", &[("Location", &format!("{b_url}/landed"))], b""),
        _ => {
            let got = req.header("cookie").unwrap_or("").to_string();
            let body = serde_json::json!({ "cookie": got }).to_string();
            answer(w, "200 OK", &[("Content-Type", "application/json")], body.as_bytes())
        }
    })
}

fn recorder() -> RawServer {
    RawServer::start(|_, w, _| answer(w, "200 OK", &[("Content-Type", "application/json")], b"{}"))
}

#[test]
fn a_session_cookie_goes_back_to_its_origin_only_and_never_prints() {
    let b = recorder();
    let a = cookie_server(b.url("http"));
    let yaml = format!(
        r#"name: cookies
auth:
  - name: login
    url: {a}/login
    expect:
      cookies: {{session: {{exists: true}}, lang: en-gb}}
    capture:
      sid: {{cookie: session}}
requests:
  - name: uses the jar
    url: {a}/whoami
    expect:
      json: {{$.cookie: {{contains: "lang=en-gb"}}}}
  - name: off to b
    url: {a}/go-b
  - name: echo the captured value
    url: {a}/echo
    headers: {{x-sid: "{{{{ sid }}}}"}}
"#,
        a = a.url("http")
    );
    let t = Test::new().collection("c.yaml", &yaml);
    let (json, junit) = (t.path("r.json"), t.path("r.xml"));
    let out = t
        .clone()
        .args(&[
            "run",
            "c.yaml",
            "-v",
            "--report",
            &format!("json={json}"),
            "--report",
            &format!("junit={junit}"),
        ])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    // The jar sent both cookies back to A (the whoami answer echoes them, masked).
    let to_a: Vec<String> = a
        .received()
        .iter()
        .filter(|r| r.path == "/whoami")
        .map(|r| r.header("cookie").unwrap_or("").into())
        .collect();
    assert_eq!(to_a.len(), 1);
    assert!(to_a[0].contains(&format!("session={SESSION}")) && to_a[0].contains("lang=en-gb"), "{to_a:?}");
    // B got the redirected request without A's cookies.
    let at_b = b.received();
    assert_eq!(at_b.len(), 1, "one redirected request");
    assert!(!at_b[0].raw.contains(SESSION) && at_b[0].header("cookie").is_none(), "{}", at_b[0].raw);
    // Nothing printed or written holds the session value.
    let reports =
        std::fs::read_to_string(&json).expect("json") + &std::fs::read_to_string(&junit).expect("junit");
    for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("reports", &reports)] {
        assert!(!text.contains(SESSION), "{what} shows the session cookie:\n{text}");
    }
    assert!(out.stderr.contains("cookie: lang=en-gb; session=•••"), "{}", out.stderr);
}

#[test]
fn no_cookies_turns_the_jar_off_from_the_command_line_or_the_collection() {
    let a = cookie_server("http://127.0.0.1:9".into());
    let steps = format!(
        "auth:\n  - name: login\n    url: {a}/login\nrequests:\n  - name: whoami\n    url: {a}/whoami\n    expect:\n      json: {{$.cookie: \"\"}}\n",
        a = a.url("http")
    );
    let t = Test::new()
        .collection("flag.yaml", &format!("name: flag\n{steps}"))
        .collection("off.yaml", &format!("name: off\ncookies: false\n{steps}"));
    let out = t.clone().args(&["run", "flag.yaml", "--no-cookies"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let out = t.args(&["run", "off.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let sent: Vec<Option<String>> = a
        .received()
        .iter()
        .filter(|r| r.path == "/whoami")
        .map(|r| r.header("cookie").map(str::to_string))
        .collect();
    assert_eq!(sent, [None, None]);
}

#[test]
fn a_redirect_not_followed_is_the_answer_and_a_limit_per_step_holds() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        r#"name: redirects
vars: {base: BASE}
requests:
  - name: not followed
    url: "{{ base }}/redirect/2"
    follow_redirects: false
    expect:
      status: 302
      headers: {location: /redirect/1}
  - name: followed to the end
    url: "{{ base }}/redirect/2"
    max_redirects: 2
    capture:
      final: {url: true}
      ms: {duration: true}
    expect:
      json: {$.redirected: true}
  - name: the landing
    url: "{{ base }}/echo"
    query: {final: "{{ final }}", ms_type: "{{ ms is number }}"}
    expect:
      json: {$.query.final: {matches: '/redirect/0$'}, $.query.ms_type: "true"}
  - name: over the limit
    url: "{{ base }}/redirect/3"
    max_redirects: 2
"#,
    );
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "the last step exceeds its limit\n{}", out.all());
    assert!(out.stdout.contains("✓ not followed"), "{}", out.stdout);
    assert!(out.stdout.contains("✓ the landing"), "{}", out.stdout);
    assert!(out.all().contains("still redirected after 2 redirects"), "{}", out.all());
}

#[test]
fn conditions_skip_with_their_reason_and_a_wait_step_waits() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        r#"name: conditions
description: Checks conditions.
vars: {base: BASE, stage: test}
requests:
  - name: prod only
    description: Runs in production.
    if: "{{ stage == 'prod' }}"
    url: "{{ base }}/status/500"
  - name: not in test
    skip_if: "{{ stage == 'test' }}"
    url: "{{ base }}/status/500"
  - name: runs
    if: "{{ stage == 'test' }}"
    url: "{{ base }}/echo"
  - wait: 300ms
  - name: a bad condition
    if: "{{ stage }}"
    url: "{{ base }}/echo"
"#,
    );
    let json = t.path("r.json");
    let out = t.clone().args(&["run", "c.yaml", "--report", &format!("json={json}")]).run();
    assert_eq!(out.code, 4, "a condition that is not a bool is an error\n{}", out.all());
    assert!(out.stdout.contains("skipped: if: \"{{ stage == 'prod' }}\" is false"), "{}", out.stdout);
    assert!(out.stdout.contains("skipped: skip_if: \"{{ stage == 'test' }}\" is true"), "{}", out.stdout);
    assert!(out.all().contains("`if:` gave \"test\", not true or false"), "{}", out.all());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("valid json");
    let c = &report["collections"][0];
    assert_eq!(c["description"], "Checks conditions.");
    assert_eq!(c["steps"][0]["description"], "Runs in production.");
    assert_eq!(c["steps"][0]["result"], "skipped");
    let wait = &c["steps"][3];
    assert_eq!(
        (wait["name"].as_str(), wait["method"].as_str(), wait["result"].as_str()),
        (Some("wait 300 ms"), Some("WAIT"), Some("passed"))
    );
    assert!(wait["duration_ms"].as_u64().is_some_and(|ms| ms >= 300), "{wait}");
    // Nothing was sent for the skipped steps: the playground saw no 500.
    assert_eq!(crate::support::requests_to(&server, "/status/500"), 0);
}

#[test]
fn each_len_duration_and_cookie_expectations_fail_with_what_was_there() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        r#"name: expectations
vars: {base: BASE}
requests:
  - name: lists
    method: POST
    url: "{{ base }}/echo"
    json: {items: [{price: 1}, {price: -2}], empty: []}
    expect:
      duration: {lt: 30s}
      json:
        $.json.empty: {each: {gt: 100}, len: {lt: 1}}
        $.json.items: {len: {gt: 5}}
        "$.json.items[*].price": {each: {gt: 0}}
      cookies:
        session: {exists: true}
"#,
    );
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    let all = out.all();
    assert!(all.contains("length of $.json.items: expected gt 5"), "{all}");
    assert!(all.contains("$.json.items[*].price[1]: expected gt 0"), "{all}");
    assert!(all.contains("cookie `session`: expected to exist"), "{all}");
    assert!(all.contains("nothing (it set none)"), "{all}");
    assert!(!all.contains("$.json.empty"), "an empty list passes `each` and has length 0:\n{all}");
    assert!(!all.contains("duration"), "the duration holds:\n{all}");
}

#[test]
fn the_shipped_web_session_example_shows_its_new_parts_in_plan() {
    let server = Server::start();
    let out = Test::new()
        .in_root()
        .env("BATON_BASE_URL", &server.url)
        .args(&["plan", "collections/web-session.yaml"])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    for shown in [
        "Signs in through a form",
        "# The form login",
        "redirects: not followed",
        "redirects: at most 5",
        "if: \"{{ stage == 'prod' }}\"",
        "waits 250 ms, sends nothing",
        "delay: 10 ms before sending",
        "captures: landed_on = url, took_ms = duration",
    ] {
        assert!(out.stdout.contains(shown), "plan lacks {shown:?}:\n{}", out.stdout);
    }
}

#[test]
fn a_file_body_is_sent_byte_for_byte_and_only_from_an_allowed_folder() {
    let server = RawServer::start(|req, w, _| {
        let body = serde_json::json!({
            "length": req.header("content-length"),
            "type": req.header("content-type"),
            "body": req.body,
        })
        .to_string();
        answer(w, "200 OK", &[("Content-Type", "application/json")], body.as_bytes())
    });
    let bytes = "a\0b\r\nc {{ x }} é€😀".as_bytes();
    let yaml = format!(
        r#"name: files
requests:
  - name: inside
    method: POST
    url: {u}/up
    body: {{file: data/blob.bin}}
    expect:
      json: {{$.length: "{len}", $.type: application/octet-stream}}
  - name: outside
    method: POST
    url: {u}/up
    body: {{file: ../outside/secret.txt, content_type: text/plain}}
"#,
        u = server.url("http"),
        len = bytes.len()
    );
    let t = Test::new().collection("c/c.yaml", &yaml).file("outside/secret.txt", "do-not-send-Ab12");
    std::fs::create_dir_all(t.dir().join("c/data")).expect("mkdir");
    std::fs::write(t.dir().join("c/data/blob.bin"), bytes).expect("write");
    let out = t.clone().args(&["run", "c/c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("✓ inside"), "{}", out.stdout);
    assert!(out.all().contains("is outside the collection's folder"), "{}", out.all());
    assert!(out.all().contains("--file-root DIR"), "{}", out.all());
    let received = server.received();
    assert_eq!(received.len(), 1, "the outside file is never sent");
    assert_eq!(received[0].body.as_bytes(), bytes);
    let root = t.path("outside");
    let out = t.args(&["run", "c/c.yaml", "--file-root", &root]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(server.received().last().map(|r| r.body.clone()).as_deref(), Some("do-not-send-Ab12"));
}

#[test]
fn a_schema_violation_and_a_body_that_differs_from_its_file_say_where() {
    let server = Server::start();
    let t = Test::new()
        .server(&server)
        .file("schema.json", r#"{"type": "object", "properties": {"json": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"price": {"type": "number", "minimum": 0}}}}}}}}"#)
        .file("expected.json", r#"{"items": [{"price": 1}]}"#)
        .collection(
            "c.yaml",
            r#"name: schema
requests:
  - name: prices
    method: POST
    url: BASE/echo
    json: {items: [{price: 1}, {price: -2}]}
    expect:
      json_schema: schema.json
  - name: same document
    method: POST
    url: BASE/echo
    json: {items: [{price: 1}]}
    capture: {json: $.json}
  - name: whole body
    url: BASE/csv
    expect:
      body: {file: expected.json}
"#,
        );
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    let all = out.all();
    assert!(all.contains("json_schema: expected to match the schema in schema.json"), "{all}");
    assert!(all.contains("at /json/items/1/price: -2 is less than the minimum of 0"), "{all}");
    assert!(all.contains("body: expected to equal expected.json"), "{all}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all from it.
struct Pki {
    ca: rcgen::Certificate,
    server: (rcgen::Certificate, rcgen::KeyPair),
    client: (rcgen::Certificate, rcgen::KeyPair),
}

fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("ca");
    let leaf = |names: Vec<String>, usage| {
        let mut p = CertificateParams::new(names).expect("params");
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("key");
        (p.signed_by(&key, &ca).expect("signed"), key)
    };
    let server = leaf(vec!["127.0.0.1".into()], ExtendedKeyUsagePurpose::ServerAuth);
    let client = leaf(vec!["client.example.test".into()], ExtendedKeyUsagePurpose::ClientAuth);
    Pki { ca: ca.as_ref().clone(), server, client }
}

#[test]
fn a_step_with_a_client_certificate_passes_mutual_tls_and_one_without_is_refused() {
    let pki = pki();
    let server = RawServer::start_mtls(&pki.server.0, &pki.server.1, &pki.ca, |_, w, _| {
        answer(w, "200 OK", &[("Content-Type", "application/json")], b"{\"mtls\": true}")
    });
    let url = server.url("https");
    let yaml = format!(
        r#"name: mtls
requests:
  - name: with a certificate
    url: {url}/x
    tls: {{ca: pki/ca.pem, cert: pki/client.pem, key: pki/client.key}}
    http: 1.1
    expect: {{json: {{$.mtls: true}}}}
  - name: without
    url: {url}/x
    tls: {{ca: pki/ca.pem}}
"#
    );
    let t = Test::new()
        .collection("c.yaml", &yaml)
        .file("pki/ca.pem", &pki.ca.pem())
        .file("pki/client.pem", &pki.client.0.pem())
        .file("pki/client.key", &pki.client.1.serialize_pem());
    let plan = t.clone().args(&["plan", "c.yaml"]).run();
    assert!(
        plan.stdout.contains("tls: trusts pki/ca.pem, client certificate pki/client.pem"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("http: 1.1 only"), "{}", plan.stdout);
    let out = t.clone().args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("✓ with a certificate"), "{}", out.stdout);
    assert!(out.stdout.contains("✗ without"), "{}", out.stdout);
    // The same client certificate for the whole run, from the command line.
    let only = format!("name: flags\nrequests:\n  - url: {url}/x\n    tls: {{ca: pki/ca.pem}}\n");
    let t = t.collection("flags.yaml", &only);
    let (cert, key) = (t.path("pki/client.pem"), t.path("pki/client.key"));
    let out = t.clone().args(&["run", "flags.yaml", "--cert", &cert, "--key", &key]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let out = t.args(&["run", "flags.yaml", "--cert", &cert]).run();
    assert_eq!(out.code, 2, "{}", out.all());
}

#[test]
fn an_insecure_step_reaches_a_self_signed_server_and_is_warned_about() {
    let server = RawServer::start_tls(|_, w, _| answer(w, "200 OK", &[], b"ok"));
    let url = server.url("https");
    let t = Test::new().collection(
        "c.yaml",
        &format!(
            "name: tls\nrequests:\n  - name: verified\n    url: {url}/a\n  - name: trusting\n    url: {url}/b\n    tls: {{insecure: true}}\n"
        ),
    );
    let out = t.clone().args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("✗ verified") && out.stdout.contains("✓ trusting"), "{}", out.stdout);
    assert!(
        out.stderr.contains("warning[insecure-tls]: step `trusting` does not verify TLS certificates"),
        "{}",
        out.stderr
    );
    let plan = t.args(&["plan", "c.yaml"]).run();
    assert!(plan.stdout.contains("tls: certificates NOT verified"), "{}", plan.stdout);
}

#[test]
fn http_pins_the_version_h2c_on_plain_text() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: versions\ndefaults: {http: 2}\nrequests:\n  - name: two\n    url: BASE/echo\n  - name: one\n    url: BASE/echo\n    http: 1.1\n",
    );
    let out = t.args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let versions: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("< HTTP/")).collect();
    assert_eq!(versions.len(), 2, "{}", out.stderr);
    assert!(versions[0].starts_with("< HTTP/2.0 200"), "{versions:?}");
    assert!(versions[1].starts_with("< HTTP/1.1 200"), "{versions:?}");
}

#[test]
fn then_and_let_derive_typed_values_and_keep_secrets_secret() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        r#"name: derive
requests:
  - name: issue
    method: POST
    url: BASE/echo
    json: {key: "sk-Pq81-derive-me", scope: "read project:alpha write", n: "41"}
    capture:
      key: {jsonpath: $.json.key, secret: true}
      project: {jsonpath: $.json.scope, then: "{{ value | replace('project:', '|') | split('|') | last | split(' ') | first }}"}
      n: {jsonpath: $.json.n, then: "{{ value | int + 1 }}"}
    let:
      key_header: "Key {{ key | upper }}"
      half: "{{ n / 2 }}"
  - name: use
    method: POST
    url: BASE/echo
    json: {project: "{{ project }}", n: "{{ n }}", half: "{{ half }}", header: "{{ key_header }}"}
    expect:
      json: {$.json.project: alpha, $.json.n: 42, $.json.half: 21.0}
"#,
    );
    let json = t.path("r.json");
    let out = t.clone().args(&["run", "c.yaml", "-v", "--report", &format!("json={json}")]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let report = std::fs::read_to_string(&json).expect("json");
    for text in [&out.stdout, &out.stderr, &report] {
        assert!(!text.contains("SK-PQ81-DERIVE-ME"), "a value derived from a secret printed:\n{text}");
        assert!(!text.contains("sk-Pq81-derive-me"), "{text}");
    }
    let plan = t.args(&["plan", "c.yaml"]).run();
    assert!(plan.stdout.contains("n = $.json.n then {{ value | int + 1 }}"), "{}", plan.stdout);
    assert!(plan.stdout.contains("half = let {{ n / 2 }}"), "{}", plan.stdout);
}

#[test]
fn a_seed_replays_generated_values_and_a_failing_run_names_its_seed() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: gen\nvars:\n  who: \"{{ fake('email') }}\"\nrequests:\n  - url: BASE/echo\n    query: {n: \"{{ random_int(1, 1000000) }}\", id: \"{{ uuid() }}\", who: \"{{ who }}\"}\n    expect: {status: 201}\n",
    );
    let plan = |seed: &str| t.clone().args(&["plan", "c.yaml", "--seed", seed]).run().stdout;
    assert_eq!(plan("7"), plan("7"));
    assert_ne!(plan("7"), plan("8"));
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    let seed = out
        .stderr
        .split("replay them with --seed ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no seed said:\n{}", out.stderr));
    assert!(seed.parse::<u64>().is_ok(), "{seed}");
}

#[test]
fn curl_records_every_request_sent_masked_unless_asked() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: curl\nauth:\n  - name: login\n    method: POST\n    url: BASE/demo/login\n    form: {username: demo, password: demo-password-7f3a}\n    capture: {token: $.access_token}\nrequests:\n  - name: me\n    url: BASE/demo/me\n    bearer: \"{{ token }}\"\n  - name: upload\n    method: POST\n    url: BASE/echo\n    multipart: {note: hi}\n",
    );
    let (masked, clear) = (t.path("masked.sh"), t.path("clear.sh"));
    let out = t.clone().args(&["run", "c.yaml", "--curl", &masked]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let text = std::fs::read_to_string(&masked).expect("curl file");
    assert_eq!(text.matches("\ncurl").count(), 3, "{text}");
    assert!(text.contains("-H 'authorization: Bearer •••'") && text.contains("password=•••"), "{text}");
    assert!(!text.contains("demo-password-7f3a") && !text.contains("at-"), "{text}");
    assert!(text.contains("-F 'note=hi'") && text.contains("--compressed"), "{text}");
    let out = t.clone().args(&["run", "c.yaml", "--curl", &clear, "--curl-with-secrets"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("holds the run's secrets"), "{}", out.stderr);
    let text = std::fs::read_to_string(&clear).expect("curl file");
    assert!(text.contains("password=demo-password-7f3a") && text.contains("Bearer at-"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&clear).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a file of secrets is readable by its owner only");
    }
    let out = t.args(&["run", "c.yaml", "--curl-with-secrets"]).run();
    assert_eq!(out.code, 2, "--curl-with-secrets needs --curl\n{}", out.all());
}

#[test]
fn digest_and_sigv4_sign_what_is_sent_and_refusals_say_why() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        r#"name: signed
vars: {base: BASE}
requests:
  - name: digest
    url: BASE/digest/auth
    digest: {username: demo, password: "{{ secret_env('PW') }}"}
  - name: digest sha-256, wrong password
    url: BASE/digest/auth?algorithm=SHA-256
    digest: {username: demo, password: not-the-password-1}
    expect: {status: 200}
  - name: sigv4
    method: PUT
    url: BASE/aws/echo
    aws_sigv4: {access_key: AKIDPLAYGROUND0001, secret_key: "{{ secret_env('AWS_SK') }}", region: us-east-1, service: execute-api, session_token: "{{ secret_env('AWS_ST') }}"}
    body: "raw text"
    content_type: text/plain
  - name: sigv4, server clock 10 minutes ahead
    url: BASE/aws/echo?skew=600
    aws_sigv4: {access_key: AKIDPLAYGROUND0001, secret_key: "{{ secret_env('AWS_SK') }}", region: us-east-1, service: execute-api}
    expect: {status: 200}
  - name: sigv4, wrong secret
    url: BASE/aws/echo
    aws_sigv4: {access_key: AKIDPLAYGROUND0001, secret_key: wrong-secret-key-0002, region: us-east-1, service: execute-api}
    expect: {status: 200}
"#,
    );
    let json = t.path("r.json");
    let out = t
        .clone()
        .env("PW", "demo-password-7f3a")
        .env("AWS_SK", "playground/aws/secret-key/0001")
        .env("AWS_ST", "session-token-Ju88-temporary")
        .args(&["run", "c.yaml", "-v", "--report", &format!("json={json}")])
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("✓ digest ") && out.stdout.contains("✓ sigv4 "), "{}", out.stdout);
    assert!(out.stdout.contains("✗ digest sha-256, wrong password"), "{}", out.stdout);
    assert!(out.all().contains("request_time_too_skewed"), "{}", out.all());
    assert!(out.all().contains("signature_does_not_match"), "{}", out.all());
    let report = std::fs::read_to_string(&json).expect("report");
    for secret in [
        "demo-password-7f3a",
        "playground/aws/secret-key/0001",
        "session-token-Ju88-temporary",
        "not-the-password-1",
        "wrong-secret-key-0002",
    ] {
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("report", &report)] {
            assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
        }
    }
    assert!(out.stderr.contains("Signature=•••"), "the signature is masked:\n{}", out.stderr);
}

#[test]
fn oidc_discovery_finds_the_token_endpoint_once_and_refuses_a_document_for_another_issuer() {
    let server = Server::start();
    let profile = |issuer: &str| {
        format!(
            "name: oidc\nauth:\n  oauth2:\n    issuer: \"{issuer}\"\n    client_id: auth0-client\n    client_secret: auth0-secret\n    audience: https://quickstarts/api\n    cache: true\nrequests:\n  - url: \"{issuer}/api/private\"\n"
        )
    };
    let t = Test::new().collection("c.yaml", &profile(&format!("{}/auth0", server.url)));
    let state = t.path("state.json");
    for _ in 0..2 {
        let out = t.clone().args(&["run", "c.yaml", "--state", &state]).run();
        assert_eq!(out.code, 0, "{}", out.all());
    }
    assert_eq!(requests_to(&server, "/auth0/.well-known/openid-configuration"), 1, "kept like the token");
    assert_eq!(requests_to(&server, "/auth0/oauth/token"), 1);
    // A document that names another issuer is not trusted.
    let liar = RawServer::start(|_, w, _| {
        answer(w, "200 OK", &[("Content-Type", "application/json")], br#"{"issuer": "https://evil.example.test", "token_endpoint": "https://evil.example.test/token"}"#)
    });
    let t = Test::new().collection("c.yaml", &profile(&liar.url("http")));
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.all().contains("$.issuer"), "{}", out.all());
    assert_eq!(liar.received().len(), 1, "nothing is sent to the endpoint it names");
}

#[test]
fn the_device_code_grant_prints_where_to_approve_and_polls_until_an_answer() {
    let server = Server::start();
    let collection = |client: &str| {
        format!(
            "name: device\nauth:\n  oauth2:\n    grant: device_code\n    device_url: BASE/device/code\n    token_url: BASE/device/token\n    client_id: {client}\n    scope: read\nrequests:\n  - url: BASE/device/me\n    expect: {{json: {{$.client: {client}}}}}\n"
        )
    };
    let t = Test::new().server(&server);
    // Approved after one `authorization_pending`; the code shows at once, on stderr.
    let t = t.collection("auto.yaml", &collection("device-auto"));
    let json = t.path("r.json");
    let out = t.clone().args(&["run", "auto.yaml", "-v", "--report", &format!("json={json}")]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("to let `oauth2` get a token, open http://"), "{}", out.stderr);
    assert!(out.stdout.contains("attempt 2 of 100"), "{}", out.stdout);
    let report = std::fs::read_to_string(&json).expect("report");
    for text in [&out.stdout, &out.stderr, &report] {
        assert!(!text.contains("dc-"), "the device code is a secret:\n{text}");
    }
    // Refused and expired codes end the poll at once, saying why.
    for (client, error) in [("device-deny", "access_denied"), ("device-expire", "expired_token")] {
        let t = t.clone().collection("c.yaml", &collection(client));
        let out = t.args(&["run", "c.yaml"]).run();
        assert_eq!(out.code, 4, "{client}: {}", out.all());
        assert!(out.all().contains(error), "{client}: {}", out.all());
        assert!(out.stdout.contains("attempt 2"), "{client} stops at the second answer: {}", out.stdout);
    }
}

#[test]
fn slow_down_adds_five_seconds_to_the_device_poll() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: device\nauth:\n  oauth2:\n    grant: device_code\n    device_url: BASE/device/code\n    token_url: BASE/device/token\n    client_id: device-slow\nrequests:\n  - url: BASE/device/me\n",
    );
    let started = std::time::Instant::now();
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    // 1 s interval, then 6 s after `slow_down`, then 6 s again: what RFC 8628 3.5 asks.
    assert!(started.elapsed() >= std::time::Duration::from_secs(12), "{:?}", started.elapsed());
    assert!(out.stdout.contains("attempt 3 of 100"), "{}", out.stdout);
}

#[test]
fn a_kept_device_token_needs_no_new_device_code() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: device\nauth:\n  oauth2:\n    grant: device_code\n    device_url: BASE/device/code\n    token_url: BASE/device/token\n    client_id: device-auto\n    cache: true\nrequests:\n  - url: BASE/device/me\n",
    );
    let state = t.path("state.json");
    for _ in 0..2 {
        let out = t.clone().args(&["run", "c.yaml", "--state", &state]).run();
        assert_eq!(out.code, 0, "{}", out.all());
    }
    assert_eq!(requests_to(&server, "/device/code"), 1, "the second run reuses the kept token");
}

#[test]
fn a_token_exchange_profile_trades_a_subject_token_from_the_environment() {
    let server = Server::start();
    let (_, login) = crate::support::http(
        &server.url,
        "POST",
        "/demo/login",
        Some(r#"{"username": "demo", "password": "demo-password-7f3a"}"#),
    );
    let upstream = login["access_token"].as_str().expect("token").to_string();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: exchange\nauth:\n  oauth2:\n    grant: token_exchange\n    token_url: BASE/exchange/token\n    subject_token: \"{{ secret_env('UPSTREAM_TOKEN') }}\"\n    audience: reports-api\nrequests:\n  - url: BASE/exchange/me\n    expect: {json: {$.audience: reports-api, $.subject: demo}}\n",
    );
    let out = t.clone().env("UPSTREAM_TOKEN", &upstream).args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("subject_token=•••") && out.stderr.contains("subject_token_type=urn"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(&upstream), "the subject token is masked");
    let refused = t.env("UPSTREAM_TOKEN", "not-issued-here-0000").args(&["run", "c.yaml"]).run();
    assert_eq!(refused.code, 4, "{}", refused.all());
    assert!(refused.all().contains("invalid_grant"), "{}", refused.all());
}

/// RFC 7616 3.3: a `stale=true` challenge (the nonce expired, the answer was right) is
/// answered once more with the new nonce; a server that finds every nonce stale gets
/// three requests, not a loop, and the step fails with its 401.
#[test]
fn a_stale_digest_nonce_is_answered_once_more_and_no_more() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "requests:\n  - name: stale once\n    url: BASE/digest/auth?stale=once\n    digest: {username: demo, password: \"{{ secret_env('PW') }}\"}\n  - name: stale always\n    url: BASE/digest/auth?stale=always\n    digest: {username: demo, password: \"{{ secret_env('PW') }}\"}\n",
    );
    let out = t.env("PW", "demo-password-7f3a").args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("✓ stale once"), "{}", out.stdout);
    assert!(out.stdout.contains("✗ stale always") && out.stdout.contains("401"), "{}", out.stdout);
    assert_eq!(requests_to(&server, "/digest/auth"), 6, "three exchanges each");
    assert!(!out.all().contains("demo-password-7f3a"));
}
