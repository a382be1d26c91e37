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
