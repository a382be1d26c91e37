//! The local files a run reads and writes besides collections: the state file (links,
//! modes, its lock, unreadable contents) and `--env-file` (`$`, a BOM, positions).

use crate::support::{Server, Test, squeeze};

/// A collection whose first request is `once:`, so every run that sends it saves state.
fn once(name: &str) -> String {
    format!(
        "name: {name}\nrequests:\n  - name: register\n    once: true\n    url: BASE/echo/{name}\n    \
         capture: {{registered: $.path}}\n  - name: use\n    url: BASE/echo\n    \
         query: {{r: \"{{{{ registered }}}}\"}}\n    expect: {{json: {{$.query.r: /echo/{name}}}}}\n"
    )
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn a_symlinked_state_file_stays_a_link_and_is_reused_through_it() {
    let server = Server::start();
    let t = Test::new().server(&server).collection("c.yaml", &once("c"));
    std::fs::create_dir_all(t.dir().join("kept")).expect("mkdir");
    std::os::unix::fs::symlink("kept/state.json", t.dir().join("state.json")).expect("symlink");
    let run = t.clone().args(&["run", "c.yaml", "--state", "state.json"]);
    let first = run.run();
    assert_eq!(first.code, 0, "{}", first.all());
    let second = run.run();
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(squeeze(&second.stdout).contains("register reused from state"), "{}", second.stdout);
    let link = t.dir().join("state.json");
    assert!(std::fs::symlink_metadata(&link).expect("meta").file_type().is_symlink(), "still a link");
    let kept = std::fs::read_to_string(t.dir().join("kept/state.json")).expect("the target holds the state");
    assert!(kept.contains("\"baton-state\""), "{kept}");
    assert_eq!(mode(&t.dir().join("kept/state.json")), 0o600);
}

#[cfg(unix)]
#[test]
fn a_state_file_others_can_read_is_warned_about_once_and_made_private_by_the_next_save() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    let t = Test::new().server(&server).collection("a.yaml", &once("a")).collection("b.yaml", &once("b"));
    let state = t.dir().join("state.json");
    let first = t.clone().args(&["run", "a.yaml", "--state", "state.json"]).run();
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(!first.stderr.contains("warning"), "{}", first.stderr);
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    // Two collections in one run: one open, one warning, one save.
    let second = t.clone().args(&["run", "a.yaml", "b.yaml", "--state", "state.json"]).run();
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(second.stderr.matches("warning:").count(), 1, "{}", second.stderr);
    assert!(second.stderr.contains("state.json` has mode 0644"), "{}", second.stderr);
    assert_eq!(mode(&state), 0o600, "the save tightened it");
    let third = t.args(&["run", "a.yaml", "b.yaml", "--state", "state.json"]).run();
    assert_eq!(third.code, 0, "{}", third.all());
    assert!(!third.stderr.contains("warning"), "{}", third.stderr);
}

#[cfg(unix)]
#[test]
fn a_lock_file_that_is_a_symlink_is_refused_and_never_followed() {
    let server = Server::start();
    let t = Test::new().server(&server).collection("c.yaml", &once("c"));
    std::os::unix::fs::symlink("victim", t.dir().join("state.json.lock")).expect("symlink");
    let out = t.clone().args(&["run", "c.yaml", "--state", "state.json"]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("state.json.lock` is a symbolic link"), "{}", out.stderr);
    assert!(out.stderr.contains("help: remove it"), "{}", out.stderr);
    let cleared = t.clone().args(&["state", "clear", "--state", "state.json"]).run();
    assert_eq!(cleared.code, 2, "{}", cleared.all());
    assert!(!t.dir().join("victim").exists(), "the link was never followed");
}

#[test]
fn the_help_for_a_corrupt_state_file_names_a_command_that_clears_it() {
    let server = Server::start();
    let t = Test::new().server(&server).collection("c.yaml", &once("c"));
    let state = t.path("state.json");
    // A state file of ours, cut short (a full disk, a bad copy).
    let cut = "{\n  \"format\": \"baton-state\",\n  \"version\": 1,\n  \"entries\": {\n    \"ab";
    std::fs::write(&state, cut).expect("write");
    let out = t.clone().args(&["run", "c.yaml", "--state", &state]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("corrupt"), "{}", out.stderr);
    let advised = regex::Regex::new(r"`baton (state clear[^`]*)`").expect("re");
    let command = advised.captures(&out.stderr).unwrap_or_else(|| panic!("no command in:\n{}", out.stderr))
        [1]
    .to_string();
    assert_eq!(command, format!("state clear --state {state}"));
    assert_eq!(std::fs::read_to_string(&state).expect("read"), cut, "left untouched by the run");
    // The advice works.
    let cleared = t.clone().args(&command.split(' ').collect::<Vec<_>>()).run();
    assert_eq!(cleared.code, 0, "{}", cleared.all());
    assert!(cleared.stdout.contains("replaced the unreadable state file"), "{}", cleared.stdout);
    let again = t.args(&["run", "c.yaml", "--state", &state]).run();
    assert_eq!(again.code, 0, "{}", again.all());
}

