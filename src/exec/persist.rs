//! What `once:`, `cache:` and shared credentials keep: keys, locks, lookups and saves.
//!
//! One [`Vault`] serves every collection file of a run. It holds what the run obtained
//! (in memory, by key), one async lock per key (so when several files need the same
//! credentials at once, one fetches and the others wait and reuse), and the state file,
//! whose lock is held while a persisted step runs: another process that needs the same
//! step waits, then re-reads the file and reuses what the first one saved. Each result is
//! written as soon as its step succeeds, so an interrupted run keeps it.
//!
//! Keys:
//! - `once:` results are keyed by collection, environment, step and a fingerprint of the
//!   request (credentials excluded): a registration belongs to its collection;
//! - credentials (`cache:`, and every OAuth2 profile's token) are keyed by *identity*:
//!   method, URL, headers and body with every credential and secret value left out (the
//!   token URL, client id, grant, scope, audience, user), so every file of a run, and with
//!   `cache: true` every later run, that asks for the same grant shares one token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::exchange::ResolvedRequest;
use crate::resolve::SENSITIVE_HEADERS;
use crate::secret::Masker;
use crate::state::{Entry, StateLock, StateStore};
use crate::template::RenderContext;

use super::Runner;

/// How long a step waits for another run's lock on the state file.
const LOCK_WAIT: Duration = Duration::from_secs(300);
/// How often a waiting step tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// What every file of a run shares: the state file and what the run obtained.
pub struct Vault {
    /// The state file (None when no step of the run persists).
    store: Option<Arc<StateStore>>,
    /// `--env` name, part of every `once` key.
    environment: String,
    /// Entries obtained in this run, by key.
    memory: Mutex<HashMap<String, InRun>>,
    /// One lock per key.
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The last generation handed out.
    generation: std::sync::atomic::AtomicU64,
    /// Entries written to the state file by this run.
    saved: std::sync::atomic::AtomicUsize,
}

/// An entry obtained in this run.
#[derive(Debug, Clone)]
struct InRun {
    /// Grows with every store, so a file can tell that another one renewed what it holds.
    generation: u64,
    entry: Entry,
    /// When the credentials are due for renewal (to the instant, unlike the entry's
    /// `expires_at` in seconds).
    renew_at: Option<Instant>,
}

/// Whether a step uses the state file, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileLock {
    /// Not at all: kept for this run only.
    None,
    /// Locked for as long as the step is held (it reads, sends, then writes).
    Held,
    /// Locked for each read and write only.
    PerOperation,
}

/// Where a found entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Obtained earlier in this run (by this file or another).
    Run,
    /// Read from the state file.
    File,
}

/// An entry found for a key.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub entry: Entry,
    pub origin: Origin,
    /// Its generation in this run (0 for one read from the file).
    pub generation: u64,
    /// When its credentials are due for renewal, when obtained in this run.
    pub renew_at: Option<Instant>,
}

impl Found {
    /// Whether it can still be used: before its renewal time when obtained in this run,
    /// else before its expiry.
    pub fn is_fresh(&self) -> bool {
        match self.renew_at {
            Some(at) => Instant::now() < at,
            None => self.entry.is_fresh(unix_now()),
        }
    }
}

/// A key held: its async lock, and the state file's lock when the step holds it.
pub(super) struct Held {
    _key: tokio::sync::OwnedMutexGuard<()>,
    file: FileLock,
    _lock: Option<StateLock>,
}

impl Held {
    /// Whether it holds the state file for the whole step.
    pub(super) fn holds_file(&self) -> bool {
        self.file == FileLock::Held
    }
}

