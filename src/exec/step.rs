//! One step's life: resolve → reuse or send (polling) → capture → assert → snapshot → keep.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use crate::assert::{self, Failure};
use crate::capture::capture;
use crate::event::{Event, Note, StepError, StepOutcome, StepResult};
use crate::exchange::{Exchange, ResolvedRequest};
use crate::http::HttpError;
use crate::model::{Role, SnapshotSpec};
use crate::plan::{CompiledStep, PlannedStep};
use crate::resolve::resolve;
use crate::secret::{register_all, register_secret_fields};
use crate::snapshot::{self, Verdict};
use crate::state::Entry;
use crate::template::RenderContext;

use super::persist::unix_now;
use super::session::lifetime;
use super::{Runner, blank};

/// Values a step captured, and which of them are secret.
#[derive(Default)]
struct Captured {
    values: serde_json::Map<String, serde_json::Value>,
    secret: Vec<String>,
}

impl Runner<'_, '_, '_, '_> {
    /// Runs one step once: skips it when an input is missing, reuses its persisted result
    /// when allowed, else sends it.
    pub(super) async fn attempt(&mut self, index: usize, allow_cached: bool) -> StepOutcome {
        let plan = self.plan;
        let ps = &plan.steps[index];
        let step = &ps.step;
        let mut outcome = blank(step);
        if let Some(reason) = self.missing_input(ps) {
            outcome.result = StepResult::Skipped(reason);
            return outcome;
        }
        let ctx = RenderContext::new(&self.scope, self.sources).masking(&plan.masker);
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
        let key = (step.lifecycle.once || step.lifecycle.cache).then(|| self.state_key(&step.name, &request));
        if let Some(key) = &key
            && (allow_cached || step.lifecycle.once)
            && let Some(entry) = self.lookup(key)
        {
            outcome.result = self.reuse(&entry);
            return outcome;
        }
        self.exchange(step, &request, &ctx, key, outcome).await
    }

    /// Sends the request (polling as asked), then captures, checks, snapshots and keeps
    /// what the step asks for.
    async fn exchange(
        &mut self,
        step: &CompiledStep<'_>,
        request: &ResolvedRequest,
        ctx: &RenderContext<'_>,
        key: Option<String>,
        mut outcome: StepOutcome,
    ) -> StepOutcome {
        let started = std::time::Instant::now();
        let (ex, stopped) = match self.send_polling(step, request, ctx, &mut outcome.notes).await {
            Ok(sent) => sent,
            Err(e) => {
                // A timeout after 30 s shows 30 s, not `0 ms`.
                outcome.elapsed = started.elapsed();
                self.sink.event(&Event::Exchange { request, response: None });
                outcome.result = StepResult::Error(http_error(&e, step));
                return outcome;
            }
        };
        outcome.status = Some(ex.status);
        outcome.elapsed = ex.elapsed;
        // Secrets in the response are registered before anything about it is shown.
        if let Some(doc) = ex.json() {
            register_secret_fields(&self.plan.masker, doc);
        }
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
        }
        self.remember(step, key, lifetime, captured);
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

    /// Why the step cannot run: a captured value it reads never arrived.
    fn missing_input(&self, ps: &PlannedStep<'_>) -> Option<String> {
        let need = ps.needs.iter().find(|n| !self.scope.contains(&n.name))?;
        let by = self.last.get(&need.from).map(|&o| &self.outcomes[o]);
        let why = match by.map(|o| &o.result) {
            Some(StepResult::Skipped(_)) => "it was skipped",
            Some(StepResult::Error(_)) => "it ended in an error",
            Some(_) => "it failed",
            None => "it did not run",
        };
        let by_name = &self.plan.step(need.from).name;
        Some(format!("needs `{}`, which step `{by_name}` did not capture ({why})", need.name))
    }

    /// Takes a persisted result instead of sending.
    fn reuse(&mut self, entry: &Entry) -> StepResult {
        for (name, value) in &entry.captures {
            if entry.secret.contains(name) {
                register_all(&self.plan.masker, value);
            }
            self.scope.set_json(name, value);
        }
        if let Some(t) = entry.expires_at {
            let left = Duration::from_secs(u64::try_from(t.saturating_sub(unix_now())).unwrap_or(0));
            self.track_expiry(left);
        }
        let saved = jiff::Timestamp::from_second(entry.saved_at).map(|t| t.to_string()).unwrap_or_default();
        StepResult::Reused(format!("reused from state (saved {saved})"))
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
            match capture(&cap.source, ex) {
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

    /// Tracks the credentials' lifetime and keeps `once:`/`cache:` results for later.
    fn remember(
        &mut self,
        step: &CompiledStep<'_>,
        key: Option<String>,
        lifetime: Option<Duration>,
        captured: Captured,
    ) {
        if let Some(l) = lifetime {
            self.track_expiry(l);
        }
        let Some(key) = key else { return };
        let expires_at = if step.lifecycle.once {
            None
        } else {
            lifetime.map(|l| unix_now().saturating_add(i64::try_from(l.as_secs()).unwrap_or(i64::MAX)))
        };
        let entry = Entry {
            collection: self.collection_id.clone(),
            environment: self.persist.environment.clone(),
            step: step.name.clone(),
            captures: captured.values,
            secret: captured.secret,
            saved_at: unix_now(),
            expires_at,
        };
        self.persist.updates.push((key, entry));
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
        _ => None,
    };
    StepError { message: e.to_string(), span: Some(step.url.span()), help }
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
