//! `/assertion`: a token endpoint that authenticates clients by signed JWT (RFC 7523).
//!
//! - `client_credentials` with `client_assertion_type` and `client_assertion`
//!   (`private_key_jwt`, `client_secret_jwt`);
//! - the JWT bearer grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`) with `assertion`.
//!
//! Two clients: `jwt-secret-app` signs with HS256 and the secret [`CLIENT_SECRET`];
//! `jwt-key-app` signs with ES256 and the private key [`client_key_pem`] returns (made
//! once per process, its public half kept here). An assertion must verify, name this
//! endpoint as its audience, live at most five minutes, and never be used twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{ApiError, body_bytes, parse_urlencoded};

/// The HS256 secret of `jwt-secret-app`.
pub const CLIENT_SECRET: &str = "playground-jwt-client-secret-0123456789";
/// The client that signs with [`CLIENT_SECRET`].
const SECRET_CLIENT: &str = "jwt-secret-app";
/// The client that signs with the ES256 key.
const KEY_CLIENT: &str = "jwt-key-app";
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Longest accepted assertion life, in seconds.
const MAX_LIFE: i64 = 300;
/// Most tokens and used `jti`s kept.
const MAX_KEPT: usize = 1000;

/// The ES256 key pair of `jwt-key-app`: (private key PEM, public key PEM).
fn key_pair() -> &'static (String, String) {
    static PAIR: OnceLock<(String, String)> = OnceLock::new();
    PAIR.get_or_init(|| match rcgen::KeyPair::generate() {
        Ok(k) => (k.serialize_pem(), k.public_key_pem()),
        // Without a key pair, ES256 assertions are refused (nothing verifies).
        Err(_) => (String::new(), String::new()),
    })
}

/// The PEM (PKCS#8) private key `jwt-key-app` signs its assertions with.
pub fn client_key_pem() -> &'static str {
    &key_pair().0
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Store>>);

#[derive(Default)]
struct Store {
    /// `jti`s already used.
    used: HashSet<String>,
    /// access token → (client, subject, grant)
    tokens: HashMap<String, (String, String, &'static str)>,
}

pub(crate) fn router() -> Router {
    Router::new()
        .route("/assertion/token", post(token))
        .route("/assertion/me", get(me))
        .with_state(Shared::default())
}

fn refused(error: &'static str, description: impl Into<String>) -> ApiError {
    let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
    ApiError::new(status, error, description)
}

/// `POST /assertion/token`.
async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let f: HashMap<String, String> =
        parse_urlencoded(&String::from_utf8_lossy(&body_bytes(body)?)).into_iter().collect();
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let (jwt, grant, error) = match get("grant_type") {
        "client_credentials" => {
            if get("client_assertion_type") != CLIENT_ASSERTION_TYPE {
                return Err(refused("invalid_client", "client_assertion_type must be jwt-bearer"));
            }
            (get("client_assertion"), "client_credentials", "invalid_client")
        }
        JWT_BEARER => (get("assertion"), "jwt_bearer", "invalid_grant"),
        _ => {
            return Err(refused(
                "unsupported_grant_type",
                "this endpoint takes client_credentials with a client assertion, or the jwt-bearer grant",
            ));
        }
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let audience = format!("http://{host}/assertion/token");
    let claims = verify(jwt, &audience).map_err(|e| refused(error, e))?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (client, subject) = (text("iss"), text("sub"));
    if grant == "client_credentials" && subject != client {
        return Err(refused(error, "a client assertion's sub must be its iss (the client id)"));
    }
    if !get("client_id").is_empty() && get("client_id") != client {
        return Err(refused(error, "client_id is not the assertion's issuer"));
    }
    let jti = text("jti");
    if jti.is_empty() {
        return Err(refused(error, "the assertion has no jti"));
    }
    let access = format!("jt-{}", uuid::Uuid::new_v4().simple());
    let mut store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    if store.used.len() >= MAX_KEPT {
        store.used.clear();
    }
    if !store.used.insert(jti) {
        return Err(refused(error, "this assertion was already used (jti seen before)"));
    }
    if store.tokens.len() >= MAX_KEPT {
        store.tokens.clear();
    }
    store.tokens.insert(access.clone(), (client, subject, grant));
    Ok(Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600})))
}

/// Checks an assertion's signature (with its issuer's key), audience and life.
fn verify(jwt: &str, audience: &str) -> Result<serde_json::Map<String, Value>, String> {
    if jwt.is_empty() {
        return Err("no assertion was sent".into());
    }
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| format!("not a JWT: {e}"))?;
    // The issuer picks the key; the signature is checked with it below.
    let unverified = jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Map<String, Value>>(jwt)
        .map_err(|e| format!("not a JWT: {e}"))?;
    let issuer = unverified.get("iss").and_then(Value::as_str).unwrap_or("");
    let (alg, key) = match issuer {
        SECRET_CLIENT => (
            Algorithm::HS256,
            DecodingKey::from_secret(CLIENT_SECRET.as_bytes())
                .map_err(|e| format!("no key for {SECRET_CLIENT}: {e}"))?,
        ),
        KEY_CLIENT => (
            Algorithm::ES256,
            DecodingKey::from_ec_pem(key_pair().1.as_bytes())
                .map_err(|e| format!("no key for {KEY_CLIENT}: {e}"))?,
        ),
        _ => return Err(format!("unknown client `{}`", issuer.chars().take(64).collect::<String>())),
    };
    if header.alg != alg {
        return Err(format!("{issuer} signs with {alg:?}, not {:?}", header.alg));
    }
    let mut validation = Validation::new(alg);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(jwt, &key, &validation).map_err(
        |e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                "the assertion's signature does not verify".to_string()
            }
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the assertion has expired".to_string(),
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                format!("the assertion's aud is not {audience}")
            }
            _ => format!("the assertion is refused: {e}"),
        },
    )?;
    let number = |k: &str| data.claims.get(k).and_then(Value::as_i64);
    let now = jiff::Timestamp::now().as_second();
    if number("exp").unwrap_or(i64::MAX) > now + MAX_LIFE {
        return Err(format!("the assertion lives longer than {MAX_LIFE} s"));
    }
    Ok(data.claims)
}

/// `GET /assertion/me`: who the bearer token was issued to, and how.
async fn me(State(s): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let token = super::bearer(&headers);
    let store = s.0.lock().unwrap_or_else(PoisonError::into_inner);
    let (client, subject, grant) = store.tokens.get(token).ok_or_else(|| {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "not a token from /assertion")
    })?;
    Ok(Json(json!({"client": client, "subject": subject, "grant": grant})))
}
