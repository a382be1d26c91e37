//! Command-line behaviour: help, validate, TLS flags, exit codes.

use crate::support::{Server, Test};

#[test]
fn help_lists_commands_examples_and_exit_codes() {
    let out = Test::new().in_root().args(&["--help"]).run();
    assert_eq!(out.code, 0);
    for needle in ["run", "validate", "plan", "Examples:", "Exit codes: 0 passed"] {
        assert!(out.stdout.contains(needle), "missing {needle}:\n{}", out.stdout);
    }
    // `demo` and `playground` exist only with the `playground` feature (a default one).
    for needle in ["\n  demo ", "\n  playground ", "baton playground --port"] {
        let listed = out.stdout.contains(needle);
        assert_eq!(listed, cfg!(feature = "playground"), "{needle:?} listed: {listed}\n{}", out.stdout);
    }
    let out = Test::new().in_root().args(&["run", "--help"]).run();
    for needle in ["--var", "--env-file", "--verbose", "--timeout", "--cacert", "--insecure", "--fail-fast"] {
        assert!(out.stdout.contains(needle), "missing {needle}:\n{}", out.stdout);
    }
}

#[test]
fn no_arguments_is_a_usage_error() {
    let out = Test::new().in_root().run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("Usage"), "{}", out.stderr);
}

#[test]
fn validate_reports_each_collection_and_sends_nothing() {
    let out = Test::new().in_root().args(&["validate", "collections/"]).run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ collections/demo.yaml: Demo chain (7 steps)"), "{}", out.stdout);
}

#[test]
fn insecure_warns_and_bad_cacert_is_a_usage_error() {
    let server = Server::start();
    let t = Test::new().server(&server).collection("c.yaml", "requests:\n  - url: BASE/text\n");
    let out = t.clone().args(&["run", "c.yaml", "--insecure"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: --insecure: TLS certificates are NOT verified"), "{}", out.stderr);
    let out = t.file("bad.pem", "not a certificate").args(&["run", "c.yaml", "--cacert", "bad.pem"]).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--cacert"), "{}", out.stderr);
}

#[test]
fn bad_timeout_flag_is_a_usage_error() {
    let out = Test::new().in_root().args(&["run", "collections/demo.yaml", "--timeout", "soon"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`--timeout soon` is not a positive duration"), "{}", out.stderr);
}

#[test]
#[cfg(feature = "playground")]
fn demo_serves_the_playground_and_runs_the_shipped_collections() {
    let out = Test::new().in_root().args(&["demo"]).run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("playground on http://127.0.0.1:"), "{}", out.stdout);
    assert!(out.stdout.contains("Demo chain: 7 steps, 7 passed"), "{}", out.stdout);
}

#[test]
fn the_readme_collection_snippet_is_valid() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let section = readme.split("## A collection").nth(1).expect("section");
    let yaml = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next()).expect("yaml block");
    let out = Test::new().collection("readme.yaml", yaml).args(&["validate", "readme.yaml"]).run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// Every YAML block of the README that starts at the top level of a collection validates
/// (a block without `requests:` gets one), with the environment values it reads set and
/// the shipped recipes beside it; indented fragments are shown by the tests of their part.
#[test]
fn every_top_level_yaml_block_of_the_readme_validates() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let reads = regex::Regex::new(r"env\('([A-Z0-9_]+)'\)").expect("re");
    let mut checked = 0;
    for (i, block) in readme.split("```yaml\n").skip(1).filter_map(|s| s.split("```").next()).enumerate() {
        let first = block.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if first.is_none_or(|l| l.starts_with([' ', '-'])) {
            continue;
        }
        let mut yaml = block.to_string();
        if !block.lines().any(|l| l.starts_with("requests:")) {
            yaml.push_str("\nrequests:\n  - url: http://127.0.0.1:9/x\n");
        }
        let recipe =
            std::fs::read_to_string(crate::support::root().join("collections/recipes/auth0-m2m.yaml"))
                .expect("recipe");
        let mut t = Test::new().collection("c.yaml", &yaml).file("recipes/auth0-m2m.yaml", &recipe).file(
            "recipes/other.yaml",
            "vars: {client_id: x}\nrequests:\n  - url: http://127.0.0.1:9/other\n",
        );
        for name in reads.captures_iter(block).map(|c| c[1].to_string()) {
            t = t.env(&name, "a-value-for-the-readme");
        }
        let out = t.args(&["validate", "c.yaml", "--var", "base_url=http://127.0.0.1:9"]).run();
        assert_eq!(out.code, 0, "README yaml block {i} does not validate:\n{block}\n{}", out.all());
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} blocks checked");
}

#[test]
fn the_readme_security_examples_run() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let section = readme.split("## Security").nth(1).and_then(|s| s.split("\n## ").next()).expect("section");
    let commands: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("baton run api/ "))
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .collect();
    assert!(commands.len() >= 2, "{commands:?}");
    let server = crate::support::Server::start();
    for flags in commands {
        let mut args = vec!["run", "api/"];
        args.extend(flags.split_whitespace());
        let out = Test::new()
            .server(&server)
            .collection("api/c.yaml", "requests:\n  - url: BASE/text\n")
            .args(&args)
            .run();
        assert_eq!(out.code, 0, "baton {args:?}\n{}", out.all());
    }
}

