//! The one way integration tests run baton: a [`Test`] builder in the style of just's.
//!
//! A `Test` owns a temp dir; collections and other files declared on it are written
//! there before each run. `run` starts the real `baton` binary (bounded in time, no
//! proxy, no user cache, no colour) and returns its [`Output`]. [`redact`] is the single
//! place where ports, durations, temp paths and UUIDs become stable text for snapshots.
//!
//! ```text
//! let out = Test::new().server(&server).collection("c.yaml", "requests:\n  - url: BASE/text\n")
//!     .args(&["run", "c.yaml"]).run();
//! insta::assert_snapshot!(out.transcript());
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::Server;

/// Longest any single baton invocation may take in a test.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The crate root: tests run baton from here so paths in output are stable.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where baton runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cwd {
    /// The test's temp dir (the default).
    Temp,
    /// The crate root, for `collections/…` and `tests/fixtures/…`.
    Root,
}

/// One baton invocation and the files it needs. Clone it to run variations in the
/// same temp dir (the dir lives until the last clone is dropped).
#[derive(Debug, Clone)]
pub struct Test {
    dir: Arc<tempfile::TempDir>,
    cwd: Cwd,
    base: Option<String>,
    files: Vec<(String, String, bool)>,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Default for Test {
    fn default() -> Self {
        Test::new()
    }
}

impl Test {
    /// A test in a fresh temp dir, which is also where baton runs.
    pub fn new() -> Test {
        Test {
            dir: Arc::new(tempfile::tempdir().expect("tempdir")),
            cwd: Cwd::Temp,
            base: None,
            files: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Runs baton from the crate root instead (files still land in the temp dir).
    pub fn in_root(mut self) -> Test {
        self.cwd = Cwd::Root;
        self
    }

    /// `BASE` in collections declared on this test becomes the server's URL.
    pub fn server(mut self, server: &Server) -> Test {
        self.base = Some(server.url.clone());
        self
    }

    /// A collection file (relative to the temp dir); `BASE` is replaced, see [`Test::server`].
    /// Declaring the same name again replaces its text for later runs.
    pub fn collection(self, name: &str, yaml: &str) -> Test {
        self.put(name, yaml, true)
    }

    /// Any other file (relative to the temp dir), written as is; folders are created.
    pub fn file(self, name: &str, text: &str) -> Test {
        self.put(name, text, false)
    }

    fn put(mut self, name: &str, text: &str, collection: bool) -> Test {
        self.files.retain(|(n, _, _)| n != name);
        self.files.push((name.to_string(), text.to_string(), collection));
        self
    }

    /// Appends command-line arguments (after the program name).
    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Sets an environment variable for baton.
    pub fn env(mut self, name: &str, value: &str) -> Test {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Absolute path of `name` inside the temp dir, as command-line text.
    pub fn path(&self, name: &str) -> String {
        self.dir().join(name).to_string_lossy().into_owned()
    }

    /// Writes the declared files, runs baton and waits for it (at most [`RUN_LIMIT`]).
    pub fn run(&self) -> Output {
        let mut cmd = self.command();
        let (code, stdout, stderr) = bounded(&mut cmd, &format!("baton {:?}", self.args), RUN_LIMIT);
        Output { code, stdout, stderr, dir: Arc::clone(&self.dir) }
    }

    /// Writes the declared files and returns the baton command `run` would start, for a
    /// test that must act while it runs (send it a signal). The caller bounds its wait.
    pub fn command(&self) -> Command {
        for (name, text, collection) in &self.files {
            let path = self.dir().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create folder");
            }
            let text = match (&self.base, collection) {
                (Some(url), true) => text.replace("BASE", url),
                _ => text.clone(),
            };
            // Clones may run at once in threads: never rewrite a file another baton reads.
            if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
                continue;
            }
            let mut tmp =
                tempfile::NamedTempFile::new_in(path.parent().unwrap_or(self.dir())).expect("temp file");
            tmp.write_all(text.as_bytes()).expect("write test file");
            tmp.persist(&path).expect("move test file in place");
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
        let cwd = match self.cwd {
            Cwd::Temp => self.dir().to_path_buf(),
            Cwd::Root => root(),
        };
        cmd.args(&self.args)
            .current_dir(cwd)
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS");
        for (k, _) in std::env::vars() {
            // Tests talk to 127.0.0.1 only: no proxy from the machine may intercept them.
            if k.starts_with("BATON_") || k.to_ascii_lowercase().ends_with("_proxy") {
                cmd.env_remove(k);
            }
        }
        // Never touch the real user cache: the default state file lands in a per-process temp dir.
        cmd.env("XDG_CACHE_HOME", cache_home());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// [`redact`], with this test's temp dir shown as `[tmp]`.
    pub fn redact(&self, text: &str) -> String {
        redact(text, Some(self.dir()))
    }
}

fn cache_home() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("cache tempdir")).path()
}

/// What a baton process did.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Keeps the test's temp dir (and what baton wrote there) while the output is read.
    dir: Arc<tempfile::TempDir>,
}

impl Output {
    /// stdout and stderr together, for "never prints X" checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The exit code, then stdout and stderr, redacted: what CLI snapshots hold.
    pub fn transcript(&self) -> String {
        self.redact(&format!("exit: {}\n{}{}", self.code, self.stdout, self.stderr))
    }

