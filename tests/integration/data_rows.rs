//! Data-driven runs: `data:` (CSV, JSON, inline), `--data`, `--data-row`, `repeat:` and
//! `--repeat`, against the playground.

use crate::support::{Server, Test, requests_to};

const COLLECTION: &str = r#"name: sign ups
data: users.csv
vars: {base: BASE}
auth:
  - name: token
    method: POST
    url: BASE/echo/token
    json: {grant: x}
    capture: {token: {jsonpath: $.path}}
requests:
  - name: sign up
    method: POST
    url: BASE/echo/signup
    headers: {authorization: "Bearer {{ token }}"}
    json: {email: "{{ email }}", password: "{{ password }}", plan: "{{ plan }}"}
    capture: {echoed: $.json.email}
    expect:
      json: {$.json.email: "{{ email }}"}
  - name: read back
    url: BASE/echo/read
    query: {email: "{{ echoed }}"}
"#;

const USERS: &str = "email,password,plan\na@example.test,pw-Aa11-secret,free\nb@example.test,pw-Bb22-secret,pro\nc@example.test,pw-Cc33-secret,free\n";

fn test(server: &Server) -> Test {
    Test::new().server(server).collection("c.yaml", COLLECTION).file("users.csv", USERS)
}

#[test]
fn each_row_runs_the_requests_once_after_one_authentication() {
    let server = Server::start();
    let t = test(&server);
    let json = t.path("r.json");
    let out = t.clone().args(&["run", "c.yaml", "--report", &format!("json={json}")]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(requests_to(&server, "/echo/token"), 1, "auth once per file");
    assert_eq!(requests_to(&server, "/echo/signup"), 3, "a request per row");
    assert!(out.stdout.contains("sign up [row 2: b@example.test]"), "{}", out.stdout);
    assert!(out.stdout.contains("read back [row 3: c@example.test]"), "{}", out.stdout);
    let report = std::fs::read_to_string(&json).expect("json");
    let doc: serde_json::Value = serde_json::from_str(&report).expect("valid");
    let names: Vec<&str> = doc["collections"][0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    assert_eq!(names[1], "sign up [row 1: a@example.test]");
    // A column named like a secret is masked everywhere and never labels a row.
    for text in [&out.stdout, &out.stderr, &report] {
        assert!(!text.contains("pw-Bb22-secret"), "{text}");
    }
}

#[test]
fn data_row_picks_one_row_and_data_replaces_the_file() {
    let server = Server::start();
    let t = test(&server)
        .file("other.json", r#"[{"email": "z@example.test", "password": "pw-Zz99-secret", "plan": "x"}]"#);
    let out = t.clone().args(&["run", "c.yaml", "--data-row", "2"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("[row 2: b@example.test]") && !out.stdout.contains("row 1"),
        "{}",
        out.stdout
    );
    let other = t.path("other.json");
    let out = t.clone().args(&["run", "c.yaml", "--data", &other]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("sign up [row 1: z@example.test]"), "{}", out.stdout);
    let out = t.args(&["run", "c.yaml", "--data-row", "9"]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--data-row 9"), "{}", out.stderr);
}

#[test]
fn a_short_csv_row_is_reported_at_its_line_before_anything_is_sent() {
    let server = Server::start();
    let t =
        test(&server).file("users.csv", "email,password,plan\na@example.test,pw,free\nb@example.test,pw\n");
    let out = t.args(&["validate", "c.yaml"]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("this data row has 2 values, the header 3 columns"), "{}", out.stderr);
    assert!(out.stderr.contains("users.csv:3:1"), "{}", out.stderr);
    assert_eq!(requests_to(&server, "/echo/token"), 0);
}

#[test]
fn a_template_that_breaks_on_one_row_names_the_row_and_auth_may_not_read_columns() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: rows\ndata:\n  - {n: 1}\n  - {m: 2}\nrequests:\n  - url: BASE/echo\n    query: {n: \"{{ n }}\"}\n",
    );
    let out = t.args(&["validate", "c.yaml"]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("undefined variable `n`"), "{}", out.stderr);
    assert!(out.stderr.contains("with data row 2: 2 (c.yaml:4:5)"), "{}", out.stderr);
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: rows\ndata: [{user: a}]\nauth:\n  - url: BASE/echo/{{ user }}\nrequests:\n  - url: BASE/echo\n",
    );
    let out = t.args(&["validate", "c.yaml"]).run();
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("reads `user`, a column of the data rows"), "{}", out.stderr);
}

#[test]
fn repeat_runs_a_step_and_a_whole_collection_again() {
    let server = Server::start();
    let t = Test::new().server(&server).collection(
        "c.yaml",
        "name: again\nauth:\n  - url: BASE/echo/login\nrequests:\n  - name: poke\n    url: BASE/echo/poke\n    repeat: 3\n  - name: once\n    url: BASE/echo/once\n",
    );
    let out = t.clone().args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("poke [3/3]"), "{}", out.stdout);
    assert_eq!((requests_to(&server, "/echo/poke"), requests_to(&server, "/echo/once")), (3, 1));
    let out = t.args(&["run", "c.yaml", "--repeat", "2"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("once [run 2/2]"), "{}", out.stdout);
    assert!(out.stdout.contains("poke [run 1/2, 2/3]"), "{}", out.stdout);
    assert_eq!(requests_to(&server, "/echo/login"), 2, "one login per run of baton");
    assert_eq!(requests_to(&server, "/echo/once"), 3);
}
