//! Failure knobs: injected failures, delays and token lifetimes, shared by
//! every endpoint of one playground and fresh for each.
//!
//! `GET /_playground/knobs` shows the current [`Knobs`], `PUT` replaces them
//! (JSON body, missing fields take their defaults), `DELETE` resets them to
//! the defaults. Paths under `/_playground/` are never failed or delayed.
//!
//! ```json
//! {"token_lifetime": 1,
//!  "fail": [{"path": "/p002/api/data", "times": 2, "status": 503, "retry_after": 1}],
//!  "delay": [{"path": "/p001/api/v1/profile", "ms": 300}]}
//! ```
//!
//! `GET /_playground/requests` counts the requests received by path (`DELETE` resets it).
//!
//! `{"token_lifetime_ms": 200}` issues sub-second tokens (`"expires_in": 0.2`) and wins
//! over `token_lifetime`. It is shown only while set, and lives beside [`Knobs`] rather
//! than in it (so code that builds [`Knobs`] field by field keeps compiling); from Rust,
//! [`Playground::set_token_lifetime`](crate::Playground::set_token_lifetime) sets it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;

/// Longest delay a [`DelayRule`] sleeps (10 s).
const MAX_DELAY_MS: u64 = 10_000;
/// Longest token lifetime [`Knobs::token_lifetime`] accepts (10 years).
pub(crate) const MAX_TOKEN_LIFETIME: u64 = 10 * 365 * 24 * 3600;
/// The same limit for `token_lifetime_ms`.
const MAX_TOKEN_LIFETIME_MS: u64 = MAX_TOKEN_LIFETIME * 1000;
/// Paths the knobs never touch (so they can always be reset).
const EXEMPT_PREFIX: &str = "/_playground/";

/// Failure knobs of a playground (all off by default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Overrides every provider's `expires_in` and the real expiry of the
    /// tokens issued from then on, in seconds (at most 10 years).
    pub token_lifetime: Option<u64>,
    /// Injected failures; the first rule matching a request is used up first.
    pub fail: Vec<FailRule>,
    /// Injected delays; the first rule matching a request applies.
    pub delay: Vec<DelayRule>,
}

/// Answers the next `times` requests whose path starts with `path` with `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRule {
    /// Path prefix, e.g. `/p002/api/data`.
    pub path: String,
    /// How many requests fail (default 1); the rule is dropped when used up.
    #[serde(default = "one")]
    pub times: u32,
    /// Status of the failures, in `400..=599` (default 503).
    #[serde(default = "service_unavailable")]
    pub status: u16,
    /// Seconds for a `Retry-After` header (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// Sleeps `ms` milliseconds (at most 10 s) before answering requests whose
/// path starts with `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayRule {
    /// Path prefix, e.g. `/p001/api/v1/profile`.
    pub path: String,
    /// Milliseconds to sleep (capped at 10 000).
    pub ms: u64,
}

fn one() -> u32 {
    1
}

fn service_unavailable() -> u16 {
    503
}

impl Knobs {
    /// Checks the limits: failure statuses in `400..=599`, lifetime at most 10 years.
    pub fn validate(&self) -> Result<(), String> {
        check(&self.fail, self.token_lifetime, None)
    }
}

/// The limits of [`Knobs::validate`], and at most 10 years of `token_lifetime_ms` too.
fn check(fail: &[FailRule], secs: Option<u64>, ms: Option<u64>) -> Result<(), String> {
    if let Some(rule) = fail.iter().find(|r| !(400..=599).contains(&r.status)) {
        return Err(format!("fail status {} for `{}` is not in 400..=599", rule.status, rule.path));
    }
    match (secs, ms) {
        (Some(secs), _) if secs > MAX_TOKEN_LIFETIME => {
            Err(format!("token_lifetime {secs} is longer than {MAX_TOKEN_LIFETIME} seconds"))
        }
        (_, Some(ms)) if ms > MAX_TOKEN_LIFETIME_MS => {
            Err(format!("token_lifetime_ms {ms} is longer than {MAX_TOKEN_LIFETIME_MS} milliseconds"))
        }
        _ => Ok(()),
    }
}

/// Everything `/_playground/knobs` holds: the [`Knobs`] and `token_lifetime_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    token_lifetime: Option<u64>,
    /// Milliseconds; wins over `token_lifetime`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_lifetime_ms: Option<u64>,
    fail: Vec<FailRule>,
    delay: Vec<DelayRule>,
}

impl Settings {
    fn new(knobs: Knobs) -> Self {
        let Knobs { token_lifetime, fail, delay } = knobs;
        Settings { token_lifetime, token_lifetime_ms: None, fail, delay }
    }

