//! `/web`, `/redirect` and `/jobs`: what browser-era APIs do. A login that answers with a
//! session cookie and a redirect, pages that need the cookie, redirect chains, and a slow
//! job to poll or wait for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, DEMO_PASSWORD, DEMO_USERNAME, body_bytes, parse_urlencoded, path_param};

/// Most redirects `/redirect/{n}` chains.
const MAX_CHAIN: u32 = 50;
/// Longest a job may take.
const MAX_JOB_MS: u64 = 10_000;
/// Jobs kept at most (the oldest are dropped).
const MAX_JOBS: usize = 1_000;

/// Routes with fresh state.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/web/login", post(login))
        .route("/web/home", get(home))
        .route("/web/logout", post(logout))
        .route("/redirect/{n}", get(chain))
        .route("/redirect-to", get(redirect_to))
        .route("/jobs", post(start_job))
        .route("/jobs/{id}", get(job))
        .with_state(Shared::default())
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Store>>);

#[derive(Default)]
struct Store {
    /// session id → user name
    sessions: HashMap<String, String>,
    /// job id → when it is done
    jobs: HashMap<u64, Instant>,
    next_job: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// `POST /web/login` (form `username`, `password`): a `session` cookie (HttpOnly, for
/// `/web`), a `theme` cookie, and `303 See Other` to `/web/home`.
async fn login(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    let form: HashMap<String, String> =
        parse_urlencoded(&String::from_utf8_lossy(&body)).into_iter().collect();
    let user = form.get("username").map(String::as_str).unwrap_or("");
    if user != DEMO_USERNAME || form.get("password").map(String::as_str) != Some(DEMO_PASSWORD) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_grant", "wrong username or password"));
    }
    let session = format!("s-{}", uuid::Uuid::new_v4().simple());
    state.lock().sessions.insert(session.clone(), user.to_string());
    Ok((
        StatusCode::SEE_OTHER,
        AppendHeaders([
            (header::LOCATION, "/web/home".to_string()),
            (header::SET_COOKIE, format!("session={session}; Path=/web; HttpOnly; SameSite=Lax")),
            (header::SET_COOKIE, "theme=light; Path=/".to_string()),
        ]),
    )
        .into_response())
}

/// `GET /web/home`: the signed-in user, with the `session` cookie; 401 without.
async fn home(headers: HeaderMap, State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let store = state.lock();
    let user = cookie(&headers, "session")
        .and_then(|s| store.sessions.get(s))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "no_session", "sign in first"))?;
    Ok(Json(json!({"user": user, "theme": cookie(&headers, "theme")})))
}

/// `POST /web/logout`: forgets the session and clears the cookie.
async fn logout(headers: HeaderMap, State(state): State<Shared>) -> Response {
    if let Some(s) = cookie(&headers, "session") {
        state.lock().sessions.remove(s);
    }
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, "session=; Path=/web; Max-Age=0")]).into_response()
}

/// `GET /redirect/{n}`: `302` to `/redirect/{n-1}`; `/redirect/0` answers 200.
async fn chain(n: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let n: u32 = path_param(n)?
        .parse()
        .ok()
        .filter(|n| *n <= MAX_CHAIN)
        .ok_or_else(|| ApiError::bad_request(format!("n must be 0–{MAX_CHAIN}")))?;
    if n == 0 {
        return Ok(Json(json!({"redirected": true})).into_response());
    }
    Ok((StatusCode::FOUND, [(header::LOCATION, format!("/redirect/{}", n - 1))]).into_response())
}

/// `GET /redirect-to?url=…&status=302`: a redirect to `url` (any of 301, 302, 303, 307, 308).
async fn redirect_to(RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let params: HashMap<String, String> =
        parse_urlencoded(query.as_deref().unwrap_or("")).into_iter().collect();
    let url = params.get("url").ok_or_else(|| ApiError::bad_request("give `url`"))?;
    let status = match params.get("status").map_or("302", String::as_str) {
        "301" => StatusCode::MOVED_PERMANENTLY,
        "302" => StatusCode::FOUND,
        "303" => StatusCode::SEE_OTHER,
        "307" => StatusCode::TEMPORARY_REDIRECT,
        "308" => StatusCode::PERMANENT_REDIRECT,
        other => return Err(ApiError::bad_request(format!("status {other} is not a redirect"))),
    };
    let location =
        HeaderValue::from_str(url).map_err(|_| ApiError::bad_request("`url` is not a header value"))?;
    Ok((status, [(header::LOCATION, location)]).into_response())
}

/// `POST /jobs?ms=300`: a job done `ms` milliseconds from now; `202` with its id.
async fn start_job(RawQuery(query): RawQuery, State(state): State<Shared>) -> Result<Response, ApiError> {
    let params: HashMap<String, String> =
        parse_urlencoded(query.as_deref().unwrap_or("")).into_iter().collect();
    let ms: u64 = match params.get("ms") {
        None => 300,
        Some(v) => v
            .parse()
            .ok()
            .filter(|ms| *ms <= MAX_JOB_MS)
            .ok_or_else(|| ApiError::bad_request(format!("ms must be 0–{MAX_JOB_MS}")))?,
    };
    let mut store = state.lock();
    if store.jobs.len() >= MAX_JOBS {
        let oldest = store.jobs.keys().min().copied();
        if let Some(k) = oldest {
            store.jobs.remove(&k);
        }
    }
    store.next_job += 1;
    let id = store.next_job;
    store.jobs.insert(id, Instant::now() + Duration::from_millis(ms));
    let location = format!("/jobs/{id}");
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(json!({"id": id, "status": "pending"})))
        .into_response())
}

/// `GET /jobs/{id}`: `pending` until the job is done, then `done` with a result.
async fn job(
    id: Result<Path<String>, PathRejection>,
    State(state): State<Shared>,
) -> Result<Json<Value>, ApiError> {
    let id: u64 = path_param(id)?.parse().map_err(|_| ApiError::bad_request("a job id is a number"))?;
    let done_at = *state
        .lock()
        .jobs
        .get(&id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such job"))?;
    if Instant::now() < done_at {
        return Ok(Json(json!({"id": id, "status": "pending"})));
    }
    Ok(Json(json!({"id": id, "status": "done", "result": {"rows": 3}})))
}
