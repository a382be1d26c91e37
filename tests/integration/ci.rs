//! CI-grade runs: reports pinned by snapshots, parallel files, shards, filters.

use crate::support::{Server, Test, squeeze};

fn mixed(server: &Server, closed_port: u16) -> String {
    format!(
        r#"name: mixed
requests:
  - name: passes
    url: {url}/text
  - name: fails
    url: {url}/status/404
    capture: {{missing: $.nothing}}
  - name: needs the failed capture
    url: "{url}/echo/{{{{ missing }}}}"
  - name: cannot connect
    url: http://127.0.0.1:{closed_port}/
    timeout: 2s
"#,
        url = server.url
    )
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

#[test]
fn junit_json_and_github_reports_are_pinned() {
    let server = Server::start();
    let t = Test::new()
        .collection("mixed.yaml", &mixed(&server, closed_port()))
        .args(&["run", "mixed.yaml", "--report", "junit=out/junit.xml", "--report", "json=out/report.json"])
        .env("GITHUB_ACTIONS", "true");
    let out = t.run();
    assert_eq!(out.code, 4, "a runtime error outranks a failed expectation\n{}", out.all());
    let junit = std::fs::read_to_string(t.path("out/junit.xml")).expect("junit written");
    let json = std::fs::read_to_string(t.path("out/report.json")).expect("json written");
    let annotations: String =
        out.stdout.lines().filter(|l| l.starts_with("::error")).map(|l| format!("{l}\n")).collect();
    insta::assert_snapshot!("junit", t.redact(&junit));
    insta::assert_snapshot!("json", t.redact(&json));
    insta::assert_snapshot!("github", t.redact(&annotations));
    let doc: serde_json::Value = serde_json::from_str(&json).expect("valid json");
    assert_eq!(doc["summary"]["exit_code"], 4);
    assert_eq!(doc["collections"][0]["steps"][2]["result"], "skipped");
}

#[test]
fn a_bad_report_flag_is_a_usage_error() {
    let out = Test::new().args(&["run", "x.yaml", "--report", "junti=a.xml"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("did you mean `junit`?"), "{}", out.stderr);
}

#[test]
fn parallel_files_keep_their_order_in_reports_and_group_their_output() {
    let server = Server::start();
    let mut t = Test::new().server(&server);
    for (name, path, status) in
        [("a", "/delay/300", 200), ("b", "/status/500", 200), ("c", "/text", 200), ("d", "/csv", 200)]
    {
        let yaml = format!(
            "name: {name}\nrequests:\n  - name: {name} one\n    url: BASE{path}\n    expect: {{status: {status}}}\n  - name: {name} two\n    url: BASE/text\n"
        );
        t = t.collection(&format!("{name}.yaml"), &yaml);
    }
    let out = t.clone().args(&["run", ".", "--jobs", "4", "--report", "json=r.json"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    // Each file's block is contiguous: its header, its steps (with any failure detail), its summary.
    let lines: Vec<&str> = out.stdout.lines().collect();
    for name in ["a", "b", "c", "d"] {
        let start = lines.iter().position(|l| l.starts_with(&format!("{name} ("))).expect("header");
        let end = lines.iter().position(|l| l.starts_with(&format!("{name}: 2 steps"))).expect("summary");
        let block = &lines[start..=end];
        assert!(block.iter().any(|l| l.contains(&format!("{name} one"))), "{}", out.stdout);
        assert!(block.iter().any(|l| l.contains(&format!("{name} two"))), "{}", out.stdout);
        assert_eq!(block.iter().filter(|l| l.contains(" (./")).count(), 1, "interleaved:\n{}", out.stdout);
    }
    // The slow file finished last but the report keeps the input order.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("r.json")).expect("read")).expect("json");
    let names: Vec<&str> =
        doc["collections"].as_array().expect("list").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
    assert!(
        squeeze(&out.stdout).contains("total: 4 collections, 8 steps: 7 passed, 1 failed"),
        "{}",
        out.stdout
    );
}

#[test]
fn shards_split_files_and_filters_pick_requests() {
    let server = Server::start();
    let mut t = Test::new().server(&server);
    for i in 0..5 {
        let yaml = format!(
            "name: file{i}\ntags: [group{}]\nrequests:\n  - name: create\n    url: BASE/echo\n    capture: {{path: $.path}}\n  - name: uses create\n    url: \"BASE/echo?p={{{{ path }}}}\"\n    tags: [slow]\n  - name: other\n    url: BASE/text\n",
            i % 2
        );
        t = t.collection(&format!("f{i}.yaml"), &yaml);
    }
    let run = |args: &[&str]| t.clone().args(args).run();
    let mut seen = Vec::new();
    for k in 1..=3 {
        let out = run(&["run", ".", "--shard", &format!("{k}/3")]);
        assert_eq!(out.code, 0, "{}", out.all());
        let headers = out.stdout.lines().filter(|l| l.starts_with("file") && l.contains(" (./"));
        seen.extend(headers.filter_map(|l| l.split(' ').next()).map(str::to_string));
    }
    seen.sort();
    assert_eq!(seen, ["file0", "file1", "file2", "file3", "file4"], "every file in exactly one shard");
    let out = run(&["run", ".", "--shard", "4/3"]);
    assert_eq!(out.code, 2);

    // --step keeps the request and what it needs; --skip-tag drops tagged requests and files.
    let out = run(&["run", "f0.yaml", "--step", "uses create"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("✓ create") && out.stdout.contains("✓ uses create"), "{}", out.stdout);
    assert!(!out.stdout.contains("other"), "{}", out.stdout);
    let out = run(&["run", ".", "--skip-tag", "slow", "--skip-tag", "group1"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.stdout.contains("uses create") && !out.stdout.contains("file1"), "{}", out.stdout);
    assert!(out.stdout.contains("file0") && out.stdout.contains("file4"), "{}", out.stdout);
    let out = run(&["run", ".", "--tag", "group1"]);
    assert!(out.stdout.contains("file1") && !out.stdout.contains("file0"), "{}", out.stdout);
    let out = run(&["run", ".", "--step", "uses craete"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("did you mean `uses create`?"), "{}", out.stderr);
    // A tag nothing has is a typo, not an empty success; so is a selection left empty.
    for cmd in ["run", "validate"] {
        let out = run(&[cmd, ".", "--tag", "slwo"]);
        assert_eq!(out.code, 2, "{cmd}: {}", out.all());
        assert!(out.stderr.contains("error[unknown-tag]: --tag slwo"), "{}", out.stderr);
        assert!(out.stderr.contains("did you mean `slow`?"), "{}", out.stderr);
    }
    let out = run(&["run", ".", "--skip-tag", "nosuchtag"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("the tags here: group0, slow, group1"), "{}", out.stderr);
    let out = run(&["run", ".", "--skip-tag", "group0", "--skip-tag", "group1"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("error[nothing-selected]"), "{}", out.stderr);
    assert!(!out.stdout.contains('✓'), "nothing ran: {}", out.stdout);
}

fn fail_knobs(rules: &[(&str, u32, u16, Option<u64>)]) -> baton_playground::Knobs {
    baton_playground::Knobs {
        fail: rules
            .iter()
            .map(|(path, times, status, retry_after)| baton_playground::FailRule {
                path: path.to_string(),
                times: *times,
                status: *status,
                retry_after: *retry_after,
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn polling_waits_until_the_condition_holds_and_stops_on_a_terminal_state() {
    let server =
        Server::start_with(fail_knobs(&[("/echo/job", 3, 500, None), ("/echo/broken", 5, 500, None)]));
    let yaml = r#"name: polling
requests:
  - name: job finishes
    url: BASE/echo/job
    retry: {count: 6, interval: 50ms, until: {status: 200}}
    expect: {json: {$.path: /echo/job}}
  - name: job fails for good
    url: BASE/echo/broken
    retry: {count: 6, interval: 50ms, until: {status: 200}, fail_if: {status: 500}}
  - name: gives up after the count
    url: BASE/status/500
    retry: {count: 3, interval: 20ms}
"#;
    let out = Test::new().server(&server).collection("p.yaml", yaml).args(&["run", "p.yaml"]).run();
    assert_eq!(out.code, 1, "{}", out.all());
    let text = squeeze(&out.stdout);
    assert!(text.contains("✓ job finishes GET"), "{text}");
    assert!(text.contains("(attempt 4 of 6)"), "{text}");
    assert!(text.contains("polling stopped at attempt 1"), "{text}");
    assert!(text.contains("retry.fail_if: expected a response that does not match `fail_if`"), "{text}");
    assert!(text.contains("(attempt 3 of 3)"), "{text}");
}

#[test]
fn a_poll_whose_until_never_holds_fails_with_the_last_answer() {
    let server = Server::start();
    let yaml = "requests:\n  - name: job\n    url: BASE/status/202\n    retry: {count: 3, interval: 10ms, until: {status: 200}}\n";
    let t = Test::new().server(&server).collection("p.yaml", yaml);
    let out = t.clone().args(&["run", "p.yaml", "--report", "json=r.json"]).run();
    assert_eq!(out.code, 1, "an unmet `until` is a failure, not a pass\n{}", out.all());
    let text = squeeze(&out.stdout);
    assert!(text.contains("✗ job GET"), "{text}");
    assert!(text.contains("retry.until: status"), "names the condition: {text}");
    assert!(text.contains("202 (`until` not met after 3 attempts)"), "the last answer: {text}");
    assert!(text.contains("p.yaml:4:"), "points at the condition: {text}");
    assert!(text.contains("(attempt 3 of 3)"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("r.json")).expect("report")).expect("json");
    assert_eq!(report["collections"][0]["steps"][0]["result"], "failed", "{report}");
    assert_eq!(report["summary"]["exit_code"], 1);
}

#[test]
fn throttled_answers_honour_retry_after() {
    let server = Server::start_with(fail_knobs(&[("/text", 2, 429, Some(1)), ("/csv", 1, 503, Some(1))]));
    let yaml = "requests:\n  - name: throttled\n    url: BASE/text\n  - name: unavailable\n    url: BASE/csv\n  - name: expects 429\n    url: BASE/status/429\n    expect: {status: 429}\n";
    let t = Test::new().server(&server).collection("t.yaml", yaml).args(&["run", "t.yaml"]);
    let started = std::time::Instant::now();
    let out = t.run();
    assert_eq!(out.code, 0, "{}", out.all());
    let text = squeeze(&out.stdout);
    assert!(text.contains("waited 1.0 s after 429 (Retry-After)"), "{text}");
    assert!(text.contains("waited 1.0 s after 503 (Retry-After)"), "{text}");
    // Three waits of one second; an expected 429 is not retried.
    assert!(started.elapsed() >= std::time::Duration::from_secs(3), "{:?}", started.elapsed());
}

/// The CI recipes in `docs/ci/`: every shard of a suite together runs every step exactly
/// once, and the recipes pass the engine's shard index and count the way baton reads them.
#[test]
fn shards_together_run_every_step_exactly_once_as_the_ci_recipes_split_them() {
    let server = Server::start();
    let mut t = Test::new().server(&server);
    for i in 0..11 {
        let steps: String =
            (0..=i % 3).map(|s| format!("  - name: step {s}\n    url: BASE/echo/f{i}/s{s}\n")).collect();
        t = t.collection(&format!("api/f{i:02}.yaml"), &format!("name: file {i}\nrequests:\n{steps}"));
    }
    let steps_of = |report: &str| -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_str(report).expect("json report");
        doc["collections"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| {
                let file = c["name"].as_str().unwrap_or_default().to_string();
                c["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |s| format!("{file}/{}", s["name"].as_str().unwrap_or_default()))
            })
            .collect()
    };
    let all = t.path("all.json");
    let out = t.clone().args(&["run", "api/", "--report", &format!("json={all}")]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    let mut expected = steps_of(&std::fs::read_to_string(&all).expect("report"));
    expected.sort();
    let mut seen = Vec::new();
    for k in 1..=4 {
        let report = t.path(&format!("shard{k}.json"));
        let out = t
            .clone()
            .args(&["run", "api/", "--shard", &format!("{k}/4"), "--report", &format!("json={report}")])
            .run();
        assert_eq!(out.code, 0, "{}", out.all());
        seen.extend(steps_of(&std::fs::read_to_string(&report).expect("report")));
    }
    seen.sort();
    assert_eq!(seen, expected, "every step exactly once across the shards");
    assert_eq!(expected.len(), 21);
    let recipes = crate::support::root().join("docs/ci");
    let gh = std::fs::read_to_string(recipes.join("github-actions.yml")).expect("github recipe");
    assert!(gh.contains("shard: [1, 2, 3, 4]") && gh.contains("--shard ${{ matrix.shard }}/4"), "{gh}");
    let gl = std::fs::read_to_string(recipes.join("gitlab-ci.yml")).expect("gitlab recipe");
    assert!(gl.contains("parallel: 4") && gl.contains("--shard ${CI_NODE_INDEX}/${CI_NODE_TOTAL}"), "{gl}");
}

#[test]
fn the_html_report_is_one_page_with_every_verdict_escaped_and_masked() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: html <b>page</b>\nrequests:\n  - name: secret echoed\n    url: BASE/echo\n    headers: {x-api-key: \"{{ secret_env('K') }}\"}\n    expect: {status: 201}\n  - name: fine\n    url: BASE/status/200\n  - name: never\n    skip_if: \"{{ true }}\"\n    url: BASE/echo\n",
    );
    let html = t.path("r.html");
    let out = t
        .clone()
        .env("K", "key-Zx09-html-hidden")
        .args(&["run", "c.yaml", "--report", &format!("html={html}")])
        .run();
    assert_eq!(out.code, 1, "{}", out.all());
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"), "{page}");
    assert!(
        !page.contains("http://") || !page.contains("<link") && !page.contains("src=\"http"),
        "self-contained"
    );
    assert!(
        page.contains("class=\"step failed\"")
            && page.contains("class=\"step passed\"")
            && page.contains("class=\"step skipped\""),
        "{page}"
    );
    assert!(page.contains("html &lt;b&gt;page&lt;/b&gt;"), "markup from a collection is text:\n{page}");
    assert!(page.contains("status: expected 201"), "{page}");
    assert!(!page.contains("key-Zx09-html-hidden"), "{page}");
    assert!(page.contains("id=\"show-failed\""), "verdict filters:\n{page}");
}