/// One example command: the environment it sets and baton's arguments.
type Example = (Vec<(String, String)>, Vec<String>);

/// The `baton …` lines of a help text's `Examples:`, as `(environment, arguments)`: the
/// command ends where its description starts (two spaces) or at a `#` comment.
fn help_examples(help: &str) -> Vec<Example> {
    let section = help.split("Examples:\n").nth(1).expect("an Examples: section");
    let mut out = Vec::new();
    for l in section.lines().map(str::trim) {
        if l.starts_with("Exit codes") {
            break;
        }
        let command = l.split("  ").next().unwrap_or("").split(" #").next().unwrap_or("").trim();
        let words = words_of(command);
        let mut words = words.into_iter();
        let mut env = Vec::new();
        let mut found = false;
        for w in words.by_ref() {
            if w == "baton" {
                found = true;
                break;
            }
            let (k, v) = w.split_once('=').expect("NAME=value before `baton`");
            env.push((k.to_string(), v.to_string()));
        }
        if found {
            out.push((env, words.collect()));
        }
    }
    out
}

/// A command line's words, with `"…"` quoting.
fn words_of(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in command.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Every file under `dir` (relative to the crate root), as `(relative path, text)`.
fn tree(dir: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![crate::support::root().join(dir)];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(crate::support::root()).expect("under root");
                out.push((rel.display().to_string(), std::fs::read_to_string(&path).expect("text")));
            }
        }
    }
    out
}

