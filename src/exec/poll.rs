//! Sending with patience: `retry:` polling, and waiting out throttled answers (429/503).

use std::time::Duration;

use crate::assert::{Failure, check_expect};
use crate::event::{Event, Note, RenewReason, StepError};
use crate::exchange::{Exchange, ResolvedRequest};
use crate::http::HttpError;
use crate::model::{RetrySpec, Role};
use crate::plan::{CompiledStep, PlannedStep};
use crate::resolve::resolve;
use crate::template::{RenderContext, Template};

use super::Runner;
use super::session::RenewFailed;

/// Throttled answers (429/503) waited out per request, at most.
const MAX_THROTTLE_RETRIES: u32 = 3;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// `Retry-After` as seconds or an HTTP date (relative to `now`, Unix seconds).
pub(super) fn retry_after(value: Option<&str>, now: i64) -> Option<Duration> {
    let v = value?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    Some(Duration::from_secs(u64::try_from(when.as_second() - now).unwrap_or(0)))
}

fn retry_after_of(ex: &Exchange) -> Option<Duration> {
    retry_after(ex.header("retry-after"), super::persist::unix_now())
}

/// A wait a server asked for, and the wait baton will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Wait {
    /// What `Retry-After` asked for.
    pub asked: Duration,
    /// What baton waits: the ask, capped by the request's timeout and [`MAX_RETRY_AFTER`].
    pub wait: Duration,
}

/// The wait after a throttled answer (429/503 with a `Retry-After` the step did not ask
/// for); `None` when the answer is final. A throttled answer without `Retry-After` is
/// final: the server did not say when to come back.
fn throttle_wait(step: &CompiledStep<'_>, ex: &Exchange, cap: Duration) -> Option<Wait> {
    let expected = step.expect.status.as_ref().is_some_and(|s| s.allowed.iter().any(|p| p.allows(ex.status)));
    if !matches!(ex.status, 429 | 503) || expected {
        return None;
    }
    let asked = retry_after_of(ex)?;
    Some(Wait { asked, wait: asked.min(cap) })
}

/// What one polled answer means.
enum Poll {
    /// Stop: the answer is final (conditions met, or attempts used up).
    Done,
    /// Stop, failing: `fail_if` matched.
    Failed(Failure),
    /// Stop, failing: the attempts are used up and `until` never held.
    Exhausted(Failure),
    /// Ask again.
    Again,
}

fn poll_verdict(
    step: &CompiledStep<'_>,
    r: &RetrySpec<Template<'_>>,
    ex: &Exchange,
    ctx: &RenderContext<'_>,
    attempt: u32,
) -> Poll {
    if let Some(fail_if) = &r.fail_if
        && check_expect(fail_if, None, ex, ctx).is_empty()
    {
        return Poll::Failed(Failure {
            span: r.span,
            subject: "retry.fail_if".into(),
            expected: "a response that does not match `fail_if`".into(),
            actual: format!("status {} matched `fail_if` (a terminal failure state)", ex.status),
        });
    }
    let unmet = match &r.until {
        Some(until) => check_expect(until, None, ex, ctx),
        // Without `until`, the step's own expectations decide, and fail it when they never hold.
        None => check_expect(&step.expect, Some(step), ex, ctx),
    };
    match unmet.into_iter().next() {
        None => Poll::Done,
        Some(_) if attempt < r.count => Poll::Again,
        Some(first) if r.until.is_some() => Poll::Exhausted(Failure {
            span: first.span,
            subject: format!("retry.until: {}", first.subject),
            expected: first.expected,
            actual: format!("{} (`until` not met after {attempt} attempts)", first.actual),
        }),
        Some(_) => Poll::Done,
    }
}

/// Why sending a step produced no answer to judge.
pub(super) enum SendError {
    /// The request could not be made or completed.
    Http(HttpError),
    /// Rendering the request again (after a renewal) failed, or its origin is refused.
    Step(StepError),
    /// Credentials due for renewal between two attempts could not be renewed.
    Renew(RenewFailed),
}

