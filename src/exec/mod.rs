//! The executor: runs a [`Plan`] and emits events.
//!
//! Auth steps run first, then requests, in file order. A failed auth step stops the
//! collection; a request whose captured inputs never arrived is skipped with the
//! reason; other requests still run unless `--fail-fast`.
//!
//! The parts: this file holds the collection loop; `step` one step's life (resolve →
//! send/poll → capture → assert → snapshot); `poll` polling and throttling; `session`
//! the credentials (authenticate, renew, expiry); `persist` what `once:`/`cache:` keep
//! between runs; `origin` keeps credentials with the origins the collection names.

mod authorize;
mod files;
mod origin;
mod persist;
mod poll;
mod session;
mod step;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cookies::Jar;
use crate::event::{CollectionOutcome, Event, Note, RenewReason, Sink, StepOutcome, StepResult};
use crate::http::HttpClient;
use crate::model::Role;
use crate::plan::{CompiledStep, Plan, PlannedStep};
use crate::snapshot::UpdateMode;
use crate::source::SourceMap;
use crate::template::Scope;

pub use authorize::Browser;
pub use persist::Vault;
use session::RenewFailed;

/// Executor settings.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Stop at the first failed step.
    pub fail_fast: bool,
    /// Which snapshots may be written.
    pub update: UpdateMode,
    /// Origins (`scheme://host:port`) credentials may also go to, from `--allow-origin`.
    pub allow_origins: Vec<String>,
    /// `--no-cookies`: no collection keeps a cookie jar.
    pub no_cookies: bool,
    /// `--file-root`: folders besides each collection's own that files may be sent from.
    pub file_roots: Vec<PathBuf>,
    /// How an authorization URL reaches the user (`--no-browser`, `BATON_BROWSER`).
    pub browser: authorize::Browser,
    /// `--auth-code` / `BATON_AUTH_CODE`: the code (or the whole redirect URL) of an
    /// approval given elsewhere.
    pub auth_code: Option<String>,
}

/// Runs a validated collection.
pub async fn execute(
    plan: &Plan<'_>,
    client: &HttpClient,
    sources: &SourceMap,
    opts: &ExecOptions,
    vault: &Vault,
    sink: &mut dyn Sink,
) -> CollectionOutcome {
    let started = Instant::now();
    let (path, collection_id) = sources
        .get(plan.file)
        .map(|f| (f.path.clone(), f.canonical.display().to_string()))
        .unwrap_or_default();
    // Refresh-only steps count: they are printed when they renew credentials.
    // A request of a pass or a repetition carries its label: ` [row 2: …, 1/3]`.
    let pass = plan.passes.iter().map(|p| unicode_width::UnicodeWidthStr::width(p.label.as_str())).max();
    let repeat = plan.steps.iter().map(|ps| ps.step.repeat).max().unwrap_or(1);
    let tagged = |s: &CompiledStep<'_>| {
        let repetition = if s.repeat > 1 { 2 * repeat.to_string().len() + 1 } else { 0 };
        let parts = usize::from(pass.is_some()) + usize::from(repetition > 0);
        let inner = pass.unwrap_or(0) + repetition + if parts == 2 { 2 } else { 0 };
        if parts == 0 || s.role == Role::Auth { 0 } else { inner + 3 }
    };
    let name_width = plan.steps.iter().map(|ps| label_width(&ps.step) + tagged(&ps.step)).max().unwrap_or(0);
    sink.event(&Event::CollectionStarted { name: &plan.name, path: &path, name_width });
    let mut runner = Runner {
        plan,
        client,
        sources,
        base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        collection_path: path.clone(),
        update: opts.update,
        scope: (*plan.scope).clone(),
        auth_scope: (*plan.scope).clone(),
        sink,
        vault,
        collection_id,
        sessions: vec![session::Session::default(); plan.profile_count()],
        from_state: Vec::new(),
        registered_again: false,
        last_lifetime: None,
        halted: None,
        outcomes: Vec::with_capacity(plan.steps.len()),
        last: HashMap::new(),
        jar: (plan.cookies && !opts.no_cookies).then(Jar::default),
        file_roots: opts.file_roots.clone(),
        browser: opts.browser.clone(),
        auth_code: opts.auth_code.clone(),
        pass: None,
        repetition: None,
        origins: origin::named_origins(plan, sources)
            .into_iter()
            .chain(opts.allow_origins.iter().cloned())
            .collect(),
    };
    runner.run_all(opts.fail_fast).await;
    let outcome = CollectionOutcome {
        name: plan.name.clone(),
        path,
        steps: std::mem::take(&mut runner.outcomes),
        elapsed: started.elapsed(),
        crashed: false,
        description: plan.description.clone(),
    };
    runner.sink.event(&Event::CollectionFinished(&outcome));
    outcome
}

/// The width of a step's label in the terminal report.
fn label_width(s: &CompiledStep<'_>) -> usize {
    let name =
        if s.named { unicode_width::UnicodeWidthStr::width(&*crate::printable::line(&s.name)) } else { 0 };
    name + if s.role == Role::Auth { " (auth)".len() } else { 0 }
}

