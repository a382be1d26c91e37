//! Events the executor emits and the outcomes it returns.
//!
//! Reports are sinks of these events; they never see the HTTP client or the executor.

use std::path::PathBuf;
use std::time::Duration;

use crate::assert::Failure;
use crate::exchange::{Exchange, ResolvedRequest};
use crate::exit::Exit;
use crate::model::Role;
use crate::snapshot::Verdict;
use crate::source::Span;

/// Why a step did not pass.
#[derive(Debug, Clone)]
pub enum StepResult {
    /// Every expectation held and every capture was found.
    Passed,
    /// Expectations or captures failed.
    Failed(Vec<Failure>),
    /// The request could not be made or completed (network, TLS, timeout, render).
    Error(StepError),
    /// Not run, with the reason.
    Skipped(String),
    /// Not sent: its persisted result (`once` / `cache`) was used.
    Reused(String),
}

/// A runtime problem in one step.
#[derive(Debug, Clone)]
pub struct StepError {
    /// What happened.
    pub message: String,
    /// The YAML involved, when known.
    pub span: Option<Span>,
    /// A hint.
    pub help: Option<String>,
}

/// What happened to one step.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// Step name.
    pub name: String,
    /// Whether the name was written (else it repeats the method and URL).
    pub named: bool,
    /// Auth step or request.
    pub role: Role,
    /// Method sent.
    pub method: String,
    /// URL sent (unmasked; sinks mask).
    pub url: Option<String>,
    /// Response status, when there was one.
    pub status: Option<u16>,
    /// Time for the exchange.
    pub elapsed: Duration,
    /// The verdict.
    pub result: StepResult,
    /// Where the step's name is written.
    pub span: Span,
    /// A short excerpt of the response body (masked), kept for failed steps.
    pub body_excerpt: Option<String>,
    /// The response's `WWW-Authenticate` (or `Proxy-Authenticate`) challenge (masked),
    /// kept for failed steps: it often says why a credential was refused.
    pub challenge: Option<String>,
    /// What happened on the way: renewals, retries, throttling waits, poll attempts.
    pub notes: Vec<Note>,
    /// The snapshot file and how the response compared with it.
    pub snapshot: Option<(PathBuf, Verdict)>,
    /// The step's `description:`.
    pub description: Option<String>,
}

/// Why credentials were renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewReason {
    /// They were about to expire.
    Expired,
    /// A request that used them was answered 401.
    Got401,
    /// The credentials saved by an earlier run had expired.
    SavedExpired,
    /// A result saved by an earlier run was refused.
    SavedRefused,
}

impl std::fmt::Display for RenewReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RenewReason::Expired => "the credentials expired",
            RenewReason::Got401 => "a request got 401",
            RenewReason::SavedExpired => "the saved credentials had expired",
            RenewReason::SavedRefused => "a saved result was refused",
        })
    }
}

