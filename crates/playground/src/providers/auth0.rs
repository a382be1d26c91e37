//! `/auth0`: Auth0's client-credentials flow and the quickstart API with a
//! public, a private and a scoped endpoint (seed 004).
//!
//! Demo credentials: machine-to-machine client [`CLIENT_ID`] / [`CLIENT_SECRET`]
//! granted [`SCOPE`], and [`LIMITED_CLIENT_ID`] / [`LIMITED_CLIENT_SECRET`]
//! granted no scope; the API identifier (audience) is [`AUDIENCE`].
//!
//! - `POST /auth0/oauth/token` with a form (or JSON) body `grant_type=client_credentials`,
//!   `client_id`, `client_secret` (or HTTP Basic), `audience` and optional `scope` →
//!   `{"access_token": <JWT>, "scope", "expires_in": 86400, "token_type": "Bearer"}`
//!   (`scope` left out when empty). The JWT is HS256-signed with [`SIGNING_SECRET`] and
//!   carries `iss` ([`ISSUER`]), `sub` (`<client_id>@clients`), `aud`, `iat`, `exp`,
//!   `scope`, `gty`, `azp` and `jti`.
//!   Unknown client or wrong secret → 401 `access_denied` "Unauthorized"; a wrong
//!   audience → 403 `access_denied` `Service not enabled within domain: <aud>`; a scope
//!   the client lacks → 403 `access_denied`; a grant type other than client
//!   credentials → 403 `unauthorized_client`.
//! - `GET /auth0/api/public` → 200 for anyone.
//! - `GET /auth0/api/private` → 200 with a valid token; 401 with `WWW-Authenticate: Bearer …`
//!   when it is missing, malformed, badly signed, for another audience or issuer, expired
//!   or unknown.
//! - `GET /auth0/api/private-scoped` → as private, and 403 `insufficient_scope` unless the
//!   token has [`SCOPE`].
//!
//! Tokens live [`TOKEN_LIFETIME`] seconds unless the knob says otherwise; the server
//! also tracks each one, so expiry is exact to the millisecond.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::{Entry, Shared, Tokens, basic_auth, bearer, field, new_token, params, unix_now};
use crate::knobs::Control;
use crate::{ApiError, body_bytes};

/// Client id of the machine-to-machine client granted [`SCOPE`].
pub const CLIENT_ID: &str = "auth0-client";
/// Client secret of [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "auth0-secret";
/// Client id of the client granted no scope.
pub const LIMITED_CLIENT_ID: &str = "auth0-limited";
/// Client secret of [`LIMITED_CLIENT_ID`].
pub const LIMITED_CLIENT_SECRET: &str = "auth0-limited-secret";
/// The API identifier tokens must be requested for (`audience`).
pub const AUDIENCE: &str = "https://quickstarts/api";
/// The scope `/auth0/api/private-scoped` requires.
pub const SCOPE: &str = "read:messages";
/// The `iss` claim of issued tokens.
pub const ISSUER: &str = "https://baton-playground.auth0.test/";
/// The HS256 key tokens are signed with (fixed, so tests can check or forge tokens).
pub const SIGNING_SECRET: &str = "baton-playground-auth0-hs256-signing-secret";
/// Default token lifetime in seconds (24 hours).
pub const TOKEN_LIFETIME: u64 = 86_400;

/// `(client id, secret, granted scopes)`
const CLIENTS: [(&str, &str, &[&str]); 2] =
    [(CLIENT_ID, CLIENT_SECRET, &[SCOPE]), (LIMITED_CLIENT_ID, LIMITED_CLIENT_SECRET, &[])];

type St = Shared<Tokens<()>>;

/// Routes, nested under `/auth0` by [`super::router`].
pub(crate) fn router(control: &Control) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .route("/api/public", get(public))
        .route("/api/private", get(private))
        .route("/api/private-scoped", get(private_scoped))
        .with_state(St::new(control))
}

/// `GET /auth0/.well-known/openid-configuration`: OpenID Connect discovery, with this
/// server's own origin (from the `Host` it was called by).
async fn openid_configuration(headers: HeaderMap) -> Json<Value> {
    let host =
        headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    let issuer = format!("http://{host}/auth0");
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["token"],
    }))
}

/// This provider's entry in `GET /`, its endpoints relative to its prefix.
pub(crate) fn index() -> Entry {
    Entry {
        endpoints: &[
            "POST /oauth/token",
            "GET /.well-known/openid-configuration",
            "GET /api/public",
            "GET /api/private",
            "GET /api/private-scoped",
        ],
        credentials: json!({
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "limited_client_id": LIMITED_CLIENT_ID, "limited_client_secret": LIMITED_CLIENT_SECRET,
            "audience": AUDIENCE, "scope": SCOPE, "issuer": ISSUER, "signing_secret": SIGNING_SECRET,
        }),
        token_lifetime: TOKEN_LIFETIME,
    }
}

fn access_denied(status: StatusCode, description: impl Into<String>) -> ApiError {
    ApiError::new(status, "access_denied", description)
}