#[test]
fn every_example_in_the_help_runs() {
    let server = Server::start();
    // The shipped collections, and the `api.yaml`, `api/` and `.env` the examples name.
    let api = |name: &str, tags: &str| {
        format!(
            "name: {name}\n{tags}vars:\n  base_url: \"{{{{ env('BATON_BASE_URL', default='http://127.0.0.1:8080') }}}}\"\n  \
             api_key: \"{{{{ secret_env('API_KEY', default='dev-key-0000') }}}}\"\nrequests:\n  - name: echo {name}\n    \
             url: \"{{{{ base_url }}}}/echo\"\n    headers: {{X-Api-Key: \"{{{{ api_key }}}}\"}}\n    \
             expect: {{json: {{$.path: /echo}}}}\n  - name: create item\n    method: POST\n    \
             url: \"{{{{ base_url }}}}/echo\"\n    json: {{name: widget}}\n"
        )
    };
    let mut t = Test::new()
        .file("api.yaml", &api("api", ""))
        .file("api/users.yaml", &api("users", ""))
        .file("api/reports.yaml", &api("reports", "tags: [slow]\n"))
        .file(".env", "API_KEY=example-key-from-env-file-42\n");
    for (path, text) in tree("collections") {
        t = t.file(&path, &text);
    }
    // `collections/mtls.yaml` talks to a playground that wants a client certificate.
    let (mtls, pki) = Server::start_mtls();
    let t = crate::support::with_mtls(t, &mtls, &pki);
    let mut helps = Vec::new();
    for args in [&["--help"][..], &["run", "--help"]] {
        let out = Test::new().args(args).run();
        assert_eq!(out.code, 0, "{}", out.all());
        helps.push(out.stdout);
    }
    // The README's CI examples, read the same way.
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let ci = readme.split("### CI runs").nth(1).and_then(|s| s.split("```sh\n").nth(1)).expect("CI block");
    helps.push(format!("Examples:\n{}", ci.split("```").next().unwrap_or("")));
    let mut ran = 0;
    for help in &helps {
        for (env, args) in help_examples(help) {
            if args.first().map(String::as_str) == Some("playground") {
                continue; // serves until stopped; `baton playground` is tested on its own
            }
            // The examples' servers (a playground on :8080, a staging host) are this test's.
            let args: Vec<String> = args
                .iter()
                .map(|a| {
                    a.replace("http://127.0.0.1:8080", &server.url)
                        .replace("https://staging.example.com", &server.url)
                })
                .collect();
            let mut run = t.clone().env("BATON_BASE_URL", &server.url);
            for (k, v) in &env {
                run = run.env(k, &v.replace("http://127.0.0.1:8080", &server.url));
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run.args(&argv).run();
            assert_eq!(out.code, 0, "`baton {}` (env {env:?}):\n{}", args.join(" "), out.all());
            ran += 1;
        }
    }
    assert!(ran >= 15, "only {ran} examples found:\n{}", helps.join("\n"));
}

#[test]
fn init_writes_a_starter_that_runs_and_never_overwrites() {
    let server = Server::start();
    let t = Test::new().env("BATON_BASE_URL", &server.url);
    let out = t.clone().args(&["init", "."]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    for f in ["api.yaml", "environments/local.yaml", ".env.example", ".gitignore"] {
        assert!(t.dir().join(f).is_file(), "{f} not written:\n{}", out.all());
    }
    let ignore = std::fs::read_to_string(t.dir().join(".gitignore")).expect("gitignore");
    assert!(ignore.lines().any(|l| l == ".env"), "{ignore}");
    let run = t.clone().args(&["run", "api.yaml"]).run();
    assert_eq!(run.code, 0, "{}", run.all());
    let again = t.clone().args(&["init", "."]).run();
    assert_eq!(again.code, 2, "{}", again.all());
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);
    let example = t.clone().args(&["init", "ex", "--example", "sign-ups"]).run();
    assert_eq!(example.code, 0, "{}", example.all());
    assert!(t.dir().join("ex/data/sign-ups.csv").is_file(), "{}", example.all());
    let checked = t.clone().args(&["validate", "ex/sign-ups.yaml"]).run();
    assert_eq!(checked.code, 0, "{}", checked.all());
    let typo = t.args(&["init", "ex2", "--example", "web-sesion"]).run();
    assert_eq!(typo.code, 2, "{}", typo.all());
    assert!(typo.stderr.contains("did you mean `web-session`"), "{}", typo.stderr);
}

#[test]
fn completions_and_the_man_page_cover_every_command() {
    for (shell, marker) in [("bash", "_baton()"), ("zsh", "#compdef baton"), ("fish", "complete -c baton")] {
        let out = Test::new().args(&["completions", shell]).run();
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(out.stdout.contains(marker), "{shell}:\n{}", out.stdout);
        assert!(out.stdout.contains("data-row"), "{shell} completes run's flags:\n{}", out.stdout);
    }
    let man = Test::new().args(&["man"]).run();
    assert_eq!(man.code, 0, "{}", man.all());
    assert!(man.stdout.starts_with(".ie") || man.stdout.contains(".TH baton 1"), "{}", man.stdout);
    for command in ["run", "validate", "plan", "init", "completions"] {
        assert!(man.stdout.contains(command), "the man page lacks `{command}`");
    }
    let bad = Test::new().args(&["completions", "tcsh"]).run();
    assert_eq!(bad.code, 2, "{}", bad.all());
}

#[test]
fn demo_runs_the_built_in_examples_from_any_folder() {
    // The test's own folder holds no collections: what runs is built into baton.
    let out = Test::new().args(&["demo"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("Web session") && out.stdout.contains("Mutual TLS"), "{}", out.stdout);
    let list = Test::new().args(&["demo", "--list"]).run();
    assert_eq!(list.code, 0, "{}", list.all());
    assert!(list.stdout.contains("sign-ups") && list.stdout.contains("Data-driven"), "{}", list.stdout);
}

#[test]
fn schema_prints_the_published_json_schema() {
    let out = Test::new().args(&["schema"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let published =
        std::fs::read_to_string(crate::support::root().join("docs/collection.schema.json")).expect("docs");
    assert_eq!(out.stdout, published);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(doc["title"], "baton collection");
}
