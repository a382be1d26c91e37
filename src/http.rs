//! The one HTTP client: the only module that touches the network.
//!
//! One reqwest client per run (rustls with the ring provider, the OS trust store plus
//! `--cacert`, keep-alive, gzip/brotli/deflate). It sends a fully rendered
//! [`ResolvedRequest`] and returns an [`Exchange`] whose body is read once and whose
//! JSON is parsed at most once, on first use.
//!
//! Two promises against servers baton does not control live here:
//! - **Bounded bodies.** The body is read as a stream of decoded bytes and reading stops
//!   as soon as it passes the cap (`--max-body-size`), so an endless or compressed body
//!   costs at most the cap.
//! - **Redirects by baton's rules, not reqwest's.** reqwest follows nothing; [`HttpClient`]
//!   follows up to the [`RedirectPolicy`]'s count. On a change of origin it strips every
//!   credential header, refuses to re-send a body that holds secrets, and it never
//!   follows https → http unless the policy allows it.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use crate::cookies::Jar;
use crate::exchange::TlsChoice;
pub use crate::exchange::{Exchange, RedirectPolicy, ResolvedBody, ResolvedPart, ResolvedRequest};
use crate::model::HttpVersion;
use crate::secret::is_secret_name;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The largest decoded response body read by default: above the 200 MB bodies of the
/// benchmark, far below what would exhaust a CI runner.
pub const DEFAULT_MAX_BODY: u64 = 256 * 1024 * 1024;

/// Client settings from the command line.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Default per-request timeout.
    pub timeout: Option<Duration>,
    /// Extra trusted roots (PEM).
    pub cacert: Option<Vec<u8>>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Largest decoded response body, in bytes.
    pub max_body: u64,
    /// How requests follow redirects unless a step says otherwise.
    pub redirects: RedirectPolicy,
    /// `--cert` and `--key` (PEM): a client certificate for every request.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: None,
            cacert: None,
            insecure: false,
            max_body: DEFAULT_MAX_BODY,
            redirects: RedirectPolicy::default(),
            identity: None,
        }
    }
}

/// Why a request could not complete.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not valid.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A header name or value is not valid.
    #[error("invalid header `{name}`: {reason}")]
    InvalidHeader {
        /// Header name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A multipart file could not be read.
    #[error("cannot read `{path}` for the multipart body: {reason}")]
    File {
        /// Path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Certificate verification failed.
    #[error("TLS error: {}", tls_text(.detail))]
    Tls {
        /// What the TLS library said.
        detail: String,
        /// Whether `--cacert` was given (the advice differs).
        cacert: bool,
    },
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Connection refused, DNS failure, reset…
    #[error("connection failed: {0}")]
    Connect(String),
    /// The server closed the connection before answering.
    #[error("the server closed the connection without answering ({0})")]
    Closed(String),
    /// The decoded response body passed the cap; reading stopped there.
    #[error("response body larger than {} (the limit); raise it with --max-body-size", human_size(*limit))]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    /// Still redirected after following as many redirects as allowed.
    #[error(
        "still redirected after {limit} redirects (the limit), last to `{url}`; raise it with --max-redirects"
    )]
    TooManyRedirects {
        /// Redirects followed.
        limit: u32,
        /// Where the last redirect pointed.
        url: String,
    },
    /// A redirect from https to plain http, not allowed by the policy.
    #[error(
        "refused a redirect from HTTPS to plain HTTP (`{from}` to `{to}`); \
         pass --allow-insecure-redirects to follow it (credentials are still not sent)"
    )]
    InsecureRedirect {
        /// The https URL that redirected.
        from: String,
        /// The http URL it pointed at.
        to: String,
    },
    /// A 307/308 to another origin would re-send a body that holds credentials.
    #[error(
        "refused a {status} redirect to another origin (`{origin}`): it would re-send the request body, \
         {why}; point the step at the final URL instead"
    )]
    SecretBodyRedirect {
        /// 307 or 308.
        status: u16,
        /// The other origin, `scheme://host:port`.
        origin: String,
        /// What makes the body secret, as a clause.
        why: &'static str,
    },
    /// A redirect whose `Location` is not a URL baton can follow.
    #[error("cannot follow the {status} redirect to `{location}`: {reason}")]
    BadRedirect {
        /// The redirect's status.
        status: u16,
        /// The `Location` header as received.
        location: String,
        /// Why.
        reason: String,
    },
    /// Anything else reqwest reports.
    #[error("{0}")]
    Other(String),
    /// The client could not be built (bad `--cacert`…).
    #[error("{0}")]
    Setup(String),
}

/// A byte count for messages: the largest unit that states it exactly (`256 MiB`,
/// `1 MB`, `1500 bytes`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "kB"),
    ];
    UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit && bytes.is_multiple_of(*unit))
        .map_or_else(|| format!("{bytes} bytes"), |(unit, name)| format!("{} {name}", bytes / unit))
}

