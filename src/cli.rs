//! The command line: the only place that reads argv and the process environment.
//!
//! clap types stop here: [`parse`] turns arguments into a resolved [`Invocation`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::diagnostic::{Code, Diagnostic};
use crate::exec::ExecOptions;
use crate::http::{ClientOptions, DEFAULT_MAX_BODY, RedirectPolicy};
use crate::parse::is_identifier;
use crate::report::{ReportKind, ReportRequest};
use crate::snapshot::UpdateMode;
use crate::source::SourceMap;
use crate::template::EnvMap;
use crate::validate::Overrides;

/// `baton --help`'s examples, with `$playground` (the `baton playground` line,
/// or nothing when built without it) after the collection commands.
macro_rules! examples {
    ($playground:literal) => {
        concat!(
            "\
Examples:
  baton run collections/demo.yaml                 run one collection (against `baton playground`)
  baton run collections/demo.yaml --var base_url=http://127.0.0.1:8080
  BATON_BASE_URL=http://127.0.0.1:8080 baton run collections/     every shipped collection
  baton run api.yaml --env-file .env -v           secrets from .env, exchanges traced (masked)
  baton validate collections/                     check everything, send nothing
  baton plan api.yaml                             show the rendered requests, send nothing
",
            $playground,
            "
  baton run api/ --jobs 4 --report junit=junit.xml --shard 1/2
  baton state show                                persisted registrations and tokens (masked)

Exit codes: 0 passed, 1 expectation failed, 2 usage error, 3 invalid collection
(nothing sent), 4 runtime error (network, TLS, timeout, auth step failed),
5 snapshot mismatch, 130 interrupted (Ctrl-C, SIGTERM), 101 a bug in baton."
        )
    };
}

#[cfg(feature = "playground")]
const EXAMPLES: &str =
    examples!("  baton playground --port 8080                    serve the built-in demo API\n");
#[cfg(not(feature = "playground"))]
const EXAMPLES: &str = examples!("");

const RUN_EXAMPLES: &str = "\
Examples:
  baton run collections/clinked.yaml --env-file .env
  baton run api/ --var base_url=https://staging.example.com -v
  baton run api/ --jobs 4 --report junit=out/junit.xml --report json=out/report.json
  CI=true baton run api/ --shard 1/3 --skip-tag slow     # snapshots are not written in CI
  baton run api/ --update-snapshots                      # accept changed responses";

