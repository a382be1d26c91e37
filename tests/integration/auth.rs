//! The provider flows end to end: shipped collections, OAuth2 lifecycle, persisted
//! state, sharing, masking and TLS, all against the in-process playground.

use std::path::{Path, PathBuf};

use crate::support::{Server, Test, squeeze};

/// Every shipped collection file (recipes and environments are not run on their own).
fn shipped() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(crate::support::root().join("collections"))
        .expect("collections/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "the quickstart and the five provider collections: {files:?}");
    files
}

fn rel(p: &Path) -> String {
    p.strip_prefix(crate::support::root()).unwrap_or(p).to_string_lossy().into_owned()
}

/// The shipped collections run from the crate root against `server`, with what `baton
/// demo` gives them besides (the JWT client key; baton following the authorization
/// redirect).
fn against(server: &Server) -> Test {
    let t = Test::new().in_root().env("BATON_BASE_URL", &server.url).env("BATON_BROWSER", "fetch");
    let key = t.path("jwt-key-app.pem");
    t.file("jwt-key-app.pem", baton_playground::assertion_client_key_pem()).env("BATON_JWT_CLIENT_KEY", &key)
}

#[test]
fn every_shipped_collection_runs_green_against_the_playground() {
    let server = Server::start();
    // The mutual-TLS example's server and client certificate, as `baton demo` gives them.
    let (mtls, pki) = Server::start_mtls();
    let t = crate::support::with_mtls(against(&server), &mtls, &pki);
    let state = t.path("state.json");
    for file in shipped() {
        let path = rel(&file);
        let out = t.clone().args(&["run", &path, "--state", &state]).run();
        assert_eq!(out.code, 0, "{path}\n{}", out.all());
        assert!(!out.stdout.contains('✗'), "{path}\n{}", out.stdout);
    }
}

#[test]
fn clinked_registers_once_and_reuses_the_app_from_state() {
    let server = Server::start();
    let t = against(&server);
    let state = t.path("state.json");
    let clinked = t.clone().args(&["run", "collections/clinked.yaml", "--state", &state]);
    let first = clinked.run();
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(squeeze(&first.stdout).contains("✓ register app (auth) POST"), "{}", first.stdout);
    let second = clinked.run();
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(squeeze(&second.stdout).contains("register app (auth) reused from state"), "{}", second.stdout);
    // The playground saw exactly one registration.
    expect_json(&server, "/clinked/_registrations", "$.count", 1);
    // state show lists it with the secret masked; state clear forgets it.
    let shown = t.clone().args(&["state", "show", "--state", &state]).run();
    assert_eq!(shown.code, 0);
    assert!(shown.stdout.contains("step `register app`"), "{}", shown.stdout);
    assert!(shown.stdout.contains("client_secret = •••"), "{}", shown.stdout);
    let cleared = t.args(&["state", "clear", "--state", &state]).run();
    assert!(cleared.stdout.contains("removed 1 entries"), "{}", cleared.stdout);
}

#[test]
fn wrong_password_is_a_clear_auth_failure() {
    let server = Server::start();
    let t = against(&server).env("CLINKED_PASSWORD", "not-the-password");
    let state = t.path("s.json");
    let out = t.args(&["run", "collections/clinked.yaml", "--state", &state]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("auth step `user token` failed with 400"), "{}", out.stdout);
    assert!(out.stdout.contains("Bad credentials"), "{}", out.stdout);
    assert!(!out.all().contains("not-the-password"), "{}", out.all());
}

#[test]
fn missing_scope_is_a_failed_expectation() {
    let server = Server::start();
    let out = against(&server)
        .args(&["run", "collections/auth0-api.yaml", "--var", "client_id=auth0-limited"])
        .env("AUTH0_CLIENT_SECRET", "auth0-limited-secret")
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("status: expected 200"), "{}", out.stdout);
    assert!(out.stdout.contains("actual: 403"), "{}", out.stdout);
}

#[test]
fn corrupt_state_is_reported_and_left_alone() {
    let server = Server::start();
    let broken = "{\"format\": \"baton-state\", \"version\": 1, \"entries\": {";
    let t = against(&server).file("state.json", broken);
    let state = t.path("state.json");
    let out = t.args(&["run", "collections/clinked.yaml", "--state", &state]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("state.json"), "{}", out.stderr);
    assert!(out.stderr.contains("corrupt"), "{}", out.stderr);
    assert!(out.stderr.contains("baton state clear"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&state).expect("read"), broken);
}