    /// [`redact`], with the test's temp dir shown as `[tmp]`.
    pub fn redact(&self, text: &str) -> String {
        redact(text, Some(self.dir.path()))
    }
}

/// Makes output stable for snapshots: `dir` (a test's temp dir) and any other `/tmp/…`
/// path become `[tmp]`, loopback ports `PORT`, durations `[time]` (report attributes
/// and fields included), UUIDs (`uuid()` in templates) `[uuid]`.
pub fn redact(text: &str, dir: Option<&Path>) -> String {
    let mut out = text.to_string();
    if let Some(dir) = dir {
        out = out.replace(&dir.display().to_string(), "[tmp]");
    }
    let rules = [
        (r#"/tmp/[^\s:/`'"]+"#, "[tmp]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r#"time="[0-9.]+""#, r#"time="[time]""#),
        (r#""duration_ms": \d+"#, r#""duration_ms": "[ms]""#),
        (r"\b\d+(\.\d+)? (ms|s)\b", "[time]"),
        (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "[uuid]"),
    ];
    for (re, to) in rules {
        out = regex::Regex::new(re).expect("re").replace_all(&out, to).into_owned();
    }
    out
}

/// Runs `cmd` with piped output, killing it if it outlives `limit`; `(code, stdout, stderr)`.
pub fn bounded(cmd: &mut Command, what: &str, limit: Duration) -> (i32, String, String) {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        let _ = tx.send((0, s));
    });
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        let _ = tx2.send((1, s));
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    for _ in 0..2 {
        let (which, text) = rx.recv_timeout(Duration::from_secs(10)).expect("output");
        if which == 0 { stdout = text } else { stderr = text }
    }
    (status.code().unwrap_or(-1), stdout, stderr)
}

#[test]
fn redact_hides_ports_durations_and_temp_paths() {
    let dir = Path::new("/var/folders/xy/T/.tmpAbC");
    let text = "GET http://127.0.0.1:41234/x 200 12 ms\n --> /var/folders/xy/T/.tmpAbC/c.yaml:3:1\n\
                `/tmp/.tmpZz9` in 1.5 s";
    assert_eq!(
        redact(text, Some(dir)),
        "GET http://127.0.0.1:PORT/x 200 [time]\n --> [tmp]/c.yaml:3:1\n`[tmp]` in [time]"
    );
}

#[test]
fn redact_hides_report_timings() {
    let junit = r#"<testcase name="a" time="0.013"/>"#;
    assert_eq!(redact(junit, None), r#"<testcase name="a" time="[time]"/>"#);
    assert_eq!(redact(r#""duration_ms": 17,"#, None), r#""duration_ms": "[ms]","#);
}

#[test]
fn redact_hides_uuids() {
    let text = "\"username\": \"user-e05bf88d-ab85-48ec-82d8-0faec00eb038\"";
    assert_eq!(redact(text, None), "\"username\": \"user-[uuid]\"");
}
