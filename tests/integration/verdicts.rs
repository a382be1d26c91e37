//! What baton says about a run must be exactly what happened: `-v` shows the headers
//! that went out (the client's own included), a `Content-Type` that contradicts the body
//! is warned about with the winner named, and guarded template uses run.

use std::io::Write;

use crate::hostile::server::{Ctx, RawServer, Request, answer};
use crate::support::{Server, Test, squeeze};

fn ok_json(_: &Request, w: &mut dyn Write, _: &Ctx<'_>) {
    answer(w, "200 OK", &[("Content-Type", "application/json")], br#"{"ok": true}"#);
}

/// The `> name: value` lines of each request traced on stderr, in order.
fn traced_headers(stderr: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut in_head = false;
    for l in stderr.lines() {
        if l == ">" {
            in_head = false; // the body follows
            continue;
        }
        let Some(rest) = l.strip_prefix("> ") else { continue };
        if rest.starts_with("GET ") || rest.starts_with("POST ") || rest.starts_with("PUT ") {
            out.push(Vec::new());
            in_head = true;
        } else if let Some(block) = out.last_mut().filter(|_| in_head) {
            block.push(rest.to_string());
        }
    }
    out
}

#[test]
fn verbose_traces_show_every_header_the_server_received() {
    let server = RawServer::start(ok_json);
    let yaml = r#"name: sent
requests:
  - name: plain
    url: BASE/a
  - name: json
    method: POST
    url: BASE/b
    bearer: "{{ secret_env('SENT_TOKEN') }}"
    json: {a: 1}
  - name: form
    method: POST
    url: BASE/c
    headers: {Accept: application/json}
    form: {x: "1"}
  - name: upload
    method: PUT
    url: BASE/d
    multipart: {title: hello}
  - name: empty post
    method: POST
    url: BASE/e
"#
    .replace("BASE", &server.url("http"));
    let token = "tok-Sent-93-secret";
    let out =
        Test::new().collection("c.yaml", &yaml).env("SENT_TOKEN", token).args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.all().contains(token), "the token never prints:\n{}", out.all());
    let received = server.received();
    let traced = traced_headers(&out.stderr);
    assert_eq!(received.len(), 5, "{received:?}");
    assert_eq!(traced.len(), 5, "{}", out.stderr);
    for (got, shown) in received.iter().zip(&traced) {
        let got: Vec<String> = got.headers.iter().map(|h| h.replace(token, "•••")).collect();
        let mut a = got.clone();
        let mut b = shown.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "-v shows exactly what {} {} sent", got.len(), shown.len());
    }
    // The headers baton adds are among them.
    let all: Vec<&String> = traced.iter().flatten().collect();
    for added in [
        "user-agent: baton/",
        "accept: */*",
        "accept-encoding: gzip",
        "content-type: application/json",
        "content-length: ",
    ] {
        assert!(all.iter().any(|h| h.starts_with(added)), "{added} in\n{}", out.stderr);
    }
}

