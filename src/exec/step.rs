//! One step's life: resolve → reuse or send (polling) → capture → assert → snapshot → keep.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use crate::assert::{self, Failure};
use crate::capture::capture;
use crate::event::{Event, Note, RenewReason, StepError, StepOutcome, StepResult};
use crate::exchange::{Exchange, ResolvedRequest};
use crate::http::HttpError;
use crate::model::{Role, SnapshotSpec};
use crate::plan::{CompiledStep, PlannedStep};
use crate::resolve::resolve;
use crate::secret::{register_all, register_secret_fields};
use crate::snapshot::{self, Verdict};
use crate::state::Entry;
use crate::template::RenderContext;

use super::persist::{FileLock, Found, Held, Origin, unix_now};
use super::poll::SendError;
use super::session::{Cred, RenewFailed, lifetime};
use super::{Runner, blank};

/// Whether an `if:` holds (or a `skip_if:` does not): the template must give true or false.
fn condition_holds(
    c: &crate::model::Condition<crate::template::Template<'_>>,
    ctx: &RenderContext<'_>,
) -> Result<bool, StepError> {
    let key = if c.skip_if { "skip_if" } else { "if" };
    let value =
        ctx.render(&c.when).map_err(|e| StepError { message: e.message, span: Some(e.span), help: None })?;
    let holds = match &value {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) if s.trim().eq_ignore_ascii_case("true") => true,
        serde_json::Value::String(s) if s.trim().eq_ignore_ascii_case("false") => false,
        other => {
            return Err(StepError {
                message: format!(
                    "`{key}:` gave {}, not true or false",
                    ctx.excerpt(&crate::printable::line(&other.to_string()), 80)
                ),
                span: Some(c.when.span()),
                help: Some(format!(
                    "write a test that gives true or false, e.g. `{key}: \"{{{{ user_id is defined }}}}\"` \
                     or `{key}: \"{{{{ env('STAGE') == 'prod' }}}}\"`"
                )),
            });
        }
    };
    Ok(holds != c.skip_if)
}

/// "`if: {{ x }}` is false" for a skipped step.
fn skip_reason(
    c: &crate::model::Condition<crate::template::Template<'_>>,
    sources: &crate::source::SourceMap,
) -> String {
    let text = crate::printable::line(sources.text(c.when.span()).trim()).into_owned();
    if c.skip_if { format!("skip_if: {text} is true") } else { format!("if: {text} is false") }
}

/// Values a step captured, and which of them are secret.
#[derive(Default)]
struct Captured {
    values: serde_json::Map<String, serde_json::Value>,
    secret: Vec<String>,
}

