//! Orchestration: command line → load → check → plan/run → report → exit code.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use futures_util::StreamExt;

use crate::cli::{self, Invocation, Mode, RunOptions, StateAction, StateLocation};
use crate::diagnostic::Diagnostic;
use crate::event::CollectionOutcome;
use crate::exec::{self, Persist, execute};
use crate::exit::Exit;
use crate::http::HttpClient;
use crate::model::{Collection, Role};
use crate::plan::Plan;
use crate::report::Terminal;
use crate::secret::Masker;
use crate::source::SourceMap;
use crate::state::{self, StateStore};
use crate::template::{Engine, Scope};
use crate::{load, parse, playground, recipe, select, validate, yaml};

/// Runs baton with `args` (program name first) and the process environment.
pub fn run(args: Vec<OsString>, env: HashMap<String, String>) -> Exit {
    match cli::parse(args, env) {
        Ok(Invocation::Print(text)) => {
            let _ = write!(anstream::stdout(), "{text}");
            Exit::Passed
        }
        Ok(Invocation::Playground { port, tls }) => serve_playground(port, tls.as_deref()),
        Ok(Invocation::Collections(opts)) => run_collections(&opts),
        Ok(Invocation::Demo(opts)) => demo(opts),
        Ok(Invocation::State { action, location }) => state_command(action, &location),
        Err(cli::CliError::Usage(u)) => {
            eprint(&u.diagnostic.render(&u.sources, true), &Masker::default());
            u.diagnostic.exit
        }
        Err(cli::CliError::Clap(text)) => {
            let _ = write!(anstream::stderr(), "{text}");
            Exit::Usage
        }
    }
}

fn eprint(text: &str, masker: &Masker) {
    let _ = writeln!(anstream::stderr(), "{}", masker.mask(text.trim_end()));
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

fn serve_playground(port: u16, tls: Option<&std::path::Path>) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprint(&format!("error: cannot start the async runtime: {e}"), &Masker::default());
            return Exit::Runtime;
        }
    };
    rt.block_on(async {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = match tls {
            None => playground::Playground::start(addr).await,
            Some(ca_path) => match playground::Playground::start_tls(addr).await {
                Ok((pg, pem)) => match crate::atomic::write(ca_path, pem.as_bytes(), false) {
                    Ok(()) => Ok(pg),
                    Err(e) => {
                        eprint(
                            &format!("error: cannot write the CA to {}: {e}", ca_path.display()),
                            &Masker::default(),
                        );
                        return Exit::Usage;
                    }
                },
                Err(e) => Err(e),
            },
        };
        let pg = match started {
            Ok(pg) => pg,
            Err(e) => {
                eprint(&format!("error: cannot listen on {addr}: {e}"), &Masker::default());
                return Exit::Runtime;
            }
        };
        if let Some(ca_path) = tls {
            let _ =
                writeln!(anstream::stdout(), "CA certificate: {} (pass it with --cacert)", ca_path.display());
        }
        let _ = writeln!(
            anstream::stdout(),
            "baton playground on {}\n  demo user: {} / {}\n  press Ctrl-C to stop",
            pg.base_url(),
            playground::DEMO_USERNAME,
            playground::DEMO_PASSWORD
        );
        let _ = tokio::signal::ctrl_c().await;
        pg.shutdown().await;
        Exit::Passed
    })
}

/// `baton demo`: the playground on a free loopback port, in its own thread, for one run.
fn demo(mut opts: RunOptions) -> Exit {
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let Ok(rt) = runtime() else { return };
        rt.block_on(async move {
            match playground::Playground::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
                Ok(pg) => {
                    let _ = url_tx.send(Ok(pg.base_url()));
                    let _ = stop_rx.await;
                    pg.shutdown().await;
                }
                Err(e) => {
                    let _ = url_tx.send(Err(e.to_string()));
                }
            }
        });
    });
    let url = match url_rx.recv() {
        Ok(Ok(url)) => url,
        Ok(Err(e)) => {
            eprint(&format!("error: cannot start the playground: {e}"), &Masker::default());
            return Exit::Runtime;
        }
        Err(_) => {
            eprint("error: the playground thread stopped", &Masker::default());
            return Exit::Runtime;
        }
    };
    let _ = writeln!(anstream::stdout(), "playground on {url}\n");
    // Shipped collections read their server from BATON_BASE_URL: point it at this playground.
    let mut env = (*opts.env).clone();
    env.insert("BATON_BASE_URL".into(), url);
    opts.env = Arc::new(env);
    let exit = run_collections(&opts);
    let _ = stop_tx.send(());
    let _ = server.join();
    exit
}