/// A TLS failure: in plain words first when they are known, then the library's text.
fn tls_text(detail: &str) -> String {
    match crate::tls::plain_words(detail) {
        Some((words, _)) => format!("{words} ({detail})"),
        None => detail.to_string(),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn classify(e: &reqwest::Error, timeout: Duration) -> HttpError {
    let text = chain(e);
    let lower = text.to_lowercase();
    if e.is_timeout() {
        HttpError::Timeout(timeout)
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("unknownissuer") {
        HttpError::Tls { detail: text, cacert: false }
    } else if closed_unanswered(e) {
        HttpError::Closed(text)
    } else if e.is_connect() {
        // The innermost cause says what happened ("Connection refused"); the URL says where.
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let host = e.url().and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)));
        let cause = cause.to_string();
        let cause = cause.split(" (os error").next().unwrap_or(&cause).to_string();
        HttpError::Connect(match host {
            Some(h) => format!("{h}: {cause}"),
            None => cause,
        })
    } else {
        HttpError::Other(text)
    }
}

/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(4);

/// Methods a client may send twice without changing what the first did (RFC 9110 9.2.2).
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// Whether `e` says the connection was closed or reset before any answer arrived: not a
/// timeout, a refused connection, a TLS failure or a bad request, but the server's side
/// of a kept-alive connection going away under the request.
fn closed_unanswered(e: &reqwest::Error) -> bool {
    if e.is_timeout()
        || e.is_connect()
        || e.is_builder()
        || e.is_redirect()
        || e.is_status()
        || e.is_body()
        || e.is_decode()
    {
        return false;
    }
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
            if matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) {
                return true;
            }
        }
        // hyper's `IncompleteMessage`: the connection closed before a response began.
        if c.to_string().contains("connection closed before message completed") {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Headers that carry credentials: never sent to an origin other than the one the
/// request was written for.
fn is_credential_header(name: &HeaderName) -> bool {
    crate::resolve::is_credential_header(name.as_str())
}

/// Why re-sending `body` to another origin would hand it credentials, if it would: a
/// field named like a secret, or any raw text when the request carried credentials (it
/// may hold them in a shape baton cannot read).
fn secret_in_body(body: &ResolvedBody, carried_credentials: bool) -> Option<&'static str> {
    let named = match body {
        ResolvedBody::None => false,
        ResolvedBody::Json(value) => json_has_secret_key(value),
        ResolvedBody::Form(pairs) => pairs.iter().any(|(name, _)| is_secret_name(name)),
        ResolvedBody::Multipart(parts) => parts.iter().any(|p| match p {
            ResolvedPart::Text { name, .. } | ResolvedPart::File { name, .. } => is_secret_name(name),
        }),
        ResolvedBody::Raw { .. } | ResolvedBody::File { .. } => {
            return carried_credentials.then_some("raw text that may hold the request's credentials");
        }
    };
    named.then_some("which has a field named like a credential")
}

/// Any object key at any depth named like a secret (iterative: bodies nest arbitrarily).
fn json_has_secret_key(value: &serde_json::Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                if map.keys().any(|k| is_secret_name(k)) {
                    return true;
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    false
}

/// `scheme://host:port` of a URL, for messages.
fn origin_text(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A request on its way through redirects: what the next hop sends.
struct Hop<'r> {
    method: Method,
    url: Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Headers whose values hold a secret (from resolve), whatever their names.
    secret: Vec<HeaderName>,
    /// `None` once a 301/302/303 turned the request into a GET.
    body: Option<&'r ResolvedBody>,
    /// Digest or SigV4 credentials; `None` once a redirect left the origin.
    signing: Option<&'r crate::exchange::Signing>,
}

impl Hop<'_> {
    /// Applies one redirect answered with `status` to `next`, by the rules in the module
    /// doc; `carried_credentials` is about the request as written.
    fn redirect(
        &mut self,
        status: StatusCode,
        next: Url,
        policy: RedirectPolicy,
        carried_credentials: bool,
    ) -> Result<(), HttpError> {
        if self.url.scheme() == "https" && next.scheme() == "http" && !policy.allow_insecure {
            return Err(HttpError::InsecureRedirect { from: self.url.to_string(), to: next.to_string() });
        }
        // 301/302 turn any method into GET in practice (browsers, curl -L); 303 says so.
        if matches!(status.as_u16(), 301..=303) && self.method != Method::HEAD {
            self.method = Method::GET;
            self.body = None;
            self.headers.retain(|(n, _)| {
                !matches!(
                    n.as_str(),
                    "content-type" | "content-length" | "content-encoding" | "transfer-encoding"
                )
            });
        }
        if next.origin() != self.url.origin() {
            if let Some(why) = self.body.and_then(|b| secret_in_body(b, carried_credentials)) {
                return Err(HttpError::SecretBodyRedirect {
                    status: status.as_u16(),
                    origin: origin_text(&next),
                    why,
                });
            }
            // `Host` written for the first origin would misdirect the request at the next one.
            let secret = &self.secret;
            self.headers.retain(|(n, _)| {
                !is_credential_header(n) && !secret.contains(n) && n != reqwest::header::HOST
            });
            self.signing = None;
        }
        self.url = next;
        Ok(())
    }
}

