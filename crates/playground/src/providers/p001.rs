//! `/p001`: a password grant posted as JSON, Laravel Passport style (seed 001).
//!
//! Demo credentials: client [`CLIENT_ID`] / [`CLIENT_SECRET`], user
//! [`USERNAME`] / [`PASSWORD`].
//!
//! - `POST /p001/oauth/token` with `Content-Type: application/json` (else 415) and
//!   `{"username", "password", "client_secret", "client_id", "grant_type": "password"}`
//!   → `{"token_type": "Bearer", "expires_in": 31536000, "access_token": "eyJ0eXAiO…",
//!   "refresh_token": "def50200…"}`. Wrong client → 401 `invalid_client`; wrong user
//!   or password → 400 `invalid_grant`; another grant type → 400 `unsupported_grant_type`.
//! - The same with `{"grant_type": "refresh_token", "refresh_token", "client_id",
//!   "client_secret"}` → a new pair. Refresh tokens rotate: the used one and its
//!   access token are revoked, and reusing it → 400 `invalid_grant`.
//! - `GET /p001/api/v1/profile` with `Authorization: Bearer <token>` → 200 profile;
//!   no, unknown or expired token → 401 `unauthenticated`.
//! - `GET /p001/_stats` → `{"password": n, "refresh_token": m, "api_401": k}`:
//!   grants issued per type and 401s answered by the API.
//!
//! Access tokens look like JWTs but are opaque random tokens tracked by the server;
//! they live [`TOKEN_LIFETIME`] seconds unless the knob says otherwise.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Entry, Lifetime, Shared, Tokens, bearer, field, is_json, new_token, unix_now};
use crate::knobs::Control;
use crate::{ApiError, DEMO_PASSWORD, DEMO_USERNAME, body_bytes};

/// Client id of the demo client.
pub const CLIENT_ID: &str = "p001-client";
/// Client secret of [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "p001-secret";
/// The demo user.
pub const USERNAME: &str = DEMO_USERNAME;
/// Password of [`USERNAME`].
pub const PASSWORD: &str = DEMO_PASSWORD;
/// Default access token lifetime in seconds (one year, as in the guide's example).
pub const TOKEN_LIFETIME: u64 = 31_536_000;

#[derive(Default)]
struct Store {
    /// access token → username
    tokens: Tokens<String>,
    /// refresh token → (username, access token issued with it)
    refresh: HashMap<String, (String, String)>,
    stats: Stats,
}

#[derive(Default, Clone, Serialize)]
struct Stats {
    password: u64,
    refresh_token: u64,
    api_401: u64,
}

type St = Shared<Store>;

/// Routes, nested under `/p001` by [`super::router`].
pub(crate) fn router(control: &Control) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/api/v1/profile", get(profile))
        .route("/_stats", get(stats))
        .with_state(St::new(control))
}

/// This provider's entry in `GET /`, its endpoints relative to its prefix.
pub(crate) fn index() -> Entry {
    Entry {
        endpoints: &["POST /oauth/token (JSON)", "GET /api/v1/profile", "GET /_stats"],
        credentials: json!({
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "username": USERNAME, "password": PASSWORD,
        }),
        token_lifetime: TOKEN_LIFETIME,
    }
}

/// An opaque token dressed as a JWT (`eyJ0eXAiO…`), as Passport's look.
fn jwt_like(lifetime: Lifetime) -> String {
    let iat = unix_now();
    let exp = iat + lifetime.secs();
    let claims = json!({"aud": CLIENT_ID, "jti": new_token(), "iat": iat, "exp": exp, "sub": "1"});
    let [header, claims] = [r#"{"typ":"JWT","alg":"RS256"}"#.to_owned(), claims.to_string()];
    let signature = format!("{}{}", new_token(), new_token());
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn invalid_grant(description: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// `POST /p001/oauth/token`
async fn token(
    State(st): State<St>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    if !is_json(&headers) {
        let msg = "Content-Type must be application/json";
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request", msg));
    }
    let params: Map<String, Value> = serde_json::from_slice(&body_bytes(body)?)
        .map_err(|_| ApiError::bad_request("body must be a JSON object"))?;
    let param = |name| field(&params, name);
    let grant_type =
        param("grant_type").filter(|g| ["password", "refresh_token"].contains(g)).ok_or_else(|| {
            let msg = "The authorization grant type is not supported by the authorization server.";
            ApiError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", msg)
        })?;
    if param("client_id") != Some(CLIENT_ID) || param("client_secret") != Some(CLIENT_SECRET) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        ));
    }
    let lifetime = st.lifetime(TOKEN_LIFETIME);
    let mut store = st.lock();
    let username = if grant_type == "password" {
        let (Some(username), Some(password)) = (param("username"), param("password")) else {
            return Err(ApiError::bad_request(
                "The request is missing a required parameter: username, password",
            ));
        };
        if username != USERNAME || password != PASSWORD {
            return Err(invalid_grant("The user credentials were incorrect."));
        }
        store.stats.password += 1;
        username.to_owned()
    } else {
        let refresh = param("refresh_token").ok_or_else(|| {
            ApiError::bad_request("The request is missing a required parameter: refresh_token")
        })?;
        let (username, old_access) =
            store.refresh.remove(refresh).ok_or_else(|| invalid_grant("The refresh token is invalid."))?;
        store.tokens.revoke(&old_access);
        store.stats.refresh_token += 1;
        username
    };
    let (access, refresh) = (jwt_like(lifetime), format!("def50200{}{}", new_token(), new_token()));
    store.tokens.issue(&access, lifetime, username.clone());
    store.refresh.insert(refresh.clone(), (username, access.clone()));
    Ok(Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "access_token": access,
        "refresh_token": refresh,
    })))
}

/// `GET /p001/api/v1/profile`
async fn profile(State(st): State<St>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let mut store = st.lock();
    let token = bearer(&headers).unwrap_or_default();
    let Ok(username) = store.tokens.check(token).cloned() else {
        store.stats.api_401 += 1;
        let error = ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthenticated.");
        return Err(error.with_challenge("Bearer"));
    };
    Ok(Json(json!({"id": 1, "username": username, "name": "Demo User", "email": "demo@example.test"})))
}

/// `GET /p001/_stats`
async fn stats(State(st): State<St>) -> Json<Stats> {
    Json(st.lock().stats.clone())
}
