//! The front channel of the authorization code grant (RFC 6749 4.1) for a command-line
//! tool: PKCE with S256 (RFC 7636), a `state` checked on return, and a loopback redirect
//! (RFC 8252 7.3) that baton listens on for a bounded time. The browser is opened, the
//! URL printed, or (`BATON_BROWSER=fetch`, for servers that approve without a person)
//! fetched by baton itself; `--auth-code` takes an approval given elsewhere.

use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::Runner;
use super::persist::{FileLock, Held};
use super::step::profile_var;
use crate::event::StepError;
use crate::event::{Event, Note};
use crate::exchange::ResolvedRequest;
use crate::model::AuthorizeRequest;
use crate::model::oauth2_vars::{AUTHORIZATION_CODE, CODE_VERIFIER, REDIRECT_URI};
use crate::plan::CompiledStep;
use crate::template::{RenderContext, RenderError, Template};

/// The most a browser may send for the redirect (its request line and headers).
const MAX_CALLBACK: usize = 16 * 1024;
/// How long one connection to the loopback listener may take to send its request.
const CALLBACK_READ: Duration = Duration::from_secs(5);
/// Redirects `BATON_BROWSER=fetch` follows before giving up.
const MAX_FETCH_HOPS: usize = 10;
/// How long an authorization baton asked for can be finished with `--auth-code`.
const PENDING_LIFE_SECS: i64 = 600;

/// How the authorization URL reaches the person who approves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Browser {
    /// The system's browser, when baton runs on a terminal; else the URL is only printed.
    #[default]
    System,
    /// Only printed (`--no-browser`, `BATON_BROWSER=none`).
    Print,
    /// Fetched by baton itself, following redirects back to it (`BATON_BROWSER=fetch`):
    /// for authorization servers that approve without a person (test realms, the
    /// playground).
    Fetch,
    /// This command, run with the URL as its argument (`BATON_BROWSER=firefox`).
    Command(String),
}

impl Browser {
    /// From `BATON_BROWSER`: `none`, `fetch`, `system` or a command.
    pub fn from_setting(value: &str) -> Browser {
        match value.trim() {
            "" | "system" => Browser::System,
            "none" => Browser::Print,
            "fetch" => Browser::Fetch,
            command => Browser::Command(command.to_string()),
        }
    }
}

/// What came back to the redirect URI.
#[derive(Debug, PartialEq, Eq)]
enum Callback {
    Code { code: String, state: Option<String> },
    Refused { error: String, description: Option<String>, state: Option<String> },
}

/// The query parameters of a redirect (a whole URL, or just its query).
fn callback_of(target: &str) -> Option<Callback> {
    let query = target.split_once('?').map_or(target, |(_, q)| q);
    let query = query.split('#').next().unwrap_or(query);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(error) = get("error") {
        return Some(Callback::Refused { error, description: get("error_description"), state: get("state") });
    }
    get("code").map(|code| Callback::Code { code, state: get("state") })
}

/// A fresh PKCE verifier (256 random bits as 64 hex digits, within RFC 7636's alphabet).
fn verifier() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge.
fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorization URL: the endpoint with its parameters added to any it has.
fn authorization_url(endpoint: &str, params: &[(String, String)]) -> Result<String, String> {
    let mut url = url::Url::parse(endpoint).map_err(|e| format!("`{endpoint}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{endpoint}` is not an http(s) URL"));
    }
    url.query_pairs_mut().extend_pairs(params);
    Ok(url.to_string())
}

/// The loopback address and path of a redirect URI; only `http://127.0.0.1`, `[::1]` and
/// `localhost` are listened on (RFC 8252 7.3).
fn loopback(redirect: &str) -> Result<(std::net::SocketAddr, String, String), String> {
    let url =
        url::Url::parse(redirect).map_err(|e| format!("`redirect_uri: {redirect}` is not a URL: {e}"))?;
    let ip: std::net::IpAddr = match url.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => ip.into(),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => ip.into(),
        Some(url::Host::Domain("localhost")) => std::net::Ipv4Addr::LOCALHOST.into(),
        _ => {
            return Err(format!(
                "`redirect_uri: {redirect}` is not a loopback address: baton can only receive the code on 127.0.0.1, [::1] or localhost"
            ));
        }
    };
    if url.scheme() != "http" {
        return Err(format!(
            "`redirect_uri: {redirect}` must be http:// (a loopback listener has no certificate)"
        ));
    }
    let path = if url.path().is_empty() { "/".to_string() } else { url.path().to_string() };
    let host = url.host_str().unwrap_or("127.0.0.1").to_string();
    Ok((std::net::SocketAddr::new(ip, url.port().unwrap_or(0)), path, host))
}