/// Where a redirect answer points, resolved against the URL that answered; `None` when
/// the answer is not a redirect to follow (not 301/302/303/307/308, or no `Location`).
fn redirect_target(current: &Url, response: &reqwest::Response) -> Option<Result<Url, HttpError>> {
    let status = response.status();
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let raw = response.headers().get(reqwest::header::LOCATION)?;
    let location = String::from_utf8_lossy(raw.as_bytes()).into_owned();
    let bad = |reason: String| HttpError::BadRedirect {
        status: status.as_u16(),
        location: location.clone(),
        reason,
    };
    Some(match std::str::from_utf8(raw.as_bytes()) {
        Err(_) => Err(bad("the Location header is not UTF-8".into())),
        Ok(text) => match current.join(text.trim()) {
            Err(e) => Err(bad(e.to_string())),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                Err(bad(format!("scheme `{}` is not http or https", url.scheme())))
            }
            Ok(url) => Ok(url),
        },
    })
}

/// Reads the decoded body as it arrives, stopping as soon as it passes `limit`.
async fn read_body(
    response: &mut reqwest::Response,
    limit: u64,
    timeout: Duration,
) -> Result<Vec<u8>, HttpError> {
    // Without compression the length is known up front: no need to read what will be refused.
    let known = response.content_length();
    if known.is_some_and(|n| n > limit) {
        return Err(HttpError::BodyTooLarge { limit });
    }
    let presize = usize::try_from(known.unwrap_or(0).min(limit)).unwrap_or(0);
    let mut body = Vec::with_capacity(presize);
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, timeout))? {
        let total = u64::try_from(body.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if total > limit {
            return Err(HttpError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The run's HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    max_body: u64,
    redirects: RedirectPolicy,
    cacert: bool,
    opts: Arc<ClientOptions>,
    /// A client per step TLS choice (`tls:`, `http:`), built when first needed.
    variants: Arc<Mutex<HashMap<TlsChoice, reqwest::Client>>>,
}

/// Default request timeout when neither the step nor `--timeout` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl HttpClient {
    /// Builds the client.
    pub fn new(opts: &ClientOptions) -> Result<Self, HttpError> {
        // Several runs in one process (tests) may race to install; either way one provider wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = build(opts, None)?;
        Ok(HttpClient {
            client,
            timeout: opts.timeout.unwrap_or(DEFAULT_TIMEOUT),
            max_body: opts.max_body,
            redirects: opts.redirects,
            cacert: opts.cacert.is_some(),
            opts: Arc::new(opts.clone()),
            variants: Arc::default(),
        })
    }

    /// The client for a request: the run's, or the one for its step's TLS choice.
    fn client_for(&self, req: &ResolvedRequest) -> Result<reqwest::Client, HttpError> {
        let Some(choice) = &req.tls else { return Ok(self.client.clone()) };
        let mut variants =
            self.variants.lock().map_err(|_| HttpError::Other("client cache poisoned".into()))?;
        if let Some(c) = variants.get(choice) {
            return Ok(c.clone());
        }
        let client = build(&self.opts, Some(choice))?;
        variants.insert(choice.clone(), client.clone());
        Ok(client)
    }
}

/// Reads a PEM file a step names, for its TLS settings.
fn read_pem(path: &std::path::Path, what: &str) -> Result<Vec<u8>, HttpError> {
    std::fs::read(path).map_err(|e| HttpError::Setup(format!("{what} `{}`: {e}", path.display())))
}

/// A reqwest client for the run's options, with a step's TLS choice over them.
fn build(opts: &ClientOptions, choice: Option<&TlsChoice>) -> Result<reqwest::Client, HttpError> {
    let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let insecure = opts.insecure || choice.is_some_and(|c| c.insecure);
    let (ca, ca_what) = match choice.and_then(|c| c.ca.as_ref()) {
        Some(path) => (Some(read_pem(path, "tls.ca")?), "tls.ca"),
        None => (opts.cacert.clone(), "--cacert"),
    };
    let (identity, id_what) = match choice.and_then(|c| c.identity.as_ref()) {
        Some((cert, key)) => (Some((read_pem(cert, "tls.cert")?, read_pem(key, "tls.key")?)), "tls.cert"),
        None => (opts.identity.clone(), "--cert"),
    };
    {
        let mut b = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // Below common server keep-alives (Node's 5 s, many proxies' 5-15 s), so an
            // idle connection is dropped here before the server closes it under a request.
            .pool_idle_timeout(POOL_IDLE)
            // Redirects are followed by `send`, under baton's rules.
            .redirect(reqwest::redirect::Policy::none());
        let identity = identity
            .map(|(cert, key)| crate::tls::identity(&cert, &key))
            .transpose()
            .map_err(|e| HttpError::Setup(format!("{id_what}: {e}")))?;
        let extra = match (&ca, insecure) {
            (Some(pem), false) => {
                crate::tls::certificates(pem).map_err(|e| HttpError::Setup(format!("{ca_what}: {e}")))?
            }
            _ => Vec::new(),
        };
        if identity.is_some() || !extra.is_empty() {
            let config = crate::tls::client_config(extra, identity, insecure)
                .map_err(|e| HttpError::Setup(format!("{ca_what}: {e}")))?;
            b = b.tls_backend_preconfigured(config);
        } else if insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        match choice.and_then(|c| c.http) {
            Some(HttpVersion::Http1) => b = b.http1_only(),
            Some(HttpVersion::Http2) => b = b.http2_prior_knowledge(),
            None => {}
        }
        b.build().map_err(|e| HttpError::Setup(chain(&e)))
    }
}

impl HttpClient {
    /// The timeout `req` is sent with: its own (the step's), else the run's.
    pub fn timeout_for(&self, req: &ResolvedRequest) -> Duration {
        req.timeout.unwrap_or(self.timeout)
    }

    /// Sends one request, following redirects by the run's policy (narrowed by the
    /// request's own limit), and reads the whole response. With a `jar`, its cookies go
    /// out with every hop they match and what the answers set is kept in it.
    pub async fn send(&self, req: &ResolvedRequest, jar: Option<&Jar>) -> Result<Exchange, HttpError> {
        let mut policy = self.redirects;
        if let Some(max) = req.redirects {
            policy.max = max;
        }
        self.send_with(req, policy, jar).await
    }

    /// Sends one request, following redirects by `policy`, and reads the whole response.
    /// The request's timeout covers every redirect and the body.
    pub async fn send_with(
        &self,
        req: &ResolvedRequest,
        policy: RedirectPolicy,
        jar: Option<&Jar>,
    ) -> Result<Exchange, HttpError> {
        let timeout = req.timeout.unwrap_or(self.timeout);
        let client = self.client_for(req)?;
        let result = tokio::time::timeout(timeout, self.follow(&client, req, policy, timeout, jar))
            .await
            .unwrap_or(Err(HttpError::Timeout(timeout)));
        result.map_err(|e| match e {
            HttpError::Tls { detail, .. } => HttpError::Tls { detail, cacert: self.cacert },
            other => other,
        })
    }

    async fn follow(
        &self,
        client: &reqwest::Client,
        req: &ResolvedRequest,
        policy: RedirectPolicy,
        timeout: Duration,
        jar: Option<&Jar>,
    ) -> Result<Exchange, HttpError> {
        let url = Url::parse(&req.url)
            .map_err(|e| HttpError::InvalidUrl { url: req.url.clone(), reason: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::InvalidUrl {
                url: req.url.clone(),
                reason: format!("scheme `{}` is not http or https", url.scheme()),
            });
        }
        let method =
            Method::from_bytes(req.method.as_bytes()).map_err(|e| HttpError::Other(e.to_string()))?;
        let mut headers = Vec::with_capacity(req.headers.len());
        for (name, value) in &req.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| HttpError::InvalidHeader { name: name.clone(), reason: e.to_string() })?;
            let v = HeaderValue::from_str(value)
                .map_err(|e| HttpError::InvalidHeader { name: name.clone(), reason: e.to_string() })?;
            headers.push((n, v));
        }
        let secret: Vec<HeaderName> =
            req.secret_headers.iter().filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok()).collect();
        let carried_credentials = headers.iter().any(|(n, _)| is_credential_header(n) || secret.contains(n));
        let carried_credentials = carried_credentials || req.signing.is_some();
        let mut hop =
            Hop { method, url, headers, secret, body: Some(&req.body), signing: req.signing.as_ref() };
        // Digest answers so far: one per challenge, and one more when the server says the
        // nonce it took was stale.
        let mut digest_answers = 0u8;
        let mut redirects = Vec::new();
        let started = Instant::now();
        let mut sent = None;
        let mut resent = false;
        let mut cookies = Vec::new();
        let mut response = loop {
            let (response, headers, again) = Self::send_once(client, &hop, timeout, jar).await?;
            sent.get_or_insert(headers);
            resent |= again;
            // A Digest challenge is answered once on the same hop, and once again when
            // the server says the nonce went stale meanwhile.
            if response.status() == StatusCode::UNAUTHORIZED
                && let Some(crate::exchange::Signing::Digest { username, password }) = hop.signing
                && let Some((answer, stale)) = digest_answer(&response, &hop, username, password)
                && (digest_answers == 0 || (digest_answers == 1 && stale))
            {
                digest_answers += 1;
                hop.headers.retain(|(n, _)| n != reqwest::header::AUTHORIZATION);
                hop.headers.push((reqwest::header::AUTHORIZATION, answer));
                continue;
            }
            let set_cookie = response
                .headers()
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok());
            cookies.extend(match jar {
                Some(jar) => jar.store(&hop.url, set_cookie),
                None => crate::cookies::parse_set_cookies(set_cookie),
            });
            let next = match redirect_target(&hop.url, &response) {
                Some(next) if policy.max > 0 => next?,
                _ => break response,
            };
            if redirects.len() >= usize::try_from(policy.max).unwrap_or(usize::MAX) {
                return Err(HttpError::TooManyRedirects { limit: policy.max, url: next.to_string() });
            }
            hop.redirect(response.status(), next, policy, carried_credentials)?;
            redirects.push(hop.url.to_string());
        };
        let status = response.status().as_u16();
        let version = format!("{:?}", response.version());
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = read_body(&mut response, self.max_body, timeout).await?;
        let mut exchange = Exchange::received(status, version, headers, body, started.elapsed());
        exchange.redirects = redirects;
        exchange.sent = sent.unwrap_or_default();
        exchange.resent = resent;
        exchange.cookies = cookies;
        exchange.url = hop.url.to_string();
        Ok(exchange)
    }

    /// One request of a chain, as `hop` says, the headers it went out with, and whether
    /// it had to be sent again on a fresh connection (see [`closed_unanswered`]); the
    /// body is rebuilt for each hop (a multipart file is read again).
    async fn send_once(
        client: &reqwest::Client,
        hop: &Hop<'_>,
        timeout: Duration,
        jar: Option<&Jar>,
    ) -> Result<(reqwest::Response, Vec<(String, String)>, bool), HttpError> {
        let mut rb = client.request(hop.method.clone(), hop.url.clone());
        // The jar's cookies for this hop join a `Cookie` header the step wrote (which a
        // redirect to another origin has already dropped).
        let from_jar = jar.and_then(|j| j.header_for(&hop.url));
        let jar_cookies = from_jar.is_some();
        if let Some(from_jar) = from_jar {
            let own = hop
                .headers
                .iter()
                .find(|(n, _)| n == reqwest::header::COOKIE)
                .and_then(|(_, v)| v.to_str().ok());
            let value = match own {
                Some(own) if !own.trim().is_empty() => format!("{own}; {from_jar}"),
                _ => from_jar,
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                rb = rb.header(reqwest::header::COOKIE, v);
            }
        }
        let has_content_type = hop.headers.iter().any(|(n, _)| n == reqwest::header::CONTENT_TYPE);
        // A multipart body's content type carries its boundary: it replaces one written.
        let is_multipart = matches!(hop.body, Some(ResolvedBody::Multipart(_)));
        for (n, v) in &hop.headers {
            // The boundary's content type, and the cookie header joined with the jar's.
            let replaced = (is_multipart && n == reqwest::header::CONTENT_TYPE)
                || (jar_cookies && n == reqwest::header::COOKIE);
            if !replaced {
                rb = rb.header(n.clone(), v.clone());
            }
        }
        rb = match hop.body.unwrap_or(&ResolvedBody::None) {
            ResolvedBody::None => rb,
            ResolvedBody::Json(v) => {
                let bytes = serde_json::to_vec(v).map_err(|e| HttpError::Other(e.to_string()))?;
                if !has_content_type {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json");
                }
                rb.body(bytes)
            }
            ResolvedBody::Form(pairs) => rb.form(pairs),
            ResolvedBody::Raw { text, content_type } => {
                if let (Some(ct), false) = (content_type, has_content_type) {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, ct.as_str());
                }
                rb.body(text.clone())
            }
            ResolvedBody::Multipart(parts) => rb.multipart(multipart(parts).await?),
            ResolvedBody::File { path, content_type } => {
                let bytes = read_file(path).await?;
                if !has_content_type {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, content_type.as_str());
                }
                rb.body(bytes)
            }
        };
        let mut request = rb.build().map_err(|e| classify(&e, timeout))?;
        if let Some(crate::exchange::Signing::SigV4(creds)) = hop.signing {
            sign_sigv4(&mut request, creds);
        }
        let sent = sent_headers(&request);
        // A server may close an idle connection just as a request goes out on it: an
        // idempotent request that got no answer byte is sent once more, on a fresh
        // connection (the pool drops the closed one). A POST or PATCH never is: the
        // server may have acted on it.
        let again = if is_idempotent(&hop.method) { request.try_clone() } else { None };
        match client.execute(request).await {
            Ok(response) => Ok((response, sent, false)),
            Err(e) if closed_unanswered(&e) && again.is_some() => {
                let request = again.expect("checked above");
                let response = client.execute(request).await.map_err(|e| classify(&e, timeout))?;
                Ok((response, sent, true))
            }
            Err(e) => Err(classify(&e, timeout)),
        }
    }
}

