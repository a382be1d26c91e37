//! `baton run`, `validate` and `plan`: load, check, filter, execute, report.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt;

use crate::cli::{self, Mode, RunOptions};
use crate::diagnostic::{Code, Diagnostic};
use crate::event::CollectionOutcome;
use crate::exec::{Vault, execute};
use crate::exit::Exit;
use crate::http::HttpClient;
use crate::model::Collection;
use crate::plan::Plan;
use crate::report::Terminal;
use crate::secret::Masker;
use crate::source::SourceMap;

use crate::template::Engine;
use crate::{load, parse, recipe, select, yaml};

use super::plan_view::describe_plan;
use super::state_cmd::open_state;
use super::{eprint, runtime};

fn file_stem(path: &std::path::Path) -> String {
    path.file_stem().map_or_else(|| "collection".to_string(), |s| s.to_string_lossy().into_owned())
}

/// `baton validate PATHS…`, for commands that write collections (`import`) and check
/// them as a user would.
pub(super) fn validate_paths(paths: Vec<PathBuf>, env: std::collections::HashMap<String, String>) -> Exit {
    let mut args: Vec<std::ffi::OsString> = vec!["baton".into(), "validate".into()];
    args.extend(paths.into_iter().map(PathBuf::into_os_string));
    match cli::parse(args, env) {
        Ok(cli::Invocation::Collections(opts)) => run_collections(&opts),
        _ => Exit::Usage,
    }
}

pub(super) fn run_collections(opts: &RunOptions) -> Exit {
    let masker = Masker::default();
    let _ = super::PANIC_MASKER.set(masker.clone());
    let exit = load_check_run(opts, &masker);
    if masker.has_short_secret() {
        eprint(
            &format!(
                "warning: a secret of fewer than {} characters is masked only where it stands alone as a word; \
                 longer secrets are masked everywhere",
                crate::secret::SHORT_SECRET
            ),
            &masker,
        );
    }
    exit
}