/// Something that happened during a step besides its one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// An auth step ran again to renew credentials.
    Again(RenewReason),
    /// A device-code grant waited for someone to approve it: where, and with which code.
    DeviceCode {
        /// The verification URI.
        uri: String,
        /// The user code entered there.
        code: String,
    },
    /// An authorization-code grant got the user's approval: how.
    Authorized {
        /// `in the browser, back at http://127.0.0.1:…` or `with the code given by --auth-code`.
        how: String,
    },
    /// The refresh-only step ran to renew credentials.
    Refresh(RenewReason),
    /// The request was answered 401, credentials were renewed, and it was sent again.
    RetriedAfter401,
    /// After a 401, renewing credentials failed at this auth step.
    ReauthFailed {
        /// The auth step that failed.
        step: String,
    },
    /// The fresh credentials of a re-authentication were refused too: the collection
    /// stops re-authenticating after a 401 (said once, on the step where it happened).
    ReauthStopped,
    /// Renewing with the refresh token was refused (its status, when there was an
    /// answer), so the auth steps ran again.
    RefreshRefused {
        /// The token endpoint's status.
        status: Option<u16>,
    },
    /// A step's saved result (`once: {forget_on: …}`) was refused, forgotten, and the
    /// auth steps ran again.
    SavedRefused {
        /// The step whose saved result was forgotten.
        step: String,
        /// The status that refused it.
        status: u16,
        /// The step that was refused.
        by: String,
    },
    /// The server closed the kept-alive connection under the request, which was sent
    /// again on a fresh one (idempotent methods only).
    Resent,
    /// Renewed credentials could not be saved in the state file.
    NotSaved {
        /// Why.
        why: String,
    },
    /// The step read values reused from the state file; the server may have forgotten them.
    FromState {
        /// The variables.
        names: Vec<String>,
        /// The step that saved them.
        step: String,
        /// When (Unix seconds).
        saved_at: i64,
        /// The collection file, for the `state clear` advice.
        collection: String,
        /// The state file, when it is not the default one.
        state: Option<String>,
    },
    /// A throttled answer (429/503) was waited out.
    Throttled {
        /// The status.
        status: u16,
        /// How long baton waited.
        wait: Duration,
        /// What `Retry-After` asked for (more than `wait` when capped by the timeout).
        asked: Duration,
    },
    /// `retry.fail_if` matched at this attempt, ending the poll.
    PollStopped {
        /// The attempt (1-based).
        attempt: u32,
    },
    /// Captures left unread because the answer had the wrong status.
    CapturesSkipped {
        /// How many.
        count: std::num::NonZeroUsize,
        /// The status that explains them.
        status: u16,
    },
    /// Polling took this many attempts.
    Attempts {
        /// The final attempt (1-based).
        attempt: u32,
        /// Attempts allowed.
        of: u32,
    },
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Again(why) => write!(f, "again: {why}"),
            Note::Refresh(why) => write!(f, "refresh: {why}"),
            Note::RetriedAfter401 => f.write_str("retried after 401 and re-authentication"),
            Note::CapturesSkipped { count, status } => {
                let what = if count.get() == 1 { "capture" } else { "captures" };
                write!(f, "{count} {what} skipped because the status was {status}")
            }
            Note::ReauthFailed { step } => write!(f, "re-authentication after 401 failed at `{step}`"),
            Note::DeviceCode { uri, code } => write!(f, "approved at {uri} with the code {code}"),
            Note::Authorized { how } => write!(f, "authorized {how}"),
            Note::ReauthStopped => f.write_str(
                "the fresh credentials were refused too: no more re-authentication after a 401 in this collection",
            ),
            Note::RefreshRefused { status: Some(status) } => {
                write!(f, "the refresh token was refused ({status}): authenticated again")
            }
            Note::RefreshRefused { status: None } => {
                f.write_str("renewing with the refresh token failed: authenticated again")
            }
            Note::Resent => f.write_str("sent again on a fresh connection: the server closed the reused one"),
            Note::NotSaved { why } => write!(f, "the state file was not updated: {why}"),
            Note::SavedRefused { step, status, by } => write!(
                f,
                "`{by}` got {status} with what `{step}` saved: forgot it and ran the auth steps again"
            ),
            Note::FromState { names, step, saved_at, collection, state } => {
                let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                let saved = jiff::Timestamp::from_second(*saved_at).map(|t| t.to_string()).unwrap_or_default();
                let quoted = |s: &str| {
                    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@=".contains(c)) {
                        s.to_string()
                    } else {
                        format!("'{}'", s.replace('\'', r"'\''"))
                    }
                };
                write!(
                    f,
                    "{} reused from the state file (saved by step `{step}` at {saved}); if the server \
                     no longer knows them, forget them with `baton state clear {} --step {}{}` and run again",
                    names.join(", "),
                    quoted(collection),
                    quoted(step),
                    state.as_deref().map(|s| format!(" --state {}", quoted(s))).unwrap_or_default(),
                )
            }
            Note::Throttled { status, wait, asked } if asked > wait => write!(
                f,
                "waited {} after {status} (Retry-After asked {}; capped by the request's timeout)",
                human_duration(*wait),
                human_duration(*asked)
            ),
            Note::Throttled { status, wait, .. } => {
                write!(f, "waited {} after {status} (Retry-After)", human_duration(*wait))
            }
            Note::PollStopped { attempt } => write!(f, "polling stopped at attempt {attempt}"),
            Note::Attempts { attempt, of } => write!(f, "attempt {attempt} of {of}"),
        }
    }
}

