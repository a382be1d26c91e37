//! Emulations of real providers' token flows, one module per provider, each
//! nested (`Router::nest`) under its own path prefix and with fixed demo
//! credentials (`pub const`s):
//!
//! | module      | prefix     | flow |
//! |-------------|------------|------|
//! | [`clinked`] | `/clinked` | password grant (+ 2FA code) → app registration → client credentials, all as GET query parameters |
//! | [`p001`]    | `/p001`    | password grant with a JSON body, rotating refresh tokens |
//! | [`p002`]    | `/p002`    | client credentials with HTTP Basic; API key, `Referer` and `Origin` checks; short-lived tokens |
//! | [`cedato`]  | `/cedato`  | client credentials with HTTP Basic and `api-version`; token nested under `data`; CSV reports |
//! | [`auth0`]   | `/auth0`   | client credentials with an audience → HS256 JWT; public, private and scoped endpoints |
//!
//! Opaque tokens are random (UUID based); every issued token is tracked with
//! its expiry, and an unknown or expired one gets a 401. The `token_lifetime`
//! knob (see [`Knobs`](super::Knobs)), or `token_lifetime_ms` for sub-second
//! lifetimes, overrides every provider's default lifetime, in `expires_in`
//! (fractional seconds when it is not whole) and in the real expiry. `GET /`
//! lists every provider's endpoints and credentials.

pub mod auth0;
pub mod cedato;
pub mod clinked;
pub mod p001;
pub mod p002;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::knobs::Control;
use super::{ApiError, pairs_to_object, parse_urlencoded};

/// Expired tokens are forgotten this long after their expiry (until then
/// they are reported as expired rather than unknown).
const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// One provider: where it is served, its routes (relative to that prefix)
/// and its entry in `GET /`.
struct Provider {
    prefix: &'static str,
    router: fn(&Control) -> Router,
    index: fn() -> Entry,
}

/// Every provider, in the order `GET /` lists them; the prefix also names
/// its entry there.
const PROVIDERS: [Provider; 5] = [
    Provider { prefix: "/clinked", router: clinked::router, index: clinked::index },
    Provider { prefix: "/p001", router: p001::router, index: p001::index },
    Provider { prefix: "/p002", router: p002::router, index: p002::index },
    Provider { prefix: "/cedato", router: cedato::router, index: cedato::index },
    Provider { prefix: "/auth0", router: auth0::router, index: auth0::index },
];

/// Routes of every provider, each nested under its prefix.
pub(crate) fn router(control: &Control) -> Router {
    PROVIDERS.iter().fold(Router::new(), |router, p| router.nest(p.prefix, (p.router)(control)))
}

/// A provider's part of `GET /`, its endpoints written relative to its prefix
/// (`"GET /v2/me"`).
pub(crate) struct Entry {
    endpoints: &'static [&'static str],
    credentials: Value,
    token_lifetime: u64,
}

/// The providers' part of `GET /`: endpoints and demo credentials.
pub(crate) fn index() -> Value {
    let entries = PROVIDERS.iter().map(|p| {
        let Entry { endpoints, credentials, token_lifetime } = (p.index)();
        let endpoints: Vec<String> = endpoints
            .iter()
            .map(|e| match e.split_once(' ') {
                Some((method, path)) => format!("{method} {}{path}", p.prefix),
                None => format!("{}{e}", p.prefix),
            })
            .collect();
        let entry = json!({
            "prefix": p.prefix,
            "endpoints": endpoints,
            "credentials": credentials,
            "token_lifetime": token_lifetime,
        });
        (p.prefix.trim_start_matches('/').to_owned(), entry)
    });
    Value::Object(entries.collect())
}

/// Router state of one provider: its store and the playground's knobs.
pub(crate) struct Shared<S> {
    control: Control,
    store: Arc<Mutex<S>>,
}

impl<S> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Shared { control: self.control.clone(), store: Arc::clone(&self.store) }
    }
}

impl<S: Default> Shared<S> {
    fn new(control: &Control) -> Self {
        Shared { control: control.clone(), store: Arc::default() }
    }
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, S> {
        // Handlers never panic while holding the lock, but stay usable if one did.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lifetime of a new token: the `token_lifetime(_ms)` knob, else `default` seconds.
    fn lifetime(&self, default: u64) -> Lifetime {
        Lifetime(self.control.lifetime(default))
    }
}

/// How long a new token lives. Serializes as its `expires_in`: whole seconds,
/// or fractional ones (`0.2`) for a sub-second knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime(Duration);

impl Lifetime {
    /// Whole seconds, rounded up: for `exp` claims.
    fn secs(self) -> u64 {
        self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)
    }
}

impl Serialize for Lifetime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.subsec_nanos() == 0 {
            serializer.serialize_u64(self.0.as_secs())
        } else {
            serializer.serialize_f64(self.0.as_secs_f64())
        }
    }
}

/// Issued tokens with their expiry and what they grant.
pub(crate) struct Tokens<T>(HashMap<String, (Instant, T)>);

impl<T> Default for Tokens<T> {
    fn default() -> Self {
        Tokens(HashMap::new())
    }
}

impl<T> Tokens<T> {
    /// Records `token` as valid for `lifetime` from now.
    fn issue(&mut self, token: &str, lifetime: Lifetime, grant: T) {
        let now = Instant::now();
        self.0.retain(|_, (expiry, _)| now.saturating_duration_since(*expiry) < FORGET_AFTER);
        // Lifetimes are capped (10 years), so the fallback is never taken.
        let expiry = now.checked_add(lifetime.0).unwrap_or(now);
        self.0.insert(token.to_owned(), (expiry, grant));
    }

    /// What a live `token` grants, or why it is refused.
    fn check(&self, token: &str) -> Result<&T, Refused> {
        match self.0.get(token) {
            None => Err(Refused::Unknown),
            Some((expiry, _)) if Instant::now() >= *expiry => Err(Refused::Expired),
            Some((_, grant)) => Ok(grant),
        }
    }

    /// Forgets `token`.
    fn revoke(&mut self, token: &str) {
        self.0.remove(token);
    }
}

/// Why [`Tokens::check`] refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Unknown,
    Expired,
}

impl Refused {
    fn describe(self) -> &'static str {
        match self {
            Refused::Unknown => "unknown token",
            Refused::Expired => "token expired",
        }
    }
}

/// A fresh random token (32 hex digits).
fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A header's value, if present and visible ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the request says its body is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    header(headers, "content-type").is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        essence == "application/json" || essence.ends_with("+json")
    })
}

/// `Authorization: Basic …` decoded to `(user, password)`.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let (scheme, encoded) = header(headers, "authorization")?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = header(headers, header::AUTHORIZATION.as_str())?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Body parameters: a JSON object when the body says it is JSON, else a
/// urlencoded form (repeated names become arrays, see [`field`]).
fn params(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        Ok(Map::new())
    } else if is_json(headers) {
        serde_json::from_slice(body).map_err(|_| ApiError::bad_request("body must be a JSON object"))
    } else {
        Ok(pairs_to_object(parse_urlencoded(&String::from_utf8_lossy(body))))
    }
}

/// A non-empty string parameter.
fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}
