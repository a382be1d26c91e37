//! The step loop: render, send, capture, check, emit.
//!
//! Auth steps run first, then requests, in file order. A failed auth step stops the
//! collection; a request whose captured inputs never arrived is skipped with the
//! reason; other requests still run unless `--fail-fast`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::assert::{self, Failure, as_text, check_expect, excerpt};
use crate::capture::capture;
use crate::event::{CollectionOutcome, Event, Sink, StepError, StepOutcome, StepResult, human_duration};
use crate::exchange::{Exchange, ResolvedBody, ResolvedPart, ResolvedRequest};
use crate::http::{HttpClient, HttpError};
use crate::model::{AuthSpec, Body, Expiry, PartKind, Role, Step, oauth2_vars};
use crate::plan::Plan;
use crate::secret::{Masker, basic_credential, is_secret_name, register_all, register_secret_fields};
use crate::snapshot::{self, UpdateMode};
use crate::source::SourceMap;
use crate::state::{Entry, StateStore};
use crate::template::{RenderError, Scope};
use crate::yaml::{Key, Node};

/// Executor settings.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Stop at the first failed step.
    pub fail_fast: bool,
    /// Which snapshots may be written.
    pub update: UpdateMode,
}

/// Headers whose values are credentials; they are always masked.
const SENSITIVE_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"];

/// What the executor reads from and adds to the persisted state.
pub struct Persist<'s> {
    /// The state as loaded (None when persistence is off).
    pub store: Option<&'s StateStore>,
    /// `--env` name, part of every key.
    pub environment: String,
    /// Entries written by this run (saved by the caller when the run ends).
    pub updates: Vec<(String, Entry)>,
}

/// Runs a validated collection.
pub async fn execute(
    plan: &Plan<'_>,
    client: &HttpClient,
    sources: &SourceMap,
    opts: &ExecOptions,
    persist: &mut Persist<'_>,
    sink: &mut dyn Sink,
) -> CollectionOutcome {
    let started = Instant::now();
    let c = plan.collection;
    let (path, collection_id) =
        sources.get(c.file).map(|f| (f.path.clone(), f.canonical.display().to_string())).unwrap_or_default();
    let label_width = |s: &Step| {
        let name = if s.named { s.name.chars().count() } else { 0 };
        name + if s.role == Role::Auth { " (auth)".len() } else { 0 }
    };
    let name_width = c.steps().map(label_width).max().unwrap_or(0);
    sink.event(&Event::CollectionStarted { name: &c.name, path: &path, name_width });
    let mut runner = Runner {
        plan,
        client,
        sources,
        base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        collection_path: path.clone(),
        update: opts.update,
        scope: (*plan.scope).clone(),
        sink,
        persist,
        collection_id,
        refresh_at: None,
        outcomes: Vec::with_capacity(plan.steps.len()),
        last: HashMap::new(),
    };
    let mut stop: Option<String> = None;
    for ps in &plan.steps {
        let step = plan.step(ps.index);
        if step.lifecycle.refresh_only || !plan.selected[ps.index] {
            continue;
        }
        if let Some(reason) = &stop {
            runner.finish(ps.index, runner.skipped(step, reason.clone()));
            continue;
        }
        if step.role == Role::Request
            && runner.refresh_at.is_some_and(|t| Instant::now() >= t)
            && let Err(failed) = runner.renew("the credentials expired").await
        {
            stop = Some(format!("renewing credentials failed at `{failed}`"));
            runner.finish(ps.index, runner.skipped(step, stop.clone().unwrap_or_default()));
            continue;
        }
        let mut outcome = runner.attempt(ps.index, true).await;
        let uses_session = ps.needs.iter().any(|(_, j)| plan.step(*j).role == Role::Auth);
        let expects_401 =
            step.expect.status.as_ref().is_some_and(|s| s.allowed.iter().any(|p| p.allows(401)));
        if outcome.status == Some(401) && step.role == Role::Request && uses_session && !expects_401 {
            // Once: re-authenticate, retry this request, and take that answer as final.
            match runner.renew("a request got 401").await {
                Ok(()) => {
                    outcome = runner.attempt(ps.index, true).await;
                    outcome.note = Some("retried after 401 and re-authentication".into());
                }
                Err(failed) => {
                    outcome.note = Some(format!("re-authentication after 401 failed at `{failed}`"));
                }
            }
        }
        let failed = matches!(outcome.result, StepResult::Failed(_) | StepResult::Error(_));
        if failed && stop.is_none() {
            if step.role == Role::Auth {
                stop = Some(format!("auth step `{}` failed", step.name));
            } else if opts.fail_fast {
                stop = Some(format!("--fail-fast: step `{}` failed", step.name));
            }
        }
        runner.finish(ps.index, outcome);
    }
    let outcome = CollectionOutcome {
        name: c.name.clone(),
        path,
        steps: std::mem::take(&mut runner.outcomes),
        elapsed: started.elapsed(),
    };
    runner.sink.event(&Event::CollectionFinished(&outcome));
    outcome
}

