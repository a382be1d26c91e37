//! `baton import`: other tools' collections become baton collections that validate, run
//! against the playground, and say in a report what was translated, changed or left out.

use crate::support::{Server, Test, http, requests_to, root};

fn fixture(name: &str) -> String {
    root().join("tests/fixtures/import-e2e").join(name).display().to_string()
}

#[test]
fn a_postman_collection_and_environment_import_validate_and_run() {
    let server = Server::start();
    let t = Test::new();
    let (collection, environment) =
        (fixture("playground.postman_collection.json"), fixture("playground.postman_environment.json"));
    let out = t.clone().args(&["import", "postman", &collection, &environment, "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("4 requests imported: 1 translated, 2 changed, 1 partial"), "{}", out.stdout);
    assert!(out.stdout.contains("✓ out/playground-demo.yaml"), "validated after writing:\n{}", out.stdout);
    let yaml = std::fs::read_to_string(t.dir().join("out/playground-demo.yaml")).expect("collection");
    assert!(yaml.contains("# not translated: pre-request script"), "{yaml}");
    assert!(
        yaml.contains("item_id: \"$.id\"")
            && yaml.contains("\"{{ baseUrl }}/demo/items/{{ item_id }}?verbose=true\""),
        "{yaml}"
    );
    let report = std::fs::read_to_string(t.dir().join("out/import-report.md")).expect("report");
    assert!(
        report.contains("`user-name` → `user_name`") && report.contains("| Items / Create item | partial |"),
        "{report}"
    );
    let env = std::fs::read_to_string(t.dir().join("out/environments/local-playground.yaml")).expect("env");
    assert!(env.contains("password: \"{{ secret_env('PASSWORD') }}\""), "{env}");
    let example = std::fs::read_to_string(t.dir().join("out/.env.example")).expect(".env.example");
    assert!(example.contains("PASSWORD=") && example.contains("APIKEY="), "{example}");
    // It runs as imported.
    let run = t
        .clone()
        .env("PASSWORD", "demo-password-7f3a")
        .env("APIKEY", "key-from-env-0042")
        .args(&["run", "out/playground-demo.yaml", "--var", &format!("baseUrl={}", server.url)])
        .run();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(requests_to(&server, "/demo/items"), 1);
    // Nothing is written over what exists; --strict fails on what was left out.
    let again = t.clone().args(&["import", "postman", &collection, "-o", "out"]).run();
    assert_eq!(again.code, 2, "{}", again.all());
    let strict = t.args(&["import", "postman", &collection, "-o", "strict", "--strict"]).run();
    assert_eq!(strict.code, 1, "{}", strict.all());
    assert!(strict.stderr.contains("--strict: 1 requests were not fully translated"), "{}", strict.stderr);
}

#[test]
fn a_shell_script_of_curl_calls_imports_and_runs() {
    let server = Server::start();
    let (status, login) = http(
        &server.url,
        "POST",
        "/demo/login",
        Some(r#"{"username": "demo", "password": "demo-password-7f3a"}"#),
    );
    assert_eq!(status, 200, "{login}");
    let token = login["access_token"].as_str().expect("token").to_string();
    let t = Test::new().file("out/fruit.csv", "id,name\n1,apple\n");
    let out = t.clone().args(&["import", "curl", &fixture("playground-curl.sh"), "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let yaml = std::fs::read_to_string(t.dir().join("out/playground-curl.yaml")).expect("collection");
    assert!(yaml.contains("q=blue+widgets") && yaml.contains("file: {file: fruit.csv}"), "{yaml}");
    let run = t
        .env("BASE_URL", &server.url)
        .env("DEMO_PASSWORD", "demo-password-7f3a")
        .env("TOKEN", &token)
        .args(&["run", "out/playground-curl.yaml"])
        .run();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.all().contains(&token), "the token read from $TOKEN is masked");
}

#[test]
fn two_names_that_would_become_one_are_an_error_not_a_merge() {
    let t = Test::new().file(
        "c.json",
        r#"{"info": {"name": "clash", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
            "item": [{"name": "a", "request": {"method": "GET", "url": "http://127.0.0.1:9/{{user-id}}/{{user.id}}"}}]}"#,
    );
    let out = t.clone().args(&["import", "postman", "c.json", "-o", "out"]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("`user-id` and `user.id` would both become `user_id`"), "{}", out.stderr);
    assert!(!t.dir().join("out").exists(), "nothing is written");
}

/// The README's curl before-and-after: the command imports to the YAML it shows.
#[test]
fn the_readme_curl_example_imports_as_shown() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let section =
        readme.split("## Coming from Postman, Bruno, Hurl, curl or OpenAPI").nth(1).expect("section");
    let section = section.split("\ncurl: each").nth(1).expect("curl part");
    let command = section.split("```sh\n").nth(1).and_then(|s| s.split("```").next()).expect("sh block");
    let shown = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next()).expect("yaml block");
    let t = Test::new().file("smoke.sh", command);
    let out = t.clone().args(&["import", "curl", "smoke.sh", "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let written = std::fs::read_to_string(t.dir().join("out/smoke.yaml")).expect("written");
    let body: String = written
        .lines()
        .skip_while(|l| !l.starts_with("vars:"))
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(body, shown, "the README shows what baton writes");
}

#[test]
fn a_hurl_file_imports_and_runs() {
    let server = Server::start();
    let t = Test::new();
    let out = t.clone().args(&["import", "hurl", &fixture("playground.hurl"), "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let yaml = std::fs::read_to_string(t.dir().join("out/playground.yaml")).expect("collection");
    assert!(
        yaml.contains("item_url: {header: Location}") && yaml.contains("duration: {lt: 5000ms}"),
        "{yaml}"
    );
    assert!(
        yaml.contains("\"$.name\": {\"matches\":\"^wid\",\"equals\":\"widget\"}"),
        "two checks of one path merge:\n{yaml}"
    );
    let run = t
        .env("BASE_URL", &server.url)
        .env("PASSWORD", "demo-password-7f3a")
        .args(&["run", "out/playground.yaml"])
        .run();
    assert_eq!(run.code, 0, "{}", run.all());
}

/// The README's Hurl before-and-after: the entry imports to the step it shows.
#[test]
fn the_readme_hurl_example_imports_as_shown() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let section = readme.split("\nHurl: each entry").nth(1).expect("hurl part");
    let entry = section.split("```hurl\n").nth(1).and_then(|s| s.split("```").next()).expect("hurl block");
    let shown = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next()).expect("yaml block");
    let t = Test::new().file("items.hurl", entry);
    let out = t.clone().args(&["import", "hurl", "items.hurl", "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let written = std::fs::read_to_string(t.dir().join("out/items.yaml")).expect("written");
    let step: String =
        written.lines().skip_while(|l| !l.starts_with("  - name:")).map(|l| format!("{l}\n")).collect();
    assert_eq!(step, shown, "the README shows what baton writes");
}

#[test]
fn an_openapi_document_imports_one_request_per_operation_and_runs() {
    let server = Server::start();
    let (_, login) = http(
        &server.url,
        "POST",
        "/demo/login",
        Some(r#"{"username": "demo", "password": "demo-password-7f3a"}"#),
    );
    let token = login["access_token"].as_str().expect("token").to_string();
    let t = Test::new();
    let out = t.clone().args(&["import", "openapi", &fixture("playground.openapi.yaml"), "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let yaml = std::fs::read_to_string(t.dir().join("out/playground-demo-api.yaml")).expect("collection");
    assert!(
        yaml.contains("name: whoAmI")
            && yaml.contains("json: {\"name\":\"widget\",\"price\":9.5,\"tags\":[\"blue\"]}"),
        "{yaml}"
    );
    assert!(
        yaml.contains("url: \"{{ base_url }}/echo/{{ word }}\"") && yaml.contains("loud: \"true\""),
        "{yaml}"
    );
    let run = t
        .env("BASE_URL", &server.url)
        .env("API_TOKEN", &token)
        .args(&["run", "out/playground-demo-api.yaml"])
        .run();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("✓ whoAmI") && run.stdout.contains("✓ createItem"), "{}", run.stdout);
}

#[test]
fn a_bruno_collection_folder_imports_with_its_environment_and_runs() {
    let server = Server::start();
    let t = Test::new();
    let out = t.clone().args(&["import", "bruno", &fixture("bruno-playground"), "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let yaml = std::fs::read_to_string(t.dir().join("out/playground-bruno.yaml")).expect("collection");
    assert!(
        yaml.contains("- name: Items / Get item")
            && yaml.contains("\"{{ baseUrl }}/demo/items/{{ itemId }}\""),
        "{yaml}"
    );
    assert!(yaml.contains("user: \"{{ env('API_USER', default='') }}\""), "never the shell's $USER:\n{yaml}");
    let env = std::fs::read_to_string(t.dir().join("out/environments/local.yaml")).expect("env");
    assert!(env.contains("password: \"{{ secret_env('PASSWORD') }}\""), "{env}");
    let run = t
        .env("PASSWORD", "demo-password-7f3a")
        .args(&[
            "run",
            "out/playground-bruno.yaml",
            "--env",
            "local",
            "--var",
            &format!("baseUrl={}", server.url),
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("✓ Items / Get item"), "{}", run.stdout);
}

#[test]
fn sources_that_are_not_what_they_say_are_errors_that_write_nothing() {
    let t = Test::new()
        .file("not-postman.json", r#"{"hello": "world"}"#)
        .file("empty.hurl", "# nothing here\n")
        .file("no-curl.sh", "echo hi\nls -la\n")
        .file("swagger.yaml", "swagger: '2.0'\ninfo: {title: old}\npaths: {}\n")
        .file("broken.json", "{\"info\": ");
    for (kind, file, says) in [
        ("postman", "not-postman.json", "not a Postman collection"),
        ("postman", "broken.json", "is not JSON"),
        ("hurl", "empty.hurl", "holds no Hurl entry"),
        ("curl", "no-curl.sh", "holds no curl command"),
        ("openapi", "swagger.yaml", "Swagger 2.0"),
        ("bruno", "no-curl.sh", "not a Bruno collection"),
    ] {
        let out = t.clone().args(&["import", kind, file, "-o", "out"]).run();
        assert_eq!(out.code, 3, "{kind} {file}: {}", out.all());
        assert!(out.stderr.contains(says), "{kind} {file}: {}", out.stderr);
        assert!(!out.all().contains("panicked"), "{}", out.all());
    }
    assert!(!t.dir().join("out").exists(), "nothing was written");
}

/// Where the corpus of real public collections is: `$BATON_IMPORT_CORPUS`, or the
/// workspace's shared data beside the project (`../shared/import-corpus`, with a
/// SOURCES.md per kind naming repository, commit, path and licence). The collections are
/// other projects' files, so they are not part of this repository. A corpus named in
/// `$BATON_IMPORT_CORPUS` must exist; the shared one may be absent (a clone on its own).
fn corpus() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("BATON_IMPORT_CORPUS") {
        let dir = std::path::PathBuf::from(dir);
        assert!(dir.is_dir(), "BATON_IMPORT_CORPUS={} is not a folder", dir.display());
        return Some(dir);
    }
    let dir = root().join("../shared/import-corpus");
    dir.is_dir().then_some(dir)
}

/// A YAML file as JSON, for the schema.
fn yaml_as_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("imported file");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every real collection of the corpus imports, its output validates (the import checks
/// that itself) and matches the published JSON Schema, and what each import translated
/// is pinned in a snapshot.
#[test]
fn the_public_corpus_imports_and_every_output_validates() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: no import corpus at ../shared/import-corpus (set BATON_IMPORT_CORPUS)");
        return;
    };
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/collection.schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let mut summary = String::new();
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for kind in ["postman", "bruno", "hurl", "curl", "openapi"] {
        let Ok(entries) = std::fs::read_dir(corpus.join(kind)) else { continue };
        let mut sources: Vec<std::path::PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n != "SOURCES.md"))
            .filter(|p| if kind == "bruno" { p.is_dir() } else { p.is_file() })
            .filter(|p| !p.to_string_lossy().ends_with(".postman_environment.json"))
            .collect();
        sources.sort();
        for src in sources {
            let name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut args = vec!["import".to_string(), kind.to_string(), src.display().to_string()];
            // A Postman environment sits beside its collection, named after it.
            if kind == "postman" {
                let stem = name.trim_end_matches(".json").trim_end_matches(".postman_collection");
                let mut envs: Vec<String> = std::fs::read_dir(corpus.join(kind))
                    .expect("corpus")
                    .filter_map(Result::ok)
                    .map(|e| e.path().display().to_string())
                    .filter(|p| p.ends_with(".postman_environment.json") && p.contains(stem))
                    .collect();
                envs.sort();
                args.extend(envs);
            }
            args.extend(["-o".to_string(), "out".to_string()]);
            let t = Test::new();
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = t.clone().args(&argv).run();
            let line =
                out.stdout.lines().find(|l| l.contains("requests imported")).unwrap_or("no summary line");
            summary.push_str(&format!("{kind}/{name}: {line}\n"));
            *counts.entry(kind).or_insert(0) += 1;
            if out.code != 0 {
                failures.push(format!("{kind}/{name}: exit {}\n{}", out.code, out.all()));
                continue;
            }
            for entry in std::fs::read_dir(t.dir().join("out")).expect("out").filter_map(Result::ok) {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    let doc = yaml_as_json(&path);
                    let errors: Vec<String> = validator
                        .iter_errors(&doc)
                        .map(|e| format!("{e} at {}", e.instance_path()))
                        .collect();
                    if !errors.is_empty() {
                        failures.push(format!(
                            "{kind}/{name}: {} does not match the schema: {errors:?}",
                            path.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} imports failed:\n{}", failures.len(), failures.join("\n\n"));
    insta::assert_snapshot!("import_corpus", summary);
    for kind in ["postman", "bruno", "hurl", "curl", "openapi"] {
        let n = counts.get(kind).copied().unwrap_or(0);
        assert!(n >= 15, "only {n} {kind} sources in the corpus");
    }
}

/// A Postman collection's OAuth2 auth becomes a named profile baton runs itself (here the
/// password grant against the playground's login); a request with no auth of its own in
/// the source sends none.
#[test]
fn postman_oauth2_auth_becomes_a_profile_that_runs() {
    let server = Server::start();
    let collection = r#"{
      "info": {"name": "oauth import", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
      "item": [
        {"name": "me", "request": {"method": "GET", "url": "{{baseUrl}}/demo/me"},
         "event": [{"listen": "test", "script": {"exec": ["pm.response.to.have.status(200);"]}}]},
        {"name": "anonymous", "request": {"method": "GET", "url": "{{baseUrl}}/demo/me", "auth": {"type": "noauth"}},
         "event": [{"listen": "test", "script": {"exec": ["pm.response.to.have.status(401);"]}}]}
      ],
      "auth": {"type": "oauth2", "oauth2": [
        {"key": "grant_type", "value": "password_credentials"},
        {"key": "accessTokenUrl", "value": "{{baseUrl}}/demo/login"},
        {"key": "clientId", "value": "demo-app"},
        {"key": "username", "value": "demo"},
        {"key": "password", "value": "{{demoPassword}}"},
        {"key": "accessToken", "value": "a-token-pasted-long-ago"}
      ]}
    }"#;
    let t = Test::new().file("c.postman_collection.json", collection);
    let out = t.clone().args(&["import", "postman", "c.postman_collection.json", "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let yaml = std::fs::read_to_string(t.dir().join("out/oauth-import.yaml")).expect("written");
    assert!(yaml.contains("auth:\n  oauth2:\n    grant: password\n"), "{yaml}");
    assert!(yaml.contains("bearer: null"), "no credentials where the source had none:\n{yaml}");
    assert!(!yaml.contains("a-token-pasted-long-ago"), "the stale token is not kept:\n{yaml}");
    let report = std::fs::read_to_string(t.dir().join("out/import-report.md")).expect("report");
    assert!(report.contains("OAuth2 (password) became a profile"), "{report}");
    let run = t
        .env("BASEURL", &server.url)
        .env("DEMOPASSWORD", "demo-password-7f3a")
        .args(&["run", "out/oauth-import.yaml"])
        .run();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(requests_to(&server, "/demo/login"), 1);
    assert!(!run.all().contains("demo-password-7f3a"));
}

/// Two requests with two different OAuth2 setups become two named profiles that load
/// (the import validates its own output), each request naming its own; an authorization
/// code setup without its authorization URL cannot be a profile and is listed as not
/// translated instead of written as one that would not load.
#[test]
fn several_oauth2_setups_become_named_profiles_and_an_incomplete_one_is_listed() {
    let oauth = |grant: &str, client: &str, extra: &str| {
        format!(
            r#"{{"type": "oauth2", "oauth2": [{{"key": "grant_type", "value": "{grant}"}}, {{"key": "accessTokenUrl", "value": "https://id.example.test/token"}}, {{"key": "clientId", "value": "{client}"}}, {{"key": "clientSecret", "value": "{{{{secret}}}}"}}{extra}]}}"#
        )
    };
    let collection = format!(
        r#"{{
      "info": {{"name": "two setups", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}},
      "item": [
        {{"name": "as the app", "request": {{"method": "GET", "url": "https://api.example.test/a", "auth": {}}}}},
        {{"name": "as the admin app", "request": {{"method": "GET", "url": "https://api.example.test/b", "auth": {}}}}},
        {{"name": "as a person", "request": {{"method": "GET", "url": "https://api.example.test/c", "auth": {}}}}}
      ]
    }}"#,
        oauth("client_credentials", "app", ""),
        oauth("client_credentials", "admin-app", r#", {"key": "scope", "value": "admin"}"#),
        oauth("authorization_code", "web", ""),
    );
    let t = Test::new().file("c.postman_collection.json", &collection);
    let out = t.clone().args(&["import", "postman", "c.postman_collection.json", "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let yaml = std::fs::read_to_string(t.dir().join("out/two-setups.yaml")).expect("written");
    assert!(
        yaml.contains("auth:\n  profile_1:\n    oauth2:\n") && yaml.contains("  profile_2:\n    oauth2:\n"),
        "{yaml}"
    );
    assert!(yaml.contains("    auth: profile_2\n"), "{yaml}");
    let report = std::fs::read_to_string(t.dir().join("out/import-report.md")).expect("report");
    assert!(report.contains("OAuth2 (authorization_code) without `authorization_url`"), "{report}");
    let check = t.args(&["validate", "out/two-setups.yaml"]).run();
    assert_eq!(check.code, 0, "{}", check.all());
}
