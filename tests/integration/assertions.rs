//! Client authentication by signed JWT (RFC 7523): `client_secret_jwt`, `private_key_jwt`
//! and the `jwt_bearer` grant, against the playground's verifying token endpoint and a raw
//! loopback server that shows what was sent.

use base64::Engine;

use crate::hostile::server::{RawServer, answer};
use crate::support::{Server, Test};

const SECRET: &str = baton_playground::ASSERTION_CLIENT_SECRET;

/// The claims of a JWT, read without verifying.
fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The value of `name` in a form body.
fn form_field(body: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn secret_jwt_collection(token_url: &str, me: &str) -> String {
    format!(
        "name: assertion\nauth:\n  oauth2:\n    token_url: {token_url}\n    client_id: jwt-secret-app\n    client_secret: \"{{{{ secret_env('JWT_SECRET') }}}}\"\n    client_auth: client_secret_jwt\nrequests:\n  - url: {me}\n"
    )
}

#[test]
fn client_secret_jwt_sends_a_fresh_verified_assertion_and_never_the_secret() {
    // The playground verifies the signature, audience, life and jti.
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        &(secret_jwt_collection("BASE/assertion/token", "BASE/assertion/me")
            + "    expect: {json: {$.client: jwt-secret-app, $.grant: client_credentials}}\n"),
    );
    let t = t.env("JWT_SECRET", SECRET);
    let out =
        t.clone().args(&["run", "c.yaml", "-v", "--report", "json=r.json", "--report", "junit=j.xml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("client_assertion=•••"), "the assertion is masked in -v:\n{}", out.stderr);
    assert!(out.stderr.contains("client_assertion_type=urn"), "{}", out.stderr);
    let plan = t.clone().args(&["plan", "c.yaml"]).run();
    for (what, text) in [
        ("run", out.all()),
        ("plan", plan.all()),
        ("json", std::fs::read_to_string(t.dir().join("r.json")).expect("r.json")),
        ("junit", std::fs::read_to_string(t.dir().join("j.xml")).expect("j.xml")),
    ] {
        assert!(!text.contains(SECRET), "the client secret shows in {what}:\n{text}");
        assert!(!text.contains("eyJ"), "a signed assertion shows in {what}:\n{text}");
    }

    // A raw server shows what travels: an assertion, never the secret, fresh each time.
    let raw = RawServer::start(|req, w, _| {
        let body: &[u8] = if req.path.starts_with("/token") {
            br#"{"access_token": "tok-recorded-0001", "token_type": "Bearer", "expires_in": 3600}"#
        } else {
            b"{}"
        };
        answer(w, "200 OK", &[("Content-Type", "application/json")], body)
    });
    let base = raw.url("http");
    let t = Test::new()
        .collection("raw.yaml", &secret_jwt_collection(&format!("{base}/token?x=1"), &format!("{base}/me")))
        .env("JWT_SECRET", SECRET);
    for _ in 0..2 {
        let out = t.clone().args(&["run", "raw.yaml"]).run();
        assert_eq!(out.code, 0, "{}", out.all());
    }
    let received = raw.received();
    let tokens: Vec<_> = received.iter().filter(|r| r.path.starts_with("/token")).collect();
    assert_eq!(tokens.len(), 2, "one token request per run");
    let mut ids = Vec::new();
    for r in &tokens {
        assert!(!r.raw.contains(SECRET), "the secret travelled:\n{}", r.raw);
        assert_eq!(form_field(&r.body, "client_id").as_deref(), Some("jwt-secret-app"));
        assert_eq!(
            form_field(&r.body, "client_assertion_type").as_deref(),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        let jwt = form_field(&r.body, "client_assertion").expect("an assertion");
        let c = claims(&jwt);
        assert_eq!((c["iss"].as_str(), c["sub"].as_str()), (Some("jwt-secret-app"), Some("jwt-secret-app")));
        assert_eq!(
            c["aud"].as_str(),
            Some(format!("{base}/token").as_str()),
            "aud is the endpoint, no query"
        );
        assert_eq!(c["exp"].as_i64().expect("exp") - c["iat"].as_i64().expect("iat"), 60);
        ids.push(c["jti"].as_str().expect("jti").to_string());
    }
    assert_ne!(ids[0], ids[1], "every assertion has its own jti");
    assert!(
        received
            .iter()
            .filter(|r| r.path == "/me")
            .all(|r| r.header("authorization") == Some("Bearer tok-recorded-0001"))
    );
}

#[test]
fn a_wrong_secret_or_key_is_refused_with_the_servers_reason_or_a_clear_error() {
    let server = Server::start();
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", &secret_jwt_collection("BASE/assertion/token", "BASE/assertion/me"));
    let wrong = "not-the-playground-secret-4242";
    let out = t.clone().env("JWT_SECRET", wrong).args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.all().contains("signature does not verify"), "{}", out.all());
    assert!(!out.all().contains(wrong), "{}", out.all());

    // A key file that holds no key: said before anything is sent.
    let t = Test::new()
        .server(&server)
        .file("keys/app.pem", "-----BEGIN NOTHING-----\n")
        .collection(
            "k.yaml",
            "name: bad key\nauth:\n  oauth2:\n    grant: jwt_bearer\n    token_url: BASE/assertion/token\n    client_id: jwt-key-app\n    client_key: keys/app.pem\n    client_key_alg: ES256\nrequests:\n  - url: BASE/assertion/me\n",
        );
    let out = t.clone().args(&["run", "k.yaml"]).run();
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("not a PEM EC private key for ES256"), "{}", out.all());

    // A folder (or a FIFO, a device) is not read; a key without its PEM header, taken for
    // a path, is not echoed in the error.
    let t = t.file("keys/dir/x", "").collection(
        "d.yaml",
        "name: dir key\nauth:\n  oauth2:\n    grant: jwt_bearer\n    token_url: BASE/assertion/token\n    client_id: jwt-key-app\n    client_key: \"{{ env('KEY') }}\"\n    client_key_alg: ES256\nrequests:\n  - url: BASE/assertion/me\n",
    );
    let out = t.clone().env("KEY", "keys/dir").args(&["run", "d.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("keys/dir`: not a regular file"), "{}", out.stdout);
    let headerless: String =
        baton_playground::assertion_client_key_pem().lines().filter(|l| !l.starts_with("-----")).collect();
    let out = t.env("KEY", &headerless).args(&["run", "d.yaml", "-v"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("looks like key material"), "{}", out.stdout);
    assert!(!out.all().contains(&headerless[..40]), "the key material is not printed:\n{}", out.all());
    assert_eq!(
        crate::support::requests_to(&server, "/assertion/token"),
        1,
        "only the wrong secret reached it"
    );
}

#[test]
fn the_jwt_bearer_grant_signs_with_a_pem_key_from_a_file_or_from_the_environment() {
    let server = Server::start();
    let pem = baton_playground::assertion_client_key_pem();
    let key_line = pem.lines().nth(1).expect("a base64 line").to_string();
    let profile = |key: &str| {
        format!(
            "name: service account\nauth:\n  oauth2:\n    grant: jwt_bearer\n    token_url: BASE/assertion/token\n    client_id: jwt-key-app\n    client_key: \"{key}\"\n    client_key_alg: ES256\n    client_key_id: k-1\n    assertion_claims: {{sub: demo}}\nrequests:\n  - url: BASE/assertion/me\n    expect: {{json: {{$.client: jwt-key-app, $.subject: demo, $.grant: jwt_bearer}}}}\n"
        )
    };
    let from_file =
        Test::new().server(&server).file("keys/app.pem", pem).collection("c.yaml", &profile("keys/app.pem"));
    let out = from_file.args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("assertion=•••"), "{}", out.stderr);

    let from_env = Test::new()
        .server(&server)
        .collection("c.yaml", &profile("{{ secret_env('SERVICE_KEY') }}"))
        .env("SERVICE_KEY", pem);
    let out = from_env.clone().args(&["run", "c.yaml", "-v", "--report", "json=r.json"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let plan = from_env.clone().args(&["plan", "c.yaml"]).run();
    for (what, text) in [
        ("run", out.all()),
        ("plan", plan.all()),
        ("json", std::fs::read_to_string(from_env.dir().join("r.json")).expect("r.json")),
    ] {
        assert!(!text.contains(&key_line), "a line of the private key shows in {what}:\n{text}");
        assert!(!text.contains("eyJ"), "a signed assertion shows in {what}:\n{text}");
    }
}

/// Two named OAuth2 profiles against a raw token server: each request sends the token of
/// the profile it names (the first by default, none with `auth: none`); a 401 renews only
/// the refused profile's token.
#[test]
fn named_profiles_each_keep_their_own_token_and_lifecycle() {
    use std::sync::{Arc, Mutex};
    let issued: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&issued);
    let raw = RawServer::start(move |req, w, _| {
        if req.path == "/token" {
            let client = form_field(&req.body, "client_id").unwrap_or_default();
            let mut issued = log.lock().expect("log");
            let n = issued.iter().filter(|c| **c == client).count() + 1;
            issued.push(client.clone());
            let body = format!(
                r#"{{"access_token": "tok-{client}-{n}", "token_type": "bearer", "expires_in": 3600}}"#
            );
            return answer(w, "200 OK", &[("Content-Type", "application/json")], body.as_bytes());
        }
        let auth = req.header("authorization").unwrap_or("").to_string();
        if auth == "Bearer tok-admin-app-1" {
            // The first admin token is revoked on the server's side.
            return answer(w, "401 Unauthorized", &[("Content-Type", "application/json")], b"{}");
        }
        let body = serde_json::json!({"authorization": auth}).to_string();
        answer(w, "200 OK", &[("Content-Type", "application/json")], body.as_bytes())
    });
    let base = raw.url("http");
    let profile = |client: &str, secret: &str| {
        format!(
            "    oauth2:\n      token_url: {base}/token\n      client_id: {client}\n      client_secret: {secret}\n"
        )
    };
    let yaml = format!(
        "name: two identities\nauth:\n  user:\n{}  admin:\n{}requests:\n  - name: as the user\n    url: {base}/api\n    expect: {{json: {{$.authorization: Bearer tok-user-app-1}}}}\n  - name: as the admin\n    url: {base}/api\n    auth: admin\n    expect: {{json: {{$.authorization: Bearer tok-admin-app-2}}}}\n  - name: the user again\n    url: {base}/api\n    expect: {{json: {{$.authorization: Bearer tok-user-app-1}}}}\n  - name: the admin token read by name\n    url: {base}/api\n    bearer: \"{{{{ admin_access_token }}}}\"\n    expect: {{json: {{$.authorization: Bearer tok-admin-app-2}}}}\n  - name: anonymous\n    url: {base}/api\n    auth: none\n    expect: {{json: {{$.authorization: \"\"}}}}\n",
        profile("user-app", "user-secret-123456"),
        profile("admin-app", "admin-secret-654321"),
    );
    let t = Test::new().collection("c.yaml", &yaml);
    let out = t.clone().args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        *issued.lock().expect("log"),
        ["user-app", "admin-app", "admin-app"],
        "only the admin renewed"
    );
    assert!(out.stdout.contains("user (auth)") && out.stdout.contains("admin (auth)"), "{}", out.stdout);
    let plan = t.args(&["plan", "c.yaml"]).run();
    for secret in ["user-secret-123456", "admin-secret-654321", "tok-admin-app-2", "tok-user-app-1"] {
        assert!(!out.all().contains(secret), "{secret} shows in the run:\n{}", out.all());
        assert!(!plan.all().contains(secret), "{secret} shows in plan:\n{}", plan.all());
    }
}

#[test]
fn a_request_naming_no_profile_is_refused_with_the_nearest_name() {
    let t = Test::new().collection(
        "c.yaml",
        "auth:\n  admin:\n    - url: http://127.0.0.1:9/login\n      capture: {t: $.t}\nrequests:\n  - url: http://127.0.0.1:9/x\n    auth: admni\n",
    );
    let out = t.args(&["validate", "c.yaml"]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("error[unknown-profile]: no profile named `admni`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `admin`?"), "{}", out.stderr);
    assert!(out.stderr.contains("c.yaml:7:11"), "{}", out.stderr);
}

/// A named profile and another collection's single profile with the same identity share
/// one token: it is kept under neutral names and taken under each one's own.
#[test]
fn a_named_profile_shares_the_token_of_the_same_identity_under_its_own_names() {
    let server = Server::start();
    let t = Test::new().in_root().env("BATON_BASE_URL", &server.url);
    let out = t.args(&["run", "collections/client-assertion.yaml", "collections/two-identities.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("service (auth)") && out.stdout.contains("shared: obtained earlier in this run"),
        "{}",
        out.stdout
    );
    assert_eq!(crate::support::requests_to(&server, "/assertion/token"), 1, "one token for both");
}

/// A token exchange whose subject token is another profile's: the person's token (a
/// password grant) traded for one meant for the reports API, both used side by side.
#[test]
fn a_token_exchange_profile_trades_another_profiles_token() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: exchange\nauth:\n  person:\n    oauth2: {token_url: BASE/demo/login, grant: password, client_id: demo-app, username: demo, password: demo-password-7f3a}\n  reports:\n    oauth2: {token_url: BASE/exchange/token, grant: token_exchange, subject_token: \"{{ person_access_token }}\", audience: reports-api}\nrequests:\n  - url: BASE/exchange/me\n    auth: reports\n    expect: {json: {$.audience: reports-api, $.subject: demo}}\n  - url: BASE/demo/me\n    expect: {json: {$.username: demo}}\n",
    );
    let out = t.args(&["run", "c.yaml", "-v"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("subject_token=•••"), "{}", out.stderr);
    assert!(!out.all().contains("demo-password-7f3a"), "{}", out.all());
}

/// A named profile of auth steps keeps its captures under the names it wrote: an
/// `access_token` kept with `cache:` comes back as `access_token` on the next run, not
/// under the profile's prefix as an OAuth2 profile's would.
#[test]
fn a_named_list_profile_gets_its_kept_captures_back_under_their_own_names() {
    let server = Server::start();
    let yaml = format!(
        "name: kept\nauth:\n  admin:\n    - name: login\n      method: POST\n      url: BASE/demo/login\n      form: {{username: demo, password: {}}}\n      cache: true\n      capture:\n        access_token: $.access_token\nrequests:\n  - name: me\n    url: BASE/demo/me\n    auth: admin\n    bearer: \"{{{{ access_token }}}}\"\n    expect: {{json: {{$.username: demo}}}}\n",
        baton_playground::DEMO_PASSWORD
    );
    let t =
        Test::new().server(&server).collection("c.yaml", &yaml).args(&["run", "c.yaml", "--state", "s.json"]);
    let first = t.run();
    assert_eq!(first.code, 0, "{}", first.all());
    let second = t.clone().args(&["-v"]).run();
    assert_eq!(second.code, 0, "the kept token is read back as `access_token`:\n{}", second.all());
    assert!(second.stdout.contains("reused from state"), "{}", second.stdout);
    assert_eq!(crate::support::requests_to(&server, "/demo/login"), 1, "one login in two runs");
}