/// One collection run in progress.
struct Runner<'r, 'p, 'a, 's> {
    plan: &'p Plan<'a>,
    client: &'r HttpClient,
    sources: &'r SourceMap,
    base_dir: PathBuf,
    collection_path: PathBuf,
    update: UpdateMode,
    scope: Scope,
    /// What the auth steps see: the variables and what auth steps captured, never a
    /// request's captures, so renewing credentials replays the auth steps exactly.
    auth_scope: Scope,
    sink: &'r mut dyn Sink,
    vault: &'s Vault,
    collection_id: String,
    /// Each credential profile's renewal time, shared credentials and whether its fresh
    /// credentials were refused too, by position.
    sessions: Vec<session::Session>,
    /// Variables reused from the state file: (name, step, saved at in Unix seconds, key).
    from_state: Vec<(String, String, i64, String)>,
    /// Whether a refused saved result was forgotten and the auth steps ran again.
    registered_again: bool,
    /// The lifetime of the credentials the last step that ran obtained.
    last_lifetime: Option<std::time::Duration>,
    /// Why the rest of the collection cannot run (credentials that could not be renewed
    /// in the middle of a step).
    halted: Option<String>,
    outcomes: Vec<StepOutcome>,
    /// Plan step index → its latest outcome.
    last: HashMap<usize, usize>,
    /// The origins the collection names; credentials go nowhere else.
    origins: Vec<String>,
    /// The collection's cookies (auth steps and requests share them).
    jar: Option<Jar>,
    /// Folders besides the collection's that files may be sent from.
    file_roots: Vec<PathBuf>,
    /// How an authorization URL reaches the user.
    browser: authorize::Browser,
    /// An approval given elsewhere (`--auth-code`).
    auth_code: Option<String>,
    /// The current pass's label (`row 2: b@example.test`), when the collection has passes.
    pass: Option<String>,
    /// `2/3` while a `repeat:` step runs.
    repetition: Option<String>,
}

impl Runner<'_, '_, '_, '_> {
    /// Runs the selected steps in order; after a failed auth step (or any failure with
    /// `--fail-fast`) the rest are skipped with the reason.
    async fn run_all(&mut self, fail_fast: bool) {
        let plan = self.plan;
        let mut stop: Option<String> = None;
        let runs =
            |role: Role| plan.sequence().filter(move |ps| plan.selected[ps.index] && ps.step.role == role);
        // Auth steps once; then the requests once per pass (data row, `--repeat`).
        for ps in runs(Role::Auth) {
            self.run_one(ps, &mut stop, fail_fast).await;
        }
        if plan.passes.is_empty() {
            for ps in runs(Role::Request) {
                self.run_repeated(ps, &mut stop, fail_fast).await;
            }
            return;
        }
        for pass in &plan.passes {
            self.enter_pass(&pass.scope);
            self.pass = Some(pass.label.clone());
            for ps in runs(Role::Request) {
                self.run_repeated(ps, &mut stop, fail_fast).await;
            }
        }
        self.pass = None;
    }

    /// A pass starts from its own variables and what the auth steps captured (renewed
    /// since, perhaps); what the requests of the pass before captured is gone.
    fn enter_pass(&mut self, scope: &Scope) {
        let mut fresh = scope.clone();
        for ps in self.plan.steps.iter().filter(|ps| ps.step.role == Role::Auth) {
            for cap in &ps.step.captures {
                if let Some(v) = self.scope.get(&cap.name.name) {
                    fresh.set(&cap.name.name, v.clone());
                }
            }
        }
        self.scope = fresh;
    }

    /// Runs a step `repeat:` times (once by default), each run its own outcome.
    async fn run_repeated(&mut self, ps: &PlannedStep<'_>, stop: &mut Option<String>, fail_fast: bool) {
        let n = ps.step.repeat.max(1);
        if n == 1 {
            return self.run_one(ps, stop, fail_fast).await;
        }
        for i in 1..=n {
            self.repetition = Some(format!("{i}/{n}"));
            self.run_one(ps, stop, fail_fast).await;
        }
        self.repetition = None;
    }

    /// Runs one step of the sequence, or records it skipped when the collection stopped.
    async fn run_one(&mut self, ps: &PlannedStep<'_>, stop: &mut Option<String>, fail_fast: bool) {
        if let Some(reason) = &*stop {
            self.finish(ps.index, skipped(&ps.step, reason.clone()));
            return;
        }
        let outcome = match self.run_in_sequence(ps).await {
            Ok(Some(outcome)) => outcome,
            // Recorded already: the auth steps ran again after a refused saved result.
            Ok(None) => return,
            Err(RenewFailed { step }) => {
                let reason = format!("renewing credentials failed at `{step}`");
                *stop = Some(reason.clone());
                self.finish(ps.index, skipped(&ps.step, reason));
                return;
            }
        };
        let failed = matches!(outcome.result, StepResult::Failed(_) | StepResult::Error(_));
        if stop.is_none()
            && let Some(reason) = self.halted.take()
        {
            *stop = Some(reason);
        }
        if failed && stop.is_none() {
            if ps.step.role == Role::Auth {
                *stop = Some(format!("auth step `{}` failed", ps.step.name));
            } else if fail_fast {
                *stop = Some(format!("--fail-fast: step `{}` failed", ps.step.name));
            }
        }
        self.finish(ps.index, outcome);
    }

