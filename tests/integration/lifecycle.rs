//! Credentials between the happy paths: polls that outlive a token, re-authentication as
//! a replay, refused credentials, refresh tokens kept between runs, one token per
//! identity across files, `once` across processes and signals, forgotten registrations.
//! Every count is asked of the playground (`/_playground/requests`, `/…/_stats`).

use std::time::{Duration, Instant};

use crate::support::{Server, Test, http, requests_to, squeeze};

/// Tokens in these tests live this long; baton renews them at 90%.
const LIFETIME: Duration = Duration::from_millis(500);

fn fail(path: &str, times: u32, status: u16) -> baton_playground::FailRule {
    baton_playground::FailRule { path: path.into(), times, status, retry_after: None }
}

fn server_failing(rules: Vec<baton_playground::FailRule>) -> Server {
    Server::start_with(baton_playground::Knobs { fail: rules, ..Default::default() })
}

fn stats(server: &Server, provider: &str) -> serde_json::Value {
    http(&server.url, "GET", &format!("/{provider}/_stats"), None).1
}

const P001_PASSWORD: &str = r#"auth:
  oauth2:
    token_url: BASE/p001/oauth/token
    grant: password
    body_format: json
    client_id: p001-client
    client_secret: p001-secret
    username: demo
    password: demo-password-7f3a
"#;

#[test]
fn a_poll_longer_than_the_token_renews_before_attempts_and_goes_on_after_a_401() {
    // Three answers "not yet" (503), then a 401 in the middle of the poll, then 200.
    let server =
        server_failing(vec![fail("/p001/api/v1/profile", 3, 503), fail("/p001/api/v1/profile", 1, 401)]);
    let mut playground_lifetime = server_with_lifetime(&server);
    playground_lifetime(LIFETIME);
    let yaml = format!(
        "name: poll\n{P001_PASSWORD}requests:\n  - name: job\n    url: BASE/p001/api/v1/profile\n    retry: {{count: 6, interval: 250ms, until: {{status: 200}}}}\n"
    );
    let out = Test::new().server(&server).collection("c.yaml", &yaml).args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let text = squeeze(&out.stdout);
    assert!(text.contains("refresh: the credentials expired"), "renewed before an attempt:\n{text}");
    assert!(text.contains("retried after 401 and re-authentication"), "{text}");
    assert!(text.contains("attempt 4 of 6"), "the 401 did not cost an attempt or restart the poll:\n{text}");
    assert_eq!(requests_to(&server, "/p001/api/v1/profile"), 5, "503 ×3, 401, 200:\n{text}");
    let stats = stats(&server, "p001");
    assert_eq!(stats["password"], 1, "one login; renewals use the refresh token: {stats}");
    // One renewal when the token fell due, one after the 401 (one more if a slow machine
    // let the token fall due again): never one per attempt.
    assert!((2..=3).contains(&stats["refresh_token"].as_u64().unwrap_or(0)), "{stats}");
}

/// Sets the playground's token lifetime (sub-second) after it started.
fn server_with_lifetime(server: &Server) -> impl FnMut(Duration) + '_ {
    move |lifetime: Duration| {
        let knobs = format!(
            r#"{{"token_lifetime_ms": {}, "fail": {}}}"#,
            lifetime.as_millis(),
            http(&server.url, "GET", "/_playground/knobs", None).1["fail"]
        );
        let (status, _) = http(&server.url, "PUT", "/_playground/knobs", Some(&knobs));
        assert_eq!(status, 200);
    }
}

#[test]
fn reauthentication_replays_the_auth_steps_with_the_variables_they_first_saw() {
    let server = server_failing(vec![fail("/p002/api/data", 1, 401)]);
    let yaml = r#"name: replay
vars:
  client_id: p002-client
auth:
  oauth2:
    token_url: BASE/p002/oauth/token
    client_auth: basic
    client_id: "{{ client_id }}"
    client_secret: p002-secret
    params: {client_id: "{{ client_id }}"}
defaults:
  headers: {x-api-key: p002-api-key, origin: "https://app.example.test", referer: "https://app.example.test/"}
requests:
  - name: an app id
    url: BASE/echo?id=app-123
    bearer: null
    capture: {client_id: $.query.id}
  - name: data
    url: BASE/p002/api/data
"#;
    let t = Test::new().server(&server).collection("c.yaml", yaml);
    let checked = t.clone().args(&["validate", "c.yaml"]).run();
    assert_eq!(checked.code, 0, "{}", checked.all());
    assert!(
        checked.stderr.contains("capture `client_id` replaces the variable `client_id`"),
        "a capture that shadows a variable an earlier step reads is warned:\n{}",
        checked.stderr
    );
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "the re-authentication sent the first client id:\n{}", out.all());
    assert!(out.stdout.contains("retried after 401"), "{}", out.stdout);
    assert_eq!(stats(&server, "p002")["client_credentials"], 2);
}