#[test]
fn a_file_that_is_not_baton_state_is_never_cleared_nor_advised_to_be() {
    // Nothing is sent (the state file is refused first): the URL is a closed port.
    let t = Test::new()
        .collection("c.yaml", &once("c").replace("BASE", "http://127.0.0.1:9"))
        .file("config.json", "{ this is not json");
    let config = t.path("config.json");
    let out = t.clone().args(&["run", "c.yaml", "--state", &config]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("not a baton state file"), "{}", out.stderr);
    assert!(!out.stderr.contains("state clear"), "{}", out.stderr);
    let cleared = t.args(&["state", "clear", "--state", &config]).run();
    assert_eq!(cleared.code, 2, "{}", cleared.all());
    assert!(cleared.stderr.contains("baton never overwrites a file it did not write"), "{}", cleared.stderr);
    assert_eq!(std::fs::read_to_string(&config).expect("read"), "{ this is not json");
}

/// A collection that echoes `PHRASE`, `ESCAPED`, `BACKSLASH` and `JOINED` and expects them.
const ECHO_VALUES: &str = r#"requests:
  - url: BASE/echo
    query:
      phrase: "{{ PHRASE }}"
      escaped: "{{ ESCAPED }}"
      backslash: "{{ BACKSLASH }}"
      joined: "{{ JOINED }}"
    expect:
      json:
        $.query.phrase: pa$word1
        $.query.escaped: pa$word1
        $.query.backslash: pa$word1
        $.query.joined: pa$word1!
"#;

#[test]
fn env_file_values_keep_their_dollars_and_a_byte_order_mark_is_accepted() {
    let server = Server::start();
    let env = "\u{feff}# saved by an editor that writes a BOM\nPHRASE='pa$word1'\nESCAPED=pa$$word1\n\
               BACKSLASH=pa\\$word1\nJOINED=\"${PHRASE}!\"\n";
    let out = Test::new()
        .server(&server)
        .collection("c.yaml", ECHO_VALUES)
        .file(".env", env)
        .args(&["run", "c.yaml", "--env-file", ".env"])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn an_unquoted_dollar_reading_an_unset_variable_is_an_error_at_its_line_not_an_empty_string() {
    let server = Server::start();
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", ECHO_VALUES)
        .file(".env", "PHRASE=pa$word1\nESCAPED=x\nBACKSLASH=x\nJOINED=x\n");
    let out = t.clone().args(&["run", "c.yaml", "--env-file", ".env"]).run();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stdout.is_empty(), "nothing ran: {}", out.stdout);
    assert!(out.stderr.contains("`$word1` reads `word1`, which is not set"), "{}", out.stderr);
    assert!(out.stderr.contains(".env:1:10"), "{}", out.stderr);
    assert!(out.stderr.contains("PHRASE=pa$word1"), "the line is shown: {}", out.stderr);
    // Setting it in the environment is the one way the reference is read.
    let out = t.env("word1", "sword").args(&["plan", "c.yaml", "--env-file", ".env"]).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("phrase=pasword"), "{}", out.stdout);
}

#[test]
fn the_readme_shows_the_error_baton_prints_for_an_unset_reference() {
    let out = Test::new()
        .collection("c.yaml", ECHO_VALUES)
        .file(".env", "HOST=api.example.com\nPASSWORD=pa$word1\n")
        .args(&["validate", "c.yaml", "--env-file", ".env"])
        .run();
    assert_eq!(out.code, 2, "{}", out.all());
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let section = readme.split("### Env files").nth(1).expect("section");
    let shown = section.split("```text\n").nth(1).and_then(|s| s.split("```").next()).expect("text block");
    assert_eq!(out.stderr.trim_end(), shown.trim_end());
}