    /// Runs a step of the sequence: renews due credentials first (a 401 is handled
    /// where the request is sent, see `poll`). `Err`: renewing due credentials failed
    /// before the step could run.
    async fn run_in_sequence(&mut self, ps: &PlannedStep<'_>) -> Result<Option<StepOutcome>, RenewFailed> {
        if ps.step.role == Role::Request {
            for &s in &ps.sessions {
                if self.sessions[s].due() {
                    self.renew(s, RenewReason::Expired).await?;
                }
            }
        }
        let mut outcome = self.attempt(ps.index, true).await;
        if let Some((producer, key)) = self.saved_result_refused(ps, &outcome) {
            // Once per run: forget what was saved and run the auth steps again.
            self.registered_again = true;
            let note = match self.vault.forget(&key).await {
                Ok(()) => Note::SavedRefused {
                    step: self.plan.step(producer).name.clone(),
                    status: outcome.status.unwrap_or_default(),
                    by: ps.step.name.clone(),
                },
                Err(why) => Note::NotSaved { why },
            };
            self.from_state.retain(|(_, _, _, k)| *k != key);
            let profile = self.plan.profile_of(producer);
            return self.authenticate(profile, RenewReason::SavedRefused, Some(note)).await.map(|()| None);
        }
        self.explain_reused_inputs(ps, &mut outcome);
        Ok(Some(outcome))
    }

    /// The step (run position) and key of a saved `once` result that a failed auth step
    /// read, when its `forget_on` statuses include the answer and it was not forgotten
    /// already in this run.
    fn saved_result_refused(&self, ps: &PlannedStep<'_>, outcome: &StepOutcome) -> Option<(usize, String)> {
        if ps.step.role != Role::Auth
            || self.registered_again
            || !matches!(outcome.result, StepResult::Failed(_))
        {
            return None;
        }
        let status = outcome.status?;
        ps.needs.iter().find_map(|need| {
            let (_, _, _, key) = self.from_state.iter().find(|(name, ..)| *name == need.name)?;
            let forget_on = self.plan.step(need.from).lifecycle.forget_on.as_ref()?;
            forget_on.allowed.iter().any(|p| p.allows(status)).then(|| (need.from, key.clone()))
        })
    }

    /// A failed step that read values reused from the state file says so: the server
    /// may have forgotten them (a registration deleted on its side).
    fn explain_reused_inputs(&self, ps: &PlannedStep<'_>, outcome: &mut StepOutcome) {
        if !matches!(outcome.result, StepResult::Failed(_) | StepResult::Error(_)) {
            return;
        }
        let mut names: Vec<String> = Vec::new();
        let mut from: Option<(String, i64)> = None;
        for need in &ps.needs {
            if let Some((name, step, saved, _)) = self.from_state.iter().find(|(n, ..)| *n == need.name) {
                names.push(name.clone());
                from.get_or_insert((step.clone(), *saved));
            }
        }
        if let Some((step, saved_at)) = from {
            outcome.notes.push(Note::FromState {
                names,
                step,
                saved_at,
                collection: self.collection_path.display().to_string(),
                state: self.vault.state_flag(),
            });
        }
    }

    fn finish(&mut self, index: usize, mut outcome: StepOutcome) {
        // A step of a data row or a repetition says which.
        let tags: Vec<&str> = self.pass.iter().chain(self.repetition.iter()).map(String::as_str).collect();
        if !tags.is_empty() && outcome.role == Role::Request {
            outcome.name = format!("{} [{}]", outcome.name, tags.join(", "));
            outcome.named = true;
        }
        self.sink.event(&Event::StepFinished(&outcome));
        self.last.insert(index, self.outcomes.len());
        self.outcomes.push(outcome);
    }
}

/// An outcome with nothing happened yet.
fn blank(step: &CompiledStep<'_>) -> StepOutcome {
    StepOutcome {
        name: step.name.clone(),
        named: step.named,
        role: step.role,
        method: step.method.clone(),
        url: None,
        status: None,
        elapsed: std::time::Duration::ZERO,
        result: StepResult::Passed,
        span: step.name_span,
        body_excerpt: None,
        challenge: None,
        notes: Vec::new(),
        snapshot: None,
        description: step.description.clone(),
    }
}

fn skipped(step: &CompiledStep<'_>, reason: String) -> StepOutcome {
    StepOutcome { result: StepResult::Skipped(reason), ..blank(step) }
}
