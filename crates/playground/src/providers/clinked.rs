//! `/clinked`: Clinked's API authentication (Spring Security OAuth2 style),
//! following its "authentication basics" guide step by step.
//!
//! Demo credentials: user [`USERNAME`] / [`PASSWORD`] (no 2FA), user
//! [`USERNAME_2FA`] / [`PASSWORD`] with 2FA code [`CODE_2FA`], and the public
//! mobile client [`CLIENT_ID`] for the password grant.
//!
//! 1. `GET /clinked/oauth/token?grant_type=password&client_id=clinked-mobile&username=…&password=…[&code=…]`
//!    → `{"access_token", "token_type": "bearer", "refresh_token", "expires_in", "scope": "read write"}`.
//!    A wrong user or password → 400 `invalid_grant` "Bad credentials"; for the 2FA user
//!    a missing or wrong `code` → 400 `invalid_grant` "2FA code required" / "bad 2FA code";
//!    a `client_id` other than [`CLIENT_ID`] → 401 `invalid_client`.
//! 2. `POST /clinked/v2/applications` with `Authorization: Bearer <token>` and a JSON
//!    app (`name` required, e.g. `description`, `platform`, `deviceType`, `appVersion`,
//!    `deviceOs`, `bundleId`) → 200 with the app echoed plus `id` and random
//!    `clientId` / `clientSecret`. No valid token → 401; no `name` → 400.
//! 3. `GET /clinked/oauth/token?grant_type=client_credentials&client_id=…&client_secret=…&scope=read write`
//!    with a registered app's credentials → the same shape without `refresh_token`
//!    (Spring issues none for this grant); bad credentials → 401 `invalid_client`
//!    "Bad client credentials"; a scope other than `read`/`write` → 400 `invalid_scope`.
//! 4. `GET /clinked/v2/me` with an app or a user token → who and what the token is;
//!    no, unknown or expired token → 401 `invalid_token`.
//!
//! `GET /clinked/_registrations` → `{"count": n}`: how many apps were registered.
//! `DELETE /clinked/_registrations` → `{"forgotten": n}`: forgets every registered app
//! (as a server that lost its data would), so saved app credentials are refused (401);
//! the count goes on.
//! The token endpoint also answers `POST` with the parameters in the query or a
//! form body. Tokens live [`TOKEN_LIFETIME`] seconds unless the knob says otherwise.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::{Entry, Refused, Shared, Tokens, bearer, field, new_token, params};
use crate::knobs::Control;
use crate::{ApiError, DEMO_PASSWORD, DEMO_USERNAME, body_bytes, pairs_to_object, parse_urlencoded};

/// The public client id of the password grant (Clinked's mobile app).
pub const CLIENT_ID: &str = "clinked-mobile";
/// User without 2FA.
pub const USERNAME: &str = DEMO_USERNAME;
/// User with 2FA: the password grant also needs `code=`[`CODE_2FA`].
pub const USERNAME_2FA: &str = "demo-2fa";
/// Password of both users.
pub const PASSWORD: &str = DEMO_PASSWORD;
/// The 2FA code [`USERNAME_2FA`] must send.
pub const CODE_2FA: &str = "123456";
/// Default token lifetime in seconds (12 hours, Spring's default).
pub const TOKEN_LIFETIME: u64 = 43_200;
/// Scopes a token may have.
const SCOPES: [&str; 2] = ["read", "write"];

#[derive(Default)]
struct Store {
    tokens: Tokens<Grant>,
    /// client id → registered app
    apps: HashMap<String, App>,
    registrations: u64,
}

/// What a token stands for.
#[derive(Clone)]
struct Grant {
    username: String,
    client_id: String,
    scope: String,
    /// Issued to a registered app (client credentials) rather than to the user.
    app: bool,
}

struct App {
    secret: String,
    owner: String,
    /// The registered app as answered (without the secret).
    details: Map<String, Value>,
}

type St = Shared<Store>;

/// Routes, nested under `/clinked` by [`super::router`].
pub(crate) fn router(control: &Control) -> Router {
    Router::new()
        .route("/oauth/token", get(token).post(token))
        .route("/v2/applications", post(register))
        .route("/v2/me", get(me))
        .route("/_registrations", get(registrations).delete(forget))
        .with_state(St::new(control))
}

/// This provider's entry in `GET /`, its endpoints relative to its prefix.
pub(crate) fn index() -> Entry {
    Entry {
        endpoints: &[
            "GET|POST /oauth/token?grant_type=password&client_id=clinked-mobile&username=&password=[&code=]",
            "POST /v2/applications",
            "GET|POST /oauth/token?grant_type=client_credentials&client_id=&client_secret=&scope=read write",
            "GET /v2/me",
            "GET /_registrations",
            "DELETE /_registrations",
        ],
        credentials: json!({
            "client_id": CLIENT_ID, "username": USERNAME, "password": PASSWORD,
            "username_2fa": USERNAME_2FA, "code_2fa": CODE_2FA,
        }),
        token_lifetime: TOKEN_LIFETIME,
    }
}

