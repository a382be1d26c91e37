//! Shared test helpers: run the binary (bounded in time), serve the playground, redact.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest any single baton invocation may take in a test.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// What a baton process did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout and stderr together, for "never prints X" checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The crate root: tests run baton from here so paths in output are stable.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs baton with `args` and extra environment, from the crate root.
pub fn baton_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    baton_in(&root(), args, env)
}

/// Runs baton with `args` from the crate root.
pub fn baton(args: &[&str]) -> Output {
    baton_env(args, &[])
}

fn cache_home() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("cache tempdir")).path()
}

/// Runs baton in `dir`, killing it if it outlives [`RUN_LIMIT`].
pub fn baton_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        // Tests talk to 127.0.0.1 only: no proxy from the machine may intercept them.
        if k.starts_with("BATON_") || k.to_ascii_lowercase().ends_with("_proxy") {
            cmd.env_remove(k);
        }
    }
    // Never touch the real user cache: the default state file lands in a per-process temp dir.
    cmd.env("XDG_CACHE_HOME", cache_home());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn baton");
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
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("baton {args:?} did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    for _ in 0..2 {
        let (which, text) = rx.recv_timeout(Duration::from_secs(10)).expect("output");
        if which == 0 { stdout = text } else { stderr = text }
    }
    Output { code: status.code().unwrap_or(-1), stdout, stderr }
}

/// A playground served on 127.0.0.1:0 from its own thread and runtime; stops on drop.
pub struct Server {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How a test playground is served.
enum Mode {
    Plain(baton_playground::Knobs),
    Tls,
}

impl Server {
    pub fn start() -> Server {
        Server::launch(Mode::Plain(Default::default())).0
    }

    /// A playground with failure knobs set from the start.
    pub fn start_with(knobs: baton_playground::Knobs) -> Server {
        Server::launch(Mode::Plain(knobs)).0
    }

    /// A playground over HTTPS; also returns its CA certificate (PEM).
    pub fn start_tls() -> (Server, String) {
        let (server, pem) = Server::launch(Mode::Tls);
        (server, pem.expect("CA PEM"))
    }

    fn launch(mode: Mode) -> (Server, Option<String>) {
        let (tx_url, rx_url) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let addr = "127.0.0.1:0".parse().expect("addr");
                let (pg, pem) = match mode {
                    Mode::Plain(knobs) => {
                        (baton_playground::Playground::start_with(addr, knobs).await.expect("start"), None)
                    }
                    Mode::Tls => {
                        let (pg, pem) =
                            baton_playground::Playground::start_tls(addr).await.expect("start tls");
                        (pg, Some(pem))
                    }
                };
                tx_url.send((pg.base_url(), pem)).expect("send url");
                let _ = tokio::time::timeout(Duration::from_secs(300), stop_rx).await;
                pg.shutdown().await;
            });
        });
        let (url, pem) = rx_url.recv_timeout(Duration::from_secs(10)).expect("playground url");
        (Server { url, stop: Some(stop_tx), thread: Some(thread) }, pem)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Replaces ports, durations and temp paths so output can be snapshotted.
pub fn redact(text: &str) -> String {
    let port = regex::Regex::new(r"127\.0\.0\.1:\d+").expect("re");
    let ms = regex::Regex::new(r"\b\d+(\.\d+)? (ms|s)\b").expect("re");
    let tmp = regex::Regex::new(r#"/tmp/[^\s:/`'"]+"#).expect("re");
    let t = port.replace_all(text, "127.0.0.1:PORT");
    let t = ms.replace_all(&t, "[time]");
    tmp.replace_all(&t, "[tmp]").into_owned()
}

/// Writes `text` to `name` inside a fresh temp dir and returns both.
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

/// Collapses runs of spaces (column padding) so assertions need not know the layout.
pub fn squeeze(text: &str) -> String {
    let re = regex::Regex::new(" {2,}").expect("re");
    re.replace_all(text, " ").into_owned()
}