/// The small page the browser shows once it came back.
fn page(ok: bool) -> Vec<u8> {
    let (status, text) = if ok {
        ("200 OK", "baton received the authorization. You can close this tab.")
    } else {
        ("400 Bad Request", "baton could not use this answer; see the terminal.")
    };
    let body = format!("<!doctype html><meta charset=utf-8><title>baton</title><p>{text}</p>\n");
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// How the wait on the loopback listener ended.
#[derive(Debug, PartialEq, Eq)]
struct Wait {
    /// The request target of the answer that carried baton's `state` (a code or a
    /// refusal); `None`: none came before the deadline.
    target: Option<String>,
    /// Answers to the redirect path without baton's `state` (another page, another
    /// authorization, a forgery): each got a 400 and the wait went on.
    ignored: usize,
}

/// Reads one request's head from `stream` (at most [`MAX_CALLBACK`] bytes, for at most
/// `limit`): its target, or `None` after answering 400.
async fn request_target(
    mut stream: tokio::net::TcpStream,
    limit: Duration,
) -> (tokio::net::TcpStream, Option<String>) {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 2048];
        while head.len() < MAX_CALLBACK {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    // Only the new bytes (and the three before them) can end the head.
                    let from = head.len().saturating_sub(3);
                    head.extend_from_slice(&buf[..n]);
                    if head[from..].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let target = match (read, request.parse(&head)) {
        (Ok(()), Ok(httparse::Status::Complete(_))) => request.path.map(str::to_string),
        _ => None,
    };
    if target.is_none() {
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    }
    (stream, target)
}

/// Waits (until `deadline`) for the answer to `path` that carries `state`, answers it and
/// returns its request target. Connections are read side by side (a browser's idle
/// preconnection holds up nothing); other paths get a 404, answers without baton's
/// `state` a 400, and the wait goes on: a stray or forged request cannot end it.
async fn receive(listener: &TcpListener, path: &str, state: &str, deadline: Instant) -> Wait {
    use futures_util::stream::{FuturesUnordered, StreamExt as _};
    /// Connections read at once; more wait in the listener's backlog.
    const READING: usize = 32;
    let mut reading = FuturesUnordered::new();
    let mut ignored = 0;
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return Wait { target: None, ignored };
        };
        tokio::select! {
            accepted = listener.accept(), if reading.len() < READING => {
                match accepted {
                    Ok((stream, _)) => reading.push(request_target(stream, CALLBACK_READ.min(left))),
                    // Out of file descriptors, say: a pause, not a busy loop.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            Some((mut stream, target)) = reading.next() => {
                let Some(target) = target else { continue };
                if target.split('?').next() != Some(path) {
                    let _ = stream
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    continue;
                }
                let answer = callback_of(&target);
                let ours = match &answer {
                    Some(Callback::Code { state: Some(s), .. } | Callback::Refused { state: Some(s), .. }) => s == state,
                    _ => false,
                };
                let _ = stream.write_all(&page(ours && matches!(answer, Some(Callback::Code { .. })))).await;
                let _ = stream.shutdown().await;
                if ours {
                    return Wait { target: Some(target), ignored };
                }
                ignored += 1;
            }
            () = tokio::time::sleep(left) => return Wait { target: None, ignored },
        }
    }
}

