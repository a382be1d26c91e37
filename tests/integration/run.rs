//! Running collections against the playground: the chain, bodies, captures,
//! expectations, skips, errors and exit codes.

use crate::support::{Server, Test, squeeze};

#[test]
fn demo_collection_runs_the_full_chain_green() {
    let server = Server::start();
    let var = format!("base_url={}", server.url);
    let out = Test::new().in_root().args(&["run", "collections/demo.yaml", "--var", &var]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("7 steps, 7 passed"), "{}", out.stdout);
    assert!(out.stdout.contains("✓ wrong token is refused"), "{}", out.stdout);
}

#[test]
fn wrong_password_stops_at_the_auth_step_with_status_and_body() {
    let server = Server::start();
    let yaml = r#"
name: bad login
vars: {password: "{{ secret_env('BATON_TEST_PW', default='nope-wrong-pw') }}"}
auth:
  - name: login
    method: POST
    url: BASE/demo/login
    json: {username: demo, password: "{{ password }}"}
    capture: {token: $.access_token}
requests:
  - name: me
    url: BASE/demo/me
    bearer: "{{ token }}"
  - name: independent
    url: BASE/text
"#;
    let out = Test::new().server(&server).collection("c.yaml", yaml).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("auth step `login` failed with 401"), "{}", out.stdout);
    assert!(out.stdout.contains("wrong username or password"), "{}", out.stdout);
    assert!(squeeze(&out.stdout).contains("- me skipped: auth step `login` failed"), "{}", out.stdout);
    assert!(squeeze(&out.stdout).contains("- independent skipped"), "{}", out.stdout);
    assert!(!out.all().contains("nope-wrong-pw"), "secret leaked: {}", out.all());
}