impl Vault {
    /// A vault over `store` for the `--env` named `environment`.
    pub fn new(store: Option<Arc<StateStore>>, environment: String) -> Self {
        Vault {
            store,
            environment,
            memory: Mutex::default(),
            keys: Mutex::default(),
            generation: std::sync::atomic::AtomicU64::new(0),
            saved: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// `--env` name.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// Takes `key`'s lock (waiting for another file of the run that holds it), and with
    /// `file` the state file's lock too (waiting, at most [`LOCK_WAIT`], for another run).
    pub(super) async fn hold(&self, key: &str, file: FileLock) -> Result<Held, String> {
        let lock = {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            keys.entry(key.to_string()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        let file = if self.store.is_some() { file } else { FileLock::None };
        let held_lock = match (&self.store, file) {
            (Some(store), FileLock::Held) => Some(lock_file(store).await?),
            _ => None,
        };
        Ok(Held { _key: guard, file, _lock: held_lock })
    }

    /// Runs `op` on the state file under its lock: the one `held` has, else one taken
    /// for this operation. `None` when `held` does not use the file.
    async fn with_file<T: Send + 'static>(
        &self,
        held: &Held,
        op: impl FnOnce(&StateStore) -> Result<T, crate::diagnostic::Diagnostic> + Send + 'static,
    ) -> Result<Option<T>, String> {
        let Some(store) = self.store.clone() else { return Ok(None) };
        let lock = match held.file {
            FileLock::None => return Ok(None),
            FileLock::Held => None,
            FileLock::PerOperation => Some(lock_file(&store).await?),
        };
        let result = blocking(move || op(&store)).await;
        drop(lock);
        result.map(Some)
    }

    /// The entry at `key`, fresh or not: this run's, else (when `held` has the file
    /// locked) the state file's as it is now.
    pub(super) async fn find(&self, held: &Held, key: &str) -> Result<Option<Found>, String> {
        if let Some(kept) = self.memory.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned() {
            let InRun { generation, entry, renew_at } = kept;
            return Ok(Some(Found { entry, origin: Origin::Run, generation, renew_at }));
        }
        let owned = key.to_string();
        let entry = self.with_file(held, move |store| store.read_locked(&owned)).await?.flatten();
        Ok(entry.map(|entry| Found { entry, origin: Origin::File, generation: 0, renew_at: None }))
    }

    /// A fresh entry of this run at `key` stored after generation `seen`: credentials
    /// another file renewed.
    pub(super) fn newer(&self, key: &str, seen: u64) -> Option<Found> {
        let memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = memory.get(key)?;
        let found = Found {
            entry: kept.entry.clone(),
            origin: Origin::Run,
            generation: kept.generation,
            renew_at: kept.renew_at,
        };
        (kept.generation > seen && found.is_fresh()).then_some(found)
    }

    /// Keeps `entry` for the rest of the run and, when `held` uses the state file,
    /// writes it there at once. Returns its generation.
    pub(super) async fn put(
        &self,
        held: &Held,
        key: &str,
        entry: Entry,
        renew_at: Option<Instant>,
    ) -> Result<u64, String> {
        let generation = self.generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let kept = InRun { generation, entry: entry.clone(), renew_at };
        self.memory.lock().unwrap_or_else(PoisonError::into_inner).insert(key.to_string(), kept);
        let owned = key.to_string();
        if self.with_file(held, move |store| store.put_locked(owned, entry)).await?.is_some() {
            self.saved.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(generation)
    }

    /// Forgets the entry at `key`, in this run and in the state file.
    pub(super) async fn forget(&self, key: &str) -> Result<(), String> {
        let held = self.hold(key, FileLock::PerOperation).await?;
        self.forget_held(&held, key).await
    }

    /// [`forget`](Self::forget) under a hold taken already (a step holding the state file).
    pub(super) async fn forget_held(&self, held: &Held, key: &str) -> Result<(), String> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
        let owned = key.to_string();
        self.with_file(held, move |store| store.remove_locked(&owned)).await.map(drop)
    }

    /// The state file as `--state` would name it, when it is not the default one.
    pub fn state_flag(&self) -> Option<String> {
        let path = self.store.as_ref()?.path();
        (crate::state::default_path().as_deref() != Some(path)).then(|| path.display().to_string())
    }

    /// How many entries this run wrote to the state file.
    pub fn saved(&self) -> usize {
        self.saved.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Waits for the state file's lock, trying every [`LOCK_POLL`]; never blocks the runtime.
async fn lock_file(store: &StateStore) -> Result<StateLock, String> {
    let started = std::time::Instant::now();
    loop {
        match store.try_lock() {
            Ok(Some(lock)) => return Ok(lock),
            Ok(None) if started.elapsed() < LOCK_WAIT => tokio::time::sleep(LOCK_POLL).await,
            Ok(None) => {
                return Err(format!(
                    "the state file `{}` stayed locked by another baton run for {} s",
                    store.path().display(),
                    LOCK_WAIT.as_secs()
                ));
            }
            Err(d) => return Err(d.message),
        }
    }
}

/// Runs state file I/O off the async path.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::diagnostic::Diagnostic> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(d)) => Err(match d.help {
            Some(h) => format!("{} ({h})", d.message),
            None => d.message,
        }),
        Err(e) => Err(format!("state file task failed: {e}")),
    }
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// What identifies a request for persistence: method, URL, headers and body, but no
/// credentials (a renewed token must not make a cached result unreachable).
pub(super) fn fingerprint(r: &ResolvedRequest) -> String {
    format!(
        "{} {}\n{}\n{}",
        r.method,
        r.url,
        plain_headers(r).join("\n"),
        r.body.preview().unwrap_or_default()
    )
}

/// The headers of `r` that carry no credential, as `name:value`.
fn plain_headers(r: &ResolvedRequest) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(n, _)| {
            let n = n.to_ascii_lowercase();
            !SENSITIVE_HEADERS.contains(&n.as_str()) && !r.secret_headers.contains(&n)
        })
        .map(|(n, v)| format!("{}:{v}", n.to_ascii_lowercase()))
        .collect()
}

