//! `/cedato`: Cedato's Platform API token and a CSV report (seed 003).
//!
//! Demo credentials: client [`CLIENT_ID`] / [`CLIENT_SECRET`].
//!
//! - `POST /cedato/api/token` with `authorization: Basic base64(client_id:client_secret)`,
//!   `api-version: 1`, `accept: application/json` and the form
//!   `grant_type=client_credentials` → `{"data": {"access_token", "token_type": "bearer",
//!   "expires_in": 3600}}` (the token is nested under `data`, the type is lowercase).
//!   A missing or unsupported `api-version` → 400 naming it; an `accept` that rules out
//!   JSON → 406; missing or wrong Basic credentials → 401 `invalid_client`.
//! - `GET /cedato/api/reports/daily?date=YYYY-MM-DD` with `Authorization: bearer <token>`
//!   (scheme case-insensitive) and `api-version: 1` → `text/csv; charset=utf-8`, a header
//!   row and three rows for that date. No, unknown or expired token → 401 JSON.
//!
//! Tokens live [`TOKEN_LIFETIME`] seconds unless the knob says otherwise.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Entry, Shared, Tokens, basic_auth, bearer, field, new_token, params};
use crate::knobs::Control;
use crate::{ApiError, body_bytes, pairs_to_object, parse_urlencoded};

/// Client id (the dashboard's "API user name") of the demo client.
pub const CLIENT_ID: &str = "cedato-client";
/// Client secret (the dashboard's "API password") of [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "cedato-secret";
/// The only `api-version` served.
pub const API_VERSION: &str = "1";
/// Default token lifetime in seconds (one hour).
pub const TOKEN_LIFETIME: u64 = 3600;
/// Report date when the query names none.
const DEFAULT_DATE: &str = "2024-01-01";

type St = Shared<Tokens<()>>;

/// Routes, nested under `/cedato` by [`super::router`].
pub(crate) fn router(control: &Control) -> Router {
    Router::new()
        .route("/api/token", post(token))
        .route("/api/reports/daily", get(daily_report))
        .with_state(St::new(control))
}

/// This provider's entry in `GET /`, its endpoints relative to its prefix.
pub(crate) fn index() -> Entry {
    Entry {
        endpoints: &["POST /api/token (Basic + api-version: 1)", "GET /api/reports/daily?date="],
        credentials: json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_version": API_VERSION}),
        token_lifetime: TOKEN_LIFETIME,
    }
}

/// Requires `api-version: 1`.
fn api_version(headers: &HeaderMap) -> Result<(), ApiError> {
    match super::header(headers, "api-version").map(str::trim) {
        Some(API_VERSION) => Ok(()),
        Some(other) => {
            Err(ApiError::bad_request(format!("unsupported `api-version` header `{other}`; use 1")))
        }
        None => Err(ApiError::bad_request("missing `api-version` header")),
    }
}

/// `POST /cedato/api/token`
async fn token(
    State(st): State<St>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    api_version(&headers)?;
    if let Some(accept) = super::header(&headers, "accept")
        && !["application/json", "application/*", "*/*"].iter().any(|t| accept.contains(t))
    {
        let msg = "`accept` must allow application/json";
        return Err(ApiError::new(StatusCode::NOT_ACCEPTABLE, "not_acceptable", msg));
    }
    if basic_auth(&headers).is_none_or(|(id, secret)| id != CLIENT_ID || secret != CLIENT_SECRET) {
        let error = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_client", "bad client id or secret");
        return Err(error.with_challenge("Basic realm=\"cedato\""));
    }
    let form = params(&headers, &body_bytes(body)?)?;
    if field(&form, "grant_type") != Some("client_credentials") {
        let msg = "`grant_type` must be client_credentials";
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", msg));
    }
    let lifetime = st.lifetime(TOKEN_LIFETIME);
    let access = new_token();
    st.lock().issue(&access, lifetime, ());
    Ok(Json(json!({"data": {"access_token": access, "token_type": "bearer", "expires_in": lifetime}})))
}

/// `GET /cedato/api/reports/daily`
async fn daily_report(
    State(st): State<St>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    api_version(&headers)?;
    let token = bearer(&headers).unwrap_or_default();
    if let Err(why) = st.lock().check(token) {
        let why = if token.is_empty() { "missing bearer token" } else { why.describe() };
        let error = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", why);
        return Err(error.with_challenge("Bearer error=\"invalid_token\""));
    }
    let query = pairs_to_object(parse_urlencoded(query.as_deref().unwrap_or("")));
    let date = field(&query, "date").unwrap_or(DEFAULT_DATE);
    let is_date = date.len() == 10
        && date.char_indices().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if !is_date {
        return Err(ApiError::bad_request(format!("`date` must be YYYY-MM-DD, not `{date}`")));
    }
    let csv = format!(
        "date,supply_id,supply_name,impressions,revenue\n\
         {date},101,Demo Supply A,1200,3.60\n\
         {date},102,\"Demo Supply B, video\",850,2.55\n\
         {date},103,Demo Supply C,0,0.00\n"
    );
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv))
}