/// A step's verdict, as every output names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepVerdict {
    /// Sent, and everything held.
    Passed,
    /// Not sent: a persisted result was used.
    Reused,
    /// An expectation, capture or snapshot failed.
    Failed,
    /// The request could not be made or completed.
    Error,
    /// Not run.
    Skipped,
}

impl StepVerdict {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            StepVerdict::Passed => "passed",
            StepVerdict::Reused => "reused",
            StepVerdict::Failed => "failed",
            StepVerdict::Error => "error",
            StepVerdict::Skipped => "skipped",
        }
    }
}

impl StepOutcome {
    /// Whether the response did not match its snapshot (or the snapshot is missing): the
    /// step has failed, whatever its expectations said.
    pub fn snapshot_failed(&self) -> bool {
        self.snapshot.as_ref().is_some_and(|(_, v)| v.is_failure())
    }

    /// The one verdict every output gives the step (a step whose snapshot failed is failed).
    pub fn verdict(&self) -> StepVerdict {
        match &self.result {
            StepResult::Passed | StepResult::Reused(_) if self.snapshot_failed() => StepVerdict::Failed,
            StepResult::Passed => StepVerdict::Passed,
            StepResult::Reused(_) => StepVerdict::Reused,
            StepResult::Failed(_) => StepVerdict::Failed,
            StepResult::Error(_) => StepVerdict::Error,
            StepResult::Skipped(_) => StepVerdict::Skipped,
        }
    }

    /// The notes as one line (`a; b`), or `None` when there are none.
    pub fn notes_text(&self) -> Option<String> {
        (!self.notes.is_empty())
            .then(|| self.notes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
    }
}

/// What happened to one collection.
#[derive(Debug, Clone)]
pub struct CollectionOutcome {
    /// Collection name.
    pub name: String,
    /// File it came from.
    pub path: PathBuf,
    /// One outcome per step, in run order.
    pub steps: Vec<StepOutcome>,
    /// Wall time.
    pub elapsed: Duration,
    /// baton itself failed (a bug) while running this collection; the last step says how.
    pub crashed: bool,
    /// The collection's `description:`.
    pub description: Option<String>,
}

impl CollectionOutcome {
    /// The exit code this outcome implies.
    pub fn exit(&self) -> Exit {
        let mut exit = if self.crashed { Exit::Internal } else { Exit::Passed };
        for s in &self.steps {
            let e = match (&s.result, s.role) {
                (StepResult::Error(_), _) | (StepResult::Failed(_), Role::Auth) => Exit::Runtime,
                (StepResult::Failed(_), Role::Request) => Exit::Failed,
                _ => Exit::Passed,
            };
            let snap = match &s.snapshot {
                Some((_, v)) if v.is_failure() => Exit::Snapshot,
                _ => Exit::Passed,
            };
            exit = exit.worse(e).worse(snap);
        }
        exit
    }

    /// Counts of (passed, failed, errors, skipped).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for s in &self.steps {
            match s.verdict() {
                StepVerdict::Passed | StepVerdict::Reused => c.0 += 1,
                StepVerdict::Failed => c.1 += 1,
                StepVerdict::Error => c.2 += 1,
                StepVerdict::Skipped => c.3 += 1,
            }
        }
        c
    }
}

/// Formats a duration for humans: `12 ms`, `1.3 s`.
pub fn human_duration(d: Duration) -> String {
    if d.as_millis() < 1000 { format!("{} ms", d.as_millis()) } else { format!("{:.1} s", d.as_secs_f64()) }
}