impl<'r> Runner<'r, '_, '_, '_> {
    /// Runs one step once: skips it when an input is missing, reuses its kept result
    /// when allowed, else sends it.
    pub(super) async fn attempt(&mut self, index: usize, allow_cached: bool) -> StepOutcome {
        let plan = self.plan;
        let ps = &plan.steps[index];
        let step = &ps.step;
        let mut outcome = blank(step);
        if let Some(missing) = self.missing_input(ps) {
            outcome.result = missing;
            return outcome;
        }
        // A device-code token step gets its device code in `exchange`: until then the
        // request is rendered (and its credentials keyed) without one, the same every time.
        if step.device.is_some() {
            self.scope
                .set(&profile_var(step, crate::model::oauth2_vars::DEVICE_CODE), minijinja::Value::from(""));
        }
        // Likewise the authorization code, its verifier and redirect URI.
        if step.authorize.is_some() {
            use crate::model::oauth2_vars::{AUTHORIZATION_CODE, CODE_VERIFIER, REDIRECT_URI};
            for var in [AUTHORIZATION_CODE, CODE_VERIFIER, REDIRECT_URI] {
                self.scope.set(&profile_var(step, var), minijinja::Value::from(""));
            }
        }
        // Likewise a client assertion, signed in `exchange` for each token request.
        if step.assertion.is_some() {
            self.scope.set(
                &profile_var(step, crate::model::oauth2_vars::CLIENT_ASSERTION),
                minijinja::Value::from(""),
            );
        }
        let ctx = RenderContext::new(&self.scope, self.sources).masking(&plan.masker);
        if let Some(condition) = &step.condition {
            match condition_holds(condition, &ctx) {
                Ok(true) => {}
                Ok(false) => {
                    outcome.result = StepResult::Skipped(skip_reason(condition, self.sources));
                    return outcome;
                }
                Err(e) => {
                    outcome.result = StepResult::Error(e);
                    return outcome;
                }
            }
        }
        if let Some(wait) = step.wait {
            let started = std::time::Instant::now();
            tokio::time::sleep(wait).await;
            outcome.elapsed = started.elapsed();
            return outcome;
        }
        if let Some(delay) = step.delay {
            tokio::time::sleep(delay).await;
        }
        let request = match resolve(step, &ctx, &self.base_dir, &plan.masker) {
            Ok(r) => r,
            Err(e) => {
                outcome.result =
                    StepResult::Error(StepError { message: e.message, span: Some(e.span), help: None });
                return outcome;
            }
        };
        outcome.url = Some(request.url.clone());
        if let Err(e) = super::origin::check(ps, &request, &self.origins, self.sources) {
            outcome.result = StepResult::Error(e);
            return outcome;
        }
        if let Err(e) = super::files::check(&request, &self.base_dir, &self.file_roots, step.name_span) {
            outcome.result = StepResult::Error(e);
            return outcome;
        }
        if !step.lifecycle.keeps() {
            return self.exchange(ps, request, ctx, None, outcome).await;
        }
        let key = self.state_key(step, &request, &ctx);
        match self.find_kept(index, &key, allow_cached).await {
            Ok(Kept::Reuse(found)) => {
                outcome.result = self.reuse(index, &key, &found);
                outcome
            }
            Ok(Kept::Renewed(renewed)) => *renewed,
            Ok(Kept::Send(held, note)) => {
                outcome.notes.extend(note);
                self.exchange(ps, request, ctx, Some((held, key)), outcome).await
            }
            Err(message) => {
                outcome.result = StepResult::Error(state_error(message, step));
                outcome
            }
        }
    }

    /// Holds `key` and looks for a result to use instead of sending: a fresh one (for a
    /// renewal, only one newer than what this collection holds), else saved credentials
    /// renewed with their refresh token.
    async fn find_kept(&mut self, index: usize, key: &str, allow_cached: bool) -> Result<Kept, String> {
        let step = self.plan.step(index);
        let life = &step.lifecycle;
        // The state file stays locked while an auth step runs, so a concurrent run waits
        // and then reuses what this one saved; a request locks it only to read and write.
        let file = if !(life.once || life.cache) {
            FileLock::None
        } else if step.role == Role::Auth {
            FileLock::Held
        } else {
            FileLock::PerOperation
        };
        let held = self.vault.hold(key, file).await?;
        let Some(found) = self.vault.find(&held, key).await? else { return Ok(Kept::Send(held, None)) };
        let profile = self.plan.profile_of(index);
        let holds = self.sessions[profile].cred.as_ref().filter(|c| c.key == key).map(|c| c.generation);
        if found.is_fresh() && (allow_cached || life.once || holds.is_some_and(|g| found.generation > g)) {
            return Ok(Kept::Reuse(found));
        }
        let refreshable = found.entry.captures.contains_key(crate::model::oauth2_vars::REFRESH_TOKEN);
        if !found.is_fresh() && allow_cached && refreshable && (life.cache || life.share) {
            return match Box::pin(self.refresh_saved(index, &held, key, &found)).await {
                Ok(outcome) => Ok(Kept::Renewed(Box::new(outcome))),
                Err(note) => Ok(Kept::Send(held, Some(note))),
            };
        }
        Ok(Kept::Send(held, None))
    }

    /// Renews saved credentials that expired with the refresh token saved beside them
    /// (the refresh-only step), and keeps what it returns under the token step's key.
    /// `Err`: a note saying the refresh was refused (the token step then runs its grant).
    async fn refresh_saved(
        &mut self,
        index: usize,
        held: &Held,
        key: &str,
        found: &Found,
    ) -> Result<StepOutcome, Note> {
        let plan = self.plan;
        let profile = plan.profile_of(index);
        let Some(refresh) = plan
            .steps
            .iter()
            .position(|ps| ps.step.lifecycle.refresh_only && plan.profile_of(ps.index) == profile)
        else {
            return Err(Note::RefreshRefused { status: None });
        };
        self.adopt(index, &found.entry);
        let mut outcome = self.attempt(refresh, false).await;
        if !matches!(outcome.result, StepResult::Passed) {
            return Err(Note::RefreshRefused { status: outcome.status });
        }
        outcome.notes.insert(0, Note::Refresh(RenewReason::SavedExpired));
        if let Err(message) = self.keep_credentials(index, held, key).await {
            outcome.result = StepResult::Error(state_error(message, plan.step(index)));
        }
        self.finish(refresh, outcome);
        let mut renewed = blank(plan.step(index));
        let saved =
            jiff::Timestamp::from_second(found.entry.saved_at).map(|t| t.to_string()).unwrap_or_default();
        renewed.result = StepResult::Reused(format!("renewed with the refresh token saved {saved}"));
        Ok(renewed)
    }

    /// Keeps the token step's captures as they are now (after a renewal) under `key`.
    pub(super) async fn keep_credentials(
        &mut self,
        index: usize,
        held: &Held,
        key: &str,
    ) -> Result<(), String> {
        let step = self.plan.step(index);
        let mut captured = Captured::default();
        for cap in &step.captures {
            let Some(value) = self.scope.get(&cap.name.name) else { continue };
            let Ok(json) = serde_json::to_value(value) else { continue };
            if cap.secret.unwrap_or(step.role == Role::Auth) {
                captured.secret.push(cap.name.name.clone());
            }
            captured.values.insert(cap.name.name.clone(), json);
        }
        let lifetime = self.last_lifetime;
        self.store(index, held, key, lifetime, captured).await
    }

    /// Sends the request (polling as asked, renewing credentials when they are due or
    /// refused), then captures, checks, snapshots and keeps what the step asks for.
    async fn exchange(
        &mut self,
        ps: &PlannedStep<'_>,
        mut request: ResolvedRequest,
        mut ctx: RenderContext<'r>,
        keep: Option<(Held, String)>,
        mut outcome: StepOutcome,
    ) -> StepOutcome {
        let step = &ps.step;
        let started = std::time::Instant::now();
        let held = keep.as_ref().map(|(h, _)| h);
        if let Err(e) = self.before_token_request(ps, &mut request, &mut ctx, held, &mut outcome.notes).await
        {
            outcome.elapsed = started.elapsed();
            outcome.result = StepResult::Error(e);
            return outcome;
        }
        let sent = self.send_polling(ps, &mut request, &mut ctx, &mut outcome.notes).await;
        outcome.url = Some(request.url.clone());
        let (ex, stopped) = match sent {
            Ok(sent) => sent,
            Err(e) => {
                // A timeout after 30 s shows 30 s, not `0 ms`.
                outcome.elapsed = started.elapsed();
                self.sink.event(&Event::Exchange { request: &request, response: None });
                outcome.result = StepResult::Error(match e {
                    SendError::Http(e) => http_error(&e, step),
                    SendError::Step(e) => e,
                    SendError::Renew(RenewFailed { step: failed }) => {
                        let reason = format!("renewing credentials failed at `{failed}`");
                        self.halted.get_or_insert(reason.clone());
                        StepError { message: reason, span: Some(step.name_span), help: None }
                    }
                });
                return outcome;
            }
        };
        let request = &request;
        let ctx = &ctx;
        outcome.status = Some(ex.status);
        outcome.elapsed = ex.elapsed;
        if ex.resent {
            outcome.notes.push(Note::Resent);
        }
        // Secrets in the response are registered before anything about it is shown.
        self.read_json(step, &ex);
        let mut failures: Vec<Failure> = stopped.into_iter().collect();
        let captured = self.capture_all(step, &ex, &mut failures);
        let lifetime = self.credential_lifetime(step, &ex, &mut failures);
        self.sink.event(&Event::Exchange { request, response: Some(&ex) });
        // A wrong status explains a missing capture better than the capture does: list it first.
        let mut checked = assert::check(step, &ex, ctx);
        // Captures that found nothing in an answer with the wrong status are its
        // consequences, not more causes: one note instead of one failure each.
        if checked.iter().any(|f| f.subject == "status") {
            let before = failures.len();
            failures.retain(|f| !f.subject.starts_with("capture `"));
            if let Some(count) = NonZeroUsize::new(before - failures.len()) {
                outcome.notes.push(Note::CapturesSkipped { count, status: ex.status });
            }
        }
        checked.append(&mut failures);
        if !checked.is_empty() {
            // A JSON body is shown decoded (re-serialised): a secret the server spelled with
            // `\uXXXX` or `\/` escapes is then masked like any other.
            let shown = ex.json().map_or_else(|| ex.text().into_owned(), ToString::to_string);
            outcome.body_excerpt = Some(self.plan.masker.excerpt(&shown, 300));
            outcome.challenge = ["www-authenticate", "proxy-authenticate"].iter().find_map(|name| {
                ex.header(name).map(|v| format!("{name}: {}", self.plan.masker.excerpt(v, 300)))
            });
            outcome.result = StepResult::Failed(checked);
            return outcome;
        }
        if let Some(spec) = &step.snapshot {
            match self.compare_snapshot(step, spec, request, &ex).await {
                Ok(verdict) => outcome.snapshot = Some(verdict),
                Err(e) => {
                    outcome.result = StepResult::Error(e);
                    return outcome;
                }
            }
        }
        // The baton is handed on only by a step that held: the steps that need what a
        // failed step captured are skipped, naming it.
        for (name, value) in &captured.values {
            self.scope.set_json(name, value);
            if step.role == Role::Auth {
                self.auth_scope.set_json(name, value);
            }
        }
        if let Some(l) = lifetime {
            self.track_expiry(self.plan.profile_of(ps.index), l);
        }
        self.last_lifetime = lifetime;
        if let Some((held, key)) = keep
            && let Err(message) = self.store(ps.index, &held, &key, lifetime, captured).await
        {
            outcome.result = StepResult::Error(state_error(message, step));
        }
        outcome
    }

    /// How long the credentials this step fetched live; a lifetime out of range is a failure.
    fn credential_lifetime(
        &self,
        step: &CompiledStep<'_>,
        ex: &Exchange,
        failures: &mut Vec<Failure>,
    ) -> Option<Duration> {
        match lifetime(step.lifecycle.expires_in.as_ref()?, ex) {
            Ok(l) => l,
            Err(value) => {
                failures.push(Failure {
                    span: step.name_span,
                    subject: "expires_in".into(),
                    expected: "a lifetime from 0 to 10 years, in seconds".into(),
                    actual: self.plan.masker.excerpt(&value, 40),
                });
                None
            }
        }
    }

    /// Why the step cannot run: a captured value it reads never arrived. Skipped when
    /// the step that captures it did not pass (that step's verdict already says so) or
    /// its capture is `optional:`; an error when it passed without it (a kept result
    /// saved by another version of the step, say), so the run is never green with a step
    /// that did not run for no visible reason.
    fn missing_input(&self, ps: &PlannedStep<'_>) -> Option<StepResult> {
        let need = ps.needs.iter().find(|n| !self.scope.contains(&n.name))?;
        let by = self.last.get(&need.from).map(|&o| &self.outcomes[o]);
        let by_step = self.plan.step(need.from);
        let by_name = &by_step.name;
        let optional = by_step.captures.iter().any(|c| c.name.name == need.name && c.optional);
        let why = match by.map(|o| &o.result) {
            Some(StepResult::Skipped(_)) => "it was skipped",
            Some(StepResult::Error(_)) => "it ended in an error",
            Some(StepResult::Failed(_)) => "it failed",
            Some(StepResult::Passed | StepResult::Reused(_)) if optional => "its capture is optional",
            Some(result @ (StepResult::Passed | StepResult::Reused(_))) => {
                let (how, help) = if matches!(result, StepResult::Reused(_)) {
                    (
                        "was reused",
                        "the result kept in the state file lacks it (saved before the step captured it, or under another name); `baton state clear` forgets it and the step runs again",
                    )
                } else {
                    ("passed", "mark the capture `optional: true` if it may be absent")
                };
                return Some(StepResult::Error(StepError {
                    message: format!(
                        "needs `{}`, which step `{by_name}` did not provide although it {how}",
                        need.name
                    ),
                    span: Some(ps.step.name_span),
                    help: Some(help.into()),
                }));
            }
            None => "it did not run",
        };
        Some(StepResult::Skipped(format!(
            "needs `{}`, which step `{by_name}` did not capture ({why})",
            need.name
        )))
    }

    /// Takes a kept result instead of sending.
    pub(super) fn reuse(&mut self, index: usize, key: &str, found: &Found) -> StepResult {
        let step = self.plan.step(index);
        self.adopt(index, &found.entry);
        let profile = self.plan.profile_of(index);
        if let Some(at) = found.renew_at {
            self.renew_by(profile, at);
        } else if let Some(t) = found.entry.expires_at {
            let left = Duration::from_secs(u64::try_from(t.saturating_sub(unix_now())).unwrap_or(0));
            self.track_expiry(profile, left);
        }
        if !step.lifecycle.once && step.role == Role::Auth {
            self.sessions[profile].cred =
                Some(Cred { step: index, key: key.to_string(), generation: found.generation });
        }
        let saved =
            jiff::Timestamp::from_second(found.entry.saved_at).map(|t| t.to_string()).unwrap_or_default();
        match found.origin {
            Origin::File => {
                for name in found.entry.captures.keys() {
                    self.from_state.push((
                        name.clone(),
                        step.name.clone(),
                        found.entry.saved_at,
                        key.to_string(),
                    ));
                }
                StepResult::Reused(format!("reused from state (saved {saved})"))
            }
            Origin::Run if step.lifecycle.once => {
                StepResult::Reused(format!("reused from state (saved {saved})"))
            }
            Origin::Run => StepResult::Reused("shared: obtained earlier in this run".to_string()),
        }
    }

    /// Puts a kept entry's captures in scope (and in the auth steps' scope), its secrets
    /// registered for masking.
    pub(super) fn adopt(&mut self, index: usize, entry: &Entry) {
        let step = self.plan.step(index);
        for (name, value) in &entry.captures {
            if entry.secret.contains(name) {
                register_all(&self.plan.masker, value);
            }
            let name = profile_var_if_oauth2(step, name);
            self.scope.set_json(&name, value);
            self.auth_scope.set_json(&name, value);
        }
    }

    /// Renders a capture's `then:` (or a `let:` value) with `value` and what the step has
    /// captured so far in scope; a value derived from a secret is secret too.
    fn derive(
        &self,
        t: &crate::template::Template<'_>,
        value: serde_json::Value,
        so_far: &Captured,
    ) -> Result<serde_json::Value, String> {
        let mut scope = self.scope.clone();
        for (name, v) in &so_far.values {
            scope.set_json(name, v);
        }
        scope.set_json("value", &value);
        let ctx = RenderContext::new(&scope, self.sources).masking(&self.plan.masker);
        ctx.render(t).map_err(|e| e.message)
    }

    /// What a token step does before it sends: get the user's approval (authorization
    /// code, device code) and sign a fresh client assertion, then render the request
    /// again with what they gave.
    async fn before_token_request(
        &mut self,
        ps: &PlannedStep<'_>,
        request: &mut ResolvedRequest,
        ctx: &mut RenderContext<'r>,
        held: Option<&Held>,
        notes: &mut Vec<Note>,
    ) -> Result<(), StepError> {
        let step = &ps.step;
        let mut changed = false;
        if let Some(authorize) = &step.authorize {
            notes.push(self.authorize(step, authorize, ctx, held).await?);
            changed = true;
        }
        if let Some(device) = &step.device {
            notes.push(self.device_authorize(step, device, ctx).await?);
            changed = true;
        }
        if let Some(assertion) = &step.assertion {
            self.sign_assertion(step, assertion, request, ctx)?;
            changed = true;
        }
        if !changed {
            return Ok(());
        }
        self.render_again(ps, request, ctx).map_err(|e| match e {
            SendError::Step(e) => e,
            _ => StepError {
                message: "the token request could not be rendered".into(),
                span: Some(step.name_span),
                help: None,
            },
        })
    }

    /// Signs a fresh client assertion for this token request (its audience the token
    /// endpoint) and keeps it, masked, for the request's body.
    fn sign_assertion(
        &mut self,
        step: &CompiledStep<'_>,
        a: &crate::model::ClientAssertion<crate::template::Template<'_>>,
        request: &ResolvedRequest,
        ctx: &RenderContext<'_>,
    ) -> Result<(), StepError> {
        let error = |message: String| StepError { message, span: Some(step.name_span), help: None };
        let render_err = |e: crate::template::RenderError| StepError {
            message: e.message,
            span: Some(e.span),
            help: None,
        };
        let client_id = ctx.text(&a.client_id, "client_id").map_err(render_err)?;
        let key_id =
            a.key_id.as_ref().map(|k| ctx.text(k, "client_key_id")).transpose().map_err(render_err)?;
        let key = if a.alg.starts_with("HS") {
            let secret = ctx.text(&a.key, "client_secret").map_err(render_err)?;
            self.plan.masker.add(&secret);
            secret.into_bytes()
        } else {
            // The PEM text itself (from a CI secret), or a file beside the collection.
            let given = ctx.text(&a.key, "client_key").map_err(render_err)?;
            if given.trim_start().starts_with("-----BEGIN") {
                // The whole key, and each of its lines should one be printed alone.
                self.plan.masker.add(given.trim());
                for line in given.lines().map(str::trim).filter(|l| !l.starts_with("-----") && l.len() >= 16)
                {
                    self.plan.masker.add(line);
                }
                given.into_bytes()
            } else {
                read_key_file(&self.base_dir, &given, &self.plan.masker).map_err(error)?
            }
        };
        let claims = a
            .claims
            .iter()
            .map(|(k, t)| ctx.text(t, &k.name).map(|v| (k.name.clone(), v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(render_err)?;
        let jti = uuid::Uuid::new_v4().to_string();
        let jwt = crate::signing::Assertion {
            alg: &a.alg,
            client_id: &client_id,
            key_id: key_id.as_deref(),
            audience: request.url.split(['?', '#']).next().unwrap_or(&request.url),
            now: jiff::Timestamp::now().as_second(),
            jti: &jti,
            claims,
        }
        .sign(&key)
        .map_err(error)?;
        self.plan.masker.add(&jwt);
        self.scope.set(
            &profile_var(step, crate::model::oauth2_vars::CLIENT_ASSERTION),
            minijinja::Value::from(jwt),
        );
        Ok(())
    }

    /// The device authorization request of a device-code grant (RFC 8628 3.1-3.3): sends
    /// it, keeps the device code (secret) and the polling interval, and tells the person
    /// running baton where to approve and with which code.
    async fn device_authorize(
        &mut self,
        step: &CompiledStep<'_>,
        device: &crate::model::DeviceRequest<crate::template::Template<'_>>,
        ctx: &RenderContext<'_>,
    ) -> Result<Note, StepError> {
        let error = |message: String| StepError { message, span: Some(step.name_span), help: None };
        let render_err = |e: crate::template::RenderError| StepError {
            message: e.message,
            span: Some(e.span),
            help: None,
        };
        let url = ctx.text(&device.url, "device_url").map_err(render_err)?;
        let mut fields = Vec::new();
        for (k, t) in &device.fields {
            fields.push((k.name.clone(), ctx.text(t, &k.name).map_err(render_err)?));
        }
        let mut req = ResolvedRequest::new("POST", &url);
        req.headers.push(("accept".into(), "application/json".into()));
        req.body = crate::exchange::ResolvedBody::Form(fields);
        req.timeout = step.timeout;
        let ex = self
            .client
            .send(&req, self.jar.as_ref())
            .await
            .map_err(|e| error(format!("the device authorization request failed: {e}")))?;
        let doc = ex.json().cloned().unwrap_or(serde_json::Value::Null);
        // The device code is a credential: masked before the answer can be shown.
        if let Some(code) = doc.get("device_code").and_then(serde_json::Value::as_str) {
            self.plan.masker.add(code);
        }
        self.sink.event(&Event::Exchange { request: &req, response: Some(&ex) });
        let field = |name: &str| doc.get(name).and_then(serde_json::Value::as_str).map(str::to_string);
        let (Some(code), Some(user_code), Some(uri), 200) =
            (field("device_code"), field("user_code"), field("verification_uri"), ex.status)
        else {
            return Err(error(format!(
                "the device authorization request was answered {} without a device code, user code and verification URI: {}",
                ex.status,
                self.plan.masker.excerpt(&ex.text(), 200)
            )));
        };
        self.plan.masker.add(&code);
        self.scope
            .set(&profile_var(step, crate::model::oauth2_vars::DEVICE_CODE), minijinja::Value::from(code));
        if let Some(i) = doc.get("interval").and_then(serde_json::Value::as_u64) {
            self.scope.set(crate::model::oauth2_vars::DEVICE_INTERVAL, minijinja::Value::from(i));
        }
        let direct =
            field("verification_uri_complete").map_or_else(String::new, |c| format!(" (or open {c})"));
        let notice =
            format!("to let `{}` get a token, open {uri} and enter the code {user_code}{direct}", step.name);
        self.sink.event(&Event::Notice(&notice));
        Ok(Note::DeviceCode { uri, code: user_code })
    }

    /// Reads every capture (the scope gets them only when the step holds, see
    /// [`Runner::exchange`]); a missing one (not optional) is a failure.
    fn capture_all(
        &mut self,
        step: &CompiledStep<'_>,
        ex: &Exchange,
        failures: &mut Vec<Failure>,
    ) -> Captured {
        let mut out = Captured::default();
        for cap in &step.captures {
            let value = capture(&cap.source, ex).and_then(|value| match &cap.then {
                None => Ok(value),
                Some(t) => self
                    .derive(t, value, &out)
                    .map_err(|message| crate::capture::CaptureError::Derive { message }),
            });
            match value {
                Ok(value) => {
                    if cap.secret.unwrap_or(step.role == Role::Auth) {
                        register_all(&self.plan.masker, &value);
                        out.secret.push(cap.name.name.clone());
                    }
                    out.values.insert(cap.name.name.clone(), value);
                }
                Err(_) if cap.optional => {}
                Err(e) => failures.push(Failure {
                    span: cap.name.span,
                    subject: format!("capture `{}`", cap.name.name),
                    expected: cap
                        .implied
                        .as_ref()
                        .map_or_else(|| "a value".into(), |i| format!("a value ({i})")),
                    actual: e.to_string(),
                }),
            }
        }
        out
    }

    /// Compares the response with the step's snapshot file (file I/O off the async path).
    async fn compare_snapshot(
        &self,
        step: &CompiledStep<'_>,
        spec: &SnapshotSpec,
        request: &ResolvedRequest,
        ex: &Exchange,
    ) -> Result<(PathBuf, Verdict), StepError> {
        let line = format!("{} {}", request.method, path_and_query(&request.url));
        let text = snapshot::render(&self.plan.name, &step.name, &line, ex, spec, &self.plan.masker);
        let path = snapshot::path_for(&self.collection_path, &step.name);
        let (file, mode) = (path.clone(), self.update);
        let error = |message: String| StepError { message, span: Some(spec.span), help: None };
        match tokio::task::spawn_blocking(move || snapshot::compare(&file, &text, mode)).await {
            Ok(Ok(v)) => Ok((path, v)),
            Ok(Err(e)) => Err(error(format!("cannot use snapshot {}: {e}", path.display()))),
            Err(e) => Err(error(format!("snapshot task failed: {e}"))),
        }
    }

    /// Keeps a step's captures under `key` (for the run, and in the state file for
    /// `once:`/`cache:`); a token step's key becomes the collection's credentials.
    async fn store(
        &mut self,
        index: usize,
        held: &Held,
        key: &str,
        lifetime: Option<Duration>,
        captured: Captured,
    ) -> Result<(), String> {
        let step = self.plan.step(index);
        let expires_at = if step.lifecycle.once {
            None
        } else {
            lifetime.map(|l| unix_now().saturating_add(i64::try_from(l.as_secs()).unwrap_or(i64::MAX)))
        };
        let renew_at = if step.lifecycle.once { None } else { lifetime.map(super::session::renew_at) };
        let entry = Entry {
            collection: self.collection_id.clone(),
            environment: self.vault.environment().to_string(),
            step: step.name.clone(),
            // Kept under the names a single profile uses, so another collection (or
            // profile) with the same identity takes them under its own.
            captures: captured.values.into_iter().map(|(k, v)| (kept_name(step, &k), v)).collect(),
            secret: captured.secret.iter().map(|k| kept_name(step, k)).collect(),
            saved_at: unix_now(),
            expires_at,
        };
        let generation = self.vault.put(held, key, entry, renew_at).await?;
        if !step.lifecycle.once && step.role == Role::Auth {
            let profile = self.plan.profile_of(index);
            self.sessions[profile].cred = Some(Cred { step: index, key: key.to_string(), generation });
        }
        Ok(())
    }
}

impl Runner<'_, '_, '_, '_> {
    /// Reads a JSON answer for what `step` needs: only its simple JSONPaths when that is
    /// all it reads (a big body never becomes a whole document), else the whole body.
    /// Either way the strings under secret-looking keys are registered for masking.
    pub(super) fn read_json(&self, step: &CompiledStep<'_>, ex: &Exchange) {
        match selective_paths(step).and_then(|paths| ex.select(&paths)) {
            Some(secrets) => secrets.iter().for_each(|s| self.plan.masker.add(s)),
            None => {
                if let Some(doc) = ex.json() {
                    register_secret_fields(&self.plan.masker, doc);
                }
            }
        }
    }
}

/// The simple JSONPaths `step` reads, when reading them is all it needs of a JSON body:
/// not with a snapshot (the whole body) or a `body` capture, nor with any other path.
fn selective_paths(step: &CompiledStep<'_>) -> Option<Vec<Vec<crate::json_select::Seg>>> {
    use crate::json_select::simple_path;
    if step.snapshot.is_some() {
        return None;
    }
    let mut paths = Vec::new();
    for cap in &step.captures {
        match &cap.source {
            crate::model::CaptureSource::JsonPath(p) => paths.push(simple_path(&p.source)?),
            crate::model::CaptureSource::Body => return None,
            _ => {}
        }
    }
    let retry = step.retry.iter().flat_map(|r| r.until.iter().chain(r.fail_if.iter()));
    for expect in std::iter::once(&step.expect).chain(retry) {
        // A schema or the whole body reads the whole document.
        if expect.json_schema.is_some() || expect.body.is_some() {
            return None;
        }
        for (p, _) in &expect.json {
            paths.push(simple_path(&p.source)?);
        }
    }
    if let Some(crate::model::Expiry::JsonPath(p)) = &step.lifecycle.expires_in {
        paths.push(simple_path(&p.source)?);
    }
    Some(paths)
}

/// What [`Runner::find_kept`] found.
enum Kept {
    /// A kept result to use.
    Reuse(Found),
    /// Saved credentials renewed with their refresh token: the token step's outcome.
    Renewed(Box<StepOutcome>),
    /// Nothing to use: send, holding the key, with a note on the way (a refused refresh).
    Send(Held, Option<Note>),
}

/// A state file problem as a step error.
fn state_error(message: String, step: &CompiledStep<'_>) -> StepError {
    StepError {
        message,
        span: Some(step.name_span),
        help: Some("pass `--state PATH` to keep state elsewhere".to_string()),
    }
}

/// `/path?query` of a URL: snapshots must not depend on the server's host and port.
fn path_and_query(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

fn http_error(e: &HttpError, step: &CompiledStep<'_>) -> StepError {
    let help = match e {
        HttpError::Tls { detail, .. } if let Some((_, Some(help))) = crate::tls::plain_words(detail) => {
            Some(help.to_string())
        }
        HttpError::Tls { cacert: false, .. } => Some(
            "pass the server's CA with `--cacert PATH`, or `--insecure` to skip verification (not for production)"
                .to_string(),
        ),
        HttpError::Tls { cacert: true, .. } => Some(
            "the `--cacert` file does not vouch for this server: give it the CA that signed the server's \
             certificate, or the server's own self-signed certificate (`openssl s_client -showcerts` prints it)"
                .to_string(),
        ),
        HttpError::Timeout(_) => Some("raise the limit with `timeout:` on the step or `--timeout`".to_string()),
        HttpError::Connect(_) => Some("is the server running and the URL right?".to_string()),
        HttpError::Closed(_) if matches!(step.method.as_str(), "POST" | "PATCH") => Some(
            "a POST or PATCH is not sent again by itself (the server may have acted on it); \
             use `retry:` if sending it twice is safe"
                .to_string(),
        ),
        _ => None,
    };
    StepError { message: e.to_string(), span: Some(step.url.span()), help }
}

/// The OAuth2 variables a token step keeps, under their single-profile names.
const OAUTH2_KEPT: &[&str] = &[
    crate::model::oauth2_vars::ACCESS_TOKEN,
    crate::model::oauth2_vars::TOKEN_TYPE,
    crate::model::oauth2_vars::EXPIRES_IN,
    crate::model::oauth2_vars::REFRESH_TOKEN,
    "oidc_token_endpoint",
    "oidc_authorization_endpoint",
    "oidc_device_endpoint",
];

/// How a named profile's OAuth2 capture is kept: `admin_access_token` → `access_token`.
fn kept_name(step: &CompiledStep<'_>, name: &str) -> String {
    let Some(p) = &step.profile else { return name.to_string() };
    match name.strip_prefix(p.name.as_str()).and_then(|n| n.strip_prefix('_')) {
        Some(rest) if OAUTH2_KEPT.contains(&rest) => rest.to_string(),
        _ => name.to_string(),
    }
}

/// The most a `client_key:` file may hold (an RSA 8192 key in PEM is under 7 KB).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Reads the PEM file `client_key:` names (relative to the collection's folder): a
/// regular file of at most [`MAX_KEY_FILE`] bytes. A value that looks like key material
/// rather than a path (PEM without its header, say) is masked, not echoed, in the error.
/// Keys are not confined to the collection's folder as sent files are: they stay on
/// this machine (only a signature is sent) and usually live apart from the collection.
fn read_key_file(
    base_dir: &std::path::Path,
    given: &str,
    masker: &crate::secret::Masker,
) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let looks_like_key = given.len() >= 64
        && given.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '\n' | '\r'));
    let path = base_dir.join(given.trim());
    let shown = if looks_like_key || given.contains('\n') {
        masker.add(given.trim());
        "the client key (`client_key:` looks like key material without its `-----BEGIN` line; it is masked here)"
            .to_string()
    } else {
        format!("the client key `{}`", crate::printable::line(&path.display().to_string()))
    };
    let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("cannot read {shown}: not a regular file"));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(format!("{shown} holds {} bytes: not a key (at most {MAX_KEY_FILE})", meta.len()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_KEY_FILE).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok(bytes)
}

/// A kept OAuth2 variable under the name `step`'s profile uses (the inverse of
/// [`kept_name`]): only a variable the step captures under its profile's name is renamed,
/// so a list profile's own `access_token` capture comes back as it was written.
fn profile_var_if_oauth2(step: &CompiledStep<'_>, name: &str) -> String {
    let renamed = profile_var(step, name);
    if OAUTH2_KEPT.contains(&name) && step.captures.iter().any(|c| c.name.name == renamed) {
        renamed
    } else {
        name.to_string()
    }
}

/// The OAuth2 variable `var` of the profile `step` belongs to (`admin_device_code`).
pub(super) fn profile_var(step: &CompiledStep<'_>, var: &str) -> String {
    crate::model::oauth2_vars::of(step.profile.as_ref().map(|k| k.name.as_str()), var)
}

#[cfg(test)]
mod tests {
    use super::path_and_query;

    #[test]
    fn snapshot_request_lines_leave_out_scheme_host_and_port() {
        assert_eq!(path_and_query("http://127.0.0.1:4242/users?page=2"), "/users?page=2");
        assert_eq!(path_and_query("https://example.test"), "/");
        assert_eq!(path_and_query("/relative/path"), "/relative/path");
    }
}