fn load_check_run(opts: &RunOptions, masker: &Masker) -> Exit {
    let masker = masker.clone();
    let files = match load::expand(&opts.paths) {
        Ok(f) => f,
        Err(d) => {
            eprint(&d.render(&SourceMap::default(), true), &masker);
            return d.exit;
        }
    };
    // Every shard loads and checks every file, so a tag is known (or a typo caught) the
    // same way in every shard; only the shard's own files run.
    let mine: Option<Vec<PathBuf>> = opts.shard.map(|(k, n)| select::shard(files.clone(), k, n));
    let engine = Engine::new(opts.env.clone(), masker.clone());
    let seed = opts.seed.unwrap_or_else(|| fastrand::u64(..));
    engine.seed(seed);
    let mut sources = SourceMap::default();
    let mut collections: Vec<Collection> = Vec::new();
    let mut diags: Vec<Diagnostic> = Vec::new();
    for f in &files {
        let id = match load::read(f, &mut sources) {
            Ok(id) => id,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let Some(file) = sources.get(id) else { continue };
        let parsed = yaml::parse(file, id)
            .map_err(|d| vec![d])
            .and_then(|node| parse::parse_collection(&node, id, &file.text, &file_stem(f)))
            .and_then(|c| recipe::expand_includes(c, &mut sources));
        match parsed {
            Ok(mut c) => {
                if let Some(env) = &opts.environment
                    && let Err(d) = recipe::apply_environment(&mut c, env, &mut sources)
                {
                    diags.push(d);
                    continue;
                }
                collections.push(c);
            }
            Err(ds) => diags.extend(ds),
        }
    }
    let mut rows = Vec::with_capacity(collections.len());
    for c in &collections {
        match super::passes::load_rows(c, &opts.data, &mut sources) {
            Ok(r) => rows.push(Some(r)),
            Err(ds) => {
                diags.extend(ds);
                rows.push(None);
            }
        }
    }
    let mut plans: Vec<Plan<'_>> = Vec::new();
    // A collection whose rows could not be read is not checked further: its templates
    // would only report the columns as undefined.
    for (c, rows) in collections.iter().zip(&rows).filter_map(|(c, r)| Some((c, r.as_ref()?))) {
        let checked = super::passes::plan(
            c,
            &engine,
            rows,
            &opts.overrides,
            opts.data.repeat.max(1),
            &sources,
            &masker,
        );
        match checked {
            Ok(p) => plans.push(p),
            Err(ds) => diags.extend(ds),
        }
    }
    if !diags.is_empty() {
        for d in &diags {
            eprint(&d.render(&sources, true), &masker);
            eprint("", &masker);
        }
        let n = diags.len();
        let what = if n == 1 { "problem" } else { "problems" };
        eprint(&format!("{n} {what} found; nothing was sent"), &masker);
        return diags.iter().map(|d| d.exit).max().unwrap_or(Exit::Invalid);
    }
    for w in plans.iter().flat_map(|p| &p.warnings) {
        eprint(&w.render(&sources, true), &masker);
        eprint("", &masker);
    }
    if let Err(d) = apply_filter(&mut plans, &opts.filter) {
        eprint(&d.render(&sources, true), &masker);
        return d.exit;
    }
    if let (Some(mine), Some((k, n))) = (&mine, opts.shard) {
        plans.retain(|p| sources.get(p.file).is_some_and(|f| mine.contains(&f.path)));
        if plans.is_empty() {
            let what =
                if mine.is_empty() { "no collection files" } else { "no selected request in its files" };
            let _ = writeln!(anstream::stdout(), "shard {k}/{n}: {what}");
            return Exit::Passed;
        }
    }
    match opts.mode {
        Mode::Validate => {
            for p in &plans {
                let path = sources.get(p.file).map(|f| f.path.display().to_string()).unwrap_or_default();
                let n = p.sequence().count();
                let _ = writeln!(anstream::stdout(), "✓ {path}: {} ({n} steps)", p.name);
            }
            Exit::Passed
        }
        Mode::Plan => {
            for p in &plans {
                let text = describe_plan(p, &sources, &masker);
                let _ = write!(anstream::stdout(), "{}", masker.mask(&text));
            }
            Exit::Passed
        }
        Mode::Run => {
            let exit = execute_all(opts, &plans, &sources, &masker);
            // A failure may depend on generated values: say how to get the same ones.
            if exit != Exit::Passed && opts.seed.is_none() && generates(&sources) {
                eprint(
                    &format!("generated values came from seed {seed}: replay them with --seed {seed}"),
                    &masker,
                );
            }
            exit
        }
    }
}

/// Whether any loaded file calls a generator (a run's values then depend on its seed).
fn generates(sources: &SourceMap) -> bool {
    const CALLS: &[&str] = &["fake(", "random_int(", "random_string(", "uuid("];
    (0..).map_while(|id| sources.get(id)).any(|f| CALLS.iter().any(|c| f.text.contains(c)))
}

/// Applies `--tag`, `--skip-tag` and `--step`; collections left without requests are dropped.
fn apply_filter(plans: &mut Vec<Plan<'_>>, filter: &cli::Filter) -> Result<(), Diagnostic> {
    if filter.tags.is_empty() && filter.skip_tags.is_empty() && filter.steps.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = plans.iter().flat_map(|p| p.requests().map(|s| s.name.clone())).collect();
    for wanted in &filter.steps {
        if !names.contains(wanted) {
            let help = crate::diagnostic::did_you_mean(wanted, names.iter().map(String::as_str)).map_or_else(
                || "`--step` takes the name of a request".to_string(),
                |k| format!("did you mean `{k}`?"),
            );
            return Err(
                Diagnostic::usage(Code::UnknownStep, format!("no request is named `{wanted}`")).help(help)
            );
        }
    }
    let mut known: Vec<&str> = Vec::new();
    for p in plans.iter() {
        for t in p.tags.iter().chain(p.requests().flat_map(|s| s.tags.iter())) {
            if !known.contains(&t.as_str()) {
                known.push(t);
            }
        }
    }
    for (flag, wanted) in
        filter.tags.iter().map(|t| ("--tag", t)).chain(filter.skip_tags.iter().map(|t| ("--skip-tag", t)))
    {
        if !known.contains(&wanted.as_str()) {
            let help = match crate::diagnostic::did_you_mean(wanted, known.iter().copied()) {
                Some(k) => format!("did you mean `{k}`?"),
                None if known.is_empty() => "no collection or request here has `tags:`".to_string(),
                None => format!("the tags here: {}", known.join(", ")),
            };
            return Err(Diagnostic::usage(
                Code::UnknownTag,
                format!("{flag} {wanted}: no collection or request has this tag"),
            )
            .help(help));
        }
    }
    plans.retain_mut(|p| select::select(p, filter));
    if plans.is_empty() {
        return Err(Diagnostic::usage(Code::NothingSelected, "the selection leaves no request to run").help(
            "`--tag` keeps requests with any of the tags, `--skip-tag` removes them; check the two together",
        ));
    }
    Ok(())
}

fn execute_all(opts: &RunOptions, plans: &[Plan<'_>], sources: &SourceMap, masker: &Masker) -> Exit {
    if opts.client.insecure {
        eprint(
            "warning: --insecure: TLS certificates are NOT verified; use only against servers you trust",
            masker,
        );
    }
    let client = match HttpClient::new(&opts.client) {
        Ok(c) => c,
        Err(e) => {
            eprint(&format!("error: {e}"), masker);
            return Exit::Usage;
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprint(&format!("error: cannot start the async runtime: {e}"), masker);
            return Exit::Runtime;
        }
    };
    let commands_paused = opts.github_annotations.then(crate::report::github::Paused::start);
    let persisted = plans.iter().any(Plan::persists);
    // Each `once:`/`cache:` result is written to the state file as soon as its step
    // succeeds (off the async path, under the file's lock), so an interrupted run keeps it.
    let (store, _temp) = if persisted {
        match open_state(&opts.state) {
            Ok((store, temp)) => (Some(Arc::new(store)), temp),
            Err(d) => {
                eprint(&d.render(sources, true), masker);
                return d.exit;
            }
        }
    } else {
        (None, None)
    };
    let vault = Vault::new(store, opts.environment.clone().unwrap_or_default());
    let jobs = opts.jobs.max(1).min(plans.len().max(1));
    let progress = Progress::new(jobs > 1, plans.len());
    let curl_log = opts.curl.as_ref().map(|_| crate::report::curl::CurlLog::default());
    let ctx = FileRun {
        opts,
        curl: curl_log.as_ref(),
        client: &client,
        vault: &vault,
        sources,
        masker,
        parallel: jobs > 1,
        progress: &progress,
    };
    let interrupted = |signal: &str| {
        progress.finish();
        let saved = vault.saved();
        let what = if saved == 1 { "entry was" } else { "entries were" };
        eprint(
            &format!(
                "interrupted by {signal}: stopped; {saved} state {what} saved by this run as its steps \
                 succeeded; no report was written"
            ),
            masker,
        );
    };
    let outcomes: Vec<CollectionOutcome> = if jobs > 1 {
        match run_parallel(&ctx, plans, jobs, &interrupted) {
            Ok(outcomes) => outcomes,
            Err(e) => {
                eprint(&format!("error: {e}"), masker);
                return Exit::Runtime;
            }
        }
    } else {
        let run = futures_util::stream::iter(plans).then(|p| ctx.run(p)).collect::<Vec<_>>();
        match rt.block_on(interruptible(run)) {
            Ok(outcomes) => outcomes,
            Err(signal) => {
                drop(commands_paused);
                interrupted(signal);
                return Exit::Interrupted;
            }
        }
    };
    progress.finish();
    report_orphan_snapshots(plans, sources, masker);
    let mut total = Terminal::new(masker.clone(), sources.clone(), false);
    total.total(&outcomes);
    total.finish();
    let mut exit = outcomes.iter().fold(Exit::Passed, |e, o| e.worse(o.exit()));
    drop(commands_paused);
    if let Err(d) = write_reports(opts, &outcomes, exit, sources, masker) {
        eprint(&d.render(sources, true), masker);
        exit = exit.worse(d.exit);
    }
    if let (Some((path, reveal)), Some(log)) = (&opts.curl, &curl_log) {
        let text = format!("#!/bin/sh\n# The requests of a baton run, as sent.\n\n{}", log.take());
        match crate::atomic::write(path, text.as_bytes(), *reveal) {
            Ok(()) if *reveal => eprint(
                &format!(
                    "warning: {} holds the run's secrets (--curl-with-secrets); it is readable by you only",
                    path.display()
                ),
                masker,
            ),
            Ok(()) => {}
            Err(e) => {
                eprint(&format!("error: cannot write --curl {}: {e}", path.display()), masker);
                exit = exit.worse(Exit::Runtime);
            }
        }
    }
    exit
}

/// Runs the files on `jobs` threads, each with its own runtime and HTTP client (the
/// files of a run share the vault), so a run uses the machine's cores; the outcomes
/// come back in the order the files were given. SIGINT or SIGTERM ends the process
/// with [`Exit::Interrupted`] after `interrupted` has said so: what steps saved is on
/// disk already.
fn run_parallel(
    ctx: &FileRun<'_>,
    plans: &[Plan<'_>],
    jobs: usize,
    interrupted: &(dyn Fn(&str) + Sync),
) -> Result<Vec<CollectionOutcome>, String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<CollectionOutcome>>> =
        std::sync::Mutex::new((0..plans.len()).map(|_| None).collect());
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    std::thread::scope(|scope| -> Result<(), String> {
        // Signals are watched on their own thread while the workers run.
        scope.spawn(move || {
            let Ok(rt) = runtime() else { return };
            let stopped = rt.block_on(async {
                tokio::select! {
                    signal = interruptible(std::future::pending::<()>()) => signal.err(),
                    _ = finished => None,
                }
            });
            if let Some(signal) = stopped {
                interrupted(signal);
                std::process::exit(i32::from(Exit::Interrupted.code()));
            }
        });
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    let rt = runtime().map_err(|e| format!("cannot start the async runtime: {e}"))?;
                    let client = HttpClient::new(&ctx.opts.client).map_err(|e| e.to_string())?;
                    let mine = FileRun { client: &client, ..*ctx };
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(plan) = plans.get(i) else { return Ok(()) };
                        let outcome = rt.block_on(mine.run(plan));
                        results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(outcome);
                    }
                })
            })
            .collect();
        let mut result = Ok(());
        for w in workers {
            match w.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err("a worker thread stopped".to_string()),
            }
        }
        let _ = done.send(());
        result
    })?;
    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(results.into_iter().flatten().collect())
}