struct Runner<'r, 'p, 'a, 's> {
    plan: &'p Plan<'a>,
    client: &'r HttpClient,
    sources: &'r SourceMap,
    base_dir: PathBuf,
    collection_path: PathBuf,
    update: UpdateMode,
    scope: Scope,
    sink: &'r mut dyn Sink,
    persist: &'r mut Persist<'s>,
    collection_id: String,
    /// When the current credentials should be renewed (expiry minus a safety margin).
    refresh_at: Option<Instant>,
    outcomes: Vec<StepOutcome>,
    /// Plan step index → its latest outcome.
    last: HashMap<usize, usize>,
}

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Renew a little before expiry: a tenth of the lifetime, at most 30 s.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(30))
}

impl Runner<'_, '_, '_, '_> {
    fn blank(&self, step: &Step) -> StepOutcome {
        StepOutcome {
            name: step.name.clone(),
            named: step.named,
            role: step.role,
            method: step.method.clone(),
            url: None,
            status: None,
            elapsed: Duration::ZERO,
            result: StepResult::Passed,
            span: step.name_span,
            body_excerpt: None,
            note: None,
            snapshot: None,
        }
    }

    fn skipped(&self, step: &Step, reason: String) -> StepOutcome {
        StepOutcome { result: StepResult::Skipped(reason), ..self.blank(step) }
    }

    fn finish(&mut self, index: usize, outcome: StepOutcome) {
        self.sink.event(&Event::StepFinished(&outcome));
        self.last.insert(index, self.outcomes.len());
        self.outcomes.push(outcome);
    }

    /// Runs every auth step again (reusing `once` results), from a clean expiry.
    async fn authenticate(&mut self, why: &str) -> Result<(), String> {
        self.refresh_at = None;
        let plan = self.plan;
        for ps in &plan.steps {
            let step = plan.step(ps.index);
            if step.role != Role::Auth || step.lifecycle.refresh_only {
                continue;
            }
            let mut outcome = self.attempt(ps.index, false).await;
            outcome.note.get_or_insert_with(|| format!("again: {why}"));
            let ok = matches!(outcome.result, StepResult::Passed | StepResult::Reused(_));
            self.finish(ps.index, outcome);
            if !ok {
                return Err(step.name.clone());
            }
        }
        Ok(())
    }

    /// Renews credentials: the refresh-only step when a refresh token is at hand, else full auth.
    async fn renew(&mut self, why: &str) -> Result<(), String> {
        let plan = self.plan;
        let refresh = plan.steps.iter().find(|ps| {
            plan.step(ps.index).lifecycle.refresh_only && ps.needs.iter().all(|(n, _)| self.scope.contains(n))
        });
        if let Some(ps) = refresh {
            let mut outcome = self.attempt(ps.index, false).await;
            outcome.note = Some(format!("refresh: {why}"));
            let ok = matches!(outcome.result, StepResult::Passed);
            self.finish(ps.index, outcome);
            if ok {
                return Ok(());
            }
        }
        self.authenticate(why).await
    }

