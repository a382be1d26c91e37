//! `/exchange`: token exchange (RFC 8693), trading a token the playground issued (the demo
//! app's `at-…`, the device grant's `dt-…`) for one for another audience.
//!
//! `/device`: the OAuth2 device authorization grant (RFC 8628), approved by nobody: the
//! client id says how the approval goes, so tests and demos need no browser.
//! `device-auto` is approved after one `authorization_pending`; `device-slow` first asks
//! to `slow_down`; `device-deny` is refused (`access_denied`); `device-expire` runs out
//! (`expired_token`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, body_bytes, parse_urlencoded};

const CLIENTS: &[&str] = &["device-auto", "device-slow", "device-deny", "device-expire"];
/// The grant type of a device-code token request.
const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Most device codes and tokens kept.
const MAX_KEPT: usize = 1000;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Store>>);

#[derive(Default)]
struct Store {
    /// device code → (client, polls so far)
    codes: HashMap<String, (String, u32)>,
    /// access token → client
    tokens: HashMap<String, String>,
    /// exchanged token → (audience, the subject token's kind)
    exchanged: HashMap<String, (String, String)>,
}

pub(crate) fn router() -> Router {
    Router::new()
        .route("/device/code", post(code))
        .route("/device/token", post(token))
        .route("/device/me", get(me))
        .route("/exchange/token", post(exchange))
        .route("/exchange/me", get(exchanged_me))
        .with_state(Shared::default())
}

fn form(body: &Bytes) -> HashMap<String, String> {
    parse_urlencoded(&String::from_utf8_lossy(body)).into_iter().collect()
}

fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> ApiError {
    ApiError::new(status, error, description)
}

/// `POST /device/code` (form `client_id`, `scope`): a device code and a user code.
async fn code(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let f = form(&body_bytes(body)?);
    let client = f.get("client_id").map(String::as_str).unwrap_or("");
    if !CLIENTS.contains(&client) {
        return Err(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client"));
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    let device_code = format!("dc-{}", uuid::Uuid::new_v4().simple());
    let digits = uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase();
    let user_code = format!("{}-{}", &digits[..4], &digits[4..8]);
    let mut store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    if store.codes.len() >= MAX_KEPT {
        store.codes.clear();
    }
    store.codes.insert(device_code.clone(), (client.to_string(), 0));
    Ok(Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": format!("http://{host}/device"),
        "verification_uri_complete": format!("http://{host}/device?user_code={user_code}"),
        "expires_in": 60,
        "interval": 1,
    })))
}

/// `POST /device/token` (form `grant_type`, `device_code`, `client_id`): pending, slow
/// down, refused, expired or a token, as the client id says.
async fn token(
    State(s): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let f = form(&body_bytes(body)?);
    if f.get("grant_type").map(String::as_str) != Some(GRANT) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this endpoint takes the device_code grant",
        ));
    }
    let mut store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    let device_code = f.get("device_code").cloned().unwrap_or_default();
    let Some((client, polls)) = store.codes.get_mut(&device_code) else {
        return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown device code"));
    };
    if f.get("client_id") != Some(client) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the device code belongs to another client",
        ));
    }
    *polls += 1;
    let pending = || oauth_error(StatusCode::BAD_REQUEST, "authorization_pending", "not approved yet");
    let outcome = match (client.as_str(), *polls) {
        ("device-auto", 1) | ("device-slow", 2) | ("device-deny" | "device-expire", 1) => Err(pending()),
        ("device-slow", 1) => Err(oauth_error(StatusCode::BAD_REQUEST, "slow_down", "polling too fast")),
        ("device-deny", _) => Err(oauth_error(StatusCode::BAD_REQUEST, "access_denied", "the user said no")),
        ("device-expire", _) => {
            Err(oauth_error(StatusCode::BAD_REQUEST, "expired_token", "the device code expired"))
        }
        _ => Ok(client.clone()),
    };
    let client = outcome?;
    store.codes.remove(&device_code);
    let access = format!("dt-{}", uuid::Uuid::new_v4().simple());
    if store.tokens.len() >= MAX_KEPT {
        store.tokens.clear();
    }
    store.tokens.insert(access.clone(), client);
    Ok(Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600})))
}

/// `POST /exchange/token`: RFC 8693 with a subject access token the playground issued.
async fn exchange(
    State(s): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let f = form(&body_bytes(body)?);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this endpoint exchanges tokens",
        ));
    }
    if get("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token" {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token_type must be an access token",
        ));
    }
    let kind = match get("subject_token") {
        t if t.starts_with("at-") => "demo",
        t if t.starts_with("dt-") => "device",
        _ => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the subject token was not issued here",
            ));
        }
    };
    let audience = if get("audience").is_empty() { "default" } else { get("audience") };
    let token = format!("xt-{}", uuid::Uuid::new_v4().simple());
    let mut store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    if store.exchanged.len() >= MAX_KEPT {
        store.exchanged.clear();
    }
    store.exchanged.insert(token.clone(), (audience.to_string(), kind.to_string()));
    Ok(Json(json!({
        "access_token": token,
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "token_type": "Bearer",
        "expires_in": 600,
    })))
}

/// `GET /exchange/me`: the audience and subject kind of an exchanged token.
async fn exchanged_me(State(s): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let token = super::bearer(&headers);
    let store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    let (audience, subject) = store
        .exchanged
        .get(token)
        .ok_or_else(|| oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "not an exchanged token"))?;
    Ok(Json(json!({"audience": audience, "subject": subject})))
}

/// `GET /device/me`: which client the bearer token was issued to.
async fn me(State(s): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let token = super::bearer(&headers);
    let store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    let client = store
        .tokens
        .get(token)
        .ok_or_else(|| oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "no such token"))?;
    Ok(Json(json!({"client": client})))
}
