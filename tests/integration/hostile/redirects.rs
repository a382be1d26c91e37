//! baton's redirect policy against a server pair: A redirects, B records. B must never
//! see a credential meant for A, nor a body holding secrets; https→http is refused unless
//! asked for; a loop ends at the limit.

use std::io::Write;

use super::server::{Ctx, RawServer, Request, answer};
use crate::support::{Output, Test};

/// The real secret values: searched for in everything B received and everything baton printed.
const SECRETS: &[(&str, &str)] = &[
    ("HOSTILE_BEARER", "bearer-Qx81-not-for-b"),
    ("HOSTILE_API_KEY", "apikey-Zt55-not-for-b"),
    ("HOSTILE_KEY2", "apikey2-Mm12-not-for-b"),
    ("HOSTILE_COOKIE", "cookie-Lp09-not-for-b"),
    ("HOSTILE_TOKEN", "token-Hh77-not-for-b"),
    ("HOSTILE_PASSWORD", "password-Vv31-not-for-b"),
    ("HOSTILE_CLIENT_SECRET", "clientsecret-Kk64-not-for-b"),
    ("HOSTILE_SESSION", "session-Ww23-not-for-b"),
];

/// Header names that carry credentials in these collections.
/// (`x-session` is named innocently: its value is what makes it a credential.)
const CREDENTIAL_HEADERS: &[&str] =
    &["authorization", "cookie", "x-api-key", "api-key", "x-auth-token", "x-session"];

/// Headers on every step: credentials of every kind baton knows, and one that is not.
const DEFAULTS: &str = r#"
defaults:
  bearer: "{{ secret_env('HOSTILE_BEARER') }}"
  headers:
    x-api-key: "{{ secret_env('HOSTILE_API_KEY') }}"
    api-key: "{{ secret_env('HOSTILE_KEY2') }}"
    cookie: "session={{ secret_env('HOSTILE_COOKIE') }}"
    x-auth-token: "{{ secret_env('HOSTILE_TOKEN') }}"
    x-session: "{{ secret_env('HOSTILE_SESSION') }}"
    x-trace: harmless-trace-42
"#;