#[test]
fn a_refused_reauthentication_stops_the_401_storm() {
    let server = server_failing(vec![fail("/p002/api/data", 100, 401)]);
    let out = Test::new()
        .in_root()
        .env("BATON_BASE_URL", &server.url)
        .args(&["run", "collections/p002-client-credentials.yaml"])
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    // token, data (401), token, data again (401: stop), data again (401): no third token.
    assert_eq!(requests_to(&server, "/p002/oauth/token"), 2, "{}", out.stdout);
    assert_eq!(requests_to(&server, "/p002/api/data"), 3, "{}", out.stdout);
    assert_eq!(out.stdout.matches("no more re-authentication").count(), 1, "said once:\n{}", out.stdout);
}

#[test]
fn a_cached_token_that_expired_is_renewed_with_its_saved_refresh_token_and_the_rotated_one_kept() {
    let server = Server::with_token_lifetime(LIFETIME);
    let yaml = format!(
        "name: cached\n{}    cache: true\nrequests:\n  - name: profile\n    url: BASE/p001/api/v1/profile\n",
        P001_PASSWORD
    );
    let t =
        Test::new().server(&server).collection("c.yaml", &yaml).args(&["run", "c.yaml", "--state", "s.json"]);
    for run in 1..=3 {
        let out = t.run();
        assert_eq!(out.code, 0, "run {run}:\n{}", out.all());
        if run > 1 {
            assert!(
                squeeze(&out.stdout).contains("renewed with the refresh token saved"),
                "run {run}:\n{}",
                out.stdout
            );
        }
        std::thread::sleep(LIFETIME + Duration::from_millis(100));
    }
    let stats = stats(&server, "p001");
    assert_eq!(stats["password"], 1, "later runs renew, they do not log in again: {stats}");
    assert_eq!(
        stats["refresh_token"], 2,
        "each later run used the refresh token the one before stored: {stats}"
    );
}

#[test]
fn a_refresh_token_grant_with_rotation_uses_the_stored_token_on_later_runs() {
    let server = Server::with_token_lifetime(LIFETIME);
    let login = r#"{"grant_type": "password", "client_id": "p001-client", "client_secret": "p001-secret", "username": "demo", "password": "demo-password-7f3a"}"#;
    let (status, tokens) = http(&server.url, "POST", "/p001/oauth/token", Some(login));
    assert_eq!(status, 200, "{tokens}");
    let first = tokens["refresh_token"].as_str().expect("a refresh token").to_string();
    let yaml = r#"name: brightspace-style
auth:
  oauth2:
    token_url: BASE/p001/oauth/token
    grant: refresh_token
    body_format: json
    client_id: p001-client
    client_secret: p001-secret
    refresh_token: "{{ secret_env('RT') }}"
    cache: true
requests:
  - name: profile
    url: BASE/p001/api/v1/profile
"#;
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", yaml)
        .env("RT", &first)
        .args(&["run", "c.yaml", "--state", "s.json"]);
    let out = t.run();
    assert_eq!(out.code, 0, "{}", out.all());
    std::thread::sleep(LIFETIME + Duration::from_millis(100));
    // `RT` still holds the first refresh token, which the server rotated away.
    let out = t.run();
    assert_eq!(out.code, 0, "the stored (rotated) refresh token was used:\n{}", out.all());
    assert!(!out.all().contains(&first), "refresh tokens never print");
    assert_eq!(stats(&server, "p001")["refresh_token"], 2);
}

const P002_RECIPE: &str = r#"vars:
  base_url: BASE/p002
auth:
  oauth2:
    token_url: "{{ base_url }}/oauth/token"
    client_auth: basic
    client_id: p002-client
    client_secret: p002-secret
    params: {client_id: p002-client}
    cache: true
defaults:
  headers: {x-api-key: p002-api-key, origin: "https://app.example.test", referer: "https://app.example.test/"}
