//! The built-in **playground**: a small in-process demo HTTP API used by
//! baton's integration tests and by `baton playground`.
//!
//! The server runs on the caller's tokio runtime and only ever binds
//! **loopback** addresses (`127.0.0.0/8` or `::1`); [`Playground::start`]
//! refuses anything else. All state lives in memory and is fresh for every
//! [`Playground`] (or every [`router`] call).
//!
//! # Endpoints
//!
//! Demo app with an auth chain (user [`DEMO_USERNAME`] / [`DEMO_PASSWORD`]
//! exists from the start):
//!
//! - `POST /demo/register` — JSON or form `{username, password}` → 201, 409, 400
//! - `POST /demo/login` — JSON or form `{username, password}` → 200 with
//!   `access_token` / `refresh_token`, or 401 `invalid_grant`
//! - `GET /demo/me` — Bearer; 401 with `WWW-Authenticate` when the token is bad
//! - `GET|POST /demo/items`, `GET|DELETE /demo/items/{id}` — Bearer; per-user items
//! - `GET /demo/report.csv` — Bearer; the user's items as CSV
//!
//! Generic endpoints (no auth):
//!
//! - `ANY /echo`, `ANY /echo/{*rest}` — describes the request as JSON
//! - `GET /status/{code}` — answers with that status (`Retry-After: 1` on 429/503)
//! - `GET /delay/{ms}` — sleeps up to 10 s, then 200
//! - `GET /text`, `GET /empty` (204), `GET /csv`
//! - `GET /headers/set?name=value` — sets each query pair as a response header
//! - `GET /` — JSON index of the endpoints, provider credentials included
//!
//! Emulated providers, each under its own prefix with fixed demo credentials
//! (see the [`providers`] modules): `/clinked`, `/p001`, `/p002`, `/cedato`, `/auth0`.
//!
//! Failure knobs shared by every endpoint: `GET|PUT|DELETE /_playground/knobs`
//! (see [`Knobs`]); [`Playground::start_with`] starts with knobs already set, and
//! [`Playground::set_token_lifetime`] issues sub-second tokens (`token_lifetime_ms`).
//! `GET|DELETE /_playground/requests` counts the requests received, by path.
//!
//! [`Playground::start_tls`] serves the same router over HTTPS with a
//! certificate made at start, signed by a throwaway CA whose PEM it returns.
//!
//! Errors are JSON: `{"error": "...", "error_description": "..."}`.

mod assertion;
mod authorize;
mod demo;
mod device;
mod knobs;
mod misc;
pub mod providers;
mod signed;
#[cfg(test)]
mod tests;
mod tls;
mod web;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::Listener;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use assertion::{CLIENT_SECRET as ASSERTION_CLIENT_SECRET, client_key_pem as assertion_client_key_pem};
pub use knobs::{DelayRule, FailRule, Knobs};
pub use tls::ClientPki;

/// Username of the account that exists in every fresh playground.
pub const DEMO_USERNAME: &str = "demo";
/// Password of the [`DEMO_USERNAME`] account.
pub const DEMO_PASSWORD: &str = "demo-password-7f3a";

/// Largest request body the playground reads (10 MiB).
const BODY_LIMIT: usize = 10 * 1024 * 1024;
/// How long [`Playground::shutdown`] lets in-flight requests finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running playground server, stopped by [`Playground::shutdown`] or on drop.
#[derive(Debug)]
pub struct Playground {
    addr: SocketAddr,
    scheme: &'static str,
    control: knobs::Control,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Playground {
    /// Binds `addr` and serves the playground on the current tokio runtime
    /// (via `tokio::spawn`) until [`shutdown`](Self::shutdown) or drop.
    ///
    /// `addr` must be a loopback address, otherwise an
    /// [`io::ErrorKind::InvalidInput`] error is returned without binding.
    /// Port 0 picks any free port; see [`addr`](Self::addr).
    pub async fn start(addr: SocketAddr) -> io::Result<Playground> {
        Self::start_with(addr, Knobs::default()).await
    }

    /// Like [`start`](Self::start), with failure knobs set from the first
    /// request on (they can still be changed over `/_playground/knobs`).
    /// Invalid knobs are an [`io::ErrorKind::InvalidInput`] error.
    pub async fn start_with(addr: SocketAddr, knobs: Knobs) -> io::Result<Playground> {
        knobs.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = bind_loopback(addr).await?;
        Self::spawn(listener, "http", knobs::Control::new(knobs))
    }

    /// Like [`start`](Self::start), but over HTTPS: a throwaway CA and a leaf
    /// certificate for `127.0.0.1`, `localhost` and `::1` are generated, and
    /// the CA certificate is returned as PEM for clients to trust.
    /// [`base_url`](Self::base_url) then starts with `https://`.
    pub async fn start_tls(addr: SocketAddr) -> io::Result<(Playground, String)> {
        let (config, ca_pem) = tls::server_config()?;
        let listener = tls::TlsListener::new(bind_loopback(addr).await?, config);
        Ok((Self::spawn(listener, "https", knobs::Control::default())?, ca_pem))
    }

    /// Like [`start_tls`](Self::start_tls), but every connection must present a client
    /// certificate from a second throwaway CA (mutual TLS); returns what a client needs.
    pub async fn start_mtls(addr: SocketAddr) -> io::Result<(Playground, tls::ClientPki)> {
        let (config, pki) = tls::mtls_config()?;
        let listener = tls::TlsListener::new(bind_loopback(addr).await?, config);
        Ok((Self::spawn(listener, "https", knobs::Control::default())?, pki))
    }

    /// Serves the playground with `control`'s knobs on `listener` in a spawned task.
    fn spawn<L>(listener: L, scheme: &'static str, control: knobs::Control) -> io::Result<Playground>
    where
        L: Listener<Addr = SocketAddr>,
    {
        let addr = listener.local_addr()?;
        let router = app(control.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // Either a send or a dropped sender means "stop".
            let stop = async move {
                let _ = rx.await;
            };
            // A serve error (accept loop failure) just ends the task.
            let _ = axum::serve(listener, router).with_graceful_shutdown(stop).await;
        });
        Ok(Playground { addr, scheme, control, shutdown: Some(tx), task: Some(task) })
    }

    /// Sets the `token_lifetime_ms` knob: tokens issued from now on live
    /// `lifetime` (whole milliseconds, at most 10 years) and say so in
    /// `expires_in`, fractional when under a second or not whole (`0.2`).
    /// It wins over [`Knobs::token_lifetime`]; `None` clears it.
    /// The same as `PUT /_playground/knobs` with `{"token_lifetime_ms": 200}`.
    pub fn set_token_lifetime(&self, lifetime: Option<Duration>) {
        self.control.set_lifetime(lifetime);
    }

    /// The address actually bound (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the server, e.g. `http://127.0.0.1:8080` (or `http://[::1]:8080`,
    /// or `https://…` when started with [`start_tls`](Self::start_tls)).
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stops accepting connections, lets in-flight requests finish (for at
    /// most a few seconds, then aborts them) and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds a TCP listener, refusing anything but loopback addresses.
async fn bind_loopback(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    if !addr.ip().to_canonical().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the playground only binds loopback addresses, not {addr}"),
        ));
    }
    tokio::net::TcpListener::bind(addr).await
}

