//! The authorization code grant with PKCE: baton prints (or opens) the authorization URL,
//! listens on a loopback redirect, checks `state`, exchanges the code with its verifier.
//! The tests play the browser against the playground's `/authorize`, which approves
//! `code-auto` and refuses `code-deny` without a person.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{Server, Test, requests_to};

/// Bounds every wait on a baton process of these tests.
const LIMIT: Duration = Duration::from_secs(20);

fn collection(client: &str, extra: &str) -> String {
    format!(
        "name: code\nauth:\n  oauth2:\n    grant: authorization_code\n    authorization_url: BASE/authorize\n    token_url: BASE/authorize/token\n    client_id: {client}\n    scope: profile\n{extra}requests:\n  - url: BASE/authorize/me\n    expect: {{json: {{$.client: {client}}}}}\n"
    )
}

/// One GET to `url` (`http://127.0.0.1:…`), not following redirects: status and `Location`.
fn get(url: &str) -> (u16, Option<String>) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(authority).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    s.take(1 << 20).read_to_string(&mut answer).expect("read");
    let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status");
    let location = answer
        .lines()
        .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
        .map(str::to_string);
    (status, location)
}

/// The person approves at the authorization `url` (the playground does at once): where
/// the browser is sent back to, with the code.
fn approve(url: &str) -> String {
    let (status, location) = get(url);
    assert_eq!(status, 303, "the playground approves at once");
    location.expect("a redirect back")
}

/// The `code` of the URL the browser was sent back to.
fn code_of(back: &str) -> String {
    back.split("code=").nth(1).and_then(|c| c.split('&').next()).expect("code").to_string()
}

/// A running baton whose stderr is read line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(t: &Test) -> Running {
        let mut cmd = t.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        let mut child = cmd.spawn().expect("start baton");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// The authorization URL baton printed.
    fn authorization_url(&mut self) -> String {
        loop {
            let line = self.lines.recv_timeout(LIMIT).expect("baton printed the authorization URL");
            self.seen.push(line.clone());
            if let Some(rest) = line.split("open ").nth(1).filter(|_| line.contains("to let")) {
                return rest.split(' ').next().expect("url").to_string();
            }
        }
    }

    /// Waits for baton to end: exit code, stdout, all of stderr.
    fn finish(mut self) -> (i32, String, String) {
        let deadline = std::time::Instant::now() + LIMIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "baton did not finish");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        self.child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("stdout");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        (status.code().unwrap_or(-1), stdout, self.seen.join("\n"))
    }
}

#[test]
fn the_browser_comes_back_with_a_code_and_the_token_follows_with_nothing_secret_printed() {
    let server = Server::start();
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", &collection("code-auto", ""))
        .env("BATON_BROWSER", "none")
        .args(&["run", "c.yaml", "-v"]);
    let mut baton = Running::start(&t);
    let url = baton.authorization_url();
    assert!(url.contains("code_challenge_method=S256") && url.contains("state="), "{url}");
    // The browser: the authorization server sends it back to baton with the code.
    let back = approve(&url);
    let code = code_of(&back);
    assert_eq!(get(&back).0, 200, "baton's page");
    let (exit, stdout, stderr) = baton.finish();
    assert_eq!(exit, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("authorized in the browser"), "{stdout}");
    assert!(stderr.contains("code=•••") && stderr.contains("code_verifier=•••"), "{stderr}");
    assert!(!stdout.contains(&code) && !stderr.contains(&code), "the code is masked:\n{stdout}\n{stderr}");
}

/// The `redirect_uri` baton put in the authorization URL.
fn redirect_of(url: &str) -> String {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("redirect_uri")
}

/// Anything on this machine (or a web page) can call the loopback listener: a code with
/// another state, a refusal without one, a request with no query are each answered 400
/// and ignored, so none of them ends the login or gets exchanged; the real answer does.
#[test]
fn answers_without_batons_state_are_ignored_and_never_exchanged() {
    let server = Server::start();
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", &collection("code-auto", ""))
        .env("BATON_BROWSER", "none")
        .args(&["run", "c.yaml", "-v"]);
    let mut baton = Running::start(&t);
    let url = baton.authorization_url();
    let redirect = redirect_of(&url);
    assert_eq!(get(&format!("{redirect}?code=ac-forged&state=not-baton-s")).0, 400);
    assert_eq!(get(&format!("{redirect}?error=access_denied")).0, 400);
    assert_eq!(get(&redirect).0, 400);
    assert_eq!(get(&approve(&url)).0, 200);
    let (exit, stdout, stderr) = baton.finish();
    assert_eq!(exit, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("3 answers without the `state` baton sent were ignored"), "{stdout}");
    assert!(!stderr.contains("ac-forged"), "the forged code was never sent:\n{stderr}");
    assert_eq!(requests_to(&server, "/authorize/token"), 1, "only baton's code was exchanged");
}

