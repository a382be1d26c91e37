//! `/p002`: client credentials with HTTP Basic, and an API guarded by an API
//! key, `Referer` and `Origin` besides the token (seed 002).
//!
//! Demo credentials: client [`CLIENT_ID`] / [`CLIENT_SECRET`], API key
//! [`API_KEY`], origin [`ORIGIN`].
//!
//! - `POST /p002/oauth/token` with `Authorization: Basic base64(client_id:client_secret)`
//!   and the form `grant_type=client_credentials&client_id=…` →
//!   `{"access_token", "token_type": "Bearer", "expires_in": 300}`. Missing or wrong
//!   Basic credentials (or a form `client_id` that differs) → 401 `invalid_client`.
//! - `GET /p002/api/data` with `Authorization: <token>` (raw, as in the guide) or
//!   `Bearer <token>`, `x-api-key: p002-api-key`, `Origin: https://app.example.test`
//!   and a `Referer` starting with that origin → 200 JSON. A missing or wrong key,
//!   origin or referer → 403 `forbidden` naming the header (checked first); a missing,
//!   unknown or expired token → 401 `invalid_token`, so clients re-authenticate as the
//!   guide shows.
//! - `GET /p002/_stats` → `{"client_credentials": n, "api_401": k, "api_403": j}`.
//!
//! Tokens are short-lived: [`TOKEN_LIFETIME`] seconds unless the knob says otherwise.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Entry, Shared, Tokens, basic_auth, field, header, new_token, params};
use crate::knobs::Control;
use crate::{ApiError, body_bytes};

/// Client id of the demo client.
pub const CLIENT_ID: &str = "p002-client";
/// Client secret of [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "p002-secret";
/// The `x-api-key` the API wants.
pub const API_KEY: &str = "p002-api-key";
/// The `Origin` the API wants (and the start of the `Referer`).
pub const ORIGIN: &str = "https://app.example.test";
/// Default token lifetime in seconds (5 minutes).
pub const TOKEN_LIFETIME: u64 = 300;

#[derive(Default)]
struct Store {
    /// access token → client id
    tokens: Tokens<String>,
    stats: Stats,
}

#[derive(Default, Clone, Serialize)]
struct Stats {
    client_credentials: u64,
    api_401: u64,
    api_403: u64,
}

type St = Shared<Store>;

/// Routes, nested under `/p002` by [`super::router`].
pub(crate) fn router(control: &Control) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/api/data", get(data))
        .route("/_stats", get(stats))
        .with_state(St::new(control))
}

/// This provider's entry in `GET /`, its endpoints relative to its prefix.
pub(crate) fn index() -> Entry {
    Entry {
        endpoints: &["POST /oauth/token (Basic + form)", "GET /api/data", "GET /_stats"],
        credentials: json!({
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_key": API_KEY, "origin": ORIGIN,
        }),
        token_lifetime: TOKEN_LIFETIME,
    }
}

/// `POST /p002/oauth/token`
async fn token(
    State(st): State<St>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let form = params(&headers, &body_bytes(body)?)?;
    let client = basic_auth(&headers).filter(|(id, secret)| id == CLIENT_ID && secret == CLIENT_SECRET);
    if client.is_none() || field(&form, "client_id").is_some_and(|id| id != CLIENT_ID) {
        let error = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed");
        return Err(error.with_challenge("Basic realm=\"p002\""));
    }
    match field(&form, "grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            let msg = format!("unsupported grant_type `{other}`");
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", msg));
        }
        None => return Err(ApiError::bad_request("`grant_type` is required")),
    }
    let lifetime = st.lifetime(TOKEN_LIFETIME);
    let access = new_token();
    let mut store = st.lock();
    store.tokens.issue(&access, lifetime, CLIENT_ID.to_owned());
    store.stats.client_credentials += 1;
    Ok(Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": lifetime})))
}

/// `GET /p002/api/data`
async fn data(State(st): State<St>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let mut store = st.lock();
    let origin_ok =
        |value: &str| value == ORIGIN || value.strip_prefix(ORIGIN).is_some_and(|r| r.starts_with('/'));
    let checks: [(&str, bool); 3] = [
        ("x-api-key", header(&headers, "x-api-key") == Some(API_KEY)),
        ("Origin", header(&headers, "origin") == Some(ORIGIN)),
        ("Referer", header(&headers, "referer").is_some_and(origin_ok)),
    ];
    if let Some((name, _)) = checks.iter().find(|(_, ok)| !ok) {
        store.stats.api_403 += 1;
        let msg = format!("missing or invalid `{name}` header");
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", msg));
    }
    // The guide sends the bare token; `Bearer <token>` works too.
    let raw = header(&headers, "authorization").unwrap_or_default().trim();
    let token = match raw.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => raw,
    };
    let client = match store.tokens.check(token) {
        Ok(client) => client.clone(),
        Err(why) => {
            store.stats.api_401 += 1;
            let why = if token.is_empty() { "missing Authorization header" } else { why.describe() };
            let error = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", why);
            return Err(error.with_challenge("Bearer error=\"invalid_token\""));
        }
    };
    Ok(Json(json!({
        "client_id": client,
        "data": [
            {"id": 1, "name": "alpha", "value": 10},
            {"id": 2, "name": "beta", "value": 20},
        ],
    })))
}

/// `GET /p002/_stats`
async fn stats(State(st): State<St>) -> Json<Stats> {
    Json(st.lock().stats.clone())
}