/// What the client adds to every request that does not set it: the user agent and
/// `accept` (reqwest's defaults) and `accept-encoding` (its decompression layer).
const USER_AGENT: &str = concat!("baton/", env!("CARGO_PKG_VERSION"));
const ACCEPT_ENCODING: &str = "gzip,deflate,br";

/// The headers `request` goes out with, as the server sees them on HTTP/1.1: `host`, its
/// own, then those the client and the connection add (`-v` shows exactly these).
fn sent_headers(request: &reqwest::Request) -> Vec<(String, String)> {
    use reqwest::header;
    let h = request.headers();
    let mut out = Vec::with_capacity(h.len() + 5);
    let url = request.url();
    if !h.contains_key(header::HOST)
        && let Some(host) = url.host_str()
    {
        out.push((
            "host".to_string(),
            url.port().map_or_else(|| host.to_string(), |p| format!("{host}:{p}")),
        ));
    }
    out.extend(
        h.iter().map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())),
    );
    for (name, value) in [
        (header::USER_AGENT, USER_AGENT),
        (header::ACCEPT, "*/*"),
        (header::ACCEPT_ENCODING, ACCEPT_ENCODING),
    ] {
        if !h.contains_key(&name) {
            out.push((name.as_str().to_string(), value.to_string()));
        }
    }
    if !h.contains_key(header::CONTENT_LENGTH)
        && !h.contains_key(header::TRANSFER_ENCODING)
        && let Some(len) = request.body().and_then(|b| b.as_bytes()).map(<[u8]>::len)
        && (len > 0
            || !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE))
    {
        out.push(("content-length".to_string(), len.to_string()));
    }
    out
}