fn invalid_grant(description: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn invalid_client(description: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// `GET|POST /clinked/oauth/token`
async fn token(
    State(st): State<St>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut all = pairs_to_object(parse_urlencoded(query.as_deref().unwrap_or("")));
    all.extend(params(&headers, &body_bytes(body)?)?);
    let param = |name| field(&all, name);
    let lifetime = st.lifetime(TOKEN_LIFETIME);
    let mut store = st.lock();
    let grant = match param("grant_type") {
        Some("password") => {
            if param("client_id") != Some(CLIENT_ID) {
                return Err(invalid_client("Bad client credentials"));
            }
            let (Some(username), Some(password)) = (param("username"), param("password")) else {
                return Err(ApiError::bad_request("Missing username or password"));
            };
            if ![USERNAME, USERNAME_2FA].contains(&username) || password != PASSWORD {
                return Err(invalid_grant("Bad credentials"));
            }
            if username == USERNAME_2FA {
                match param("code") {
                    None => return Err(invalid_grant("2FA code required")),
                    Some(code) if code != CODE_2FA => return Err(invalid_grant("bad 2FA code")),
                    Some(_) => {}
                }
            }
            let scope = SCOPES.join(" ");
            Grant { username: username.to_owned(), client_id: CLIENT_ID.to_owned(), scope, app: false }
        }
        Some("client_credentials") => {
            let client_id = param("client_id").unwrap_or_default();
            let app = store
                .apps
                .get(client_id)
                .filter(|app| param("client_secret") == Some(app.secret.as_str()))
                .ok_or_else(|| invalid_client("Bad client credentials"))?;
            let scope = match param("scope") {
                None => SCOPES.join(" "),
                Some(scope) => match scope.split_whitespace().find(|s| !SCOPES.contains(s)) {
                    Some(bad) => {
                        let msg = format!("Invalid scope: {bad}");
                        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_scope", msg));
                    }
                    None => scope.split_whitespace().collect::<Vec<_>>().join(" "),
                },
            };
            Grant { username: app.owner.clone(), client_id: client_id.to_owned(), scope, app: true }
        }
        Some(other) => {
            let msg = format!("Unsupported grant type: {other}");
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", msg));
        }
        None => return Err(ApiError::bad_request("Missing grant type")),
    };
    let access = new_token();
    let mut answer = json!({"access_token": access, "token_type": "bearer"});
    if !grant.app {
        answer["refresh_token"] = json!(new_token());
    }
    answer["expires_in"] = json!(lifetime);
    answer["scope"] = json!(grant.scope);
    store.tokens.issue(&access, lifetime, grant);
    Ok(Json(answer))
}

/// The grant behind `Authorization: Bearer <token>`, or a Spring-style 401.
fn authenticate(store: &Store, headers: &HeaderMap) -> Result<Grant, ApiError> {
    let refuse = |description: String| {
        let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description).with_challenge(&challenge)
    };
    let token = bearer(headers)
        .ok_or_else(|| refuse("Full authentication is required to access this resource".into()))?;
    store.tokens.check(token).cloned().map_err(|why| match why {
        Refused::Expired => refuse(format!("Access token expired: {token}")),
        Refused::Unknown => refuse(format!("Invalid access token: {token}")),
    })
}

/// `POST /clinked/v2/applications`
async fn register(
    State(st): State<St>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let owner = authenticate(&st.lock(), &headers)?.username;
    let mut app: Map<String, Value> = serde_json::from_slice(&body_bytes(body)?)
        .map_err(|_| ApiError::bad_request("body must be a JSON object describing the application"))?;
    if field(&app, "name").is_none() {
        return Err(ApiError::bad_request("`name` is required"));
    }
    let mut store = st.lock();
    store.registrations += 1;
    let (client_id, secret) = (new_token(), new_token());
    app.insert("id".into(), json!(store.registrations));
    app.insert("clientId".into(), json!(client_id));
    let details = app.clone();
    app.insert("clientSecret".into(), json!(secret));
    store.apps.insert(client_id, App { secret, owner, details });
    Ok(Json(Value::Object(app)))
}

/// `GET /clinked/v2/me`
async fn me(State(st): State<St>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let store = st.lock();
    let grant = authenticate(&store, &headers)?;
    let mut answer = json!({
        "principal": if grant.app { "application" } else { "user" },
        "username": grant.username,
        "clientId": grant.client_id,
        "scope": grant.scope.split(' ').collect::<Vec<_>>(),
    });
    if let Some(app) = store.apps.get(&grant.client_id).filter(|_| grant.app) {
        answer["application"] = Value::Object(app.details.clone());
    }
    Ok(Json(answer))
}

/// `GET /clinked/_registrations`
async fn registrations(State(st): State<St>) -> Json<Value> {
    Json(json!({"count": st.lock().registrations}))
}

/// `DELETE /clinked/_registrations`
async fn forget(State(st): State<St>) -> Json<Value> {
    let mut store = st.lock();
    let forgotten = store.apps.len();
    store.apps.clear();
    Json(json!({"forgotten": forgotten}))
}