    fn validate(&self) -> Result<(), String> {
        check(&self.fail, self.token_lifetime, self.token_lifetime_ms)
    }
}

/// The knobs of one playground, shared by the middleware and the providers, and the
/// count of requests it received.
#[derive(Debug, Clone, Default)]
pub(crate) struct Control(Arc<Mutex<Settings>>, Arc<Mutex<Counts>>);

/// Requests received, by path (`/_playground/` paths are not counted).
#[derive(Debug, Clone, Default, Serialize)]
struct Counts {
    total: u64,
    paths: std::collections::BTreeMap<String, u64>,
}

impl Control {
    pub(crate) fn new(knobs: Knobs) -> Self {
        Control(Arc::new(Mutex::new(Settings::new(knobs))), Arc::default())
    }

    fn lock(&self) -> MutexGuard<'_, Settings> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.1.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The token lifetime to use: `token_lifetime_ms`, else `token_lifetime`,
    /// else the provider's `default` (seconds).
    pub(crate) fn lifetime(&self, default: u64) -> Duration {
        let settings = self.lock();
        match (settings.token_lifetime_ms, settings.token_lifetime) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, secs) => Duration::from_secs(secs.unwrap_or(default)),
        }
    }

    /// Sets `token_lifetime_ms` (whole milliseconds, capped at 10 years) or clears it.
    pub(crate) fn set_lifetime(&self, lifetime: Option<Duration>) {
        let ms =
            lifetime.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(MAX_TOKEN_LIFETIME_MS));
        self.lock().token_lifetime_ms = ms;
    }
}

/// Routes of `/_playground/knobs` and `/_playground/requests`.
pub(crate) fn router(control: Control) -> Router {
    Router::new()
        .route("/_playground/knobs", get(show).put(replace).delete(reset))
        .route("/_playground/requests", get(requests).delete(reset_requests))
        .with_state(control)
}

/// `GET /_playground/requests`: `{"total": n, "paths": {"/p001/oauth/token": k, …}}`, the
/// requests received since the start (or the last `DELETE`), so tests can assert exact
/// request counts.
async fn requests(State(control): State<Control>) -> Json<Counts> {
    Json(control.counts().clone())
}

/// `DELETE /_playground/requests`
async fn reset_requests(State(control): State<Control>) -> Json<Counts> {
    *control.counts() = Counts::default();
    Json(Counts::default())
}

/// `GET /_playground/knobs`
async fn show(State(control): State<Control>) -> Json<Settings> {
    Json(control.lock().clone())
}

/// `PUT /_playground/knobs`
async fn replace(
    State(control): State<Control>,
    body: Result<Json<Settings>, JsonRejection>,
) -> Result<Json<Settings>, ApiError> {
    let Json(settings) = body.map_err(|e| ApiError::new(e.status(), "invalid_knobs", e.body_text()))?;
    settings.validate().map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_knobs", e))?;
    *control.lock() = settings.clone();
    Ok(Json(settings))
}

/// `DELETE /_playground/knobs`
async fn reset(State(control): State<Control>) -> Json<Settings> {
    *control.lock() = Settings::default();
    Json(Settings::default())
}

/// Middleware: applies the first matching delay, then the first matching failure.
pub(crate) async fn apply(State(control): State<Control>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with(EXEMPT_PREFIX) {
        return next.run(request).await;
    }
    {
        let mut counts = control.counts();
        counts.total += 1;
        *counts.paths.entry(path.to_string()).or_default() += 1;
    }
    let (delay, failure) = {
        let mut knobs = control.lock();
        let delay = knobs.delay.iter().find(|r| path.starts_with(&r.path)).map(|r| r.ms.min(MAX_DELAY_MS));
        let failure = knobs.fail.iter().position(|r| r.times > 0 && path.starts_with(&r.path)).map(|i| {
            let rule = &mut knobs.fail[i];
            rule.times -= 1;
            let taken = (rule.status, rule.retry_after, rule.times);
            if rule.times == 0 {
                knobs.fail.remove(i);
            }
            taken
        });
        (delay, failure)
    };
    if let Some(ms) = delay {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match failure {
        Some((status, retry_after, left)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let description = format!("failure injected by /_playground/knobs ({left} more to come)");
            let error = ApiError::new(status, "injected_failure", description);
            match retry_after {
                Some(secs) => error.with_header(header::RETRY_AFTER, &secs.to_string()).into_response(),
                None => error.into_response(),
            }
        }
        None => next.run(request).await,
    }
}
