//! The provider flows end to end: shipped collections, OAuth2 lifecycle, persisted
//! state, sharing, masking and TLS, all against the in-process playground.

use std::path::{Path, PathBuf};

use crate::support::{Output, Server, baton_env, baton_in, squeeze, temp_file};

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

/// Runs `args` against `server` with a private state file.
fn run_with_state(server: &Server, state: &Path, args: &[&str]) -> Output {
    let state = state.to_string_lossy().into_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--state", state.as_str()]);
    baton_env(&all, &[("BATON_BASE_URL", server.url.as_str())])
}

#[test]
fn every_shipped_collection_runs_green_against_the_playground() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tmp");
    for file in shipped() {
        let path = rel(&file);
        let out = run_with_state(&server, &dir.path().join("state.json"), &["run", &path]);
        assert_eq!(out.code, 0, "{path}\n{}", out.all());
        assert!(!out.stdout.contains('✗'), "{path}\n{}", out.stdout);
    }
}

#[test]
fn clinked_registers_once_and_reuses_the_app_from_state() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state.json");
    let first = run_with_state(&server, &state, &["run", "collections/clinked.yaml"]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(squeeze(&first.stdout).contains("✓ register app (auth) POST"), "{}", first.stdout);
    let second = run_with_state(&server, &state, &["run", "collections/clinked.yaml"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(squeeze(&second.stdout).contains("register app (auth) reused from state"), "{}", second.stdout);
    // The playground saw exactly one registration.
    let (_d, check) = temp_file(
        "count.yaml",
        &format!(
            "requests:\n  - url: {}/clinked/_registrations\n    expect: {{json: {{$.count: 1}}}}\n",
            server.url
        ),
    );
    let out = baton_env(&["run", &check.to_string_lossy()], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    // state show lists it with the secret masked; state clear forgets it.
    let shown = baton_env(&["state", "show", "--state", &state.to_string_lossy()], &[]);
    assert_eq!(shown.code, 0);
    assert!(shown.stdout.contains("step `register app`"), "{}", shown.stdout);
    assert!(shown.stdout.contains("client_secret = •••"), "{}", shown.stdout);
    let cleared = baton_env(&["state", "clear", "--state", &state.to_string_lossy()], &[]);
    assert!(cleared.stdout.contains("removed 1 entries"), "{}", cleared.stdout);
}

#[test]
fn wrong_password_is_a_clear_auth_failure() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tmp");
    let out = baton_env(
        &["run", "collections/clinked.yaml", "--state", &dir.path().join("s.json").to_string_lossy()],
        &[("BATON_BASE_URL", server.url.as_str()), ("CLINKED_PASSWORD", "not-the-password")],
    );
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("auth step `user token` failed with 400"), "{}", out.stdout);
    assert!(out.stdout.contains("Bad credentials"), "{}", out.stdout);
    assert!(!out.all().contains("not-the-password"), "{}", out.all());
}

#[test]
fn missing_scope_is_a_failed_expectation() {
    let server = Server::start();
    let out = baton_env(
        &["run", "collections/auth0-api.yaml", "--var", "client_id=auth0-limited"],
        &[("BATON_BASE_URL", server.url.as_str()), ("AUTH0_CLIENT_SECRET", "auth0-limited-secret")],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("status: expected 200"), "{}", out.stdout);
    assert!(out.stdout.contains("actual: 403"), "{}", out.stdout);
}

#[test]
fn corrupt_state_is_reported_and_left_alone() {
    let server = Server::start();
    let (dir, state) = temp_file("state.json", "{ this is not json");
    let out = run_with_state(&server, &state, &["run", "collections/clinked.yaml"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("state.json"), "{}", out.stderr);
    assert!(out.stderr.contains("corrupt"), "{}", out.stderr);
    assert!(out.stderr.contains("baton state clear"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&state).expect("read"), "{ this is not json");
    drop(dir);
}

#[test]
fn environment_profiles_and_unknown_names() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(dir.path().join("environments")).expect("mkdir");
    std::fs::write(dir.path().join("environments/staging.yaml"), "vars:\n  greeting: from-staging\n")
        .expect("w");
    let yaml = format!(
        "vars:\n  greeting: from-collection\nrequests:\n  - url: {}/echo\n    query: {{g: \"{{{{ greeting }}}}\"}}\n    expect: {{json: {{$.query.g: from-staging}}}}\n",
        server.url
    );
    std::fs::write(dir.path().join("c.yaml"), yaml).expect("w");
    let out = baton_in(dir.path(), &["run", "c.yaml", "--env", "staging"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let out = baton_in(dir.path(), &["run", "c.yaml", "--env", "stagign"], &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("did you mean `--env staging`?"), "{}", out.stderr);
}

#[test]
fn secrets_never_appear_in_any_output_of_any_shipped_collection() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state.json");
    let mut outputs = String::new();
    for file in shipped() {
        let path = rel(&file);
        for cmd in [
            &["run", path.as_str(), "-v"][..],
            &["plan", path.as_str()][..],
            &["validate", path.as_str()][..],
        ] {
            let out = run_with_state(&server, &state, cmd);
            outputs.push_str(&out.all());
        }
    }
    let shown = baton_env(&["state", "show", "--state", &state.to_string_lossy()], &[]);
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
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

/// A collection in a temp dir, run against `server`; the dir lives as long as the output is read.
fn run_temp(server: &Server, yaml: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("c.yaml"), yaml.replace("BASE", &server.url)).expect("write");
    let state = dir.path().join("state.json").to_string_lossy().into_owned();
    let mut args = vec!["run", "c.yaml", "--state", state.as_str()];
    args.extend_from_slice(extra);
    baton_in(dir.path(), &args, &[])
}

fn expect_json(server: &Server, path: &str, jsonpath: &str, value: u64) {
    let yaml = format!("requests:\n  - url: BASE{path}\n    expect: {{json: {{'{jsonpath}': {value}}}}}\n");
    let out = run_temp(server, &yaml, &[]);
    assert_eq!(out.code, 0, "{path} {jsonpath} should be {value}:\n{}", out.all());
}

#[test]
fn oauth2_tokens_are_refreshed_with_the_refresh_token_before_they_expire() {
    let server = Server::start_with(knobs(Some(1), &[]));
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
    url: BASE/delay/1300
  - name: profile again
    url: BASE/p001/api/v1/profile
"#;
    let out = run_temp(&server, yaml, &[]);
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
    let out = baton_env(
        &["run", "collections/p002-client-credentials.yaml"],
        &[("BATON_BASE_URL", server.url.as_str())],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("retried after 401 and re-authentication"), "{}", out.stdout);
    assert!(out.stdout.contains("again: a request got 401"), "{}", out.stdout);
    expect_json(&server, "/p002/_stats", "$.client_credentials", 2);

    // Refused twice: one re-authentication, one retry, then the 401 stands. No loop.
    let server = Server::start_with(knobs(None, &[("/p002/api/data", 2, 401)]));
    let out = baton_env(
        &["run", "collections/p002-client-credentials.yaml"],
        &[("BATON_BASE_URL", server.url.as_str())],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains("actual: 401"), "{}", out.stdout);
    assert!(squeeze(&out.stdout).contains("✓ data again GET"), "{}", out.stdout);
    expect_json(&server, "/p002/_stats", "$.client_credentials", 2);
}

#[test]
fn step_based_auth_renews_on_expiry_and_keeps_the_once_registration() {
    let server = Server::start_with(knobs(Some(1), &[]));
    let dir = tempfile::tempdir().expect("tmp");
    let mut yaml =
        std::fs::read_to_string(crate::support::root().join("collections/clinked.yaml")).expect("read");
    yaml.push_str(
        "  - name: wait past expiry\n    url: \"{{ base_url }}/../delay/1300\"\n    bearer: null\n",
    );
    yaml.push_str("  - name: me again\n    url: \"{{ base_url }}/v2/me\"\n    expect: {status: 200}\n");
    std::fs::write(dir.path().join("c.yaml"), yaml).expect("write");
    let out = baton_in(
        dir.path(),
        &["run", "c.yaml", "--state", &dir.path().join("s.json").to_string_lossy()],
        &[("BATON_BASE_URL", server.url.as_str())],
    );
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
    let dir = tempfile::tempdir().expect("tmp");
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
"#
    .replace("BASE", &server.url);
    std::fs::write(dir.path().join("c.yaml"), yaml).expect("write");
    let state = dir.path().join("s.json").to_string_lossy().into_owned();
    let first = baton_in(dir.path(), &["run", "c.yaml", "--state", &state], &[]);
    assert_eq!(first.code, 0, "{}", first.all());
    let second = baton_in(dir.path(), &["run", "c.yaml", "--state", &state, "-v"], &[]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(squeeze(&second.stdout).contains("oauth2 (auth) reused from state"), "{}", second.stdout);
    assert!(
        second.stderr.contains("Authorization: Bearer •••"),
        "lowercase bearer normalised:\n{}",
        second.stderr
    );
}

#[test]
fn tls_verification_cacert_and_insecure() {
    let (server, pem) = Server::start_tls();
    assert!(server.url.starts_with("https://"));
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).expect("write");
    let yaml = "requests:\n  - name: hello\n    url: BASE/text\n    expect: {body_contains: playground}\n";
    let ok = run_temp(&server, yaml, &["--cacert", &ca.to_string_lossy()]);
    assert_eq!(ok.code, 0, "{}", ok.all());
    let refused = run_temp(&server, yaml, &[]);
    assert_eq!(refused.code, 4, "{}", refused.all());
    assert!(refused.stdout.contains("TLS error"), "{}", refused.stdout);
    assert!(refused.stdout.contains("--cacert"), "{}", refused.stdout);
    let insecure = run_temp(&server, yaml, &["--insecure"]);
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
        let out =
            baton_env(&["run", file], &[("BATON_BASE_URL", server.url.as_str()), (var, wrong.as_str())]);
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
    let out = run_temp(&server, yaml, &["-v"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("> GET "), "{}", out.stderr);
    assert!(out.stderr.contains("grant_type=password"), "{}", out.stderr);
    assert!(out.stderr.contains("password=•••"), "{}", out.stderr);
}

#[test]
fn parallel_processes_sharing_a_state_file_keep_both_entries() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state.json");
    let original =
        std::fs::read_to_string(crate::support::root().join("collections/clinked.yaml")).expect("read");
    for name in ["one", "two"] {
        std::fs::write(dir.path().join(format!("{name}.yaml")), &original).expect("write");
    }
    let runs: Vec<_> = ["one", "two"]
        .into_iter()
        .map(|name| {
            let (dir, state, url) = (dir.path().to_path_buf(), state.clone(), server.url.clone());
            std::thread::spawn(move || {
                let file = format!("{name}.yaml");
                baton_in(
                    &dir,
                    &["run", &file, "--state", &state.to_string_lossy()],
                    &[("BATON_BASE_URL", &url)],
                )
            })
        })
        .collect();
    for run in runs {
        let out = run.join().expect("thread");
        assert_eq!(out.code, 0, "{}", out.all());
    }
    let shown = baton_env(&["state", "show", "--state", &state.to_string_lossy()], &[]);
    assert_eq!(shown.stdout.matches("step `register app`").count(), 2, "{}", shown.stdout);
}