/// Something a sink may want to show.
pub enum Event<'e> {
    /// A collection is about to run.
    CollectionStarted {
        /// Its name.
        name: &'e str,
        /// Its file.
        path: &'e std::path::Path,
        /// Width of the widest step label, for aligned columns.
        name_width: usize,
    },
    /// A request was sent (and maybe answered); for `-v` traces.
    Exchange {
        /// The request as sent.
        request: &'e ResolvedRequest,
        /// The response, if one came.
        response: Option<&'e Exchange>,
    },
    /// Something to tell the person running baton now, while a step waits (a device code
    /// to enter); masked like everything else.
    Notice(&'e str),
    /// A step finished.
    StepFinished(&'e StepOutcome),
    /// A collection finished.
    CollectionFinished(&'e CollectionOutcome),
}

/// A consumer of events (terminal, and later JUnit/JSON reports).
pub trait Sink {
    /// Handles one event.
    fn event(&mut self, event: &Event<'_>);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::Failure;

    fn outcome(role: Role, result: StepResult) -> StepOutcome {
        StepOutcome {
            name: "s".into(),
            named: true,
            role,
            method: "GET".into(),
            url: None,
            status: None,
            elapsed: Duration::ZERO,
            result,
            span: Span::default(),
            body_excerpt: None,
            challenge: None,
            notes: Vec::new(),
            snapshot: None,
            description: None,
        }
    }

    fn collection(steps: Vec<StepOutcome>) -> CollectionOutcome {
        CollectionOutcome {
            name: "c".into(),
            path: PathBuf::new(),
            steps,
            elapsed: Duration::ZERO,
            crashed: false,
            description: None,
        }
    }

    fn failed() -> StepResult {
        StepResult::Failed(vec![Failure {
            span: Span::default(),
            subject: "status".into(),
            expected: "200".into(),
            actual: "500".into(),
        }])
    }

    #[test]
    fn a_failed_request_exits_1_and_a_failed_auth_step_or_an_error_exits_4() {
        assert_eq!(collection(vec![outcome(Role::Request, failed())]).exit(), Exit::Failed);
        assert_eq!(collection(vec![outcome(Role::Auth, failed())]).exit(), Exit::Runtime);
        let error = StepResult::Error(StepError { message: "refused".into(), span: None, help: None });
        let mixed = collection(vec![outcome(Role::Request, failed()), outcome(Role::Request, error)]);
        assert_eq!(mixed.exit(), Exit::Runtime, "a runtime error outranks a failed expectation");
        assert_eq!(
            collection(vec![outcome(Role::Request, StepResult::Skipped("x".into()))]).exit(),
            Exit::Passed
        );
    }

    #[test]
    fn reused_results_count_as_passed() {
        let c = collection(vec![
            outcome(Role::Auth, StepResult::Reused("saved".into())),
            outcome(Role::Request, StepResult::Passed),
            outcome(Role::Request, failed()),
            outcome(Role::Request, StepResult::Skipped("x".into())),
        ]);
        assert_eq!(c.counts(), (2, 1, 0, 1));
    }

    #[test]
    fn a_capped_wait_says_what_was_asked() {
        let capped = Note::Throttled {
            status: 503,
            wait: Duration::from_secs(30),
            asked: Duration::from_secs(100_000),
        };
        assert_eq!(
            capped.to_string(),
            "waited 30.0 s after 503 (Retry-After asked 100000.0 s; capped by the request's timeout)"
        );
    }

    #[test]
    fn notes_are_typed_and_read_as_one_line() {
        let mut o = outcome(Role::Request, StepResult::Passed);
        assert_eq!(o.notes_text(), None);
        o.notes.push(Note::Throttled {
            status: 429,
            wait: Duration::from_millis(1500),
            asked: Duration::from_millis(1500),
        });
        o.notes.push(Note::Attempts { attempt: 3, of: 5 });
        o.notes.push(Note::Again(RenewReason::Got401));
        assert_eq!(
            o.notes_text().as_deref(),
            Some("waited 1.5 s after 429 (Retry-After); attempt 3 of 5; again: a request got 401")
        );
    }
}