"#;

#[test]
fn files_of_a_run_share_one_token_per_identity_and_later_runs_reuse_it() {
    let server = Server::start();
    let mut t = Test::new().server(&server).collection("recipe.yaml", P002_RECIPE);
    for name in ["a", "b", "c"] {
        let yaml = format!(
            "name: {name}\ninclude: [recipe.yaml]\nrequests:\n  - name: data {name}\n    url: \"{{{{ base_url }}}}/api/data\"\n"
        );
        t = t.collection(&format!("{name}.yaml"), &yaml);
    }
    let run = t.args(&["run", "a.yaml", "b.yaml", "c.yaml", "--jobs", "3", "--state", "s.json"]);
    let out = run.run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(requests_to(&server, "/p002/oauth/token"), 1, "one fetch for three files:\n{}", out.stdout);
    assert_eq!(out.stdout.matches("shared: obtained earlier in this run").count(), 2, "{}", out.stdout);
    let again = run.run();
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(requests_to(&server, "/p002/oauth/token"), 1, "cache: true keeps it for later runs");
    assert_eq!(requests_to(&server, "/p002/api/data"), 6);
}

#[test]
fn a_once_step_runs_once_across_concurrent_processes() {
    let server = Server::start();
    let clinked =
        std::fs::read_to_string(crate::support::root().join("collections/clinked.yaml")).expect("read");
    let t = Test::new().collection("c.yaml", &clinked).env("BATON_BASE_URL", &server.url);
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let run = t.clone().args(&["run", "c.yaml", "--state", "state.json"]);
            std::thread::spawn(move || run.run())
        })
        .collect();
    for run in runs {
        let out = run.join().expect("thread");
        assert_eq!(out.code, 0, "{}", out.all());
    }
    assert_eq!(http(&server.url, "GET", "/clinked/_registrations", None).1["count"], 1);
}

#[cfg(unix)]
#[test]
fn sigterm_after_a_registration_keeps_it_and_exits_130() {
    sigterm_case(&["run", "c.yaml", "--state", "state.json"]);
}

#[cfg(unix)]
#[test]
fn sigterm_stops_parallel_files_too() {
    sigterm_case(&["run", "c.yaml", "other.yaml", "--jobs", "2", "--state", "state.json"]);
}