/// Runs `work` unless SIGINT (Ctrl-C) or SIGTERM comes first; `Err` names the signal.
async fn interruptible<T>(work: impl std::future::Future<Output = T>) -> Result<T, &'static str> {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        done = work => Ok(done),
        Ok(()) = tokio::signal::ctrl_c() => Err("SIGINT"),
        () = terminate => Err("SIGTERM"),
    }
}

/// What every collection file of a run shares.
struct FileRun<'r> {
    opts: &'r RunOptions,
    /// `--curl`: the commands of the requests sent.
    curl: Option<&'r crate::report::curl::CurlLog>,
    client: &'r HttpClient,
    vault: &'r Vault,
    sources: &'r SourceMap,
    masker: &'r Masker,
    parallel: bool,
    progress: &'r Progress,
}

impl FileRun<'_> {
    /// Runs one file.
    async fn run(&self, plan: &Plan<'_>) -> CollectionOutcome {
        let (masker, sources, verbose) = (self.masker.clone(), self.sources.clone(), self.opts.verbose);
        // One file at a time prints live; parallel files print each block when it is done.
        let (out, err) = (SharedBuf::default(), SharedBuf::default());
        let mut terminal = if self.parallel {
            Terminal::with_writers(masker, sources, verbose, Box::new(out.clone()), Box::new(err.clone()))
        } else {
            Terminal::new(masker, sources, verbose)
        };
        let mut curl =
            self.curl.map(|log| log.sink(self.masker.clone(), self.opts.curl.as_ref().is_some_and(|c| c.1)));
        let mut sinks: Vec<&mut dyn crate::event::Sink> = vec![&mut terminal];
        if let Some(c) = curl.as_mut() {
            sinks.push(c);
        }
        let mut tee = crate::report::curl::Tee(sinks);
        let run = execute(plan, self.client, self.sources, &self.opts.exec, self.vault, &mut tee);
        // A bug in baton ends this collection, not the run: the other files still run, the
        // reports are written and the state entries made so far are saved.
        let outcome = match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)).await {
            Ok(outcome) => outcome,
            Err(payload) => crashed(plan, self.sources, &payload, &mut tee),
        };
        drop(tee);
        terminal.finish();
        self.progress.done(&outcome.name, || {
            let _ = anstream::stdout().write_all(&out.take());
            let _ = anstream::stderr().write_all(&err.take());
        });
        outcome
    }
}