impl Runner<'_, '_, '_, '_> {
    /// Gets the user's approval for an authorization-code token step: the code, its PKCE
    /// verifier and the redirect URI land in the step's variables.
    pub(super) async fn authorize(
        &mut self,
        step: &CompiledStep<'_>,
        a: &AuthorizeRequest<Template<'_>>,
        ctx: &RenderContext<'_>,
        held: Option<&Held>,
    ) -> Result<Note, StepError> {
        // The step may hold the state file already (`cache: true`): its hold is used.
        let own;
        let held = match held {
            Some(h) if h.holds_file() => h,
            _ => {
                own = self.vault.hold("authorize", FileLock::PerOperation).await.map_err(|e| StepError {
                    message: e,
                    span: Some(step.name_span),
                    help: None,
                })?;
                &own
            }
        };
        let error = |message: String| StepError { message, span: Some(step.name_span), help: None };
        let render_err = |e: RenderError| StepError { message: e.message, span: Some(e.span), help: None };
        let endpoint = ctx.text(&a.url, "authorization_url").map_err(render_err)?;
        let mut fields = Vec::new();
        for (k, t) in &a.fields {
            fields.push((k.name.clone(), ctx.text(t, &k.name).map_err(render_err)?));
        }
        let redirect = match &a.redirect_uri {
            Some(t) => ctx.text(t, "redirect_uri").map_err(render_err)?,
            None => "http://127.0.0.1/callback".to_string(),
        };
        let pending_key =
            crate::state::key(&self.collection_id, self.vault.environment(), &step.name, "authorize");
        if let Some(given) = self.auth_code.take() {
            // An approval given elsewhere: the code (or the URL the browser was sent to),
            // finishing the authorization an earlier run asked for when there is one. A
            // code is good once: a later authorization of this run asks the browser.
            let pending = self.pending(held, &pending_key).await;
            let (code, state) = match callback_of(&given) {
                Some(Callback::Code { code, state }) => (code, state),
                Some(Callback::Refused { error: e, description, .. }) => {
                    return Err(refused(step, &e, description.as_deref()));
                }
                None => (given.trim().to_string(), None),
            };
            self.plan.masker.add(&code);
            let (verifier, redirect) = match pending {
                Some((_, sent, _)) if state.as_ref().is_some_and(|s| *s != sent) => {
                    return Err(error(
                        "the `state` of the URL given to --auth-code is not the one baton sent: it answers another authorization request; nothing was exchanged".into(),
                    ));
                }
                Some((verifier, _, redirect_uri)) => (Some(verifier), redirect_uri),
                None => (None, redirect),
            };
            let _ = self.vault.forget_held(held, &pending_key).await;
            self.set_code(step, &code, verifier.as_deref(), &redirect);
            let how = if verifier.is_some() {
                "with the code given by --auth-code"
            } else {
                "with the code given by --auth-code (no authorization baton asked for in the last 10 minutes is pending, so no PKCE verifier is sent)"
            };
            return Ok(Note::Authorized { how: how.into() });
        }
        let (addr, path, host) = loopback(&redirect).map_err(error)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| error(format!("cannot listen on {addr} for the redirect: {e}")))?;
        let port = listener.local_addr().map_err(|e| error(e.to_string()))?.port();
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
        let redirect_uri = format!("http://{host}:{port}{path}");
        let verifier = verifier();
        let state = uuid::Uuid::new_v4().simple().to_string();
        self.plan.masker.add(&verifier);
        let mut params = vec![
            ("response_type".to_string(), "code".to_string()),
            ("redirect_uri".to_string(), redirect_uri.clone()),
            ("state".to_string(), state.clone()),
            ("code_challenge".to_string(), challenge(&verifier)),
            ("code_challenge_method".to_string(), "S256".to_string()),
        ];
        params.extend(fields);
        let url = authorization_url(&endpoint, &params).map_err(error)?;
        // Kept a while, so `--auth-code` in a later run can finish it (a browser elsewhere).
        self.keep_pending(step, held, &pending_key, [&verifier, &state, &redirect_uri]).await;
        let deadline = Instant::now() + a.wait;
        let waiting = crate::event::human_duration(a.wait);
        let notice = format!(
            "to let `{}` get a token, open {url} and approve; waiting {waiting} for the browser to come back to {redirect_uri}",
            step.name
        );
        self.sink.event(&Event::Notice(&notice));
        // The browser (or baton, fetching) comes back while the URL is still being opened.
        let receiving = receive(&listener, &path, &state, deadline);
        tokio::pin!(receiving);
        let came_back = tokio::select! {
            back = &mut receiving => back,
            opened = self.open(&url, &path, port) => {
                opened.map_err(error)?;
                receiving.await
            }
        };
        let ignored = match came_back.ignored {
            0 => String::new(),
            1 => " (1 answer without the `state` baton sent was ignored)".to_string(),
            n => format!(" ({n} answers without the `state` baton sent were ignored)"),
        };
        let Some(target) = came_back.target else {
            return Err(StepError {
                message: format!("no approval came back to {redirect_uri} within {waiting}{ignored}"),
                span: Some(a.span),
                help: Some(
                    "open the URL above and approve; where the browser cannot reach this machine, approve anyway and within 10 minutes run again with `--auth-code '<the URL the browser was sent to>'`; `cache: true` keeps the token (and its refresh token) after one login"
                        .into(),
                ),
            });
        };
        match callback_of(&target) {
            Some(Callback::Code { code, state: Some(s) }) if s == state => {
                self.plan.masker.add(&code);
                let _ = self.vault.forget_held(held, &pending_key).await;
                self.set_code(step, &code, Some(&verifier), &redirect_uri);
                Ok(Note::Authorized { how: format!("in the browser, back at {redirect_uri}{ignored}") })
            }
            Some(Callback::Refused { error: e, description, .. }) => {
                Err(refused(step, &e, description.as_deref()))
            }
            // `receive` returns only answers that carry baton's state.
            _ => Err(error("the redirect carried neither a code nor an error".into())),
        }
    }

    /// The PKCE verifier, state and redirect URI of an authorization an earlier run (or
    /// this one) asked for, when not expired.
    async fn pending(&self, held: &Held, key: &str) -> Option<(String, String, String)> {
        let found = self.vault.find(held, key).await.ok()??;
        if !found.entry.is_fresh(super::persist::unix_now()) {
            return None;
        }
        let get =
            |k: &str| found.entry.captures.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        let verifier = get(CODE_VERIFIER)?;
        self.plan.masker.add(&verifier);
        Some((verifier, get("state")?, get(REDIRECT_URI)?))
    }

    /// Keeps what `--auth-code` needs to finish this authorization ([`PENDING_LIFE_SECS`]).
    async fn keep_pending(
        &self,
        step: &CompiledStep<'_>,
        held: &Held,
        key: &str,
        [verifier, state, redirect_uri]: [&str; 3],
    ) {
        let now = super::persist::unix_now();
        let mut captures = serde_json::Map::new();
        captures.insert(CODE_VERIFIER.into(), verifier.into());
        captures.insert("state".into(), state.into());
        captures.insert(REDIRECT_URI.into(), redirect_uri.into());
        let entry = crate::state::Entry {
            collection: self.collection_id.clone(),
            environment: self.vault.environment().to_string(),
            step: format!("{} (authorization under way)", step.name),
            captures,
            secret: vec![CODE_VERIFIER.into()],
            saved_at: now,
            expires_at: Some(now + PENDING_LIFE_SECS),
        };
        let _ = self.vault.put(held, key, entry, None).await;
    }

    /// Without a verifier the token request leaves `code_verifier` out (null drops a
    /// form field) rather than send an empty one, which RFC 7636 forbids.
    fn set_code(&mut self, step: &CompiledStep<'_>, code: &str, verifier: Option<&str>, redirect_uri: &str) {
        for (var, value) in
            [(AUTHORIZATION_CODE, Some(code)), (CODE_VERIFIER, verifier), (REDIRECT_URI, Some(redirect_uri))]
        {
            self.scope.set(
                &profile_var(step, var),
                value.map_or(minijinja::Value::from(()), minijinja::Value::from),
            );
        }
    }

    /// Shows `url` to the person who approves, as `BATON_BROWSER` says.
    async fn open(&mut self, url: &str, path: &str, port: u16) -> Result<(), String> {
        use std::io::IsTerminal as _;
        match &self.browser {
            Browser::Print => Ok(()),
            Browser::System if !std::io::stderr().is_terminal() => Ok(()),
            Browser::System => {
                // On a thread of its own: `webbrowser::open` waits for some browsers (a
                // text one, say) to end, and the listener must go on meanwhile. A browser
                // that cannot be started leaves the printed URL.
                let url = url.to_string();
                std::thread::spawn(move || drop(webbrowser::open(&url)));
                Ok(())
            }
            Browser::Command(command) => {
                let mut parts = command.split_whitespace();
                let program = parts.next().unwrap_or_default().to_string();
                let args: Vec<String> = parts.map(str::to_string).collect();
                std::process::Command::new(&program)
                    .args(&args)
                    .arg(url)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map(drop)
                    .map_err(|e| format!("BATON_BROWSER=`{command}` could not start: {e}"))
            }
            Browser::Fetch => self.fetch(url, path, port).await,
        }
    }

    /// `BATON_BROWSER=fetch`: baton plays the browser, following the authorization
    /// server's redirects (cookies kept) until one points at its own listener, which it
    /// then calls.
    async fn fetch(&mut self, url: &str, path: &str, port: u16) -> Result<(), String> {
        let mut next = url.to_string();
        for _ in 0..MAX_FETCH_HOPS {
            let mut req = ResolvedRequest::new("GET", &next);
            req.redirects = Some(0);
            let ex = self
                .client
                .send(&req, self.jar.as_ref())
                .await
                .map_err(|e| format!("fetching the authorization URL failed: {e}"))?;
            let location = ex
                .header("location")
                .ok_or_else(|| format!("the authorization server answered {} without a redirect: someone has to approve in a browser", ex.status))?;
            let target = url::Url::parse(&next)
                .and_then(|base| base.join(location))
                .map_err(|e| format!("bad redirect `{location}`: {e}"))?;
            let back = target.host().is_some_and(|h| {
                matches!(h, url::Host::Domain("localhost"))
                    || matches!(h, url::Host::Ipv4(ip) if ip.is_loopback())
                    || matches!(h, url::Host::Ipv6(ip) if ip.is_loopback())
            }) && target.port() == Some(port)
                && target.path() == path;
            if back {
                // The listener answers this one; its page is not needed.
                let mut call = ResolvedRequest::new("GET", target.as_str());
                call.redirects = Some(0);
                let _ = self.client.send(&call, None).await;
                return Ok(());
            }
            next = target.to_string();
        }
        Err(format!("the authorization server redirected more than {MAX_FETCH_HOPS} times"))
    }
}