impl HttpClient {}

/// The largest file a body or a multipart part sends.
pub const MAX_FILE: u64 = 1024 * 1024 * 1024;

/// The `Authorization` answering a Digest challenge of `response` for `hop`, and whether
/// the challenge says the last nonce was stale.
fn digest_answer(
    response: &reqwest::Response,
    hop: &Hop<'_>,
    user: &str,
    password: &str,
) -> Option<(HeaderValue, bool)> {
    let challenge = response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(crate::signing::digest_challenge)?;
    let uri = match hop.url.query() {
        Some(q) => format!("{}?{q}", hop.url.path()),
        None => hop.url.path().to_string(),
    };
    let cnonce = format!("{:016x}", fastrand::u64(..));
    let value =
        crate::signing::digest_authorization(&challenge, user, password, hop.method.as_str(), &uri, &cnonce);
    HeaderValue::from_str(&value).ok().map(|v| (v, challenge.stale))
}

/// Adds the AWS Signature Version 4 headers to a built request (its final URL, headers
/// and body bytes; a streamed body is sent as `UNSIGNED-PAYLOAD`).
fn sign_sigv4(request: &mut reqwest::Request, creds: &crate::signing::AwsCredentials) {
    let payload = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .map_or_else(|| "UNSIGNED-PAYLOAD".to_string(), crate::signing::payload_hash);
    if let Ok(v) = HeaderValue::from_str(&payload) {
        request.headers_mut().insert("x-amz-content-sha256", v);
    }
    let now = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let method = request.method().as_str().to_string();
    for (name, value) in crate::signing::sigv4(creds, &method, request.url(), &headers, &payload, &now) {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            request.headers_mut().insert(n, v);
        }
    }
}