/// A browser opens idle connections ahead of time; one that never sends a byte holds up
/// nothing, even when the whole wait is shorter than the time one connection may take.
#[test]
fn an_idle_connection_to_the_listener_does_not_hold_up_the_answer() {
    let server = Server::start();
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", &collection("code-auto", "    authorization_wait: 3s\n"))
        .env("BATON_BROWSER", "none")
        .args(&["run", "c.yaml"]);
    let mut baton = Running::start(&t);
    let url = baton.authorization_url();
    let redirect = redirect_of(&url);
    let authority = redirect.trim_start_matches("http://").split('/').next().expect("authority").to_string();
    let idle = std::net::TcpStream::connect(&authority).expect("an idle connection");
    assert_eq!(get(&approve(&url)).0, 200);
    let (exit, stdout, stderr) = baton.finish();
    drop(idle);
    assert_eq!(exit, 0, "{stdout}\n{stderr}");
}

#[test]
fn a_refused_consent_ends_with_the_servers_reason() {
    let server = Server::start();
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", &collection("code-deny", ""))
        .env("BATON_BROWSER", "fetch");
    let out = t.args(&["run", "c.yaml"]).run();
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stdout.contains("the authorization was refused: access_denied (the user said no)"),
        "{}",
        out.stdout
    );
    assert_eq!(requests_to(&server, "/authorize/token"), 0);
}

/// No browser can reach the machine: the first run prints the URL and gives up after its
/// wait; approved elsewhere, the URL the browser was sent to finishes it in a second run
/// (`--auth-code`, with the PKCE verifier the first run kept); `cache: true` makes the
/// third run need no one.
#[test]
fn an_approval_given_elsewhere_finishes_with_auth_code_and_the_cache_runs_headless() {
    let server = Server::start();
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", &collection("code-auto", "    cache: true\n    authorization_wait: 300ms\n"))
        .env("BATON_BROWSER", "none");
    let state = t.path("state.json");
    let first = t.clone().args(&["run", "c.yaml", "--state", &state]).run();
    assert_eq!(first.code, 4, "{}", first.all());
    assert!(first.stdout.contains("no approval came back to http://127.0.0.1:"), "{}", first.stdout);
    assert!(first.stdout.contains("--auth-code"), "the way on is named:\n{}", first.stdout);
    let url = first
        .stderr
        .split("open ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .expect("the URL was printed")
        .to_string();
    let back = approve(&url);
    let code = code_of(&back);
    let second = t.clone().args(&["run", "c.yaml", "--state", &state, "--auth-code", &back, "-v"]).run();
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(second.stdout.contains("with the code given by --auth-code"), "{}", second.stdout);
    assert!(!second.all().contains(&code), "{}", second.all());
    let third = t.args(&["run", "c.yaml", "--state", &state]).run();
    assert_eq!(third.code, 0, "{}", third.all());
    assert!(!third.stderr.contains("/authorize?"), "no new authorization:\n{}", third.stderr);
    assert_eq!(requests_to(&server, "/authorize/token"), 1, "one code exchanged in three runs");
}

/// Two profiles that log in with the same client are two people: their token requests
/// look alike (the scope goes to the authorization endpoint, the code is new each time),
/// yet each asks for its own approval and keeps its own token, in the run and in the
/// state file.
#[test]
fn two_profiles_of_one_client_each_get_their_own_approval_and_token() {
    let server = Server::start();
    let profile = |scope: &str| {
        format!(
            "    oauth2:\n      grant: authorization_code\n      authorization_url: BASE/authorize\n      token_url: BASE/authorize/token\n      client_id: code-auto\n      scope: {scope}\n      cache: true\n"
        )
    };
    let yaml = format!(
        "name: two people\nauth:\n  user:\n{}  admin:\n{}requests:\n  - name: as the user\n    url: BASE/authorize/me\n  - name: as the admin\n    url: BASE/authorize/me\n    auth: admin\n",
        profile("profile"),
        profile("profile"),
    );
    let t = Test::new()
        .server(&server)
        .collection("c.yaml", &yaml)
        .env("BATON_BROWSER", "fetch")
        .args(&["run", "c.yaml", "--state", "s.json"]);
    let first = t.run();
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(requests_to(&server, "/authorize/token"), 2, "one approval each:\n{}", first.all());
    let second = t.run();
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(
        requests_to(&server, "/authorize/token"),
        2,
        "each kept token is found again:\n{}",
        second.all()
    );
}