/// The outcome of a collection whose run panicked: one error step saying so.
fn crashed(
    plan: &Plan<'_>,
    sources: &SourceMap,
    payload: &(dyn std::any::Any + Send),
    sink: &mut dyn crate::event::Sink,
) -> CollectionOutcome {
    use crate::event::{Event, StepError, StepOutcome, StepResult};
    let what = super::panic_text(payload);
    let step = StepOutcome {
        name: "(internal error)".into(),
        named: true,
        role: crate::model::Role::Request,
        method: String::new(),
        url: None,
        status: None,
        elapsed: std::time::Duration::ZERO,
        result: StepResult::Error(StepError {
            message: format!("baton hit a bug while running this collection: {what}"),
            span: None,
            help: Some("exit code 101; please report it with the collection (secrets removed)".into()),
        }),
        span: crate::source::Span::default(),
        body_excerpt: None,
        challenge: None,
        notes: Vec::new(),
        snapshot: None,
        description: None,
    };
    sink.event(&Event::StepFinished(&step));
    let path = sources.get(plan.file).map(|f| f.path.clone()).unwrap_or_default();
    let outcome = CollectionOutcome {
        name: plan.name.clone(),
        path,
        steps: vec![step],
        elapsed: std::time::Duration::ZERO,
        crashed: true,
        description: plan.description.clone(),
    };
    sink.event(&Event::CollectionFinished(&outcome));
    outcome
}