/// A file to send, whole; refused above [`MAX_FILE`] before it is read.
async fn read_file(path: &std::path::Path) -> Result<Vec<u8>, HttpError> {
    let fail = |reason: String| HttpError::File { path: path.display().to_string(), reason };
    let meta = tokio::fs::metadata(path).await.map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a file".into()));
    }
    if meta.len() > MAX_FILE {
        return Err(fail(format!(
            "{} is over the {} a body may send",
            human_size(meta.len()),
            human_size(MAX_FILE)
        )));
    }
    tokio::fs::read(path).await.map_err(|e| fail(e.to_string()))
}

async fn multipart(parts: &[ResolvedPart]) -> Result<reqwest::multipart::Form, HttpError> {
    let mut form = reqwest::multipart::Form::new();
    for p in parts {
        form = match p {
            ResolvedPart::Text { name, value } => form.text(name.clone(), value.clone()),
            ResolvedPart::File { name, path, filename, content_type } => {
                let bytes = read_file(path).await?;
                let mut part = reqwest::multipart::Part::bytes(bytes).file_name(filename.clone());
                if let Some(ct) = content_type {
                    part = part
                        .mime_str(ct)
                        .map_err(|e| HttpError::Other(format!("multipart content type `{ct}`: {e}")))?;
                }
                form.part(name.clone(), part)
            }
        };
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    //! The parts that decide without a network: error chains, messages, client setup and
    //! requests refused before anything is sent.

    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    fn send(req: &ResolvedRequest) -> Result<Exchange, HttpError> {
        let client = HttpClient::new(&ClientOptions::default()).expect("client");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(client.send(req, None))
    }

    fn get(url: &str, headers: &[(&str, &str)]) -> ResolvedRequest {
        ResolvedRequest {
            method: "GET".into(),
            url: url.into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: ResolvedBody::None,
            timeout: Some(Duration::from_millis(200)),
            secret_headers: Vec::new(),
            redirects: None,
            tls: None,
            signing: None,
        }
    }

    fn hop<'r>(method: &str, url: &str, headers: &[(&str, &'static str)], body: &'r ResolvedBody) -> Hop<'r> {
        Hop {
            method: Method::from_bytes(method.as_bytes()).expect("method"),
            url: Url::parse(url).expect("url"),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (HeaderName::from_bytes(n.as_bytes()).expect("name"), HeaderValue::from_static(v))
                })
                .collect(),
            secret: Vec::new(),
            body: Some(body),
            signing: None,
        }
    }

    fn names<'h>(hop: &'h Hop<'_>) -> Vec<&'h str> {
        hop.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn to(url: &str) -> Url {
        Url::parse(url).expect("url")
    }

    const CREDENTIALS: &[(&str, &str)] = &[
        ("authorization", "Bearer t"),
        ("proxy-authorization", "Basic p"),
        ("cookie", "sid=1"),
        ("x-api-key", "k"),
        ("api-key", "k"),
        ("x-auth-token", "t"),
        ("x-client-secret", "s"),
        ("accept", "application/json"),
        ("x-request-id", "42"),
    ];

    fn redirect(hop: &mut Hop<'_>, status: u16, next: &str) -> Result<(), HttpError> {
        let carried = hop.headers.iter().any(|(n, _)| is_credential_header(n));
        hop.redirect(
            StatusCode::from_u16(status).expect("status"),
            to(next),
            RedirectPolicy::default(),
            carried,
        )
    }

    #[test]
    fn another_origin_gets_no_credential_header_and_the_same_origin_keeps_them() {
        let body = ResolvedBody::None;
        let mut same = hop("GET", "http://127.0.0.1:1000/a", CREDENTIALS, &body);
        redirect(&mut same, 302, "http://127.0.0.1:1000/b").expect("same origin");
        assert_eq!(names(&same).len(), CREDENTIALS.len(), "same origin keeps every header");
        for other in ["http://127.0.0.1:2000/b", "http://localhost:1000/b", "https://127.0.0.1:1000/b"] {
            let mut h = hop("GET", "http://127.0.0.1:1000/a", CREDENTIALS, &body);
            redirect(&mut h, 302, other).expect("followed");
            assert_eq!(names(&h), ["accept", "x-request-id"], "{other}");
            assert_eq!(h.url, to(other));
        }
    }

    #[test]
    fn the_default_port_is_the_same_origin_and_host_headers_stay_behind() {
        let body = ResolvedBody::None;
        let mut h = hop("GET", "https://api.example.test/a", &[("authorization", "Bearer t")], &body);
        redirect(&mut h, 301, "https://api.example.test:443/b").expect("same origin");
        assert_eq!(names(&h), ["authorization"]);
        let mut h = hop("GET", "http://a.test/", &[("host", "a.test"), ("accept", "*/*")], &body);
        redirect(&mut h, 302, "http://b.test/").expect("followed");
        assert_eq!(names(&h), ["accept"]);
    }

    #[test]
    fn see_other_and_friends_turn_into_a_get_without_a_body_but_head_stays_head() {
        let body = ResolvedBody::Form(vec![("password".into(), "pw".into())]);
        for status in [301, 302, 303] {
            let mut h =
                hop("POST", "http://127.0.0.1:1/login", &[("content-type", "x"), ("accept", "y")], &body);
            // Even to another origin: the secret body is not re-sent, so nothing to refuse.
            redirect(&mut h, status, "http://127.0.0.1:2/home").expect("followed");
            assert_eq!((h.method.as_str(), h.body.is_none()), ("GET", true), "{status}");
            assert_eq!(names(&h), ["accept"], "{status}: no content headers without a body");
        }
        let mut h = hop("HEAD", "http://127.0.0.1:1/x", &[], &ResolvedBody::None);
        redirect(&mut h, 303, "http://127.0.0.1:1/y").expect("followed");
        assert_eq!(h.method, Method::HEAD);
    }

    #[test]
    fn temporary_and_permanent_redirects_keep_method_and_body() {
        let body = ResolvedBody::Json(serde_json::json!({"name": "x"}));
        for status in [307, 308] {
            let mut h = hop("PUT", "http://127.0.0.1:1/a", &[("content-type", "application/json")], &body);
            redirect(&mut h, status, "http://127.0.0.1:2/b").expect("no secret in the body");
            assert_eq!((h.method.as_str(), h.body.is_some()), ("PUT", true));
            assert_eq!(names(&h), ["content-type"]);
        }
    }

    #[test]
    fn a_body_holding_secrets_is_never_resent_to_another_origin() {
        let bodies = [
            ResolvedBody::Form(vec![
                ("grant_type".into(), "password".into()),
                ("client_secret".into(), "s".into()),
            ]),
            ResolvedBody::Json(serde_json::json!({"user": {"profile": [{"Password": "pw"}]}})),
            ResolvedBody::Multipart(vec![ResolvedPart::Text { name: "api_key".into(), value: "k".into() }]),
        ];
        for body in &bodies {
            for status in [307, 308] {
                let mut h = hop("POST", "https://a.test/token", &[], body);
                let err = redirect(&mut h, status, "https://b.test/token").expect_err("secret body");
                assert!(
                    matches!(err, HttpError::SecretBodyRedirect { status: s, ref origin, .. } if s == status && origin == "https://b.test"),
                    "{err}"
                );
                let mut h = hop("POST", "https://a.test/token", &[], body);
                redirect(&mut h, status, "https://a.test/v2/token").expect("the same origin may have it");
            }
        }
    }

    #[test]
    fn a_raw_body_is_resent_elsewhere_only_when_the_request_carried_no_credentials() {
        let body = ResolvedBody::Raw { text: "<q>opaque</q>".into(), content_type: None };
        let mut h = hop("POST", "http://a.test/", &[], &body);
        redirect(&mut h, 307, "http://b.test/").expect("nothing secret about it");
        let mut h = hop("POST", "http://a.test/", &[("x-api-key", "k")], &body);
        let err = redirect(&mut h, 307, "http://b.test/").expect_err("may hold the credential");
        assert!(matches!(err, HttpError::SecretBodyRedirect { .. }), "{err}");
    }

    #[test]
    fn https_to_http_is_refused_unless_allowed_and_then_still_strips_credentials() {
        let body = ResolvedBody::None;
        let mut h = hop("GET", "https://a.test/x", &[("x-api-key", "k")], &body);
        let err = redirect(&mut h, 302, "http://a.test/x").expect_err("downgrade");
        assert_eq!(
            err.to_string(),
            "refused a redirect from HTTPS to plain HTTP (`https://a.test/x` to `http://a.test/x`); \
             pass --allow-insecure-redirects to follow it (credentials are still not sent)"
        );
        let allow = RedirectPolicy { allow_insecure: true, ..RedirectPolicy::default() };
        h.redirect(StatusCode::FOUND, to("http://a.test/x"), allow, true).expect("allowed");
        assert!(names(&h).is_empty(), "a change of scheme is a change of origin");
    }

    #[test]
    fn credential_headers_are_the_sensitive_list_and_secret_looking_names() {
        let is = |n: &str| is_credential_header(&HeaderName::from_bytes(n.as_bytes()).expect("name"));
        for name in crate::resolve::SENSITIVE_HEADERS.iter().copied().chain([
            "cookie2",
            "x-session-token",
            "x-app-password",
        ]) {
            assert!(is(name), "{name}");
        }
        for name in ["accept", "content-type", "x-token-type", "user-agent"] {
            assert!(!is(name), "{name}");
        }
    }

    #[test]
    fn sizes_read_in_the_unit_that_states_them_exactly() {
        assert_eq!(human_size(DEFAULT_MAX_BODY), "256 MiB");
        assert_eq!(human_size(1_000_000), "1 MB");
        assert_eq!(human_size(1 << 30), "1 GiB");
        assert_eq!(human_size(3 * 1024), "3 KiB");
        assert_eq!(human_size(1500), "1500 bytes");
        assert_eq!(
            HttpError::BodyTooLarge { limit: DEFAULT_MAX_BODY }.to_string(),
            "response body larger than 256 MiB (the limit); raise it with --max-body-size"
        );
    }

    #[test]
    fn error_chains_join_causes_and_skip_ones_already_said() {
        let inner = Layer("connection refused", None);
        let middle = Layer("tcp connect error: connection refused", Some(Box::new(inner)));
        let outer = Layer("error sending request", Some(Box::new(middle)));
        assert_eq!(chain(&outer), "error sending request: tcp connect error: connection refused");
    }

    #[test]
    fn errors_read_as_one_line_each() {
        assert_eq!(HttpError::Timeout(Duration::from_millis(200)).to_string(), "timed out after 200ms");
        assert_eq!(
            HttpError::Connect("127.0.0.1:9: Connection refused".into()).to_string(),
            "connection failed: 127.0.0.1:9: Connection refused"
        );
        let e = HttpError::InvalidHeader { name: "x y".into(), reason: "invalid name".into() };
        assert_eq!(e.to_string(), "invalid header `x y`: invalid name");
    }

    #[test]
    fn a_cacert_without_certificates_is_a_setup_error() {
        for pem in [&b"not a certificate"[..], b""] {
            let opts = ClientOptions { cacert: Some(pem.to_vec()), ..ClientOptions::default() };
            let err = HttpClient::new(&opts).expect_err("no certificate");
            assert!(matches!(err, HttpError::Setup(ref m) if m.starts_with("--cacert")), "{err}");
        }
    }

    #[test]
    fn only_http_and_https_urls_are_sent() {
        let err = send(&get("ftp://127.0.0.1/file", &[])).expect_err("ftp");
        assert_eq!(err.to_string(), "invalid URL `ftp://127.0.0.1/file`: scheme `ftp` is not http or https");
        let err = send(&get("not a url", &[])).expect_err("garbage");
        assert!(matches!(err, HttpError::InvalidUrl { .. }), "{err}");
    }

    #[test]
    fn invalid_header_names_and_values_are_refused_before_sending() {
        // Port 9 (discard) on loopback: these must fail before any connection is tried.
        let err = send(&get("http://127.0.0.1:9/", &[("bad name", "x")])).expect_err("name");
        assert!(matches!(err, HttpError::InvalidHeader { ref name, .. } if name == "bad name"), "{err}");
        let err = send(&get("http://127.0.0.1:9/", &[("x-ok", "line\nbreak")])).expect_err("value");
        assert!(matches!(err, HttpError::InvalidHeader { ref name, .. } if name == "x-ok"), "{err}");
    }
}