#[cfg(unix)]
fn sigterm_case(args: &[&str]) {
    let server = Server::start();
    let clinked =
        std::fs::read_to_string(crate::support::root().join("collections/clinked.yaml")).expect("read");
    let slow =
        format!("{clinked}  - name: slow\n    url: \"{{{{ base_url }}}}/../delay/8000\"\n    bearer: null\n");
    let other = "requests:\n  - url: \"{{ env('BATON_BASE_URL') }}/delay/8000\"\n";
    let t = Test::new()
        .collection("c.yaml", &slow)
        .collection("other.yaml", other)
        .env("BATON_BASE_URL", &server.url);
    let mut cmd = t.clone().args(args).command();
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn baton");
    // The registration is saved as soon as it succeeds, long before the slow request ends.
    let state = t.dir().join("state.json");
    let started = Instant::now();
    while !std::fs::read_to_string(&state).is_ok_and(|s| s.contains("register app")) {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the registration was not saved while the run went on");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(kill.is_ok_and(|s| s.success()), "SIGTERM sent");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("baton did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    assert_eq!(status.code(), Some(130), "the documented exit code: {stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(8), "stopped before the slow request ended");
    // The next run (the slow step gone) reuses the registration instead of registering again.
    let out = t.collection("c.yaml", &clinked).args(&["run", "c.yaml", "--state", "state.json"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(squeeze(&out.stdout).contains("register app (auth) reused from state"), "{}", out.stdout);
    assert_eq!(http(&server.url, "GET", "/clinked/_registrations", None).1["count"], 1);
}

#[test]
fn a_forgotten_registration_names_the_saved_entry_and_state_clear_forgets_just_it() {
    let server = Server::start();
    let clinked =
        std::fs::read_to_string(crate::support::root().join("collections/clinked.yaml")).expect("read");
    let t = Test::new().collection("c.yaml", &clinked).env("BATON_BASE_URL", &server.url);
    let run = t.clone().args(&["run", "c.yaml", "--state", "state.json"]);
    assert_eq!(run.run().code, 0);
    let (status, _) = http(&server.url, "DELETE", "/clinked/_registrations", None);
    assert_eq!(status, 200);
    let out = run.run();
    assert_eq!(out.code, 4, "the app token is refused: {}", out.all());
    let text = squeeze(&out.stdout.replace('\n', " "));
    assert!(
        text.contains(
            "`client_id`, `client_secret` reused from the state file (saved by step `register app` at"
        ),
        "{text}"
    );
    assert!(text.contains("baton state clear"), "{text}");
    assert!(text.contains("--step 'register app' --state state.json"), "{text}");
    let cleared = t
        .clone()
        .args(&["state", "clear", "c.yaml", "--step", "register app", "--state", "state.json"])
        .run();
    assert_eq!(cleared.code, 0, "{}", cleared.all());
    assert!(
        cleared.stdout.contains("removed 1 entry of step `register app` of c.yaml"),
        "{}",
        cleared.stdout
    );
    let out = run.run();
    assert_eq!(out.code, 0, "registered again: {}", out.all());
    assert_eq!(http(&server.url, "GET", "/clinked/_registrations", None).1["count"], 2);
}

#[test]
fn a_registration_with_forget_on_registers_again_once_when_its_saved_credentials_are_refused() {
    let server = Server::start();
    let clinked =
        std::fs::read_to_string(crate::support::root().join("collections/clinked.yaml")).expect("read");
    assert!(clinked.contains("    once: true\n"));
    let opted_in = clinked.replace("    once: true\n", "    once: {forget_on: 401}\n");
    let run = Test::new().collection("c.yaml", &opted_in).env("BATON_BASE_URL", &server.url).args(&[
        "run",
        "c.yaml",
        "--state",
        "state.json",
    ]);
    assert_eq!(run.run().code, 0);
    http(&server.url, "DELETE", "/clinked/_registrations", None);
    let out = run.run();
    assert_eq!(out.code, 0, "registered again by itself: {}", out.all());
    let text = squeeze(&out.stdout);
    assert!(
        text.contains(
            "`app token` got 401 with what `register app` saved: forgot it and ran the auth steps again"
        ),
        "{text}"
    );
    assert_eq!(http(&server.url, "GET", "/clinked/_registrations", None).1["count"], 2);
    // The new registration was saved: the next run reuses it.
    let out = run.run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(squeeze(&out.stdout).contains("register app (auth) reused from state"), "{}", out.stdout);
    assert_eq!(http(&server.url, "GET", "/clinked/_registrations", None).1["count"], 2);
}

fn token_answer(
    _: &crate::hostile::server::Request,
    w: &mut dyn std::io::Write,
    _: &crate::hostile::server::Ctx<'_>,
) {
    let body = br#"{"access_token": "tok-9f8e7d6c5b4a", "token_type": "Bearer", "expires_in": 3600, "sid": "sid-0a1b2c3d4e5f"}"#;
    crate::hostile::server::answer(w, "200 OK", &[("Content-Type", "application/json")], body);
}

#[test]
fn defaults_reach_the_requests_and_never_the_token_endpoint() {
    let server = crate::hostile::server::RawServer::start(token_answer);
    let base = server.url("http");
    let profile = format!(
        "name: profile\nauth:\n  oauth2:\n    token_url: {base}/token\n    client_id: app\n    client_secret: app-secret-123456\ndefaults:\n  headers: {{x-api-key: key-7a6b5c4d3e2f, origin: 'https://app.example.test'}}\n  query: {{tenant: t1}}\nrequests:\n  - name: api\n    url: {base}/api\n"
    );
    let steps = format!(
        "name: steps\nauth:\n  - name: login\n    method: POST\n    url: {base}/login\n    form: {{user: u}}\n    capture: {{token_type: $.token_type, access_token: $.access_token, sid: $.sid}}\ndefaults:\n  headers:\n    Authorization: \"{{{{ token_type }}}} {{{{ access_token }}}}\"\n    Cookie: \"sid={{{{ sid }}}}\"\n    x-api-key: key-7a6b5c4d3e2f\nrequests:\n  - name: api\n    url: {base}/api\n"
    );
    let t = Test::new().collection("profile.yaml", &profile).collection("steps.yaml", &steps);
    let out = t.clone().args(&["run", "profile.yaml", "steps.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let received = server.received();
    let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/token", "/api?tenant=t1", "/login", "/api"]);
    for auth in [&received[0], &received[2]] {
        assert_eq!(auth.header("x-api-key"), None, "{}", auth.raw);
        assert_eq!(auth.header("origin"), None, "{}", auth.raw);
        assert_eq!(auth.header("cookie"), None, "{}", auth.raw);
    }
    assert_eq!(received[1].header("x-api-key"), Some("key-7a6b5c4d3e2f"));
    assert_eq!(received[1].header("authorization"), Some("Bearer tok-9f8e7d6c5b4a"));
    assert_eq!(received[3].header("authorization"), Some("Bearer tok-9f8e7d6c5b4a"));
    assert_eq!(received[3].header("cookie"), Some("sid=sid-0a1b2c3d4e5f"));
    assert!(
        !out.all().contains("tok-9f8e7d6c5b4a") && !out.all().contains("sid-0a1b2c3d4e5f"),
        "{}",
        out.all()
    );
}

fn otp_server(
    req: &crate::hostile::server::Request,
    w: &mut dyn std::io::Write,
    _: &crate::hostile::server::Ctx<'_>,
) {
    use crate::hostile::server::answer;
    let json = [("Content-Type", "application/json")];
    if req.path.starts_with("/start") {
        answer(w, "200 OK", &json, br#"{"code": "cap-code-551177"}"#);
    } else {
        // Refuses, echoing what it got: the failure excerpt must still mask it.
        let echo = serde_json::json!({"error": "nope", "got": req.body}).to_string();
        answer(w, "500 Internal Server Error", &json, echo.as_bytes());
    }
}

#[test]
fn names_listed_in_secrets_and_secret_flags_never_print_but_are_sent() {
    let server = crate::hostile::server::RawServer::start(otp_server);
    let base = server.url("http");
    let yaml = format!(
        r#"name: one-time codes
vars:
  otp: otp-value-8c7b6a
secrets: [otp, code]
requests:
  - name: start
    url: "{base}/start?otp={{{{ otp }}}}"
    headers: {{X-Pin: "{{{{ pin }}}}"}}
    capture: {{code: $.code}}
  - name: use
    method: POST
    url: {base}/use
    json: {{code: "{{{{ code }}}}", pin: "{{{{ pin }}}}"}}
"#
    );
    let t = Test::new().collection("c.yaml", &yaml);
    let values = ["otp-value-8c7b6a", "cap-code-551177", "pin-value-3e2d1c"];
    let run = t
        .clone()
        .args(&["run", "c.yaml", "-v", "--secret", "pin=pin-value-3e2d1c"])
        .args(&["--report", "json=r.json", "--report", "junit=r.xml"])
        .run();
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("•••"), "{}", run.stdout);
    let plan = t.clone().env("BATON_SECRET_pin", "pin-value-3e2d1c").args(&["plan", "c.yaml"]).run();
    assert_eq!(plan.code, 0, "{}", plan.all());
    let reports = ["r.json", "r.xml"].map(|f| std::fs::read_to_string(t.dir().join(f)).expect("report"));
    for value in values {
        for (what, text) in [
            ("run", run.all()),
            ("plan", plan.all()),
            ("json", reports[0].clone()),
            ("junit", reports[1].clone()),
        ] {
            assert!(!text.contains(value), "{value} printed in {what}:\n{text}");
        }
    }
    // They did travel: to the server they belong to.
    let received: String = server.received().iter().map(|r| r.raw.clone()).collect();
    for value in values {
        assert!(received.contains(value), "{value} was not sent:\n{received}");
    }
    // A name in `secrets:` that is nothing is a mistake, caught before sending.
    let typo = t
        .collection("c.yaml", &yaml.replace("[otp, code]", "[otp, cdoe]"))
        .args(&["validate", "c.yaml", "--secret", "pin=x"])
        .run();
    assert_eq!(typo.code, 3, "{}", typo.all());
    assert!(typo.stderr.contains("error[unknown-secret]"), "{}", typo.stderr);
    assert!(typo.stderr.contains("did you mean `code`?"), "{}", typo.stderr);
    // `--secret` errors never echo the value.
    let bad = Test::new()
        .collection("c.yaml", &yaml)
        .args(&["validate", "c.yaml", "--secret", "pin-x=pin-value-3e2d1c"])
        .run();
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(!bad.all().contains("pin-value-3e2d1c"), "{}", bad.all());
}