#[test]
fn a_content_type_contradicting_the_body_is_warned_and_the_named_winner_is_sent() {
    let server = RawServer::start(ok_json);
    let yaml = r#"name: ct
defaults:
  headers: {Content-Type: application/json}
requests:
  - name: login
    method: POST
    url: BASE/login
    form: {user: ann}
  - name: upload
    method: POST
    url: BASE/up
    headers: {Content-Type: multipart/form-data}
    multipart: {title: hello}
"#
    .replace("BASE", &server.url("http"));
    let t = Test::new().collection("c.yaml", &yaml);
    let out = t.clone().args(&["validate", "c.yaml"]).run();
    assert_eq!(out.code, 0, "a warning does not fail validation: {}", out.all());
    assert!(
        out.stderr.contains("warning[conflicting-content-type]: `Content-Type: application/json` contradicts the `form:` body of step `login`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("c.yaml:3:13"), "points at the default header: {}", out.stderr);
    assert!(out.stderr.contains("is ignored on the `multipart:` body of step `upload`"), "{}", out.stderr);
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("warning[conflicting-content-type]"), "{}", out.stderr);
    let received = server.received();
    assert_eq!(
        received[0].header("content-type"),
        Some("application/json"),
        "the header wins on a form body"
    );
    assert_eq!(received[0].body, "user=ann");
    let multipart: Vec<&String> =
        received[1].headers.iter().filter(|h| h.starts_with("content-type:")).collect();
    assert_eq!(multipart.len(), 1, "one content type: {multipart:?}");
    assert!(multipart[0].starts_with("content-type: multipart/form-data; boundary="), "{multipart:?}");
}

#[test]
fn uses_guarded_by_default_or_is_defined_validate_and_run() {
    let server = Server::start();
    let yaml = r#"name: guarded
requests:
  - name: first
    url: "BASE/echo?who={{ who | default('nobody') }}&id={{ id | default('none') }}"
    headers:
      X-Id: "{% if id is defined %}{{ id }}{% else %}unset{% endif %}"
    expect:
      json:
        $.query.who: nobody
        $.query.id: none
        $.headers['x-id']: unset
    capture: {id: $.path}
  - name: second
    url: "BASE/echo?id={{ id | default('none') }}"
    expect:
      json:
        $.query.id: /echo
"#;
    let out = Test::new().server(&server).collection("c.yaml", yaml).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let out = Test::new()
        .server(&server)
        .collection("c.yaml", yaml)
        .args(&["run", "c.yaml", "--var", "who=ann"])
        .run();
    assert_eq!(out.code, 1, "the expectation sees the given value: {}", out.all());
    assert!(out.stdout.contains("actual: \"ann\""), "{}", out.stdout);
}

#[test]
fn a_wrong_status_is_the_one_cause_and_its_missing_captures_one_note() {
    let server = Server::start();
    let yaml = r#"name: login
auth:
  - name: login
    method: POST
    url: BASE/demo/login
    json: {username: demo, password: not-the-password}
    capture:
      token: $.access_token
      kind: $.token_type
      lifetime: $.expires_in
requests:
  - name: me
    url: BASE/demo/me
    bearer: "{{ token }}"
"#;
    let t = Test::new().server(&server).collection("c.yaml", yaml);
    let out = t.clone().args(&["run", "c.yaml", "--report", "json=r.json", "--report", "junit=r.xml"]).run();
    assert_eq!(out.code, 4, "an auth step failed: {}", out.all());
    assert_eq!(out.stdout.matches("error[expectation-failed]").count(), 1, "one cause:\n{}", out.stdout);
    assert!(out.stdout.contains("status: expected 2xx"), "{}", out.stdout);
    assert!(out.stdout.contains("(3 captures skipped because the status was 401)"), "{}", out.stdout);
    assert!(!out.stdout.contains("capture `kind`"), "{}", out.stdout);
    let json = std::fs::read_to_string(t.dir().join("r.json")).expect("json");
    assert!(json.contains("3 captures skipped because the status was 401"), "{json}");
    assert_eq!(json.matches("\"kind\": \"failure\"").count(), 1, "one problem: {json}");
    let xml = std::fs::read_to_string(t.dir().join("r.xml")).expect("xml");
    assert!(xml.contains("note: 3 captures skipped because the status was 401"), "{xml}");
}

#[test]
fn an_oauth2_profile_without_token_path_says_the_default_was_read() {
    let server = Server::start();
    let yaml = r#"name: oauth
auth:
  oauth2:
    grant: client_credentials
    token_url: BASE/echo
    client_id: app
    client_secret: "{{ secret_env('OAUTH_SECRET') }}"
requests:
  - name: me
    url: BASE/echo
"#;
    let out = Test::new()
        .server(&server)
        .collection("c.yaml", yaml)
        .env("OAUTH_SECRET", "cs-Default-71")
        .args(&["run", "c.yaml"])
        .run();
    assert_eq!(out.code, 4, "{}", out.all());
    let text = squeeze(&out.stdout);
    assert!(text.contains("read at the default `token_path: $.access_token`"), "{}", out.stdout);
    assert!(out.stdout.contains("c.yaml:3:3"), "points at `oauth2:`, not `token_url:`: {}", out.stdout);
    assert!(!out.all().contains("cs-Default-71"), "{}", out.all());
    // With `token_path:` written, the failure points at it.
    let yaml = yaml.replace("    client_id: app\n", "    client_id: app\n    token_path: $.data.token\n");
    let out = Test::new()
        .server(&server)
        .collection("c.yaml", &yaml)
        .env("OAUTH_SECRET", "cs-Default-71")
        .args(&["run", "c.yaml"])
        .run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("c.yaml:7:17"), "points at the token_path value: {}", out.stdout);
    assert!(squeeze(&out.stdout).contains("read at `token_path: $.data.token`"), "{}", out.stdout);
}