/// What identifies the credentials a request obtains: its [`fingerprint`] with every
/// secret value masked out of the body (client secret, password, refresh token,
/// assertion), and the user name of HTTP Basic client authentication kept (the client
/// id, not its secret). Two requests for the same grant, scope, audience and user at the
/// same token URL have the same identity whatever file or step they come from.
pub(super) fn identity(r: &ResolvedRequest, masker: &Masker) -> String {
    let basic_user = r
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| pair.split_once(':').map(|(user, _)| user.to_string()))
        .unwrap_or_default();
    let body = masker.mask(&r.body.preview().unwrap_or_default());
    format!(
        "{} {}\nclient:{basic_user}\n{}\n{body}",
        r.method,
        masker.mask(&r.url),
        plain_headers(r).join("\n")
    )
}

/// What a token request leaves to the user's approval (an authorization-code or device
/// grant): the profile, the endpoint the person approves at and what is asked there
/// (`scope`, `audience`, `authorize_params:`). Two profiles whose token requests are alike
/// are two people logging in, so they never share a token; empty for other steps.
pub(super) fn front_channel(step: &crate::plan::CompiledStep<'_>, ctx: &RenderContext<'_>) -> String {
    let (url, fields) = match (&step.authorize, &step.device) {
        (Some(a), _) => (&a.url, &a.fields),
        (None, Some(d)) => (&d.url, &d.fields),
        (None, None) => return String::new(),
    };
    // What does not render here fails where the approval is asked for, with its position.
    let mut out = format!(
        "\nprofile:{}\napprove at:{}",
        step.profile.as_ref().map_or("", |k| k.name.as_str()),
        ctx.text(url, "url").unwrap_or_default()
    );
    for (k, t) in fields {
        out.push_str(&format!("\n{}={}", k.name, ctx.text(t, &k.name).unwrap_or_default()));
    }
    out
}

impl Runner<'_, '_, '_, '_> {
    /// The state key of a step's request: per collection for `once:`, by identity for
    /// credentials (with what the user approves, for grants that ask a person).
    pub(super) fn state_key(
        &self,
        step: &crate::plan::CompiledStep<'_>,
        request: &ResolvedRequest,
        ctx: &RenderContext<'_>,
    ) -> String {
        if step.lifecycle.once {
            crate::state::key(
                &self.collection_id,
                self.vault.environment(),
                &step.name,
                &fingerprint(request),
            )
        } else {
            let identity = identity(request, &self.plan.masker) + &front_channel(step, ctx);
            crate::state::key("credentials", "", "", &identity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::ResolvedBody;

    fn request(headers: &[(&str, &str)]) -> ResolvedRequest {
        ResolvedRequest {
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: ResolvedBody::Form(vec![("grant_type".into(), "client_credentials".into())]),
            ..ResolvedRequest::new("POST", "http://127.0.0.1:1/token")
        }
    }

    #[test]
    fn fingerprints_leave_out_credentials() {
        let a = fingerprint(&request(&[("Authorization", "Bearer one"), ("X-Api-Key", "k1")]));
        let b = fingerprint(&request(&[("authorization", "Bearer two"), ("x-api-key", "k2")]));
        assert_eq!(a, b, "a renewed credential keeps the same identity");
        assert!(!a.contains("one") && !a.contains("k1"), "{a}");
    }

    #[test]
    fn fingerprints_tell_requests_apart_by_headers_url_and_body() {
        let base = fingerprint(&request(&[("Accept", "application/json")]));
        assert_ne!(base, fingerprint(&request(&[("Accept", "text/plain")])));
        let mut other = request(&[("Accept", "application/json")]);
        other.url.push_str("?x=1");
        assert_ne!(base, fingerprint(&other));
        other = request(&[("Accept", "application/json")]);
        other.body = ResolvedBody::Form(vec![("grant_type".into(), "password".into())]);
        assert_ne!(base, fingerprint(&other));
    }

    fn grant(client: &str, secret: &str, scope: &str) -> ResolvedRequest {
        let mut r = request(&[]);
        r.body = ResolvedBody::Form(vec![
            ("grant_type".into(), "client_credentials".into()),
            ("client_id".into(), client.into()),
            ("client_secret".into(), secret.into()),
            ("scope".into(), scope.into()),
        ]);
        r
    }

    #[test]
    fn identities_keep_client_grant_and_scope_and_leave_out_secrets() {
        let masker = Masker::default();
        masker.add("first-secret-value");
        masker.add("second-secret-value");
        let a = identity(&grant("app", "first-secret-value", "read"), &masker);
        assert_eq!(
            a,
            identity(&grant("app", "second-secret-value", "read"), &masker),
            "secrets are not identity"
        );
        assert!(!a.contains("first-secret-value"), "{a}");
        assert_ne!(a, identity(&grant("other-app", "first-secret-value", "read"), &masker));
        assert_ne!(a, identity(&grant("app", "first-secret-value", "read write"), &masker));
    }

    #[test]
    fn identities_of_basic_client_authentication_keep_the_client_id_only() {
        let masker = Masker::default();
        let basic = |pair: &str| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
            identity(&request(&[("Authorization", &format!("Basic {b64}"))]), &masker)
        };
        assert_eq!(basic("app:one"), basic("app:two"));
        assert_ne!(basic("app:one"), basic("other:one"));
        assert!(basic("app:one").contains("client:app\n"), "{}", basic("app:one"));
    }
}