    /// Runs one step once: reuses persisted results when allowed, else sends it.
    async fn attempt(&mut self, index: usize, allow_cached: bool) -> StepOutcome {
        let plan = self.plan;
        let step = plan.step(index);
        let ps = &plan.steps[index];
        let mut outcome = self.blank(step);
        if let Some((name, j)) = ps.needs.iter().find(|(name, _)| !self.scope.contains(name)) {
            let by = self.last.get(j).map(|&o| &self.outcomes[o]);
            let why = match by.map(|o| &o.result) {
                Some(StepResult::Skipped(_)) => "it was skipped",
                Some(StepResult::Error(_)) => "it ended in an error",
                Some(_) => "it failed",
                None => "it did not run",
            };
            let by_name = &plan.step(*j).name;
            outcome.result = StepResult::Skipped(format!(
                "needs `{name}`, which step `{by_name}` did not capture ({why})"
            ));
            return outcome;
        }
        let ctx = Arc::new(self.scope.clone()).context();
        let render = |n: &Node| plan.templates.render(n, &ctx, self.sources);
        let request = match resolve(plan, step, &ctx, &render, &self.base_dir, &plan.masker) {
            Ok(r) => r,
            Err(e) => {
                outcome.result =
                    StepResult::Error(StepError { message: e.message, span: Some(e.span), help: None });
                return outcome;
            }
        };
        outcome.url = Some(request.url.clone());
        let persisted = step.lifecycle.once || step.lifecycle.cache;
        let key = persisted.then(|| {
            crate::state::key(
                &self.collection_id,
                &self.persist.environment,
                &step.name,
                &fingerprint(&request),
            )
        });
        if let Some(key) = &key
            && (allow_cached || step.lifecycle.once)
            && let Some(entry) = self.lookup(key)
        {
            for (name, value) in &entry.captures {
                if entry.secret.contains(name) {
                    register_all(&plan.masker, value);
                }
                self.scope.set_json(name, value);
            }
            if let Some(t) = entry.expires_at {
                let left = Duration::from_secs(u64::try_from(t - unix_now()).unwrap_or(0));
                self.track_expiry(left);
            }
            let saved =
                jiff::Timestamp::from_second(entry.saved_at).map(|t| t.to_string()).unwrap_or_default();
            outcome.result = StepResult::Reused(format!("reused from state (saved {saved})"));
            return outcome;
        }
        let (ex, stopped) = match self.send_polling(step, &request, &render, &mut outcome).await {
            Ok(sent) => sent,
            Err(e) => {
                self.sink.event(&Event::Exchange { request: &request, response: None });
                outcome.result = StepResult::Error(http_error(&e, step));
                return outcome;
            }
        };
        outcome.status = Some(ex.status);
        outcome.elapsed = ex.elapsed;
        // Secrets in the response are registered before anything about it is shown.
        if let Some(doc) = ex.json() {
            register_secret_fields(&plan.masker, doc);
        }
        let mut failures: Vec<Failure> = stopped.into_iter().collect();
        let mut captured = serde_json::Map::new();
        let mut secret = Vec::new();
        for cap in &step.captures {
            match capture(&cap.source, &ex) {
                Ok(value) => {
                    if cap.secret.unwrap_or(step.role == Role::Auth) {
                        register_all(&plan.masker, &value);
                        secret.push(cap.name.name.clone());
                    }
                    self.scope.set_json(&cap.name.name, &value);
                    captured.insert(cap.name.name.clone(), value);
                }
                Err(_) if cap.optional => {}
                Err(message) => failures.push(Failure {
                    span: cap.name.span,
                    subject: format!("capture `{}`", cap.name.name),
                    expected: "a value".into(),
                    actual: message,
                }),
            }
        }
        self.sink.event(&Event::Exchange { request: &request, response: Some(&ex) });
        // A wrong status explains a missing capture better than the capture does: list it first.
        let mut checked = assert::check(step, &ex, &render);
        checked.append(&mut failures);
        if !checked.is_empty() {
            outcome.body_excerpt = Some(excerpt(&ex.text(), 300));
            outcome.result = StepResult::Failed(checked);
            return outcome;
        }
        if let Some(spec) = &step.snapshot {
            let line = format!("{} {}", request.method, path_and_query(&request.url));
            let text = snapshot::render(&plan.collection.name, &step.name, &line, &ex, spec, &plan.masker);
            let path = snapshot::path_for(&self.collection_path, &step.name);
            let (file, mode) = (path.clone(), self.update);
            // File I/O stays off the async path.
            let verdict = tokio::task::spawn_blocking(move || snapshot::compare(&file, &text, mode)).await;
            match verdict {
                Ok(Ok(v)) => outcome.snapshot = Some((path, v)),
                Ok(Err(e)) => {
                    outcome.result = StepResult::Error(StepError {
                        message: format!("cannot use snapshot {}: {e}", path.display()),
                        span: Some(spec.span),
                        help: None,
                    });
                    return outcome;
                }
                Err(e) => {
                    outcome.result = StepResult::Error(StepError {
                        message: format!("snapshot task failed: {e}"),
                        span: Some(spec.span),
                        help: None,
                    });
                    return outcome;
                }
            }
        }
        let lifetime = step.lifecycle.expires_in.as_ref().and_then(|e| lifetime(e, &ex));
        if let Some(l) = lifetime {
            self.track_expiry(l);
        }
        if let Some(key) = key {
            let expires_at =
                if step.lifecycle.once { None } else { lifetime.map(|l| unix_now() + l.as_secs() as i64) };
            let entry = Entry {
                collection: self.collection_id.clone(),
                environment: self.persist.environment.clone(),
                step: step.name.clone(),
                captures: captured,
                secret,
                saved_at: unix_now(),
                expires_at,
            };
            self.persist.updates.push((key, entry));
        }
        outcome
    }