#[derive(Parser, Debug)]
#[command(
    name = "baton",
    version,
    about = "Run API requests declared in YAML: auth chains, captures, expectations, reports.",
    after_help = EXAMPLES,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run collections (files or folders), in order.
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Parse and check collections; send nothing.
    Validate(CommonArgs),
    /// Print each step's rendered request (secrets masked); send nothing.
    Plan(CommonArgs),
    /// Start the playground on a free loopback port and run collections against it (offline).
    #[cfg(feature = "playground")]
    Demo(DemoArgs),
    /// Inspect or forget persisted registrations and tokens.
    #[command(subcommand)]
    State(StateCommand),
    /// Write a small working collection, an environment, `.env.example` and `.gitignore`.
    Init {
        /// Folder to write into (created when missing; default: the current one).
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Write one of the built-in example collections instead (see `baton demo --list`).
        #[arg(long, value_name = "NAME")]
        example: Option<String>,
    },
    /// Print shell completions: `baton completions bash > /etc/bash_completion.d/baton`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `baton man > baton.1`.
    Man,
    /// Print the JSON Schema of collections (for editors; also docs/collection.schema.json).
    Schema,
    /// Translate collections from other tools into baton collections, with a report.
    Import {
        /// What the sources are.
        #[arg(value_enum)]
        kind: ImportKind,
        /// Files to read (for Postman: collections and environments).
        #[arg(required = true, value_name = "SOURCE")]
        sources: Vec<PathBuf>,
        /// Folder to write into (created when missing).
        #[arg(short = 'o', long = "out", value_name = "DIR", default_value = ".")]
        out: PathBuf,
        /// Fail (exit 1) when anything was left untranslated.
        #[arg(long)]
        strict: bool,
    },
    /// Serve the built-in demo API on 127.0.0.1.
    #[cfg(feature = "playground")]
    Playground {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Serve HTTPS with a certificate generated at start; write its CA to this PEM file.
        #[arg(long, value_name = "CA_PATH")]
        tls: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Collection files or folders (folders run their *.yaml/*.yml in name order).
    #[arg(required = true, value_name = "PATHS")]
    paths: Vec<PathBuf>,
    /// Set a variable, overriding the collection and environment (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Set a secret variable: like --var, and masked everywhere (repeatable).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secrets: Vec<String>,
    /// Load variables from a .env file (repeatable; later files win).
    #[arg(long = "env-file", value_name = "PATH")]
    env_files: Vec<PathBuf>,
    /// Use the environment profile `environments/NAME.yaml` (beside the collection).
    #[arg(long = "env", value_name = "NAME")]
    environment: Option<String>,
    /// Only requests (or collections) with one of these tags (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Leave out requests (or collections) with any of these tags (repeatable).
    #[arg(long = "skip-tag", value_name = "TAG")]
    skip_tags: Vec<String>,
    /// Only this request, with the requests it needs (repeatable).
    #[arg(long = "step", value_name = "NAME")]
    steps: Vec<String>,
    /// Run only part K of N of the collection files (CI matrices), e.g. 2/4.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Run the requests once per row of this CSV or JSON file (replaces `data:`).
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Only data row N (from 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    data_row: Option<u32>,
    /// Seed the generators (`fake()`, `random_int()`, `uuid()`…) to replay a run's values.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

#[cfg(feature = "playground")]
#[derive(Args, Debug)]
struct DemoArgs {
    /// Collections to run (default: the examples built into baton).
    #[arg(value_name = "PATHS")]
    paths: Vec<PathBuf>,
    /// List the built-in examples and exit.
    #[arg(long)]
    list: bool,
    /// Print every exchange (secrets masked) on stderr.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Print every exchange (request and response, secrets masked) on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Default per-request timeout, e.g. 10s, 500ms (default 30s).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Trust the CA certificates in this PEM file too.
    #[arg(long, value_name = "PATH")]
    cacert: Option<PathBuf>,
    /// Do not verify TLS certificates (prints a warning).
    #[arg(long)]
    insecure: bool,
    /// Client certificate (PEM) for mutual TLS, with --key.
    #[arg(long, value_name = "PATH")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// Largest response body read, decoded: 10MB, 512KiB, 1GiB or bytes (default 256MiB).
    #[arg(long, value_name = "SIZE")]
    max_body_size: Option<String>,
    /// Redirects followed per request; 0 follows none (default 10).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1000))]
    max_redirects: Option<u32>,
    /// Follow redirects from https to plain http (credentials are still not sent).
    #[arg(long)]
    allow_insecure_redirects: bool,
    /// Keep no cookies: `Set-Cookie` answers are not sent back (each collection has a
    /// jar by default).
    #[arg(long)]
    no_cookies: bool,
    /// Print the authorization URL of an authorization-code grant instead of opening a
    /// browser (also `BATON_BROWSER=none`; `BATON_BROWSER=CMD` opens it with CMD).
    #[arg(long)]
    no_browser: bool,
    /// The code of an approval given elsewhere, or the whole URL the browser was sent
    /// back to (also `BATON_AUTH_CODE`); secret, never printed.
    #[arg(long, value_name = "CODE_OR_URL")]
    auth_code: Option<String>,
    /// Run every collection's requests N times (after auth, which runs once).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    repeat: Option<u32>,
    /// Also allow sending files from this folder (by default only from each collection's
    /// own folder; repeatable).
    #[arg(long = "file-root", value_name = "DIR")]
    file_roots: Vec<PathBuf>,
    /// Also send credentials to this origin when a captured value chooses it
    /// (`https://api.example.com`; repeatable).
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origins: Vec<String>,
    /// Stop at the first failed step.
    #[arg(long)]
    fail_fast: bool,
    /// Write every request sent as a curl command line to this file (secrets masked).
    #[arg(long, value_name = "FILE")]
    curl: Option<PathBuf>,
    /// With --curl: keep the real secrets in the commands (the file then holds them).
    #[arg(long, requires = "curl")]
    curl_with_secrets: bool,
    /// State file for `once` results and cached tokens (default: in the user cache directory).
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// Write new and changed snapshots (same as BATON_UPDATE=always).
    #[arg(long)]
    update_snapshots: bool,
    /// Also write a report: junit=PATH or json=PATH (repeatable).
    #[arg(long = "report", value_name = "KIND=PATH")]
    reports: Vec<String>,
    /// Run this many collection files at once (each file's steps stay in order).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1)]
    jobs: usize,
}

#[derive(Subcommand, Debug)]
enum StateCommand {
    /// List persisted registrations and tokens (secrets masked).
    Show {
        /// State file (default: in the user cache directory).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
    /// Forget persisted registrations and tokens: all of them, or those of the given
    /// collection files (and with --step, of that step only).
    Clear {
        /// Collection files whose entries to forget (default: every entry).
        #[arg(value_name = "COLLECTION")]
        collections: Vec<PathBuf>,
        /// Forget only this step's entries (needs a COLLECTION).
        #[arg(long, value_name = "NAME", requires = "collections")]
        step: Option<String>,
        /// State file (default: in the user cache directory).
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
}

/// What to do with collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send the requests.
    Run,
    /// Check only.
    Validate,
    /// Show rendered requests.
    Plan,
}

/// Everything a collection command needs, resolved.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run, validate or plan.
    pub mode: Mode,
    /// Paths as given.
    pub paths: Vec<PathBuf>,
    /// Variable layers from outside the collection.
    pub overrides: Overrides,
    /// Environment for `env()` / `secret_env()`.
    pub env: EnvMap,
    /// `-v`.
    pub verbose: bool,
    /// HTTP client settings.
    pub client: ClientOptions,
    /// Executor settings.
    pub exec: ExecOptions,
    /// `--env NAME`.
    pub environment: Option<String>,
    /// Where persisted state lives.
    pub state: StateLocation,
    /// `--report` files.
    pub reports: Vec<ReportRequest>,
    /// `GITHUB_ACTIONS=true`: print workflow annotations for failures.
    pub github_annotations: bool,
    /// Collection files run at once.
    pub jobs: usize,
    /// `--shard K/N` as (K, N), 1-based.
    pub shard: Option<(usize, usize)>,
    /// `--tag`, `--skip-tag`, `--step`.
    pub filter: Filter,
    /// `--data FILE`, `--data-row N`, `--repeat N`.
    pub data: DataOptions,
    /// `--seed N` (else a random seed, said when a run that generated values fails).
    pub seed: Option<u64>,
    /// `--curl FILE`, and whether it keeps the secrets (`--curl-with-secrets`).
    pub curl: Option<(PathBuf, bool)>,
}

/// Data rows and repetition from the command line.
#[derive(Debug, Clone, Default)]
pub struct DataOptions {
    /// Rows for every collection, instead of its `data:`.
    pub file: Option<PathBuf>,
    /// Only this row (1-based).
    pub row: Option<usize>,
    /// Every collection's requests run this many times (1: once).
    pub repeat: u32,
}

/// The formats `baton import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// Postman collections v2.0/v2.1 (and environments).
    Postman,
    /// Shell scripts or text files of curl command lines.
    Curl,
    /// Hurl files.
    Hurl,
    /// OpenAPI 3 documents (YAML or JSON): one request per operation.
    Openapi,
    /// Bruno collection folders (with bruno.json).
    Bruno,
}

/// Which requests run.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Any of these tags (empty: all).
    pub tags: Vec<String>,
    /// None of these tags.
    pub skip_tags: Vec<String>,
    /// Only these request names (empty: all).
    pub steps: Vec<String>,
}

/// Where `once` results and cached tokens are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// The user's cache directory.
    Default,
    /// `--state PATH`.
    At(PathBuf),
    /// A throwaway file for this run only (`baton demo`, whose playground is new each time).
    #[cfg(feature = "playground")]
    Temporary,
}

impl StateLocation {
    fn from_flag(p: Option<PathBuf>) -> Self {
        p.map_or(StateLocation::Default, StateLocation::At)
    }
}

/// `baton state …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateAction {
    /// List entries.
    Show,
    /// Remove entries: every one, or those of these collection files (and step).
    Clear {
        /// Collection files (empty: every entry).
        collections: Vec<PathBuf>,
        /// Only this step's entries.
        step: Option<String>,
    },
}

/// A parsed command line.
#[derive(Debug)]
// Built once per process; without `Demo` the run variant simply stands out more.
#[cfg_attr(not(feature = "playground"), allow(clippy::large_enum_variant))]
pub enum Invocation {
    /// run / validate / plan.
    Collections(RunOptions),
    /// Run collections against an in-process playground.
    #[cfg(feature = "playground")]
    Demo(RunOptions),
    /// Show or clear the state file.
    State {
        /// What to do.
        action: StateAction,
        /// Which file.
        location: StateLocation,
    },
    /// Serve the playground.
    #[cfg(feature = "playground")]
    Playground {
        /// Port.
        port: u16,
        /// Serve HTTPS and write the CA certificate here.
        tls: Option<PathBuf>,
    },
    /// Help or version text to print, exit 0.
    Print(String),
    /// `baton import`.
    Import {
        /// The source format.
        kind: ImportKind,
        /// Files to read.
        sources: Vec<PathBuf>,
        /// Where to write.
        out: PathBuf,
        /// Fail when anything was left untranslated.
        strict: bool,
        /// The process environment, for validating what was written.
        env: HashMap<String, String>,
    },
    /// `baton init`.
    Init {
        /// Where to write.
        dir: PathBuf,
        /// A built-in example to write instead of the starter.
        example: Option<String>,
    },
}

/// Usage problems found while resolving flags; env-file problems carry their source.
pub struct UsageError {
    /// The diagnostic.
    pub diagnostic: Diagnostic,
    /// Sources it points into.
    pub sources: SourceMap,
}

/// Why the command line was rejected.
pub enum CliError {
    /// A flag value baton checked itself (rendered as a diagnostic).
    Usage(Box<UsageError>),
    /// clap's own message (unknown flag, missing argument…), already formatted.
    Clap(String),
}

fn usage(d: Diagnostic) -> CliError {
    CliError::Usage(Box::new(UsageError { diagnostic: d, sources: SourceMap::default() }))
}

/// Parses arguments (including the program name) with the process environment.
pub fn parse(args: Vec<OsString>, env: HashMap<String, String>) -> Result<Invocation, CliError> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(Invocation::Print(e.render().ansi().to_string()))
                }
                _ => Err(CliError::Clap(e.render().ansi().to_string())),
            };
        }
    };
    let (mode, common, run) = match cli.command {
        Command::Init { dir, example } => return Ok(Invocation::Init { dir, example }),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "baton", &mut out);
            return Ok(Invocation::Print(String::from_utf8_lossy(&out).into_owned()));
        }
        Command::Schema => return Ok(Invocation::Print(crate::schema::text_form())),
        Command::Import { kind, sources, out, strict } => {
            return Ok(Invocation::Import { kind, sources, out, strict, env });
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(|e| CliError::Clap(e.to_string()))?;
            return Ok(Invocation::Print(String::from_utf8_lossy(&out).into_owned()));
        }
        #[cfg(feature = "playground")]
        Command::Playground { port, tls } => return Ok(Invocation::Playground { port, tls }),
        Command::State(StateCommand::Show { state }) => {
            return Ok(Invocation::State {
                action: StateAction::Show,
                location: StateLocation::from_flag(state),
            });
        }
        Command::State(StateCommand::Clear { collections, step, state }) => {
            return Ok(Invocation::State {
                action: StateAction::Clear { collections, step },
                location: StateLocation::from_flag(state),
            });
        }
        #[cfg(feature = "playground")]
        Command::Demo(d) => {
            if d.list {
                return Ok(Invocation::Print(crate::examples::list_text()));
            }
            let common = CommonArgs {
                paths: d.paths,
                vars: Vec::new(),
                secrets: Vec::new(),
                env_files: Vec::new(),
                environment: None,
                tags: Vec::new(),
                skip_tags: Vec::new(),
                steps: Vec::new(),
                shard: None,
                data: None,
                data_row: None,
                seed: None,
            };
            let run = RunArgs {
                common,
                verbose: d.verbose,
                timeout: None,
                cacert: None,
                insecure: false,
                cert: None,
                key: None,
                max_body_size: None,
                max_redirects: None,
                allow_insecure_redirects: false,
                no_cookies: false,
                no_browser: false,
                auth_code: None,
                file_roots: Vec::new(),
                repeat: None,
                allow_origins: Vec::new(),
                fail_fast: false,
                curl: None,
                curl_with_secrets: false,
                state: None,
                update_snapshots: false,
                reports: Vec::new(),
                jobs: 1,
            };
            return match resolve(Mode::Run, None, Some(run), env)? {
                Invocation::Collections(opts) => {
                    Ok(Invocation::Demo(RunOptions { state: StateLocation::Temporary, ..opts }))
                }
                other => Ok(other),
            };
        }
        Command::Run(r) => (Mode::Run, None, Some(*r)),
        Command::Validate(c) => (Mode::Validate, Some(c), None),
        Command::Plan(c) => (Mode::Plan, Some(c), None),
    };
    resolve(mode, common, run, env)
}

fn resolve(
    mode: Mode,
    common: Option<CommonArgs>,
    run: Option<RunArgs>,
    env: HashMap<String, String>,
) -> Result<Invocation, CliError> {
    let mut reports = Vec::new();
    let mut jobs = 1;
    let (common, verbose, client, exec, state, repeat, curl) = match (common, run) {
        (Some(c), _) => {
            (c, false, ClientOptions::default(), ExecOptions::default(), StateLocation::Default, None, None)
        }
        (None, Some(r)) => {
            let timeout = r.timeout.as_deref().map(parse_timeout).transpose().map_err(usage)?;
            let read = |flag: &str, p: &std::path::Path| {
                std::fs::read(p).map_err(|e| {
                    usage(Diagnostic::usage(
                        Code::MissingPath,
                        format!("cannot read {flag} `{}`: {e}", p.display()),
                    ))
                })
            };
            let cacert = r.cacert.as_deref().map(|p| read("--cacert", p)).transpose()?;
            let identity = match (&r.cert, &r.key) {
                (Some(c), Some(k)) => Some((read("--cert", c)?, read("--key", k)?)),
                (None, None) => None,
                (Some(_), None) | (None, Some(_)) => {
                    return Err(usage(
                        Diagnostic::usage(Code::MissingPath, "`--cert` and `--key` go together")
                            .help("give the client certificate and its private key: `--cert client.pem --key client.key`"),
                    ));
                }
            };
            let max_body = r.max_body_size.as_deref().map(parse_size).transpose().map_err(usage)?;
            let redirects = RedirectPolicy {
                max: r.max_redirects.unwrap_or(RedirectPolicy::DEFAULT_MAX),
                allow_insecure: r.allow_insecure_redirects,
            };
            let client = ClientOptions {
                timeout,
                cacert,
                insecure: r.insecure,
                max_body: max_body.unwrap_or(DEFAULT_MAX_BODY),
                redirects,
                identity,
            };
            let state = StateLocation::from_flag(r.state);
            if r.jobs == 0 {
                return Err(usage(
                    Diagnostic::usage(Code::BadJobs, "`--jobs 0` runs nothing").help("use --jobs 1 or more"),
                ));
            }
            jobs = r.jobs;
            for raw in &r.reports {
                reports.push(parse_report(raw).map_err(usage)?);
            }
            let ci = env.get("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
            let update =
                UpdateMode::resolve(r.update_snapshots, env.get("BATON_UPDATE").map(String::as_str), ci)
                    .map_err(|e| {
                        usage(
                            Diagnostic::usage(Code::BadEnv, e.to_string())
                                .help("use BATON_UPDATE=always, new or no"),
                        )
                    })?;
            let mut allow_origins = Vec::new();
            for raw in &r.allow_origins {
                allow_origins.push(crate::resolve::origin(raw).ok_or_else(|| {
                    usage(
                        Diagnostic::usage(
                            Code::BadOrigin,
                            format!("`--allow-origin {raw}` is not an http(s) URL"),
                        )
                        .help("give scheme and host, e.g. `--allow-origin https://eu.api.example.com`"),
                    )
                })?);
            }
            let exec = ExecOptions {
                fail_fast: r.fail_fast,
                update,
                allow_origins,
                no_cookies: r.no_cookies,
                file_roots: r.file_roots,
                browser: match env.get("BATON_BROWSER") {
                    _ if r.no_browser => crate::exec::Browser::Print,
                    Some(v) => crate::exec::Browser::from_setting(v),
                    None => crate::exec::Browser::System,
                },
                auth_code: r
                    .auth_code
                    .or_else(|| env.get("BATON_AUTH_CODE").cloned())
                    .filter(|c| !c.trim().is_empty()),
            };
            let curl = r.curl.map(|p| (p, r.curl_with_secrets));
            (r.common, r.verbose, client, exec, state, r.repeat, curl)
        }
        (None, None) => return Err(CliError::Clap("no command".into())),
    };
    let mut env = env;
    let github_annotations = env.get("GITHUB_ACTIONS").is_some_and(|v| v == "true");
    let mut overrides = Overrides::default();
    for path in &common.env_files {
        let pairs = read_env_file(path, &env)?;
        for (k, v) in pairs {
            env.entry(k.clone()).or_insert_with(|| v.clone());
            overrides.values.push((k, v));
        }
    }
    let mut from_env: Vec<(String, String, bool)> = env
        .iter()
        .filter_map(|(k, v)| {
            let var = k.strip_prefix("BATON_VAR_").map(|n| (n.to_string(), v.clone(), false));
            var.or_else(|| k.strip_prefix("BATON_SECRET_").map(|n| (n.to_string(), v.clone(), true)))
        })
        .filter(|(n, _, _)| is_identifier(n))
        .collect();
    from_env.sort();
    for (name, value, secret) in from_env {
        if secret {
            overrides.secret.push(name.clone());
        }
        overrides.values.push((name, value));
    }
    for raw in &common.vars {
        let (name, value) = parse_var(raw).map_err(usage)?;
        overrides.values.push((name, value));
    }
    for raw in &common.secrets {
        let (name, value) = parse_secret(raw).map_err(usage)?;
        overrides.secret.push(name.clone());
        overrides.values.push((name, value));
    }
    Ok(Invocation::Collections(RunOptions {
        mode,
        paths: common.paths,
        overrides,
        env: Arc::new(env),
        verbose,
        client,
        exec,
        environment: common.environment,
        state,
        reports,
        github_annotations,
        jobs,
        shard: common.shard.as_deref().map(parse_shard).transpose().map_err(usage)?,
        filter: Filter { tags: common.tags, skip_tags: common.skip_tags, steps: common.steps },
        seed: common.seed,
        curl,
        data: DataOptions {
            file: common.data,
            row: common.data_row.map(|r| r as usize),
            repeat: repeat.unwrap_or(1),
        },
    }))
}

fn parse_shard(raw: &str) -> Result<(usize, usize), Diagnostic> {
    let parsed =
        raw.split_once('/').and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((k, n)) if n >= 1 && (1..=n).contains(&k) => Ok((k, n)),
        _ => Err(Diagnostic::usage(Code::BadShard, format!("`--shard {raw}` is not K/N with 1 ≤ K ≤ N"))
            .help("e.g. `--shard 1/4` … `--shard 4/4` across four CI jobs")),
    }
}

fn parse_report(raw: &str) -> Result<ReportRequest, Diagnostic> {
    let Some((kind, path)) = raw.split_once('=').filter(|(_, p)| !p.is_empty()) else {
        return Err(Diagnostic::usage(Code::BadReport, format!("`--report {raw}` is not KIND=PATH"))
            .help("write `--report junit=results.xml` or `--report json=results.json`"));
    };
    let Some(kind) = ReportKind::from_name(kind) else {
        return Err(Diagnostic::usage(Code::BadReport, format!("`{kind}` is not a report format"))
            .help(crate::diagnostic::suggest(kind, &ReportKind::NAMES)));
    };
    Ok(ReportRequest { kind, path: PathBuf::from(path) })
}

fn parse_var(raw: &str) -> Result<(String, String), Diagnostic> {
    parse_pair("--var", raw, raw)
}

/// `--secret NAME=VALUE`: its errors never show the value.
fn parse_secret(raw: &str) -> Result<(String, String), Diagnostic> {
    let shown = raw.split_once('=').map_or_else(|| raw.to_string(), |(n, _)| format!("{n}=•••"));
    parse_pair("--secret", raw, &shown)
}

/// `NAME=VALUE` of `flag`; `shown` is how `raw` appears in messages.
fn parse_pair(flag: &str, raw: &str, shown: &str) -> Result<(String, String), Diagnostic> {
    let Some((name, value)) = raw.split_once('=') else {
        return Err(Diagnostic::usage(Code::BadVar, format!("`{flag} {shown}` is not NAME=VALUE"))
            .help(format!("write `{flag} {shown}=value`")));
    };
    let name = name.trim();
    if !is_identifier(name) {
        return Err(Diagnostic::usage(
            Code::BadVar,
            format!("`{name}` in `{flag} {shown}` is not a variable name"),
        )
        .help("names use letters, digits and `_`, and start with a letter or `_`"));
    }
    Ok((name.to_string(), value.to_string()))
}

fn parse_timeout(raw: &str) -> Result<Duration, Diagnostic> {
    let parsed = raw
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
        .or_else(|| jiff::SignedDuration::from_str(raw).ok().and_then(|d| Duration::try_from(d).ok()));
    let d = parsed.filter(|d| !d.is_zero()).ok_or_else(|| {
        Diagnostic::usage(Code::BadTimeout, format!("`--timeout {raw}` is not a positive duration"))
            .help("examples: 10s, 500ms, 2m")
    })?;
    if d > crate::model::MAX_TIMEOUT {
        return Err(Diagnostic::usage(Code::BadTimeout, format!("`--timeout {raw}` is longer than a day"))
            .help("give a timeout up to 24h"));
    }
    Ok(d)
}

/// `--max-body-size`: a whole number of bytes, optionally with a unit: kB/MB/GB (powers
/// of 1000) or KiB/MiB/GiB (powers of 1024), any case, a space allowed before it.
fn parse_size(raw: &str) -> Result<u64, Diagnostic> {
    let text = raw.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: Option<u64> = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => Some(1),
        "kb" => Some(1_000),
        "mb" => Some(1_000_000),
        "gb" => Some(1_000_000_000),
        "kib" => Some(1 << 10),
        "mib" => Some(1 << 20),
        "gib" => Some(1 << 30),
        _ => None,
    };
    let parsed = number.parse::<u64>().ok().zip(multiplier).and_then(|(n, m)| n.checked_mul(m));
    parsed.filter(|n| *n > 0).ok_or_else(|| {
        Diagnostic::usage(Code::BadSize, format!("`--max-body-size {raw}` is not a positive size"))
            .help("examples: 10MB, 512KiB, 1GiB, or a number of bytes")
    })
}

/// Reads one `--env-file`; `$` references read `env` (the environment as built so far:
/// the process's, then earlier env files), then the file's own earlier entries.
fn read_env_file(
    path: &std::path::Path,
    env: &HashMap<String, String>,
) -> Result<Vec<(String, String)>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        usage(
            Diagnostic::usage(
                Code::MissingEnvFile,
                format!("cannot read --env-file `{}`: {}", path.display(), crate::load::io_reason(&e)),
            )
            .help("check the path; the file holds NAME=value lines"),
        )
    })?;
    // Positions are reported in the text as editors show it: without a byte order mark.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    crate::env_file::parse(&text, |name| env.get(name).cloned()).map_err(|e| {
        let mut sources = SourceMap::default();
        let id = sources.add(path, text.clone());
        CliError::Usage(Box::new(UsageError { diagnostic: e.diagnostic(id), sources }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("baton").chain(args.iter().copied()).map(OsString::from).collect()
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The resolved options of a `run`/`validate`/`plan` command line.
    fn options(args: &[&str], vars: &[(&str, &str)]) -> RunOptions {
        match parse(argv(args), env(vars)) {
            Ok(Invocation::Collections(opts)) => opts,
            Ok(other) => panic!("not a collection command: {other:?}"),
            Err(CliError::Usage(u)) => panic!("usage error: {}", u.diagnostic.message),
            Err(CliError::Clap(text)) => panic!("clap error: {text}"),
        }
    }

    /// The usage error a command line must produce.
    fn rejected(args: &[&str], vars: &[(&str, &str)]) -> Box<UsageError> {
        match parse(argv(args), env(vars)) {
            Err(CliError::Usage(u)) => u,
            Err(CliError::Clap(text)) => panic!("clap rejected it instead: {text}"),
            Ok(other) => panic!("accepted: {other:?}"),
        }
    }

    fn pairs(values: &[(String, String)]) -> Vec<(&str, &str)> {
        values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn variable_layers_come_env_file_then_environment_sorted_then_flags() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("a.env");
        std::fs::write(&file, "A=file\nB=file\n").expect("write");
        let file = file.to_string_lossy().into_owned();
        let opts = options(
            &["run", "c.yaml", "--env-file", &file, "--var", "C=flag"],
            &[("BATON_VAR_C", "environment"), ("BATON_VAR_B", "environment")],
        );
        assert_eq!(
            pairs(&opts.overrides.values),
            [("A", "file"), ("B", "file"), ("B", "environment"), ("C", "environment"), ("C", "flag")],
            "later entries win, so flags beat the environment, which beats env files"
        );
    }

    #[test]
    fn secret_flags_and_environment_variables_set_variables_marked_secret() {
        let opts = options(
            &["plan", "c.yaml", "--secret", "pin=1234", "--var", "plain=x"],
            &[("BATON_SECRET_otp", "987654")],
        );
        assert_eq!(pairs(&opts.overrides.values), [("otp", "987654"), ("plain", "x"), ("pin", "1234")]);
        assert_eq!(opts.overrides.secret, ["otp", "pin"]);
        let e = rejected(&["run", "c.yaml", "--secret", "bad-name=hunter2-value"], &[]);
        let shown = e.diagnostic.render(&e.sources, false);
        assert!(shown.contains("`bad-name` in `--secret bad-name=•••`"), "{shown}");
        assert!(!shown.contains("hunter2-value"), "a --secret error never shows the value: {shown}");
    }

    #[test]
    fn environment_variables_that_are_not_identifiers_are_not_variables() {
        let opts = options(
            &["validate", "c.yaml"],
            &[
                ("BATON_VAR_1bad", "x"),
                ("BATON_VAR_", "y"),
                ("BATON_VAR_has-dash", "z"),
                ("BATON_VAR_ok", "1"),
            ],
        );
        assert_eq!(pairs(&opts.overrides.values), [("ok", "1")]);
    }

    #[test]
    fn env_file_values_feed_env_functions_but_never_replace_the_process_environment() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join(".env");
        std::fs::write(&file, "SHARED=from-file\nONLY_FILE=from-file\n").expect("write");
        let file = file.to_string_lossy().into_owned();
        let opts = options(&["run", "c.yaml", "--env-file", &file], &[("SHARED", "from-process")]);
        assert_eq!(opts.env.get("SHARED").map(String::as_str), Some("from-process"));
        assert_eq!(opts.env.get("ONLY_FILE").map(String::as_str), Some("from-file"));
    }

    #[test]
    fn var_splits_at_the_first_equals_and_trims_the_name() {
        let opts = options(&["validate", "c.yaml", "--var", " token =a=b", "--var", "empty="], &[]);
        assert_eq!(pairs(&opts.overrides.values), [("token", "a=b"), ("empty", "")]);
        let u = rejected(&["validate", "c.yaml", "--var", "novalue"], &[]);
        assert_eq!(u.diagnostic.code, "bad-var");
        assert_eq!(u.diagnostic.help.as_deref(), Some("write `--var novalue=value`"));
        let u = rejected(&["validate", "c.yaml", "--var", "9lives=x"], &[]);
        assert!(u.diagnostic.message.contains("`9lives`"), "{}", u.diagnostic.message);
    }

    #[test]
    fn timeout_takes_plain_seconds_or_units_and_refuses_zero() {
        let timeout = |raw: &str| options(&["run", "c.yaml", "--timeout", raw], &[]).client.timeout;
        assert_eq!(timeout("10"), Some(Duration::from_secs(10)));
        assert_eq!(timeout("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(timeout("2m"), Some(Duration::from_secs(120)));
        for bad in ["0", "0s", "soon", "-5s", "86401", "25h", "18446744073709551615"] {
            let u = rejected(&["run", "c.yaml", &format!("--timeout={bad}")], &[]);
            assert_eq!(u.diagnostic.code, "bad-timeout", "{bad}");
            assert_eq!(u.diagnostic.exit, crate::exit::Exit::Usage);
        }
    }

    #[test]
    fn max_body_size_takes_bytes_or_decimal_and_binary_units() {
        let size = |raw: &str| options(&["run", "c.yaml", "--max-body-size", raw], &[]).client.max_body;
        assert_eq!(size("1048576"), 1 << 20);
        assert_eq!(size("10MB"), 10_000_000);
        assert_eq!(size("512KiB"), 512 * 1024);
        assert_eq!(size("1GiB"), 1 << 30);
        assert_eq!(size(" 2 gb "), 2_000_000_000);
        assert_eq!(options(&["run", "c.yaml"], &[]).client.max_body, DEFAULT_MAX_BODY);
        for bad in
            ["0", "0MB", "", "ten", "1.5GB", "10M", "-1", "5TB", "99999999999999999999", "18446744074GB"]
        {
            let u = rejected(&["run", "c.yaml", &format!("--max-body-size={bad}")], &[]);
            assert_eq!(u.diagnostic.code, "bad-size", "{bad}");
            assert_eq!(u.diagnostic.exit, crate::exit::Exit::Usage);
        }
    }

    #[test]
    fn redirect_flags_set_the_runs_default_policy() {
        let policy = |args: &[&str]| {
            let mut all = vec!["run", "c.yaml"];
            all.extend_from_slice(args);
            options(&all, &[]).client.redirects
        };
        assert_eq!(policy(&[]), RedirectPolicy::default());
        assert_eq!(policy(&[]).max, 10);
        assert_eq!(policy(&["--max-redirects", "0"]), RedirectPolicy { max: 0, allow_insecure: false });
        let opted = policy(&["--max-redirects", "3", "--allow-insecure-redirects"]);
        assert_eq!((opted.max, opted.allow_insecure), (3, true));
        for bad in ["-1", "1001", "many"] {
            let Err(CliError::Clap(text)) =
                parse(argv(&["run", "c.yaml", &format!("--max-redirects={bad}")]), env(&[]))
            else {
                panic!("accepted --max-redirects {bad}")
            };
            assert!(text.contains("--max-redirects"), "{text}");
        }
    }

    #[test]
    fn shard_is_k_of_n_with_k_between_one_and_n() {
        let shard = |raw: &str| options(&["validate", "c.yaml", "--shard", raw], &[]).shard;
        assert_eq!(shard("2/4"), Some((2, 4)));
        assert_eq!(shard("1/1"), Some((1, 1)));
        assert_eq!(shard(" 3 / 3 "), Some((3, 3)));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "1/2/3"] {
            let u = rejected(&["validate", "c.yaml", "--shard", bad], &[]);
            assert_eq!(u.diagnostic.code, "bad-shard", "{bad}");
        }
    }

    #[test]
    fn reports_name_a_known_format_and_a_path() {
        let opts = options(&["run", "c.yaml", "--report", "junit=out/j.xml", "--report", "json=r.json"], &[]);
        let reports: Vec<(ReportKind, &str)> =
            opts.reports.iter().map(|r| (r.kind, r.path.to_str().expect("utf-8"))).collect();
        assert_eq!(reports, [(ReportKind::Junit, "out/j.xml"), (ReportKind::Json, "r.json")]);
        let u = rejected(&["run", "c.yaml", "--report", "junti=a.xml"], &[]);
        assert_eq!(u.diagnostic.help.as_deref(), Some("did you mean `junit`?"));
        for bad in ["junit=", "junit", "=a.xml"] {
            let u = rejected(&["run", "c.yaml", "--report", bad], &[]);
            assert_eq!(u.diagnostic.code, "bad-report", "{bad}");
        }
    }

    #[test]
    fn run_flags_reach_the_client_and_executor_options() {
        let opts = options(
            &["run", "c.yaml", "--insecure", "--fail-fast", "-v", "-j", "3", "--state", "s.json"],
            &[],
        );
        assert_eq!(opts.mode, Mode::Run);
        assert!(opts.client.insecure && opts.exec.fail_fast && opts.verbose);
        assert_eq!(opts.jobs, 3);
        assert_eq!(opts.state, StateLocation::At(PathBuf::from("s.json")));
        let u = rejected(&["run", "c.yaml", "--jobs", "0"], &[]);
        assert_eq!(u.diagnostic.code, "bad-jobs");
    }

    #[test]
    fn validate_and_plan_never_trace_and_use_the_default_state() {
        for (cmd, mode) in [("validate", Mode::Validate), ("plan", Mode::Plan)] {
            let opts = options(&[cmd, "a.yaml", "b/"], &[("CI", "true")]);
            assert_eq!(opts.mode, mode);
            assert_eq!(opts.paths, [PathBuf::from("a.yaml"), PathBuf::from("b/")]);
            assert!(!opts.verbose);
            assert_eq!(opts.state, StateLocation::Default);
            assert_eq!(opts.exec.update, UpdateMode::default(), "CI matters only to `run`");
        }
    }

    #[test]
    fn snapshot_updates_follow_the_flag_then_baton_update_then_ci() {
        let update = |args: &[&str], vars: &[(&str, &str)]| {
            let mut all = vec!["run", "c.yaml"];
            all.extend_from_slice(args);
            options(&all, vars).exec.update
        };
        assert_eq!(update(&[], &[]), UpdateMode::New);
        assert_eq!(update(&[], &[("CI", "true")]), UpdateMode::No);
        for not_ci in ["", "false", "0"] {
            assert_eq!(update(&[], &[("CI", not_ci)]), UpdateMode::New, "CI={not_ci:?}");
        }
        assert_eq!(update(&[], &[("CI", "1"), ("BATON_UPDATE", "new")]), UpdateMode::New);
        assert_eq!(
            update(&["--update-snapshots"], &[("CI", "true"), ("BATON_UPDATE", "no")]),
            UpdateMode::Always
        );
        let u = rejected(&["run", "c.yaml"], &[("BATON_UPDATE", "maybe")]);
        assert_eq!(u.diagnostic.code, "bad-env");
    }

    #[test]
    fn github_annotations_only_when_github_actions_is_exactly_true() {
        assert!(options(&["run", "c.yaml"], &[("GITHUB_ACTIONS", "true")]).github_annotations);
        assert!(!options(&["run", "c.yaml"], &[("GITHUB_ACTIONS", "1")]).github_annotations);
        assert!(!options(&["run", "c.yaml"], &[]).github_annotations);
    }

    #[test]
    fn filters_pass_through_in_order() {
        let opts = options(
            &["run", "c.yaml", "--tag", "a", "--tag", "b", "--skip-tag", "slow", "--step", "login"],
            &[],
        );
        assert_eq!(opts.filter.tags, ["a", "b"]);
        assert_eq!(opts.filter.skip_tags, ["slow"]);
        assert_eq!(opts.filter.steps, ["login"]);
    }

    #[test]
    #[cfg(feature = "playground")]
    fn demo_runs_the_built_in_collections_with_a_throwaway_state() {
        let Ok(Invocation::Demo(opts)) = parse(argv(&["demo"]), env(&[])) else { panic!("not a demo") };
        assert!(opts.paths.is_empty(), "no paths: the built-in examples");
        assert_eq!(opts.state, StateLocation::Temporary);
        assert_eq!(opts.mode, Mode::Run);
    }

    #[test]
    fn state_commands_carry_their_file() {
        let Ok(Invocation::State { action, location }) =
            parse(argv(&["state", "show", "--state", "s.json"]), env(&[]))
        else {
            panic!("not a state command")
        };
        assert_eq!((action, location), (StateAction::Show, StateLocation::At("s.json".into())));
        let Ok(Invocation::State { action, location }) = parse(argv(&["state", "clear"]), env(&[])) else {
            panic!("not a state command")
        };
        let none = StateAction::Clear { collections: Vec::new(), step: None };
        assert_eq!((action, location), (none, StateLocation::Default));
        let Ok(Invocation::State { action, .. }) =
            parse(argv(&["state", "clear", "c.yaml", "--step", "register app"]), env(&[]))
        else {
            panic!("not a state command")
        };
        let one =
            StateAction::Clear { collections: vec!["c.yaml".into()], step: Some("register app".into()) };
        assert_eq!(action, one);
        assert!(parse(argv(&["state", "clear", "--step", "x"]), env(&[])).is_err(), "--step needs a file");
    }

    #[test]
    fn help_and_version_are_text_to_print_and_unknown_flags_are_clap_errors() {
        let Ok(Invocation::Print(help)) = parse(argv(&["--help"]), env(&[])) else { panic!("help") };
        assert!(help.contains("Exit codes: 0 passed"), "{help}");
        let Ok(Invocation::Print(version)) = parse(argv(&["--version"]), env(&[])) else { panic!("version") };
        assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
        let Err(CliError::Clap(text)) = parse(argv(&["validate", "--frobnicate", "c.yaml"]), env(&[])) else {
            panic!("accepted an unknown flag")
        };
        assert!(text.contains("--frobnicate"), "{text}");
    }

    #[test]
    fn unreadable_files_named_by_flags_are_usage_errors_naming_them() {
        let u = rejected(&["run", "c.yaml", "--cacert", "/nonexistent/ca.pem"], &[]);
        assert_eq!(u.diagnostic.code, "missing-path");
        assert!(u.diagnostic.message.contains("/nonexistent/ca.pem"), "{}", u.diagnostic.message);
        let u = rejected(&["validate", "c.yaml", "--env-file", "/nonexistent/.env"], &[]);
        assert_eq!(u.diagnostic.code, "missing-env-file");
        assert!(u.diagnostic.message.contains("no such file or folder"), "{}", u.diagnostic.message);
    }

    #[test]
    fn a_bad_env_file_line_points_at_its_line_and_column() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("bad.env");
        // `GOOD=1` contains no error; the exact offending line is found, not a substring.
        std::fs::write(&file, "# settings\nGOOD=1\nthis is not valid\nAFTER=2\n").expect("write");
        let path = file.to_string_lossy().into_owned();
        let u = rejected(&["validate", "c.yaml", "--env-file", &path], &[]);
        assert_eq!(u.diagnostic.code, "bad-env-file");
        let label = u.diagnostic.labels.first().expect("a position");
        let file = u.sources.get(label.span.file).expect("the env file is a source");
        assert_eq!(file.path.to_string_lossy(), path);
        assert_eq!(file.line_col(label.span.start), (3, 6));
    }
}
