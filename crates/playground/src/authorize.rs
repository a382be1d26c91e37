//! `/authorize`: the OAuth2 authorization code grant with PKCE (RFC 6749 4.1, RFC 7636),
//! approved by nobody: the client id says what the "user" answers, so tests and demos need
//! no browser. `code-auto` is approved at once (a `302` back to the redirect URI with a
//! code and the state); `code-deny` is refused (`error=access_denied`). A code lives a
//! minute, is good once, and only with the verifier of its challenge and the same
//! redirect URI; tokens come with a refresh token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{ApiError, body_bytes, parse_urlencoded};

const CLIENTS: &[&str] = &["code-auto", "code-deny"];
/// Most codes and tokens kept.
const MAX_KEPT: usize = 1000;
/// How long a code can be exchanged.
const CODE_LIFE_SECS: i64 = 60;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Store>>);

struct Code {
    client: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    issued: i64,
}

#[derive(Default)]
struct Store {
    codes: HashMap<String, Code>,
    /// access token → (client, scope)
    tokens: HashMap<String, (String, String)>,
    /// refresh token → (client, scope)
    refresh: HashMap<String, (String, String)>,
}

pub(crate) fn router() -> Router {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/authorize/token", post(token))
        .route("/authorize/me", get(me))
        .with_state(Shared::default())
}

fn error(status: StatusCode, error: &'static str, description: &str) -> ApiError {
    ApiError::new(status, error, description)
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Appends `pairs` to `uri` as its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", encoded.join("&"))
}

/// `GET /authorize?response_type=code&client_id=…&redirect_uri=…&state=…&code_challenge=…`.
async fn authorize(State(s): State<Shared>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let q: HashMap<String, String> = parse_urlencoded(query.as_deref().unwrap_or("")).into_iter().collect();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let client = get("client_id");
    if !CLIENTS.contains(&client) {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_client", "unknown client"));
    }
    // Only loopback redirects: this server sends nobody's codes anywhere else.
    let redirect = get("redirect_uri");
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if !loopback.iter().any(|p| redirect.starts_with(p)) {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_request", "redirect_uri must be a loopback URL"));
    }
    if get("response_type") != "code" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    let state = get("state");
    if get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 {
        let to = with_query(
            redirect,
            &[
                ("error", "invalid_request"),
                ("error_description", "PKCE with S256 is required"),
                ("state", state),
            ],
        );
        return Ok(Redirect::to(&to).into_response());
    }
    if client == "code-deny" {
        let to = with_query(
            redirect,
            &[("error", "access_denied"), ("error_description", "the user said no"), ("state", state)],
        );
        return Ok(Redirect::to(&to).into_response());
    }
    let code = format!("ac-{}", uuid::Uuid::new_v4().simple());
    let mut store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    if store.codes.len() >= MAX_KEPT {
        store.codes.clear();
    }
    store.codes.insert(
        code.clone(),
        Code {
            client: client.to_string(),
            redirect_uri: redirect.to_string(),
            challenge: get("code_challenge").to_string(),
            scope: get("scope").to_string(),
            issued: now(),
        },
    );
    Ok(Redirect::to(&with_query(redirect, &[("code", &code), ("state", state)])).into_response())
}

/// `POST /authorize/token`: `authorization_code` (with `code_verifier`) or `refresh_token`.
async fn token(
    State(s): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let f: HashMap<String, String> =
        parse_urlencoded(&String::from_utf8_lossy(&body_bytes(body)?)).into_iter().collect();
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let bad = |e: &'static str, d: &str| error(StatusCode::BAD_REQUEST, e, d);
    let mut store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    let (client, scope) = match get("grant_type") {
        "authorization_code" => {
            let code = store
                .codes
                .remove(get("code"))
                .ok_or_else(|| bad("invalid_grant", "unknown or used code"))?;
            if now() - code.issued > CODE_LIFE_SECS {
                return Err(bad("invalid_grant", "the code expired"));
            }
            if get("client_id") != code.client {
                return Err(bad("invalid_grant", "the code belongs to another client"));
            }
            if get("redirect_uri") != code.redirect_uri {
                return Err(bad("invalid_grant", "redirect_uri differs from the authorization request's"));
            }
            let verifier = get("code_verifier");
            let hashed =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if verifier.is_empty() || hashed != code.challenge {
                return Err(bad("invalid_grant", "code_verifier does not match the code_challenge"));
            }
            (code.client, code.scope)
        }
        "refresh_token" => store
            .refresh
            .remove(get("refresh_token"))
            .ok_or_else(|| bad("invalid_grant", "unknown or used refresh token"))?,
        _ => return Err(bad("unsupported_grant_type", "authorization_code or refresh_token")),
    };
    let access = format!("ct-{}", uuid::Uuid::new_v4().simple());
    let refresh = format!("cr-{}", uuid::Uuid::new_v4().simple());
    if store.tokens.len() >= MAX_KEPT {
        store.tokens.clear();
        store.refresh.clear();
    }
    store.tokens.insert(access.clone(), (client.clone(), scope.clone()));
    store.refresh.insert(refresh.clone(), (client, scope.clone()));
    Ok(Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": refresh,
        "scope": scope,
    })))
}

/// `GET /authorize/me`: the client and scope of the bearer token.
async fn me(State(s): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let token = super::bearer(&headers);
    let store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    let (client, scope) = store
        .tokens
        .get(token)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "invalid_token", "not a token from /authorize"))?;
    Ok(Json(json!({"client": client, "scope": scope})))
}