    /// Sends a request, waiting out `Retry-After` on 429/503 and polling per `retry:`.
    /// Returns the final exchange, and a failure when a `fail_if` condition stopped polling.
    async fn send_polling(
        &mut self,
        step: &Step,
        request: &ResolvedRequest,
        render: &dyn Fn(&Node) -> Result<Json, RenderError>,
        outcome: &mut StepOutcome,
    ) -> Result<(Exchange, Option<Failure>), HttpError> {
        let retry = step.retry.as_ref();
        let attempts = retry.map_or(1, |r| r.count);
        let mut throttled = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self.client.send(request).await;
            let ex = match sent {
                Ok(ex) => ex,
                // While polling, a refused connection may just be a service still starting.
                Err(e)
                    if retry.is_some()
                        && attempt < attempts
                        && !matches!(e, HttpError::InvalidUrl { .. }) =>
                {
                    self.sink.event(&Event::Exchange { request, response: None });
                    tokio::time::sleep(retry.map_or(Duration::ZERO, |r| r.interval)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let expects = |code: u16| {
                step.expect.status.as_ref().is_some_and(|s| s.allowed.iter().any(|p| p.allows(code)))
            };
            if matches!(ex.status, 429 | 503) && !expects(ex.status) && throttled < MAX_THROTTLE_RETRIES {
                throttled += 1;
                let wait = retry_after(&ex).unwrap_or(Duration::from_secs(1)).min(MAX_RETRY_AFTER);
                self.show_attempt(request, &ex);
                outcome.note =
                    Some(format!("waited {} after {} (Retry-After)", human_duration(wait), ex.status));
                tokio::time::sleep(wait).await;
                attempt -= 1;
                continue;
            }
            let Some(r) = retry else { return Ok((ex, None)) };
            if let Some(fail_if) = &r.fail_if
                && check_expect(fail_if, None, &ex, render).is_empty()
            {
                outcome.note = Some(format!("polling stopped at attempt {attempt}"));
                let failure = Failure {
                    span: r.span,
                    subject: "retry.fail_if".into(),
                    expected: "a response that does not match `fail_if`".into(),
                    actual: format!("status {} matched `fail_if` (a terminal failure state)", ex.status),
                };
                return Ok((ex, Some(failure)));
            }
            let done = match &r.until {
                Some(until) => check_expect(until, None, &ex, render).is_empty(),
                None => check_expect(&step.expect, Some(step), &ex, render).is_empty(),
            };
            if done || attempt >= attempts {
                if attempt > 1 {
                    outcome.note = Some(format!("attempt {attempt} of {attempts}"));
                }
                return Ok((ex, None));
            }
            self.show_attempt(request, &ex);
            tokio::time::sleep(r.interval.max(retry_after(&ex).unwrap_or_default().min(MAX_RETRY_AFTER)))
                .await;
        }
    }

    /// An intermediate exchange (polling, throttling), traced with `-v`.
    fn show_attempt(&mut self, request: &ResolvedRequest, ex: &Exchange) {
        if let Some(doc) = ex.json() {
            register_secret_fields(&self.plan.masker, doc);
        }
        self.sink.event(&Event::Exchange { request, response: Some(ex) });
    }

    fn lookup(&self, key: &str) -> Option<Entry> {
        let now = unix_now();
        let fresh = |e: &&Entry| e.is_fresh(now);
        self.persist
            .updates
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, e)| e)
            .filter(fresh)
            .or_else(|| self.persist.store.and_then(|s| s.get(key, now)))
            .cloned()
    }