/// B: records, answers 200 with a little JSON.
fn recorder() -> RawServer {
    RawServer::start(|_, w, _| {
        answer(w, "200 OK", &[("Content-Type", "application/json")], b"{\"ok\": true}")
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        _ => "Permanent Redirect",
    }
}

/// A: `/to/CODE` answers CODE with `Location: {target}/landed/CODE`; `/same/CODE` with
/// `Location: /final`; `/loop` with `Location: /loop`; anything else 200.
fn redirector(target: String) -> impl Fn(&Request, &mut dyn Write, &Ctx<'_>) + Send + Sync + 'static {
    move |req, w, _| {
        let mut parts = req.path.trim_start_matches('/').splitn(2, '/');
        let (kind, code) = (parts.next().unwrap_or(""), parts.next().and_then(|c| c.parse::<u16>().ok()));
        let location = match (kind, code) {
            ("to", Some(code)) => Some((code, format!("{target}/landed/{code}"))),
            ("same", Some(code)) => Some((code, "/final".to_string())),
            ("loop", _) => Some((302, "/loop".to_string())),
            _ => None,
        };
        match location {
            Some((code, to)) => answer(w, &format!("{code} {}", reason(code)), &[("Location", &to)], b""),
            None => answer(w, "200 OK", &[("Content-Type", "application/json")], b"{\"final\": true}"),
        }
    }
}

fn run(yaml: &str, args: &[&str]) -> Output {
    let mut test = Test::new().collection("c.yaml", yaml);
    for (name, value) in SECRETS {
        test = test.env(name, value);
    }
    let mut all = vec!["run", "c.yaml", "-v"];
    all.extend_from_slice(args);
    test.args(&all).run()
}

/// No secret value anywhere in `text`.
fn assert_no_secret(text: &str, what: &str) {
    for (_, value) in SECRETS {
        assert!(!text.contains(value), "{what} holds `{value}`:\n{text}");
    }
}

/// B got no credential header and no secret, and baton printed none.
fn assert_nothing_leaked(b: &RawServer, out: &Output) {
    for req in b.received() {
        for name in CREDENTIAL_HEADERS {
            assert!(req.header(name).is_none(), "B received `{name}`:\n{}", req.raw);
        }
        assert_no_secret(&req.raw, "a request B received");
    }
    assert_no_secret(&out.stdout, "stdout");
    assert_no_secret(&out.stderr, "stderr");
}

#[test]
fn a_redirect_to_another_origin_carries_no_credential_of_any_kind() {
    let b = recorder();
    let a = RawServer::start(redirector(b.url("http")));
    let base = a.url("http");
    let yaml = format!(
        r#"name: cross-origin
{DEFAULTS}
requests:
  - {{name: moved, url: "{base}/to/301"}}
  - {{name: found, url: "{base}/to/302"}}
  - {{name: see other, url: "{base}/to/303"}}
  - {{name: temporary, url: "{base}/to/307"}}
  - {{name: permanent, url: "{base}/to/308"}}
  - name: login form after 303
    method: POST
    url: "{base}/to/303"
    form: {{username: u, password: "{{{{ secret_env('HOSTILE_PASSWORD') }}}}"}}
  - name: harmless json after 307
    method: PUT
    url: "{base}/to/307"
    json: {{name: widget}}
"#
    );
    let out = run(&yaml, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let got = b.received();
    let seen: Vec<(&str, &str)> = got.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("GET", "/landed/301"),
            ("GET", "/landed/302"),
            ("GET", "/landed/303"),
            ("GET", "/landed/307"),
            ("GET", "/landed/308"),
            ("GET", "/landed/303"),
            ("PUT", "/landed/307"),
        ],
        "every step landed on B, a 303 as a GET, a 307 keeping its method"
    );
    assert!(got.iter().all(|r| r.header("x-trace") == Some("harmless-trace-42")), "other headers travel");
    assert_eq!(got[5].body, "", "the 303 dropped the login form");
    assert_eq!(got[6].body, r#"{"name":"widget"}"#, "a 307 re-sends a body without secrets");
    assert_nothing_leaked(&b, &out);
    // A did receive every credential: the stripping happened on the way to B, not before.
    let first = &a.received()[0];
    assert_eq!(first.header("authorization"), Some("Bearer bearer-Qx81-not-for-b"));
    assert_eq!(first.header("x-api-key"), Some("apikey-Zt55-not-for-b"));
}

#[test]
fn a_redirect_within_the_origin_keeps_headers_and_body() {
    let a = RawServer::start(redirector(String::new()));
    let base = a.url("http");
    let yaml = format!(
        r#"name: same-origin
{DEFAULTS}
requests:
  - {{name: found, url: "{base}/same/302"}}
  - name: token after 307
    method: POST
    url: "{base}/same/307"
    form: {{client_id: app, client_secret: "{{{{ secret_env('HOSTILE_CLIENT_SECRET') }}}}"}}
"#
    );
    let out = run(&yaml, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let finals: Vec<Request> = a.received().into_iter().filter(|r| r.path == "/final").collect();
    assert_eq!(finals.len(), 2, "{finals:?}");
    for r in &finals {
        assert_eq!(r.header("authorization"), Some("Bearer bearer-Qx81-not-for-b"), "{}", r.raw);
        assert_eq!(r.header("x-api-key"), Some("apikey-Zt55-not-for-b"));
        assert_eq!(r.header("api-key"), Some("apikey2-Mm12-not-for-b"));
        assert_eq!(r.header("cookie"), Some("session=cookie-Lp09-not-for-b"));
    }
    assert_eq!(finals[1].method, "POST");
    assert_eq!(finals[1].body, "client_id=app&client_secret=clientsecret-Kk64-not-for-b");
    assert_no_secret(&out.all(), "output");
}

#[test]
fn a_body_holding_secrets_is_not_resent_to_another_origin() {
    let b = recorder();
    let a = RawServer::start(redirector(b.url("http")));
    let base = a.url("http");
    let yaml = format!(
        r#"name: secret bodies
requests:
  - name: oauth token via 307
    method: POST
    url: "{base}/to/307"
    form: {{grant_type: client_credentials, client_id: app, client_secret: "{{{{ secret_env('HOSTILE_CLIENT_SECRET') }}}}"}}
  - name: login via 308
    method: POST
    url: "{base}/to/308"
    json: {{user: {{name: u, password: "{{{{ secret_env('HOSTILE_PASSWORD') }}}}"}}}}
  - name: raw body with a key via 307
    method: POST
    url: "{base}/to/307"
    headers: {{x-api-key: "{{{{ secret_env('HOSTILE_API_KEY') }}}}"}}
    body: "opaque {{{{ secret_env('HOSTILE_TOKEN') }}}}"
    content_type: text/plain
"#
    );
    let out = run(&yaml, &[]);
    assert_eq!(out.code, 4, "{}", out.all());
    let origin = format!("`{}`", b.url("http"));
    let field = "it would re-send the request body, which has a field named like a credential";
    let raw = "it would re-send the request body, raw text that may hold the request's credentials";
    for (status, why) in [(307, field), (308, field), (307, raw)] {
        let message = format!("refused a {status} redirect to another origin ({origin}): {why}");
        assert!(out.stdout.contains(&message), "{message}\n{}", out.all());
    }
    assert!(out.stdout.contains("3 errors"), "{}", out.stdout);
    assert!(b.received().is_empty(), "B received {:?}", b.received());
    assert_eq!(a.received().len(), 3);
    assert_nothing_leaked(&b, &out);
}

#[test]
fn a_redirect_loop_ends_at_the_limit_and_zero_follows_nothing() {
    let a = RawServer::start(redirector(String::new()));
    let yaml = format!("name: loop\nrequests:\n  - {{name: loop, url: \"{}/loop\"}}\n", a.url("http"));
    let out = run(&yaml, &["--max-redirects", "3"]);
    assert_eq!(out.code, 4, "{}", out.all());
    let message = format!("still redirected after 3 redirects (the limit), last to `{}/loop`", a.url("http"));
    assert!(out.stdout.contains(&message), "{}", out.all());
    assert!(out.stdout.contains("raise it with --max-redirects"), "{}", out.stdout);
    assert_eq!(a.received().len(), 4, "the request and three redirects");

    let out = run(&yaml, &[]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(out.stdout.contains("still redirected after 10 redirects"), "{}", out.stdout);
    assert_eq!(a.received().len(), 4 + 11);

    let expect = yaml.replace("/loop\"}", "/loop\", expect: {status: 302, headers: {location: /loop}}}");
    let out = run(&expect, &["--max-redirects", "0"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(a.received().len(), 4 + 11 + 1, "with 0 the redirect is the response");
}

#[test]
fn https_to_http_is_refused_unless_allowed_and_never_carries_credentials() {
    let b = recorder();
    let a = RawServer::start_tls(redirector(b.url("http")));
    let yaml = format!(
        "name: downgrade\n{DEFAULTS}\nrequests:\n  - {{name: down, url: \"{}/to/302\"}}\n",
        a.url("https")
    );
    let out = run(&yaml, &["--insecure"]);
    assert_eq!(out.code, 4, "{}", out.all());
    let message = format!(
        "refused a redirect from HTTPS to plain HTTP (`{}/to/302` to `{}/landed/302`)",
        a.url("https"),
        b.url("http")
    );
    assert!(out.stdout.contains(&message), "{message}\n{}", out.all());
    assert!(out.stdout.contains("pass --allow-insecure-redirects"), "{}", out.stdout);
    assert!(b.received().is_empty(), "B received {:?}", b.received());
    assert_eq!(a.received().len(), 1, "A answered over TLS");

    let out = run(&yaml, &["--insecure", "--allow-insecure-redirects"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(b.received().len(), 1);
    assert_nothing_leaked(&b, &out);
}

#[test]
fn a_location_baton_cannot_follow_is_an_error_naming_it() {
    let a = RawServer::start(|req, w, _| {
        let location: &[u8] = if req.path == "/ftp" { b"ftp://127.0.0.1/file" } else { b"/caf\xe9" };
        let head = [
            b"HTTP/1.1 302 Found\r\nLocation: ",
            location,
            b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ];
        let _ = w.write_all(&head.concat());
    });
    let base = a.url("http");
    let yaml =
        format!("name: bad location\nrequests:\n  - url: \"{base}/ftp\"\n  - url: \"{base}/latin1\"\n");
    let out = run(&yaml, &[]);
    assert_eq!(out.code, 4, "{}", out.all());
    let ftp = "cannot follow the 302 redirect to `ftp://127.0.0.1/file`: scheme `ftp` is not http or https";
    assert!(out.stdout.contains(ftp), "{}", out.all());
    assert!(out.stdout.contains("the Location header is not UTF-8"), "{}", out.all());
    assert_eq!(a.received().len(), 2, "nothing was followed");
}