fn file_stem(path: &std::path::Path) -> String {
    path.file_stem().map_or_else(|| "collection".to_string(), |s| s.to_string_lossy().into_owned())
}

fn run_collections(opts: &RunOptions) -> Exit {
    let masker = Masker::default();
    let files = match load::expand(&opts.paths) {
        Ok(f) => f,
        Err(d) => {
            eprint(&d.render(&SourceMap::default(), true), &masker);
            return d.exit;
        }
    };
    let files = match opts.shard {
        Some((k, n)) => {
            let mine = select::shard(files, k, n);
            if mine.is_empty() {
                let _ = writeln!(anstream::stdout(), "shard {k}/{n}: no collection files");
                return Exit::Passed;
            }
            mine
        }
        None => files,
    };
    let engine = Engine::new(opts.env.clone(), masker.clone());
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
    let mut plans: Vec<Plan<'_>> = Vec::new();
    for c in &collections {
        let checked = validate::resolve_vars(c, &engine, &opts.overrides, &sources, &masker)
            .and_then(|scope| validate::check(c, &engine, scope, &sources, &masker));
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
    if let Err(d) = apply_filter(&mut plans, &opts.filter) {
        eprint(&d.render(&sources, true), &masker);
        return d.exit;
    }
    match opts.mode {
        Mode::Validate => {
            for p in &plans {
                let path =
                    sources.get(p.collection.file).map(|f| f.path.display().to_string()).unwrap_or_default();
                let n = p.collection.steps().filter(|s| !s.lifecycle.refresh_only).count();
                let _ = writeln!(anstream::stdout(), "✓ {path}: {} ({n} steps)", p.collection.name);
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
        Mode::Run => execute_all(opts, &plans, &sources, &masker),
    }
}

/// Applies `--tag`, `--skip-tag` and `--step`; collections left without requests are dropped.
fn apply_filter(plans: &mut Vec<Plan<'_>>, filter: &cli::Filter) -> Result<(), Diagnostic> {
    if filter.tags.is_empty() && filter.skip_tags.is_empty() && filter.steps.is_empty() {
        return Ok(());
    }
    let names: Vec<String> =
        plans.iter().flat_map(|p| p.collection.requests.iter().map(|s| s.name.clone())).collect();
    for wanted in &filter.steps {
        if !names.contains(wanted) {
            let help = crate::diagnostic::did_you_mean(wanted, names.iter().map(String::as_str)).map_or_else(
                || "`--step` takes the name of a request".to_string(),
                |k| format!("did you mean `{k}`?"),
            );
            return Err(
                Diagnostic::usage("unknown-step", format!("no request is named `{wanted}`")).help(help)
            );
        }
    }
    plans.retain_mut(|p| select::select(p, filter));
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
    let persisted = plans.iter().any(|p| p.collection.steps().any(|s| s.lifecycle.once || s.lifecycle.cache));
    // The state file is read before the run and written after it: no file I/O on the async path.
    let (mut store, _temp) = if persisted {
        match open_state(&opts.state) {
            Ok((store, temp)) => (Some(store), temp),
            Err(d) => {
                eprint(&d.render(sources, true), masker);
                return d.exit;
            }
        }
    } else {
        (None, None)
    };
    let environment = opts.environment.clone().unwrap_or_default();
    let jobs = opts.jobs.max(1).min(plans.len().max(1));
    let progress = Progress::new(jobs > 1, plans.len());
    let ctx = FileRun {
        opts,
        client: &client,
        store: store.as_ref(),
        environment,
        sources,
        masker,
        parallel: jobs > 1,
        progress: &progress,
    };
    let results: Vec<(CollectionOutcome, Vec<(String, state::Entry)>)> =
        rt.block_on(futures_util::stream::iter(plans).map(|p| ctx.run(p)).buffered(jobs).collect());
    progress.finish();
    let (outcomes, updates): (Vec<CollectionOutcome>, Vec<_>) = results.into_iter().unzip();
    report_orphan_snapshots(plans, sources, masker);
    let mut total = Terminal::new(masker.clone(), sources.clone(), false);
    total.total(&outcomes);
    total.finish();
    let mut exit = outcomes.iter().fold(Exit::Passed, |e, o| e.worse(o.exit()));
    if let Err(d) = write_reports(opts, &outcomes, exit, sources, masker) {
        eprint(&d.render(sources, true), masker);
        exit = exit.worse(d.exit);
    }
    if let Some(store) = store.as_mut()
        && let Err(d) = store.save(updates.into_iter().flatten().collect())
    {
        eprint(&d.render(sources, true), masker);
        return exit.worse(d.exit);
    }
    exit
}

/// What every collection file of a run shares.
struct FileRun<'r> {
    opts: &'r RunOptions,
    client: &'r HttpClient,
    store: Option<&'r StateStore>,
    environment: String,
    sources: &'r SourceMap,
    masker: &'r Masker,
    parallel: bool,
    progress: &'r Progress,
}

impl FileRun<'_> {
    /// Runs one file; returns its outcome and the state entries it wants saved.
    async fn run(&self, plan: &Plan<'_>) -> (CollectionOutcome, Vec<(String, state::Entry)>) {
        let mut persist =
            Persist { store: self.store, environment: self.environment.clone(), updates: Vec::new() };
        let (masker, sources, verbose) = (self.masker.clone(), self.sources.clone(), self.opts.verbose);
        // One file at a time prints live; parallel files print each block when it is done.
        let (out, err) = (SharedBuf::default(), SharedBuf::default());
        let mut terminal = if self.parallel {
            Terminal::with_writers(masker, sources, verbose, Box::new(out.clone()), Box::new(err.clone()))
        } else {
            Terminal::new(masker, sources, verbose)
        };
        let outcome =
            execute(plan, self.client, self.sources, &self.opts.exec, &mut persist, &mut terminal).await;
        terminal.finish();
        self.progress.done(&outcome.name, || {
            let _ = anstream::stdout().write_all(&out.take());
            let _ = anstream::stderr().write_all(&err.take());
        });
        (outcome, persist.updates)
    }
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
    use crate::report::{ReportKind, github, json, junit};
    if opts.github_annotations {
        let _ = write!(anstream::stdout(), "{}", github::render(outcomes, sources, masker));
    }
    for r in &opts.reports {
        let text = match r.kind {
            ReportKind::Junit => junit::render(outcomes, sources, masker),
            ReportKind::Json => json::render(outcomes, exit, sources, masker),
        };
        crate::atomic::write(&r.path, text.as_bytes(), false).map_err(|e| {
            Diagnostic::usage("report", format!("cannot write the report {}: {e}", r.path.display()))
                .with_exit(Exit::Runtime)
        })?;
    }
    Ok(())
}

/// Warns about snapshot files whose step no longer exists (renamed or removed steps).
fn report_orphan_snapshots(plans: &[Plan<'_>], sources: &SourceMap, masker: &Masker) {
    for p in plans {
        let Some(file) = sources.get(p.collection.file) else { continue };
        let steps: Vec<&str> = p.collection.steps().map(|s| s.name.as_str()).collect();
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

/// Opens the state file; a temporary one lives as long as the returned guard.
fn open_state(location: &StateLocation) -> Result<(StateStore, Option<tempfile::TempDir>), Diagnostic> {
    let (path, temp) = match location {
        StateLocation::At(p) => (p.clone(), None),
        StateLocation::Default => match state::default_path() {
            Some(p) => (p, None),
            None => {
                return Err(Diagnostic::usage("state-file", "no cache directory to keep state in")
                    .help("pass `--state PATH`"));
            }
        },
        StateLocation::Temporary => {
            let dir = tempfile::tempdir().map_err(|e| {
                Diagnostic::usage("state-file", format!("cannot create a temporary state: {e}"))
            })?;
            (dir.path().join("state.json"), Some(dir))
        }
    };
    Ok((StateStore::open(path)?, temp))
}

/// `baton state show|clear`.
fn state_command(action: StateAction, location: &StateLocation) -> Exit {
    let masker = Masker::default();
    let mut store = match open_state(location) {
        Ok((store, _)) => store,
        Err(d) => {
            eprint(&d.render(&SourceMap::default(), true), &masker);
            return d.exit;
        }
    };
    let mut out = anstream::stdout();
    match action {
        StateAction::Show => {
            let _ = writeln!(out, "state file: {}", store.path().display());
            let now = jiff::Timestamp::now().as_second();
            let mut n = 0;
            for (_, e) in store.entries() {
                n += 1;
                let env = if e.environment.is_empty() {
                    String::new()
                } else {
                    format!(" [env {}]", e.environment)
                };
                let when =
                    |t: i64| jiff::Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default();
                let expiry = match e.expires_at {
                    None => "kept until cleared".to_string(),
                    Some(t) if t <= now => format!("expired {}", when(t)),
                    Some(t) => format!("expires {}", when(t)),
                };
                let _ = writeln!(
                    out,
                    "\n{}{env}: step `{}`\n  saved {}, {expiry}",
                    e.collection,
                    e.step,
                    when(e.saved_at)
                );
                for (name, value) in &e.captures {
                    let shown = if e.secret.contains(name) {
                        crate::secret::MASK.to_string()
                    } else {
                        value.to_string()
                    };
                    let _ = writeln!(out, "  {name} = {shown}");
                }
            }
            if n == 0 {
                let _ = writeln!(out, "(empty)");
            }
            Exit::Passed
        }
        StateAction::Clear => match store.clear() {
            Ok(n) => {
                let _ = writeln!(out, "removed {n} entries from {}", store.path().display());
                Exit::Passed
            }
            Err(d) => {
                eprint(&d.render(&SourceMap::default(), true), &masker);
                d.exit
            }
        },
    }
}

/// Text of `baton plan` for one collection: each step's rendered request.
fn describe_plan(plan: &Plan<'_>, sources: &SourceMap, masker: &Masker) -> String {
    let c = plan.collection;
    let path = sources.get(c.file).map(|f| f.path.display().to_string()).unwrap_or_default();
    let mut out = format!("{} ({path})\n", c.name);
    // Captured values are unknown before running: show a placeholder naming their source.
    let mut scope: Scope = (*plan.scope).clone();
    for step in c.steps().filter(|s| !s.lifecycle.refresh_only) {
        // Optional captures (an OAuth2 token type, say) stay unset: their fallbacks apply.
        for cap in step.captures.iter().filter(|cap| !cap.optional) {
            scope.set(
                &cap.name.name,
                minijinja::Value::from(format!("<{} from {}>", cap.name.name, step.name)),
            );
        }
    }
    let ctx = Arc::new(scope).context();
    let base = sources
        .get(c.file)
        .and_then(|f| f.path.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    for (n, ps) in plan.steps.iter().enumerate() {
        let step = plan.step(ps.index);
        let role = match (step.role, step.lifecycle.refresh_only) {
            (Role::Auth, true) => " (auth, only to renew credentials)",
            (Role::Auth, false) => " (auth)",
            _ => "",
        };
        out.push_str(&format!("\n{}. {}{role}\n", n + 1, step.name));
        let render = |node: &crate::yaml::Node| plan.templates.render(node, &ctx, sources);
        match exec::resolve(plan, step, &ctx, &render, &base, masker) {
            Ok(req) => {
                out.push_str(&format!("   {} {}\n", req.method, req.url));
                for (k, v) in &req.headers {
                    out.push_str(&format!("   {k}: {v}\n"));
                }
                if let Some(body) = req.body.preview() {
                    for l in body.lines() {
                        out.push_str(&format!("   | {l}\n"));
                    }
                }
            }
            Err(e) => {
                out.push_str(&format!("   {} (not renderable before running: {})\n", step.method, e.message))
            }
        }
        if !ps.needs.is_empty() {
            let needs: Vec<String> =
                ps.needs.iter().map(|(v, j)| format!("{v} (from {})", plan.step(*j).name)).collect();
            out.push_str(&format!("   needs: {}\n", needs.join(", ")));
        }
        if !step.captures.is_empty() {
            let caps: Vec<String> = step
                .captures
                .iter()
                .map(|cap| {
                    let secret = cap.secret.unwrap_or(step.role == Role::Auth);
                    format!("{} = {}{}", cap.name.name, cap.source, if secret { " (secret)" } else { "" })
                })
                .collect();
            out.push_str(&format!("   captures: {}\n", caps.join(", ")));
        }
    }
    out
}
