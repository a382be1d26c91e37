//! `/demo`: a tiny app with register → login → Bearer-protected resources.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{
    ApiError, DEMO_PASSWORD, DEMO_USERNAME, body_bytes, pairs_to_object, parse_urlencoded, path_param,
};

/// Routes, nested under `/demo`, with fresh state.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/items", get(list_items).post(create_item))
        .route("/items/{id}", get(get_item).delete(delete_item))
        .route("/report.csv", get(report))
        .with_state(Shared::default())
}

/// Fixed account creation time, so responses are deterministic.
const CREATED_AT: &str = "2024-01-01T00:00:00Z";

/// Shared in-memory state of one playground's demo app.
#[derive(Clone)]
struct Shared(Arc<Mutex<Store>>);

impl Default for Shared {
    fn default() -> Self {
        let demo = User { id: 1, username: DEMO_USERNAME.to_owned(), password: DEMO_PASSWORD.to_owned() };
        Shared(Arc::new(Mutex::new(Store {
            users: vec![demo],
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            items: BTreeMap::new(),
            next_item: 1,
        })))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        // Handlers never panic while holding the lock, but stay usable if one did.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct User {
    id: u64,
    username: String,
    password: String,
}

#[derive(Clone, Serialize)]
struct Item {
    id: u64,
    name: String,
    price: serde_json::Number,
    tags: Vec<Value>,
    owner: String,
}

struct Store {
    users: Vec<User>,
    /// access token → user id
    tokens: HashMap<String, u64>,
    /// refresh token → user id (issued for realism; no refresh endpoint yet)
    refresh_tokens: HashMap<String, u64>,
    items: BTreeMap<u64, Item>,
    next_item: u64,
}

impl Store {
    /// Resolves the `Authorization: Bearer <token>` header to a user.
    fn authenticate(&self, headers: &HeaderMap) -> Result<&User, ApiError> {
        let invalid = |description: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
                .with_challenge("Bearer error=\"invalid_token\"")
        };
        let value =
            headers.get(header::AUTHORIZATION).ok_or_else(|| invalid("missing Authorization header"))?;
        let value = value.to_str().map_err(|_| invalid("malformed Authorization header"))?;
        let token = match value.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(invalid("expected a Bearer token")),
        };
        self.tokens
            .get(token)
            .and_then(|id| self.users.iter().find(|u| u.id == *id))
            .ok_or_else(|| invalid("unknown or expired token"))
    }

    /// The items belonging to `owner`, in id order.
    fn items_of<'a>(&'a self, owner: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.values().filter(move |i| i.owner == owner)
    }

    /// Item `id` (raw path text) if it exists and belongs to `owner`, else a 404.
    fn owned_item(&self, id: &str, owner: &str) -> Result<&Item, ApiError> {
        let item = id.parse::<u64>().ok().and_then(|id| self.items.get(&id));
        item.filter(|i| i.owner == owner)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no item `{id}`")))
    }
}

/// Reads `username` and `password` from a JSON or form-urlencoded body.
fn credentials(headers: &HeaderMap, body: &[u8]) -> Result<(String, String), ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let fields: Map<String, Value> = if is_form {
        pairs_to_object(parse_urlencoded(&String::from_utf8_lossy(body)))
    } else {
        serde_json::from_slice(body)
            .map_err(|_| ApiError::bad_request("body must be a JSON object or a urlencoded form"))?
    };
    let field = |name: &str| match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ApiError::bad_request(format!("`{name}` is required"))),
    };
    Ok((field("username")?, field("password")?))
}

/// `POST /demo/register`
async fn register(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (username, password) = credentials(&headers, &body_bytes(body)?)?;
    let mut store = state.lock();
    if store.users.iter().any(|u| u.username == username) {
        let msg = format!("user `{username}` already exists");
        return Err(ApiError::new(StatusCode::CONFLICT, "user_exists", msg));
    }
    let id = store.users.iter().map(|u| u.id).max().unwrap_or(0) + 1;
    store.users.push(User { id, username: username.clone(), password });
    Ok((StatusCode::CREATED, Json(json!({"id": id, "username": username}))))
}

/// `POST /demo/login`
async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let (username, password) = credentials(&headers, &body_bytes(body)?)?;
    let mut store = state.lock();
    let id = store
        .users
        .iter()
        .find(|u| u.username == username && u.password == password)
        .map(|u| u.id)
        .ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid_grant", "wrong username or password")
        })?;
    let access = format!("at-{}", uuid::Uuid::new_v4().simple());
    let refresh = format!("rt-{}", uuid::Uuid::new_v4().simple());
    store.tokens.insert(access.clone(), id);
    store.refresh_tokens.insert(refresh.clone(), id);
    Ok(Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": refresh,
    })))
}

/// `GET /demo/me`
async fn me(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let store = state.lock();
    let user = store.authenticate(&headers)?;
    Ok(Json(json!({
        "id": user.id,
        "username": user.username,
        "roles": ["user"],
        "created_at": CREATED_AT,
    })))
}

/// `GET /demo/items`
async fn list_items(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Vec<Item>>, ApiError> {
    let store = state.lock();
    let owner = &store.authenticate(&headers)?.username;
    Ok(Json(store.items_of(owner).cloned().collect()))
}

/// `POST /demo/items`
async fn create_item(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let mut store = state.lock();
    let owner = store.authenticate(&headers)?.username.clone();
    let invalid = |msg: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_item", msg);
    let value: Value = serde_json::from_slice(&body_bytes(body)?)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(invalid("body must be a JSON object"));
    };
    let name = match fields.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => return Err(invalid("`name` is required and must be a non-empty string")),
    };
    let Some(Value::Number(price)) = fields.get("price") else {
        return Err(invalid("`price` is required and must be a number"));
    };
    let tags = match fields.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tags)) => tags.clone(),
        Some(_) => return Err(invalid("`tags` must be an array")),
    };
    let id = store.next_item;
    store.next_item += 1;
    let item = Item { id, name, price: price.clone(), tags, owner };
    store.items.insert(id, item.clone());
    let location = format!("/demo/items/{id}");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(item)))
}

/// `GET /demo/items/{id}`
async fn get_item(
    State(state): State<Shared>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Item>, ApiError> {
    let store = state.lock();
    let owner = &store.authenticate(&headers)?.username;
    Ok(Json(store.owned_item(&path_param(id)?, owner)?.clone()))
}

/// `DELETE /demo/items/{id}`
async fn delete_item(
    State(state): State<Shared>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let mut store = state.lock();
    let owner = store.authenticate(&headers)?.username.clone();
    let id = store.owned_item(&path_param(id)?, &owner)?.id;
    store.items.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /demo/report.csv`
async fn report(State(state): State<Shared>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    let store = state.lock();
    let owner = &store.authenticate(&headers)?.username;
    let mut csv = String::from("id,name,price\n");
    for item in store.items_of(owner) {
        let name = csv_field(&item.name);
        csv.push_str(&format!("{},{name},{}\n", item.id, item.price));
    }
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv))
}

/// Quotes a CSV field when it contains a separator, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}