/// Builds the playground router with fresh in-memory state, for tests that
/// want to drive it directly (e.g. with `tower::ServiceExt::oneshot`).
pub fn router() -> Router {
    app(knobs::Control::default())
}

/// The router with fresh state and the knobs of `control`.
fn app(control: knobs::Control) -> Router {
    Router::new()
        .route("/", get(index))
        .nest("/demo", demo::router())
        .route("/echo", any(misc::echo))
        .route("/echo/{*rest}", any(misc::echo))
        .route("/status/{code}", get(misc::status))
        .route("/delay/{ms}", get(misc::delay))
        .route("/text", get(misc::text))
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/csv", get(misc::csv))
        .route("/headers/set", get(misc::set_headers))
        .merge(web::router())
        .merge(signed::router())
        .merge(device::router())
        .merge(assertion::router())
        .merge(authorize::router())
        .merge(providers::router(&control))
        .merge(knobs::router(control.clone()))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed for this endpoint",
            )
        })
        .layer(axum::middleware::from_fn_with_state(control, knobs::apply))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// `GET /`: a JSON index of the endpoints.
async fn index() -> Json<Value> {
    Json(json!({
        "name": "baton playground",
        "endpoints": [
            "POST /demo/register", "POST /demo/login", "GET /demo/me",
            "GET /demo/items", "POST /demo/items", "GET /demo/items/{id}",
            "DELETE /demo/items/{id}", "GET /demo/report.csv",
            "ANY /echo", "ANY /echo/{*rest}", "GET /status/{code}", "GET /delay/{ms}",
            "GET /text", "GET /empty", "GET /csv", "GET /headers/set?name=value",
            "POST /web/login", "GET /web/home", "POST /web/logout",
            "GET /redirect/{n}", "GET /redirect-to?url=…&status=302",
            "POST /jobs?ms=300", "GET /jobs/{id}",
            "ANY /digest/auth?algorithm=MD5|SHA-256", "ANY /aws/echo?skew=SECONDS",
            "POST /device/code", "POST /device/token", "GET /device/me",
            "POST /exchange/token", "GET /exchange/me",
            "POST /assertion/token", "GET /assertion/me",
            "GET /authorize", "POST /authorize/token", "GET /authorize/me",
            "GET /_playground/knobs", "PUT /_playground/knobs", "DELETE /_playground/knobs",
            "GET /_playground/requests", "DELETE /_playground/requests",
        ],
        "demo_user": {"username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        "providers": providers::index(),
    }))
}

/// A 4xx/5xx answer with a JSON `{"error", "error_description"}` body.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    error: &'static str,
    description: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        ApiError { status, error, description: description.into(), headers: Vec::new() }
    }

    fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Adds a response header (skipped if `value` is not a valid header value).
    fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// Adds `WWW-Authenticate: <challenge>`.
    fn with_challenge(self, challenge: &str) -> Self {
        self.with_header(header::WWW_AUTHENTICATE, challenge)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        (self.status, AppendHeaders(self.headers), Json(body)).into_response()
    }
}

/// Unwraps a single path parameter, turning axum's plain-text rejection
/// into a JSON 400.
fn path_param(param: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    param.map(|Path(value)| value).map_err(|e| ApiError::bad_request(e.body_text()))
}

/// Unwraps a buffered body, turning axum's plain-text rejection (e.g. 413)
/// into a JSON error.
/// The token of an `Authorization: Bearer …` header ("" without one).
fn bearer(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))
}

/// Splits an `application/x-www-form-urlencoded` string (or a raw query)
/// into decoded `(name, value)` pairs, keeping order and repeats.
fn parse_urlencoded(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

/// Decodes `+` as space and `%XX` escapes; invalid escapes stay literal and
/// invalid UTF-8 is replaced lossily.
fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Folds pairs into a JSON object; a repeated name becomes an array of values.
fn pairs_to_object(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in pairs {
        match map.get_mut(&name) {
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
            None => {
                map.insert(name, Value::String(value));
            }
        }
    }
    map
}