/// A cloneable in-memory writer: a parallel file's output, printed when the file is done.
#[derive(Clone, Default)]
struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        self.0.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A live bar of finished files for parallel runs on a terminal; absent otherwise (CI logs
/// get plain, grouped lines).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(parallel: bool, files: usize) -> Self {
        use std::io::IsTerminal;
        let bar = (parallel && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(files as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_msg}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    /// Prints a finished file's block (above the bar) and advances it.
    fn done(&self, name: &str, print: impl FnOnce()) {
        match &self.bar {
            Some(bar) => {
                bar.suspend(print);
                bar.inc(1);
                bar.set_message(format!("done: {name}"));
            }
            None => print(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Writes the `--report` files (atomically) and the GitHub annotations.
fn write_reports(
    opts: &RunOptions,
    outcomes: &[crate::event::CollectionOutcome],
    exit: Exit,
    sources: &SourceMap,
    masker: &Masker,
) -> Result<(), Diagnostic> {
    use crate::report::{ReportKind, github, html, json, junit};
    if opts.github_annotations {
        let _ = write!(anstream::stdout(), "{}", github::render(outcomes, sources, masker));
    }
    for r in &opts.reports {
        let text = match r.kind {
            ReportKind::Junit => junit::render(outcomes, sources, masker),
            ReportKind::Json => json::render(outcomes, exit, sources, masker),
            ReportKind::Html => html::render(outcomes, exit, sources, masker),
        };
        crate::atomic::write(&r.path, text.as_bytes(), false).map_err(|e| {
            Diagnostic::usage(Code::Report, format!("cannot write the report {}: {e}", r.path.display()))
                .with_exit(Exit::Runtime)
        })?;
    }
    Ok(())
}

/// Warns about snapshot files whose step no longer exists (renamed or removed steps).
fn report_orphan_snapshots(plans: &[Plan<'_>], sources: &SourceMap, masker: &Masker) {
    for p in plans {
        let Some(file) = sources.get(p.file) else { continue };
        let steps: Vec<&str> = p.steps.iter().map(|ps| ps.step.name.as_str()).collect();
        for orphan in crate::snapshot::orphans(&file.path, &steps) {
            eprint(
                &format!(
                    "warning: snapshot {} belongs to no step of {}; delete it if the step was renamed or removed",
                    orphan.display(),
                    file.path.display()
                ),
                masker,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Sink, StepResult};
    use crate::testing::Fixture;

    #[derive(Default)]
    struct Seen(Vec<String>);

    impl Sink for Seen {
        fn event(&mut self, event: &Event<'_>) {
            match event {
                Event::StepFinished(s) => self.0.push(format!("step {}", s.name)),
                Event::CollectionFinished(o) => self.0.push(format!("done {}", o.name)),
                _ => {}
            }
        }
    }

    #[test]
    fn a_collection_whose_run_panicked_is_an_internal_error_in_every_report() {
        let f = Fixture::new("name: c\nrequests:\n  - url: http://h\n");
        let plan = f.valid();
        let payload: Box<dyn std::any::Any + Send> = Box::new(String::from("overflow"));
        let mut seen = Seen::default();
        let outcome = crashed(&plan, &f.sources, payload.as_ref(), &mut seen);
        assert_eq!(outcome.exit(), Exit::Internal);
        assert_eq!(Exit::Internal.code(), 101);
        assert!(
            matches!(&outcome.steps[0].result, StepResult::Error(e) if e.message.ends_with(": overflow"))
        );
        assert_eq!(seen.0, ["step (internal error)", "done c"]);
    }
}