    fn track_expiry(&mut self, lifetime: Duration) {
        let at = Instant::now() + lifetime.saturating_sub(refresh_margin(lifetime));
        self.refresh_at = Some(self.refresh_at.map_or(at, |t| t.min(at)));
    }
}

/// Throttled answers (429/503) waited out per request, at most.
const MAX_THROTTLE_RETRIES: u32 = 3;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(ex: &Exchange) -> Option<Duration> {
    let v = ex.header("retry-after")?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let secs = when.as_second() - jiff::Timestamp::now().as_second();
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// How long the credentials from this response live.
fn lifetime(expiry: &Expiry, ex: &Exchange) -> Option<Duration> {
    match expiry {
        Expiry::Fixed(d) => Some(*d),
        Expiry::JsonPath(p) => {
            let doc = ex.json()?;
            let v = p.compiled.query(doc).exactly_one().ok()?;
            let secs = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
            (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
        }
    }
}

/// `/path?query` of a URL: snapshots must not depend on the server's host and port.
fn path_and_query(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// What identifies a request for persistence: method, URL and body, but no credentials.
fn fingerprint(r: &ResolvedRequest) -> String {
    let headers: Vec<String> = r
        .headers
        .iter()
        .filter(|(n, _)| !SENSITIVE_HEADERS.contains(&n.to_ascii_lowercase().as_str()))
        .map(|(n, v)| format!("{}:{v}", n.to_ascii_lowercase()))
        .collect();
    format!("{} {}\n{}\n{}", r.method, r.url, headers.join("\n"), r.body.preview().unwrap_or_default())
}

fn http_error(e: &HttpError, step: &Step) -> StepError {
    let help = match e {
        HttpError::Tls(_) => Some("pass the server's CA with `--cacert PATH`, or `--insecure` to skip verification (not for production)".to_string()),
        HttpError::Timeout(_) => Some("raise the limit with `timeout:` on the step or `--timeout`".to_string()),
        HttpError::Connect(_) => Some("is the server running and the URL right?".to_string()),
        _ => None,
    };
    StepError { message: e.to_string(), span: Some(step.url.span), help }
}

/// A rendered value that must be text (URL, header…); null means "leave out".
fn scalar_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        other => Some(as_text(other)),
    }
}

fn render_pairs<'n>(
    pairs: impl IntoIterator<Item = (&'n Key, &'n Node)>,
    render: &dyn Fn(&Node) -> Result<Json, RenderError>,
    out: &mut Vec<(String, String)>,
) -> Result<(), RenderError> {
    for (k, n) in pairs {
        match render(n)? {
            Json::Array(items) => {
                out.extend(items.iter().filter_map(scalar_text).map(|v| (k.name.clone(), v)))
            }
            v => out.extend(scalar_text(&v).map(|v| (k.name.clone(), v))),
        }
    }
    Ok(())
}