#[test]
fn failed_expectations_show_expected_actual_and_the_yaml_line() {
    let server = Server::start();
    let yaml = r#"name: expectations
requests:
  - name: csv
    url: BASE/csv
    expect:
      status: [200, 201]
      content_type: application/json
      body_contains: [id, "not in the body"]
  - name: json
    url: BASE/echo?n=3&tag=a&tag=b
    expect:
      status: 2xx
      headers: {content-type: {matches: "^text/"}}
      json:
        $.query.n: "4"
        $.query.tag: {len: 3, contains: c}
        $.method: {type: integer}
        $.missing: {exists: true}
        $.path: {matches: "^/nope"}
  - name: status
    url: BASE/status/404
"#;
    // An absolute path, so the header and every position show it (redacted to `[tmp]`).
    let t = Test::new().server(&server).collection("c.yaml", yaml);
    let out = t.clone().args(&["run", &t.path("c.yaml")]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    insta::assert_snapshot!(out.redact(&out.stdout));
}

#[test]
fn dependent_requests_are_skipped_and_independent_ones_still_run() {
    let server = Server::start();
    let yaml = r#"name: skips
requests:
  - name: create
    url: BASE/status/500
    capture: {id: $.id}
  - name: uses id
    url: "BASE/echo/{{ id }}"
  - name: independent
    url: BASE/text
    expect: {body_contains: hello}
"#;
    let t = Test::new().server(&server).collection("c.yaml", yaml);
    let out = t.clone().args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        squeeze(&out.stdout)
            .contains("uses id skipped: needs `id`, which step `create` did not capture (it failed)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("✓ independent"), "{}", out.stdout);
    let out = t.args(&["run", "c.yaml", "--fail-fast"]).run();
    assert_eq!(out.code, 1);
    assert!(
        squeeze(&out.stdout).contains("independent skipped: --fail-fast: step `create` failed"),
        "{}",
        out.stdout
    );
}

#[test]
fn templates_keep_types_and_null_removes_query_and_headers() {
    let server = Server::start();
    let yaml = r#"name: types
vars:
  count: 3
  ratio: 0.5
  flag: true
  tags: [a, b]
  nothing: null
defaults:
  headers: {x-default: yes-please, x-drop: dropped}
requests:
  - name: typed json
    method: POST
    url: BASE/echo
    query: {keep: "{{ count }}", gone: "{{ nothing }}", many: "{{ tags }}"}
    headers: {x-drop: null, x-count: "{{ count }}"}
    json:
      count: "{{ count }}"
      ratio: "{{ ratio }}"
      flag: "{{ flag }}"
      tags: "{{ tags }}"
      nothing: "{{ nothing }}"
      text: "n={{ count }}"
      sum: "{{ count + 1 }}"
    expect:
      json:
        $.json.count: {type: integer, equals: 3}
        $.json.ratio: 0.5
        $.json.flag: true
        $.json.tags: [a, b]
        $.json.nothing: null
        $.json.text: "n=3"
        $.json.sum: 4
        $.query.keep: "3"
        $.query.gone: {exists: false}
        $.query.many: [a, b]
        $.headers['x-default']: yes-please
        $.headers['x-drop']: {exists: false}
        $.headers['x-count']: "3"
        $.headers['content-type']: application/json
"#;
    let out = Test::new().server(&server).collection("c.yaml", yaml).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn form_multipart_and_raw_bodies_are_sent_as_declared() {
    let server = Server::start();
    let yaml = r#"name: bodies
requests:
  - name: form
    method: POST
    url: BASE/echo
    form: {a: "1", b: "x y&z"}
    expect:
      json:
        $.form.a: "1"
        $.form.b: "x y&z"
        $.headers['content-type']: application/x-www-form-urlencoded
  - name: multipart
    method: POST
    url: BASE/echo
    multipart:
      title: hello
      doc: {file: upload.txt, content_type: text/plain}
    expect:
      json:
        $.multipart[0].name: title
        $.multipart[0].text: hello
        $.multipart[1].filename: upload.txt
        $.multipart[1].text: file contents here
        $.multipart[1].content_type: text/plain
  - name: raw
    method: PUT
    url: BASE/echo
    body: "line one\nline two"
    content_type: text/plain
    expect:
      json:
        $.body: "line one\nline two"
        $.method: PUT
        $.headers['content-type']: text/plain
"#;
    let out = Test::new()
        .server(&server)
        .file("upload.txt", "file contents here")
        .collection("c.yaml", yaml)
        .args(&["run", "c.yaml"])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn captures_read_json_headers_status_body_and_regex_with_types() {
    let server = Server::start();
    let yaml = r#"name: captures
auth:
  - name: login
    method: POST
    url: BASE/demo/login
    json: {username: demo, password: demo-password-7f3a}
    capture:
      token: $.access_token
      lifetime: {jsonpath: $.expires_in, secret: false}
requests:
  - name: create
    method: POST
    url: BASE/demo/items
    bearer: "{{ token }}"
    json: {name: thing, price: 2}
    expect: {status: 201}
    capture:
      id: $.id
      where: {header: Location}
      code: status
      whole: body
      digits: {regex: '"id":\s*(\d+)'}
  - name: reuse
    method: POST
    url: BASE/echo
    json: {id: "{{ id }}", where: "{{ where }}", code: "{{ code }}", name: "{{ whole.name }}", digits: "{{ digits }}", lifetime: "{{ lifetime }}"}
    expect:
      json:
        $.json.id: {type: integer}
        $.json.code: 201
        $.json.name: thing
        $.json.where: {matches: '^/demo/items/\d+$'}
        $.json.digits: {type: string}
        $.json.lifetime: 3600
  - name: csv is first class
    url: BASE/demo/report.csv
    bearer: "{{ token }}"
    capture:
      header_line: {regex: '^([a-z,]+)'}
    expect:
      content_type: text/csv
      body_contains: "id,name,price"
  - name: empty body
    url: BASE/empty
    expect: {status: 204}
  - name: text body
    url: BASE/text
    capture: {greeting: body}
    expect: {content_type: text/plain, body_contains: playground}
"#;
    let out = Test::new().server(&server).collection("c.yaml", yaml).args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    // The auth-step token is secret by default: never printed, even with -v.
    let token_line =
        out.stderr.lines().find(|l| l.contains("access_token")).expect("trace shows the token field");
    assert!(token_line.contains("•••"), "{token_line}");
    assert!(
        !regex::Regex::new(r"\bat-[0-9a-f]{8}").expect("re").is_match(&out.stderr),
        "a token leaked:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("\"expires_in\": 3600"), "non-secret capture stays visible");
}

#[test]
fn timeouts_and_refused_connections_are_runtime_errors() {
    let server = Server::start();
    let slow = "name: slow\nrequests:\n  - name: slow\n    url: BASE/delay/3000\n    timeout: 200ms\n";
    let out = Test::new().server(&server).collection("c.yaml", slow).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("timed out after 200ms"), "{}", out.stdout);
    assert!(out.stdout.contains("help: raise the limit"), "{}", out.stdout);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let refused =
        format!("name: refused\nrequests:\n  - name: nobody home\n    url: http://127.0.0.1:{port}/\n");
    let out = Test::new().collection("c.yaml", &refused).args(&["run", "c.yaml", "--timeout", "5s"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("connection failed"), "{}", out.stdout);
}

#[test]
fn variable_layers_apply_in_order() {
    let server = Server::start();
    let yaml = r#"name: layers
vars:
  only_vars: vars
  from_file: vars
  file_and_env: vars
  all: vars
  derived: "{{ only_vars }}-{{ from_file }}"
requests:
  - name: echo
    url: BASE/echo
    query: {a: "{{ only_vars }}", b: "{{ from_file }}", c: "{{ file_and_env }}", d: "{{ all }}", e: "{{ derived }}"}
    expect:
      json:
        $.query.a: vars
        $.query.b: envfile
        $.query.c: environment
        $.query.d: flag
        $.query.e: vars-envfile
"#;
    let out = Test::new()
        .server(&server)
        .file(".env", "from_file=envfile\nfile_and_env=envfile\nall=envfile\n")
        .collection("c.yaml", yaml)
        .args(&["run", "c.yaml", "--env-file", ".env", "--var", "all=flag"])
        .env("BATON_VAR_file_and_env", "environment")
        .env("BATON_VAR_all", "environment")
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn template_functions_and_filters_work() {
    let server = Server::start();
    let yaml = r#"name: functions
vars:
  id: "{{ uuid() }}"
  stamp: "{{ now() }}"
  unix: "{{ now(format='unix') }}"
  encoded: "{{ 'user:pass' | b64encode }}"
  decoded: "{{ 'aGVsbG8=' | b64decode }}"
  home: "{{ env('BATON_TEST_HOME_X', default='fallback') }}"
requests:
  - name: echo
    method: POST
    url: BASE/echo
    query: {q: "{{ 'a b&c' | urlencode }}"}
    json: {id: "{{ id }}", stamp: "{{ stamp }}", unix: "{{ unix }}", enc: "{{ encoded }}", dec: "{{ decoded }}", home: "{{ home }}", obj: "{{ {'k': 1} | tojson }}"}
    expect:
      json:
        $.json.id: {matches: '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-'}
        $.json.stamp: {matches: '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'}
        $.json.unix: {type: integer, gt: 1700000000}
        $.json.enc: dXNlcjpwYXNz
        $.json.dec: hello
        $.json.home: fallback
        $.json.obj: '{"k": 1}'
        $.query.q: "a%20b%26c"
"#;
    let out = Test::new().server(&server).collection("c.yaml", yaml).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn secrets_never_print_in_run_verbose_plan_or_errors() {
    let server = Server::start();
    let secret = "s3cr3t-Value/with+chars";
    let yaml = r#"name: secrets
vars:
  api_key: "{{ secret_env('BATON_TEST_API_KEY') }}"
auth:
  - name: login
    method: POST
    url: BASE/demo/login
    json: {username: demo, password: demo-password-7f3a}
    capture: {token: $.access_token}
requests:
  - name: key in query header and body
    method: POST
    url: BASE/echo
    query: {key: "{{ api_key }}"}
    headers: {x-key: "{{ api_key }}", x-derived: "Key {{ api_key | b64encode }}"}
    json: {key: "{{ api_key }}", token: "{{ token }}"}
    expect:
      json:
        $.json.key: "not the key"
  - name: basic
    url: BASE/echo
    basic: {username: client, password: "{{ api_key }}"}
"#;
    let t = Test::new().server(&server).collection("c.yaml", yaml).env("BATON_TEST_API_KEY", secret);
    let b64 = base64_of(secret);
    let token = regex::Regex::new(r"\bat-[0-9a-f]{8}").expect("re");
    for args in [&["run", "c.yaml", "-v"][..], &["plan", "c.yaml"], &["validate", "c.yaml"]] {
        let out = t.clone().args(args).run();
        let all = out.all();
        for leak in
            [secret, "s3cr3t-Value%2Fwith%2Bchars", b64.as_str(), "Y2xpZW50OnMzY3IzdC1WYWx1ZS93aXRoK2NoYXJz"]
        {
            assert!(!all.contains(leak), "{args:?} leaked {leak}:\n{all}");
        }
        assert!(!token.is_match(&all), "{args:?} leaked a token:\n{all}");
        if args[0] == "run" {
            assert_eq!(out.code, 1, "{all}");
            assert!(all.contains("•••"), "{all}");
        }
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn plan_renders_requests_with_placeholders_and_sends_nothing() {
    // Port 9 (discard): if plan sent anything, it would fail; it must not try.
    let out = Test::new()
        .in_root()
        .args(&["plan", "collections/demo.yaml", "--var", "base_url=http://127.0.0.1:9"])
        .env("DEMO_PASSWORD", "pw-for-plan-test")
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    // Credentials are masked even as placeholders.
    assert!(out.stdout.contains("Authorization: Bearer •••"), "{}", out.stdout);
    assert!(!out.all().contains("pw-for-plan-test"), "{}", out.all());
    // Every step in order, with its method and URL, what it needs and what it captures.
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn folders_run_their_yaml_files_in_name_order() {
    let server = Server::start();
    let mut t = Test::new().server(&server);
    for (name, text) in [("b.yml", "second"), ("a.yaml", "first"), ("c.txt", "ignored")] {
        t = t.collection(name, &format!("name: {text}\nrequests:\n  - url: BASE/text\n"));
    }
    let out = t.args(&["run", "."]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let first = out.stdout.find("first").expect("first ran");
    let second = out.stdout.find("second").expect("second ran");
    assert!(first < second, "{}", out.stdout);
    assert!(!out.stdout.contains("ignored"));
    assert!(out.stdout.contains("total: 2 collections, 2 steps: 2 passed"), "{}", out.stdout);
}

#[test]
fn output_has_no_colour_when_not_a_terminal() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .collection("c.yaml", "requests:\n  - url: BASE/status/500\n")
        .args(&["run", "c.yaml"])
        .run();
    assert_eq!(out.code, 1);
    assert!(!out.all().contains('\u{1b}'), "ANSI escape in piped output: {:?}", out.all());
}