/// `POST /auth0/oauth/token`
async fn token(
    State(st): State<St>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = params(&headers, &body_bytes(body)?)?;
    let param = |name| field(&params, name);
    match param("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            let msg = format!("Grant type '{other}' not allowed for the client.");
            return Err(ApiError::new(StatusCode::FORBIDDEN, "unauthorized_client", msg));
        }
        None => return Err(ApiError::bad_request("Missing required parameter: grant_type")),
    }
    let (id, secret) = basic_auth(&headers).unwrap_or_else(|| {
        (
            param("client_id").unwrap_or_default().to_owned(),
            param("client_secret").unwrap_or_default().to_owned(),
        )
    });
    let (client_id, _, granted) = CLIENTS
        .into_iter()
        .find(|(known_id, known_secret, _)| id == *known_id && secret == *known_secret)
        .ok_or_else(|| access_denied(StatusCode::UNAUTHORIZED, "Unauthorized"))?;
    match param("audience") {
        Some(AUDIENCE) => {}
        Some(other) => {
            return Err(access_denied(
                StatusCode::FORBIDDEN,
                format!("Service not enabled within domain: {other}"),
            ));
        }
        None => {
            let msg = "No audience parameter was provided, and no default audience has been configured";
            return Err(access_denied(StatusCode::FORBIDDEN, msg));
        }
    }
    let scopes: Vec<&str> = match param("scope") {
        Some(asked) => {
            let missing: Vec<_> = asked.split_whitespace().filter(|s| !granted.contains(s)).collect();
            if !missing.is_empty() {
                let msg = format!("Client has not been granted scopes: {}", missing.join(", "));
                return Err(access_denied(StatusCode::FORBIDDEN, msg));
            }
            asked.split_whitespace().collect()
        }
        None => granted.to_vec(),
    };
    let lifetime = st.lifetime(TOKEN_LIFETIME);
    let iat = unix_now();
    let mut claims = json!({
        "iss": ISSUER, "sub": format!("{client_id}@clients"), "aud": AUDIENCE,
        "iat": iat, "exp": iat + lifetime.secs(), "gty": "client-credentials", "azp": client_id, "jti": new_token(),
    });
    let scope = scopes.join(" ");
    if !scope.is_empty() {
        claims["scope"] = json!(scope);
    }
    let jwt = sign(&claims)?;
    st.lock().issue(&jwt, lifetime, ());
    // Auth0's field order; `scope` only when the token has one.
    let mut answer = json!({"access_token": jwt});
    if !scope.is_empty() {
        answer["scope"] = json!(scope);
    }
    answer["expires_in"] = json!(lifetime);
    answer["token_type"] = json!("Bearer");
    Ok(Json(answer))
}

/// HMAC-SHA256 keyed with [`SIGNING_SECRET`] over `input`.
fn mac(input: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).ok()?;
    mac.update(input.as_bytes());
    Some(mac)
}

/// Signs `claims` as an HS256 JWT.
fn sign(claims: &Value) -> Result<String, ApiError> {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mac = mac(&input)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "signing failed"))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())))
}

/// Checks an HS256 JWT's signature, `iss`, `aud` and `exp`; returns its claims.
fn verify(token: &str) -> Result<Map<String, Value>, &'static str> {
    let (input, signature) = token.rsplit_once('.').ok_or("malformed token")?;
    let (header, claims) = input.split_once('.').ok_or("malformed token")?;
    let decode = |part: &str| -> Result<Map<String, Value>, &'static str> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| "malformed token")?;
        serde_json::from_slice(&bytes).map_err(|_| "malformed token")
    };
    if decode(header)?.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err("unsupported signing algorithm");
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "malformed token")?;
    let mac = mac(input).ok_or("signature verification failed")?;
    mac.verify_slice(&signature).map_err(|_| "signature verification failed")?;
    let claims = decode(claims)?;
    if claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
        return Err("unexpected \"iss\" claim value");
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => auds.iter().any(|a| a == AUDIENCE),
        _ => false,
    };
    if !audience_ok {
        return Err("unexpected \"aud\" claim value");
    }
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if unix_now() <= exp => Ok(claims),
        _ => Err("\"exp\" claim timestamp check failed"),
    }
}

/// The scopes of a valid bearer token, or a 401 with a `WWW-Authenticate` challenge.
fn authorize(st: &St, headers: &HeaderMap) -> Result<Vec<String>, ApiError> {
    let Some(token) = bearer(headers) else {
        let error =
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request", "Authorization header missing");
        return Err(error.with_challenge("Bearer realm=\"api\""));
    };
    // The signature and claims, then the server's own record (exact expiry).
    let claims =
        verify(token).and_then(|claims| st.lock().check(token).map(|_| claims).map_err(|e| e.describe()));
    let claims = claims.map_err(|why| {
        let quoted = why.replace('"', "\\\"");
        let challenge =
            format!("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{quoted}\"");
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", why).with_challenge(&challenge)
    })?;
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
    Ok(scope.split_whitespace().map(str::to_owned).collect())
}

/// `GET /auth0/api/public`
async fn public() -> Json<Value> {
    Json(json!({"message": "Hello from a public endpoint! You don't need to be authenticated to see this."}))
}

/// `GET /auth0/api/private`
async fn private(State(st): State<St>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&st, &headers)?;
    Ok(Json(json!({"message": "Hello from a private endpoint! You need to be authenticated to see this."})))
}

/// `GET /auth0/api/private-scoped`
async fn private_scoped(State(st): State<St>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    if !authorize(&st, &headers)?.iter().any(|s| s == SCOPE) {
        let challenge = format!(
            "Bearer realm=\"api\", error=\"insufficient_scope\", error_description=\"Insufficient Scope\", scope=\"{SCOPE}\""
        );
        let error = ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", "Insufficient scope");
        return Err(error.with_challenge(&challenge));
    }
    Ok(Json(json!({
        "message": "Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this."
    })))
}