/// Merges default and step pairs: a step entry replaces the default of the same name.
/// Yields references: templates are looked up by node identity, so nodes are never cloned.
fn merged<'a>(
    defaults: &'a [(Key, Node)],
    own: &'a [(Key, Node)],
    case_insensitive: bool,
) -> impl Iterator<Item = (&'a Key, &'a Node)> {
    let same = move |a: &str, b: &str| if case_insensitive { a.eq_ignore_ascii_case(b) } else { a == b };
    defaults
        .iter()
        .filter(move |(k, _)| !own.iter().any(|(o, _)| same(&o.name, &k.name)))
        .chain(own.iter())
        .map(|(k, v)| (k, v))
}

/// The issued `token_type` as an HTTP scheme: `bearer` (any case) becomes `Bearer`,
/// other schemes are sent as issued, none means `Bearer`.
fn scheme(token_type: Option<minijinja::Value>) -> String {
    match token_type.map(|v| v.to_string()) {
        Some(t) if t.eq_ignore_ascii_case("bearer") || t.trim().is_empty() => "Bearer".into(),
        Some(t) => t,
        None => "Bearer".into(),
    }
}

fn text_of(
    n: &Node,
    render: &dyn Fn(&Node) -> Result<Json, RenderError>,
    what: &str,
) -> Result<String, RenderError> {
    match render(n)? {
        Json::String(s) => Ok(s),
        Json::Number(x) => Ok(x.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => Err(RenderError {
            span: n.span,
            message: format!("`{what}` must render to text, got {}", crate::model::JsonType::of(&other)),
            undefined: None,
        }),
    }
}

/// Renders a step into a request ready to send.
pub fn resolve(
    plan: &Plan<'_>,
    step: &Step,
    ctx: &minijinja::Value,
    render: &dyn Fn(&Node) -> Result<Json, RenderError>,
    base_dir: &Path,
    masker: &Masker,
) -> Result<ResolvedRequest, RenderError> {
    let d = &plan.collection.defaults;
    let mut url = text_of(&step.url, render, "url")?;
    let mut query = Vec::new();
    render_pairs(merged(&d.query, &step.query, false), render, &mut query)?;
    if !query.is_empty() {
        let (base, fragment) = match url.find('#') {
            Some(i) => (url[..i].to_string(), url[i..].to_string()),
            None => (url.clone(), String::new()),
        };
        let sep = if base.contains('?') {
            if base.ends_with('?') || base.ends_with('&') { "" } else { "&" }
        } else {
            "?"
        };
        let qs = form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish();
        url = format!("{base}{sep}{qs}{fragment}");
    }
    let mut headers = Vec::new();
    render_pairs(merged(&d.headers, &step.headers, true), render, &mut headers)?;
    let has_auth_header = step.headers.iter().any(|(k, _)| k.name.eq_ignore_ascii_case("authorization"));
    match plan.collection.auth_for(step) {
        Some(AuthSpec::Bearer(t)) if !has_auth_header => {
            let token = text_of(t, render, "bearer")?;
            masker.add(&token);
            headers.push(("Authorization".into(), format!("Bearer {token}")));
        }
        Some(AuthSpec::Basic { username, password }) if !has_auth_header => {
            let user = text_of(username, render, "basic.username")?;
            let pass = text_of(password, render, "basic.password")?;
            masker.add(&pass);
            let cred = basic_credential(&user, &pass);
            masker.add(&cred);
            headers.push(("Authorization".into(), format!("Basic {cred}")));
        }
        Some(AuthSpec::OAuth2) if !has_auth_header => {
            let var = |name: &str| ctx.get_attr(name).ok().filter(|v| !v.is_undefined() && !v.is_none());
            let token = var(oauth2_vars::ACCESS_TOKEN).map(|v| v.to_string()).ok_or_else(|| RenderError {
                span: step.name_span,
                message: "no OAuth2 access token yet".into(),
                undefined: Some(oauth2_vars::ACCESS_TOKEN.into()),
            })?;
            masker.add(&token);
            headers
                .push(("Authorization".into(), format!("{} {token}", scheme(var(oauth2_vars::TOKEN_TYPE)))));
        }
        _ => {}
    }
    for (name, value) in &headers {
        if SENSITIVE_HEADERS.contains(&name.to_ascii_lowercase().as_str()) || is_secret_name(name) {
            let token = value.split_once(' ').map_or(value.as_str(), |(_, t)| t);
            masker.add(token);
        }
    }
    // Credentials in parameters and bodies (`password=…`, `client_secret`) never print.
    for (k, v) in &query {
        if is_secret_name(k) {
            masker.add(v);
        }
    }
    let body = match &step.body {
        None => ResolvedBody::None,
        Some(Body::Json(n)) => ResolvedBody::Json(render(n)?),
        Some(Body::Form(pairs)) => {
            let mut out = Vec::new();
            render_pairs(pairs.iter().map(|(k, v)| (k, v)), render, &mut out)?;
            ResolvedBody::Form(out)
        }
        Some(Body::Raw { body, content_type }) => ResolvedBody::Raw {
            text: text_of(body, render, "body")?,
            content_type: content_type.as_ref().map(|n| text_of(n, render, "content_type")).transpose()?,
        },
        Some(Body::Multipart(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                out.push(match &p.kind {
                    PartKind::Text(n) => ResolvedPart::Text {
                        name: p.name.name.clone(),
                        value: text_of(n, render, "multipart field")?,
                    },
                    PartKind::File { path, filename, content_type } => {
                        let rel = text_of(path, render, "file")?;
                        let full = base_dir.join(&rel);
                        let filename = match filename {
                            Some(f) => text_of(f, render, "filename")?,
                            None => Path::new(&rel)
                                .file_name()
                                .map(|f| f.to_string_lossy().into_owned())
                                .unwrap_or(rel.clone()),
                        };
                        ResolvedPart::File {
                            name: p.name.name.clone(),
                            path: full,
                            filename,
                            content_type: content_type
                                .as_ref()
                                .map(|n| text_of(n, render, "content_type"))
                                .transpose()?,
                        }
                    }
                });
            }
            ResolvedBody::Multipart(out)
        }
    };
    match &body {
        ResolvedBody::Json(doc) => register_secret_fields(masker, doc),
        ResolvedBody::Form(pairs) => {
            pairs.iter().filter(|(k, _)| is_secret_name(k)).for_each(|(_, v)| masker.add(v))
        }
        ResolvedBody::Multipart(parts) => {
            for p in parts {
                if let ResolvedPart::Text { name, value } = p
                    && is_secret_name(name)
                {
                    masker.add(value);
                }
            }
        }
        ResolvedBody::Raw { .. } | ResolvedBody::None => {}
    }
    Ok(ResolvedRequest {
        method: step.method.clone(),
        url,
        headers,
        body,
        timeout: step.timeout.or(d.timeout),
    })
}