#[test]
fn environment_profiles_and_unknown_names() {
    let server = Server::start();
    let yaml = "vars:\n  greeting: from-collection\nrequests:\n  - url: BASE/echo\n    query: {g: \"{{ greeting }}\"}\n    expect: {json: {$.query.g: from-staging}}\n";
    let t = Test::new()
        .server(&server)
        .file("environments/staging.yaml", "vars:\n  greeting: from-staging\n")
        .collection("c.yaml", yaml);
    let out = t.clone().args(&["run", "c.yaml", "--env", "staging"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let out = t.args(&["run", "c.yaml", "--env", "stagign"]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("did you mean `--env staging`?"), "{}", out.stderr);
}

#[test]
fn secrets_never_appear_in_any_output_of_any_shipped_collection() {
    let server = Server::start();
    let t = against(&server);
    let state = t.path("state.json");
    let mut outputs = String::new();
    for file in shipped() {
        let path = rel(&file);
        for cmd in [
            &["run", path.as_str(), "-v"][..],
            &["plan", path.as_str()][..],
            &["validate", path.as_str()][..],
        ] {
            let out = t.clone().args(cmd).args(&["--state", &state]).run();
            outputs.push_str(&out.all());
        }
    }
    let shown = t.args(&["state", "show", "--state", &state]).run();
    outputs.push_str(&shown.all());
    // Known demo secrets, their Basic credentials, and every secret the state file holds.
    let mut secrets: Vec<String> = [
        "demo-password-7f3a",
        "p001-secret",
        "p002-secret",
        "p002-api-key",
        "cedato-secret",
        "auth0-secret",
        "auth0-limited-secret",
        baton_playground::ASSERTION_CLIENT_SECRET,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Each line of the JWT client's private key.
    let pem = baton_playground::assertion_client_key_pem();
    secrets.extend(pem.lines().filter(|l| !l.starts_with("-----")).map(str::to_string));
    for (user, pass) in [("p002-client", "p002-secret"), ("cedato-client", "cedato-secret")] {
        use base64::Engine as _;
        secrets.push(base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")));
    }
    let state_text = std::fs::read_to_string(&state).expect("state written");
    let doc: serde_json::Value = serde_json::from_str(&state_text).expect("json");
    for entry in doc["entries"].as_object().expect("entries").values() {
        for name in entry["secret"].as_array().expect("secret list") {
            let value = &entry["captures"][name.as_str().expect("name")];
            secrets.push(value.as_str().expect("string secret").to_string());
        }
    }
    assert!(secrets.len() > 9, "the state file holds the registration's secret");
    for secret in &secrets {
        assert!(!outputs.contains(secret.as_str()), "secret {secret} leaked");
    }
    assert!(outputs.contains("•••"));
}

fn knobs(token_lifetime: Option<u64>, fail: &[(&str, u32, u16)]) -> baton_playground::Knobs {
    baton_playground::Knobs {
        token_lifetime,
        fail: fail
            .iter()
            .map(|(path, times, status)| baton_playground::FailRule {
                path: path.to_string(),
                times: *times,
                status: *status,
                retry_after: None,
            })
            .collect(),
        delay: Vec::new(),
    }
}

/// `baton run c.yaml --state state.json` in a fresh temp dir, `BASE` pointing at `server`.
fn run_temp(server: &Server, yaml: &str) -> Test {
    Test::new().server(server).collection("c.yaml", yaml).args(&["run", "c.yaml", "--state", "state.json"])
}

/// Asks the playground (through baton) whether `jsonpath` of `path` is `value`.
fn expect_json(server: &Server, path: &str, jsonpath: &str, value: u64) {
    let yaml = format!("requests:\n  - url: BASE{path}\n    expect: {{json: {{'{jsonpath}': {value}}}}}\n");
    let out = run_temp(server, &yaml).run();
    assert_eq!(out.code, 0, "{path} {jsonpath} should be {value}:\n{}", out.all());
}

/// Tokens in the lifecycle tests live this long; the tests wait 600 ms to outlive them.
/// baton renews at 90% of a lifetime, which leaves the steps before the wait 450 ms.
const TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_millis(500);

#[test]
fn oauth2_tokens_are_refreshed_with_the_refresh_token_before_they_expire() {
    let server = Server::with_token_lifetime(TOKEN_LIFETIME);
    let yaml = r#"name: refresh
auth:
  oauth2:
    token_url: BASE/p001/oauth/token
    grant: password
    body_format: json
    client_id: p001-client
    client_secret: p001-secret
    username: demo
    password: demo-password-7f3a
requests:
  - name: profile
    url: BASE/p001/api/v1/profile
  - name: wait past expiry
    url: BASE/delay/600
  - name: profile again
    url: BASE/p001/api/v1/profile
  - name: profile a third time
    url: BASE/p001/api/v1/profile
  - name: profile a fourth time
    url: BASE/p001/api/v1/profile
"#;
    let out = run_temp(&server, yaml).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(squeeze(&out.stdout).contains("oauth2 refresh (auth) POST"), "{}", out.stdout);
    assert!(out.stdout.contains("refresh: the credentials expired"), "{}", out.stdout);
    expect_json(&server, "/p001/_stats", "$.refresh_token", 1);
    expect_json(&server, "/p001/_stats", "$.password", 1);
}

#[test]
fn a_401_reauthenticates_once_and_retries_once() {
    // The first API call is refused once: baton fetches a new token and retries.
    let server = Server::start_with(knobs(None, &[("/p002/api/data", 1, 401)]));
    let out = against(&server).args(&["run", "collections/p002-client-credentials.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("retried after 401 and re-authentication"), "{}", out.stdout);
    assert!(out.stdout.contains("again: a request got 401"), "{}", out.stdout);
    expect_json(&server, "/p002/_stats", "$.client_credentials", 2);

    // Refused twice: one re-authentication, one retry, then the 401 stands. No loop.
    let server = Server::start_with(knobs(None, &[("/p002/api/data", 2, 401)]));
    let out = against(&server).args(&["run", "collections/p002-client-credentials.yaml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("actual: 401"), "{}", out.stdout);
    assert!(squeeze(&out.stdout).contains("✓ data again GET"), "{}", out.stdout);
    expect_json(&server, "/p002/_stats", "$.client_credentials", 2);
}

#[test]
fn step_based_auth_renews_on_expiry_and_keeps_the_once_registration() {
    let server = Server::with_token_lifetime(TOKEN_LIFETIME);
    let mut yaml =
        std::fs::read_to_string(crate::support::root().join("collections/clinked.yaml")).expect("read");
    yaml.push_str("  - name: wait past expiry\n    url: \"{{ base_url }}/../delay/600\"\n    bearer: null\n");
    yaml.push_str("  - name: me again\n    url: \"{{ base_url }}/v2/me\"\n    expect: {status: 200}\n");
    let out = Test::new()
        .collection("c.yaml", &yaml)
        .args(&["run", "c.yaml", "--state", "s.json"])
        .env("BATON_BASE_URL", &server.url)
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    let text = squeeze(&out.stdout);
    assert!(text.contains("app token (auth) GET"), "{text}");
    assert!(text.contains("again: the credentials expired"), "{text}");
    assert!(text.contains("register app (auth) reused from state"), "{text}");
    expect_json(&server, "/clinked/_registrations", "$.count", 1);
}

#[test]
fn cached_tokens_are_reused_across_runs_until_they_expire() {
    let server = Server::start();
    let yaml = r#"name: cached
auth:
  oauth2:
    token_url: BASE/cedato/api/token
    client_auth: basic
    client_id: cedato-client
    client_secret: cedato-secret
    headers: {api-version: "1"}
    token_path: $.data.access_token
    cache: true
defaults:
  headers: {api-version: "1"}
requests:
  - name: report
    url: BASE/cedato/api/reports/daily
    expect: {content_type: text/csv}
"#;
    let t =
        Test::new().server(&server).collection("c.yaml", yaml).args(&["run", "c.yaml", "--state", "s.json"]);
    let first = t.run();
    assert_eq!(first.code, 0, "{}", first.all());
    let second = t.args(&["-v"]).run();
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(squeeze(&second.stdout).contains("oauth2 (auth) reused from state"), "{}", second.stdout);
    assert!(
        second.stderr.contains("authorization: Bearer •••"),
        "lowercase bearer normalised:\n{}",
        second.stderr
    );
}

#[test]
fn tls_verification_cacert_and_insecure() {
    let (server, pem) = Server::start_tls();
    assert!(server.url.starts_with("https://"));
    let yaml = "requests:\n  - name: hello\n    url: BASE/text\n    expect: {body_contains: playground}\n";
    let ok = run_temp(&server, yaml).file("ca.pem", &pem).args(&["--cacert", "ca.pem"]).run();
    assert_eq!(ok.code, 0, "{}", ok.all());
    let refused = run_temp(&server, yaml).run();
    assert_eq!(refused.code, 4, "{}", refused.all());
    assert!(refused.stdout.contains("TLS error"), "{}", refused.stdout);
    assert!(refused.stdout.contains("--cacert"), "{}", refused.stdout);
    let insecure = run_temp(&server, yaml).args(&["--insecure"]).run();
    assert_eq!(insecure.code, 0, "{}", insecure.all());
    assert!(insecure.stderr.contains("warning: --insecure"), "{}", insecure.stderr);
}

#[test]
fn each_provider_collection_fails_clearly_with_wrong_credentials() {
    let server = Server::start();
    let cases = [
        ("collections/p001-password-grant.yaml", "P001_PASSWORD", 4, "auth step `oauth2` failed with"),
        (
            "collections/p002-client-credentials.yaml",
            "P002_CLIENT_SECRET",
            4,
            "auth step `oauth2` failed with 401",
        ),
        ("collections/p002-client-credentials.yaml", "P002_API_KEY", 1, "actual: 403"),
        ("collections/cedato-reports.yaml", "CEDATO_CLIENT_SECRET", 4, "auth step `oauth2` failed with 401"),
        ("collections/auth0-api.yaml", "AUTH0_CLIENT_SECRET", 4, "auth step `oauth2` failed with 401"),
    ];
    for (file, var, code, message) in cases {
        let wrong = format!("wrong-{var}-value");
        let out = against(&server).args(&["run", file]).env(var, &wrong).run();
        assert_eq!(out.code, code, "{file} with a wrong {var}\n{}", out.all());
        assert!(out.stdout.contains(message), "{file} with a wrong {var}\n{}", out.stdout);
        assert!(!out.all().contains(&wrong), "{file}: the wrong secret was printed\n{}", out.all());
    }
}

#[test]
fn oauth2_query_format_uses_get_like_clinked() {
    let server = Server::start();
    let yaml = r#"auth:
  oauth2:
    token_url: BASE/clinked/oauth/token
    grant: password
    body_format: query
    client_id: clinked-mobile
    username: demo
    password: demo-password-7f3a
requests:
  - name: me
    url: BASE/clinked/v2/me
    expect: {status: 200}
"#;
    let out = run_temp(&server, yaml).args(&["-v"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("> GET "), "{}", out.stderr);
    assert!(out.stderr.contains("grant_type=password"), "{}", out.stderr);
    assert!(out.stderr.contains("password=•••"), "{}", out.stderr);
}

#[test]
fn parallel_processes_sharing_a_state_file_keep_both_entries() {
    let server = Server::start();
    let original =
        std::fs::read_to_string(crate::support::root().join("collections/clinked.yaml")).expect("read");
    let t = Test::new()
        .collection("one.yaml", &original)
        .collection("two.yaml", &original)
        .env("BATON_BASE_URL", &server.url);
    let runs: Vec<_> = ["one.yaml", "two.yaml"]
        .into_iter()
        .map(|file| {
            let run = t.clone().args(&["run", file, "--state", "state.json"]);
            std::thread::spawn(move || run.run())
        })
        .collect();
    for run in runs {
        let out = run.join().expect("thread");
        assert_eq!(out.code, 0, "{}", out.all());
    }
    let shown = t.args(&["state", "show", "--state", "state.json"]).run();
    assert_eq!(shown.stdout.matches("step `register app`").count(), 2, "{}", shown.stdout);
}