/// The authorization server refused (RFC 6749 4.1.2.1).
fn refused(step: &CompiledStep<'_>, error: &str, description: Option<&str>) -> StepError {
    let error = crate::printable::line(error);
    let said = description.map(|d| format!(" ({})", crate::printable::line(d))).unwrap_or_default();
    let help = match &*error {
        "access_denied" => {
            Some("the person approving said no, or the client may not ask for this scope".to_string())
        }
        "invalid_scope" => Some("ask for a scope the client is allowed (`scope:`)".to_string()),
        _ => None,
    };
    StepError {
        message: format!("the authorization was refused: {error}{said}"),
        span: Some(step.name_span),
        help,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_the_rfc_7636_example() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let v = verifier();
        assert!(v.len() >= 43 && v.chars().all(|c| c.is_ascii_alphanumeric()), "{v}");
    }

    #[test]
    fn redirects_are_read_from_a_url_or_a_query_and_refusals_are_kept() {
        assert_eq!(
            callback_of("http://127.0.0.1:5/cb?code=a%2Bb&state=s1"),
            Some(Callback::Code { code: "a+b".into(), state: Some("s1".into()) })
        );
        assert_eq!(
            callback_of("/cb?error=access_denied&error_description=no&state=s"),
            Some(Callback::Refused {
                error: "access_denied".into(),
                description: Some("no".into()),
                state: Some("s".into())
            })
        );
        assert_eq!(callback_of("just-a-code"), None);
    }

    #[test]
    fn only_loopback_http_redirects_are_listened_on() {
        assert_eq!(
            loopback("http://127.0.0.1:8765/cb").map(|(a, p, _)| (a.port(), p)),
            Ok((8765, "/cb".into()))
        );
        assert_eq!(
            loopback("http://localhost/callback").map(|(a, p, _)| (a.port(), p)),
            Ok((0, "/callback".into()))
        );
        assert!(loopback("https://app.example.com/cb").expect_err("not loopback").contains("not a loopback"));
        assert!(loopback("https://127.0.0.1/cb").expect_err("https").contains("must be http://"));
    }
}