impl<'r> Runner<'r, '_, '_, '_> {
    /// Sends a request, waiting out `Retry-After` on 429/503, polling per `retry:`, and
    /// keeping the credentials of a request that uses them valid: renewed before an
    /// attempt once they are due, and after a 401 renewed once and the request sent again
    /// (the poll goes on where it was). `request` and `ctx` are rendered again after a
    /// renewal. Returns the final exchange, and a failure when `fail_if` stopped polling
    /// or `until` never held.
    pub(super) async fn send_polling(
        &mut self,
        ps: &PlannedStep<'_>,
        request: &mut ResolvedRequest,
        ctx: &mut RenderContext<'r>,
        notes: &mut Vec<Note>,
    ) -> Result<(Exchange, Option<Failure>), SendError> {
        let step = &ps.step;
        let retry = step.retry.as_ref();
        let attempts = retry.map_or(1, |r| r.count);
        let session = step.role == Role::Request && !ps.sessions.is_empty();
        let expects_401 =
            step.expect.status.as_ref().is_some_and(|s| s.allowed.iter().any(|p| p.allows(401)));
        let mut device_slowdown = Duration::ZERO;
        let (mut throttled, mut attempt, mut reauthenticated) = (0, 0, false);
        loop {
            attempt += 1;
            if session && attempt > 1 {
                let due: Vec<usize> =
                    ps.sessions.iter().copied().filter(|&s| self.sessions[s].due()).collect();
                for &s in &due {
                    Box::pin(self.renew(s, RenewReason::Expired)).await.map_err(SendError::Renew)?;
                }
                if !due.is_empty() {
                    self.render_again(ps, request, ctx)?;
                }
            }
            // No wait a server asks for outlasts the request's own timeout.
            let cap = self.client.timeout_for(request).min(MAX_RETRY_AFTER);
            let ex = match self.client.send(request, self.jar.as_ref()).await {
                Ok(ex) => ex,
                // While polling, a refused or timed-out connection may just be a service
                // still starting; anything else (a bad URL, a body over the cap, a refused
                // redirect) would fail the same way again.
                Err(HttpError::Connect(_) | HttpError::Timeout(_) | HttpError::Closed(_))
                    if retry.is_some() && attempt < attempts =>
                {
                    self.sink.event(&Event::Exchange { request, response: None });
                    tokio::time::sleep(retry.map_or(Duration::ZERO, |r| r.interval)).await;
                    continue;
                }
                Err(e) => return Err(SendError::Http(e)),
            };
            // Secrets in the answer are known before anything about it is shown.
            self.read_json(step, &ex);
            // A signature replays for minutes: it is masked like the credential it is.
            if request.signing.is_some() {
                for (name, value) in &ex.sent {
                    if name == "authorization" {
                        let signature = value.rsplit("Signature=").next().unwrap_or(value);
                        self.plan.masker.add(signature);
                    }
                }
            }
            // Cookies an auth step receives are credentials (a value too short to be one,
            // `theme=light`, stays readable), and so are session cookies anywhere.
            for c in &ex.cookies {
                let auth = step.role == crate::model::Role::Auth
                    && c.value.chars().count() >= crate::secret::SHORT_SECRET;
                if auth || c.looks_secret() {
                    self.plan.masker.add(&c.value);
                }
            }
            // The profiles whose credentials the request sends and that may still renew.
            let renewable: Vec<usize> =
                ps.sessions.iter().copied().filter(|&s| !self.sessions[s].reauth_refused).collect();
            if ex.status == 401 && session && !expects_401 && !renewable.is_empty() {
                if !reauthenticated {
                    // Once per step: renew, send again, and go on where the poll was.
                    reauthenticated = true;
                    self.show_attempt(request, &ex);
                    let mut renewed = Ok(());
                    for &s in &renewable {
                        renewed = Box::pin(self.renew(s, RenewReason::Got401)).await;
                        if renewed.is_err() {
                            break;
                        }
                    }
                    match renewed {
                        Ok(()) => {
                            self.render_again(ps, request, ctx)?;
                            notes.push(Note::RetriedAfter401);
                            attempt -= 1;
                            continue;
                        }
                        Err(RenewFailed { step }) => notes.push(Note::ReauthFailed { step }),
                    }
                } else {
                    // Fresh credentials refused too: re-authenticating again would only
                    // repeat the refusal for every request that follows.
                    for &s in &renewable {
                        self.sessions[s].reauth_refused = true;
                    }
                    notes.push(Note::ReauthStopped);
                }
            }
            if throttled < MAX_THROTTLE_RETRIES
                && let Some(Wait { asked, wait }) = throttle_wait(step, &ex, cap)
            {
                throttled += 1;
                self.show_attempt(request, &ex);
                notes.push(Note::Throttled { status: ex.status, wait, asked });
                tokio::time::sleep(wait).await;
                attempt -= 1;
                continue;
            }
            let Some(r) = retry else { return Ok((ex, None)) };
            match poll_verdict(step, r, &ex, ctx, attempt) {
                Poll::Failed(failure) => {
                    notes.push(Note::PollStopped { attempt });
                    return Ok((ex, Some(failure)));
                }
                Poll::Exhausted(failure) => {
                    notes.push(Note::Attempts { attempt, of: attempts });
                    return Ok((ex, Some(failure)));
                }
                Poll::Done => {
                    if attempt > 1 {
                        notes.push(Note::Attempts { attempt, of: attempts });
                    }
                    return Ok((ex, None));
                }
                Poll::Again => {}
            }
            self.show_attempt(request, &ex);
            let interval =
                if r.device { self.device_interval(&ex, &mut device_slowdown) } else { r.interval };
            tokio::time::sleep(interval.max(retry_after_of(&ex).unwrap_or_default().min(cap))).await;
        }
    }

    /// The pause before the next device-code poll: the `interval` the server gave with the
    /// device code (5 s when it gave none, RFC 8628 3.2), plus five seconds for every
    /// `slow_down` it answered so far (3.5).
    fn device_interval(&self, ex: &Exchange, slowdown: &mut Duration) -> Duration {
        if ex.json().and_then(|j| j.get("error")).and_then(serde_json::Value::as_str) == Some("slow_down") {
            *slowdown += Duration::from_secs(5);
        }
        let given = self
            .scope
            .get(crate::model::oauth2_vars::DEVICE_INTERVAL)
            .and_then(|v| u64::try_from(v.clone()).ok())
            .filter(|s| (1..=300).contains(s))
            .map_or(Duration::from_secs(5), Duration::from_secs);
        given + *slowdown
    }

    /// Renders the step's request again with the scope as it is now (renewed credentials).
    pub(super) fn render_again(
        &self,
        ps: &PlannedStep<'_>,
        request: &mut ResolvedRequest,
        ctx: &mut RenderContext<'r>,
    ) -> Result<(), SendError> {
        *ctx = RenderContext::new(&self.scope, self.sources).masking(&self.plan.masker);
        let again = resolve(&ps.step, ctx, &self.base_dir, &self.plan.masker)
            .map_err(|e| SendError::Step(StepError { message: e.message, span: Some(e.span), help: None }))?;
        super::origin::check(ps, &again, &self.origins, self.sources).map_err(SendError::Step)?;
        *request = again;
        Ok(())
    }

    /// An intermediate exchange (polling, throttling), traced with `-v`.
    /// Its secrets were registered when it arrived (see `read_json`).
    fn show_attempt(&mut self, request: &ResolvedRequest, ex: &Exchange) {
        self.sink.event(&Event::Exchange { request, response: Some(ex) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(retry_after(Some("7"), 0), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(Some(" 0 "), 0), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_reads_an_http_date_relative_to_now() {
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
        let date = Some("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(retry_after(date, 784_111_777 - 30), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(date, 784_111_777 + 30), Some(Duration::ZERO), "a date in the past means now");
    }

    #[test]
    fn retry_after_ignores_what_is_neither() {
        assert_eq!(retry_after(Some("soon"), 0), None);
        assert_eq!(retry_after(Some("-5"), 0), None);
        assert_eq!(retry_after(None, 0), None);
    }
}