#[test]
fn long_and_wide_step_names_keep_the_request_column_aligned() {
    let server = Server::start();
    let yaml = r#"name: names
requests:
  - name: a very long step name that goes on and on well past any reasonable column width
    url: BASE/echo
  - name: short
    url: BASE/echo
  - name: 注文を作成する
    url: BASE/echo
  - url: BASE/text
"#;
    let out = Test::new().server(&server).collection("c.yaml", yaml).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    // The display column where each request's method starts.
    let columns: Vec<usize> = out
        .stdout
        .lines()
        .filter_map(|l| l.find("GET ").map(|i| unicode_width::UnicodeWidthStr::width(&l[..i])))
        .collect();
    assert_eq!(columns.len(), 4, "{}", out.stdout);
    assert!(columns.iter().all(|c| *c == columns[0]), "{columns:?}\n{}", out.stdout);
    let long = out.stdout.lines().find(|l| l.contains("goes on and on")).expect("long name");
    assert!(!long.contains("GET"), "a name wider than the column has its line to itself:\n{}", out.stdout);
    assert!(out.stdout.contains("names: 4 steps, 4 passed"), "{}", out.stdout);
}

#[test]
fn plan_shows_a_renewal_step_with_its_url_and_a_placeholder_for_what_is_unknown() {
    let yaml = r#"name: renew
vars: {base: "http://127.0.0.1:9"}
auth:
  oauth2:
    grant: password
    token_url: "{{ base }}/oauth/token"
    client_id: app
    username: ann
    password: "{{ secret_env('RENEW_PW', default='pw-Renew-5521') }}"
    body_format: json
requests:
  - name: me
    url: "{{ base }}/me"
    headers: {X-Session: "{{ session | default('none') }}"}
"#;
    let out = Test::new().collection("c.yaml", yaml).args(&["plan", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let renew = out.stdout.split("(auth, only to renew credentials)").nth(1).expect("a renewal step");
    let renew = renew.split("\n\n").next().unwrap_or(renew);
    assert!(renew.contains("POST http://127.0.0.1:9/oauth/token"), "{}", out.stdout);
    assert!(renew.contains("\"grant_type\": \"refresh_token\""), "{}", out.stdout);
    assert!(!out.stdout.contains("not renderable"), "{}", out.stdout);
    assert!(!out.all().contains("pw-Renew-5521"), "{}", out.all());
}

/// A self-signed certificate marked as a CA, as `openssl req -x509` makes by default.
fn self_signed_ca(names: &[&str]) -> (rcgen::Certificate, rcgen::KeyPair) {
    self_signed_ca_with(names, |_| {})
}

fn self_signed_ca_with(
    names: &[&str],
    edit: impl FnOnce(&mut rcgen::CertificateParams),
) -> (rcgen::Certificate, rcgen::KeyPair) {
    let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    edit(&mut params);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    (cert, key)
}

#[test]
fn a_self_signed_certificate_given_with_cacert_is_trusted_as_itself_and_nothing_else() {
    let (cert, key) = self_signed_ca(&["127.0.0.1", "localhost"]);
    let server = RawServer::start_tls_with(&cert, &key, ok_json);
    let (other, _) = self_signed_ca(&["127.0.0.1"]);
    let (wrong_name, wrong_key) = self_signed_ca(&["api.example.test"]);
    let misnamed = RawServer::start_tls_with(&wrong_name, &wrong_key, ok_json);
    let yaml = |url: &str| format!("name: tls\nrequests:\n  - name: get\n    url: {url}/x\n");
    let t = Test::new()
        .collection("c.yaml", &yaml(&server.url("https")))
        .collection("misnamed.yaml", &yaml(&misnamed.url("https")))
        .file("server.pem", &cert.pem())
        .file("other.pem", &other.pem())
        .file("misnamed.pem", &wrong_name.pem());
    let out = t.clone().args(&["run", "c.yaml", "--cacert", "server.pem"]).run();
    assert_eq!(out.code, 0, "the server's own certificate is pinned: {}", out.all());
    // Another certificate vouches for nothing: said in plain words, with what to pass.
    let out = t.clone().args(&["run", "c.yaml", "--cacert", "other.pem"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("the server presents a CA certificate as its own"), "{}", out.stdout);
    assert!(out.stdout.contains("the `--cacert` file does not vouch for this server"), "{}", out.stdout);
    // Without `--cacert` the advice is to pass one.
    let out = t.clone().args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("pass the server's CA with `--cacert PATH`"), "{}", out.stdout);
    // A pinned certificate still has to name the host.
    let out = t.args(&["run", "misnamed.yaml", "--cacert", "misnamed.pem"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("does not name this host"), "{}", out.stdout);
    assert!(out.stdout.contains("a name its certificate lists"), "{}", out.stdout);
    assert_eq!(server.received().len(), 1, "one request got through, the pinned one");
    assert!(misnamed.received().is_empty());
    // Nor does a pin outlive the certificate's dates.
    let (expired, expired_key) = self_signed_ca_with(&["127.0.0.1"], |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let old = RawServer::start_tls_with(&expired, &expired_key, ok_json);
    let out = Test::new()
        .collection("c.yaml", &yaml(&old.url("https")))
        .file("expired.pem", &expired.pem())
        .args(&["run", "c.yaml", "--cacert", "expired.pem"])
        .run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("has expired"), "{}", out.stdout);
    assert!(old.received().is_empty());
}

/// The verdict of each step as one report says it, `(step, verdict)` in order.
type Verdicts = Vec<(String, &'static str)>;

fn junit_verdicts(xml: &str) -> Verdicts {
    xml.split("<testcase ")
        .skip(1)
        .map(|case| {
            let name =
                case.split("name=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("").to_string();
            let body = case.split("</testcase>").next().unwrap_or(case);
            let head_closed = body.split('>').next().is_some_and(|h| h.ends_with('/'));
            let verdict = match () {
                _ if head_closed => "passed",
                _ if body.contains("<failure") => "failed",
                _ if body.contains("<error") => "error",
                _ if body.contains("<skipped") => "skipped",
                _ => "passed",
            };
            (name, verdict)
        })
        .collect()
}

fn json_verdicts(doc: &serde_json::Value) -> Verdicts {
    doc["collections"][0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let verdict = match s["result"].as_str() {
                Some("passed") => "passed",
                Some("failed") => "failed",
                Some("error") => "error",
                Some("skipped") => "skipped",
                other => panic!("unknown result {other:?}"),
            };
            (s["name"].as_str().unwrap_or("").to_string(), verdict)
        })
        .collect()
}

/// The terminal's mark for each step: ✓ passed, ✗ failed or error (told apart by the
/// `error[request-failed]` under it), - skipped.
fn terminal_verdicts(stdout: &str, names: &[&str]) -> Verdicts {
    let lines: Vec<&str> = stdout.lines().collect();
    names
        .iter()
        .map(|name| {
            let i = lines
                .iter()
                .position(|l| {
                    let mut chars = l.trim_start().chars();
                    chars.next();
                    chars.as_str().trim_start().starts_with(&format!("{name} "))
                })
                .unwrap_or_else(|| panic!("no line for {name}:\n{stdout}"));
            let mark = lines[i].trim_start().chars().next();
            let next_step = lines[i + 1..]
                .iter()
                .position(|l| l.starts_with("  ✓") || l.starts_with("  ✗") || l.starts_with("  -"))
                .map_or(lines.len(), |j| i + 1 + j);
            let error = lines[i + 1..next_step].iter().any(|l| l.contains("error[request-failed]"));
            let verdict = match mark {
                Some('✓') => "passed",
                Some('-') => "skipped",
                Some('✗') if error => "error",
                Some('✗') => "failed",
                other => panic!("mark {other:?} in {}", lines[i]),
            };
            (name.to_string(), verdict)
        })
        .collect()
}

#[test]
fn terminal_json_junit_and_exit_code_agree_on_every_outcome() {
    let server = Server::start();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let yaml = format!(
        r#"name: outcomes
requests:
  - name: passes
    url: BASE/echo
    expect: {{status: 200}}
  - name: fails
    url: BASE/echo
    capture: {{id: $.path}}
    expect: {{json: {{$.path: /elsewhere}}}}
  - name: errors
    url: http://127.0.0.1:{closed}/x
    timeout: 2s
  - name: skipped
    url: "BASE/echo/{{{{ id }}}}"
  - name: snapshot
    url: "BASE/echo?tag={{{{ tag }}}}"
    snapshot: true
"#
    );
    let names = ["passes", "fails", "errors", "skipped", "snapshot"];
    let t = Test::new().server(&server).collection("c.yaml", &yaml);
    let first = t.clone().args(&["run", "c.yaml", "--var", "tag=one"]).run();
    assert!(first.stdout.contains("snapshot written"), "{}", first.all());
    let out = t
        .clone()
        .args(&["run", "c.yaml", "--var", "tag=two", "--report", "json=r.json", "--report", "junit=r.xml"])
        .run();
    assert!(out.stdout.contains("snapshot mismatch"), "{}", out.stdout);
    // What a failed step captured is not handed on.
    assert!(
        squeeze(&out.stdout).contains("skipped: needs `id`, which step `fails` did not capture (it failed)"),
        "{}",
        out.stdout
    );
    let want: Verdicts = vec![
        ("passes".into(), "passed"),
        ("fails".into(), "failed"),
        ("errors".into(), "error"),
        ("skipped".into(), "skipped"),
        ("snapshot".into(), "failed"),
    ];
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.dir().join("r.json")).expect("json"))
            .expect("valid json");
    let xml = std::fs::read_to_string(t.dir().join("r.xml")).expect("junit");
    assert_eq!(terminal_verdicts(&out.stdout, &names), want, "terminal:\n{}", out.stdout);
    assert_eq!(json_verdicts(&doc), want, "json");
    assert_eq!(junit_verdicts(&xml), want, "junit:\n{xml}");
    // The counts agree too, and the exit code is the most serious outcome (a runtime error).
    assert!(
        out.stdout.contains("outcomes: 5 steps, 1 passed, 2 failed, 1 error, 1 skipped"),
        "{}",
        out.stdout
    );
    let summary = &doc["summary"];
    assert_eq!((summary["passed"].as_u64(), summary["failed"].as_u64()), (Some(1), Some(2)), "{summary}");
    assert_eq!((summary["errors"].as_u64(), summary["skipped"].as_u64()), (Some(1), Some(1)), "{summary}");
    assert!(
        xml.contains("tests=\"5\"") && xml.contains("failures=\"2\"") && xml.contains("errors=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("skipped=\"1\""), "{xml}");
    assert_eq!(out.code, 4, "{}", out.all());
    assert_eq!(summary["exit_code"].as_i64(), Some(4));
    // Without the runtime error, the mismatch decides: 5.
    let yaml = yaml.replace(&format!("http://127.0.0.1:{closed}/x"), "BASE/echo");
    let out = t.collection("c.yaml", &yaml).args(&["run", "c.yaml", "--var", "tag=two"]).run();
    assert_eq!(out.code, 5, "{}", out.all());
}
