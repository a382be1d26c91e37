//! Shared test helpers: the [`Test`] builder (run the binary, bounded in time, one
//! redactor) and the playground served in-process.

mod test;

use std::sync::mpsc;
use std::time::Duration;

pub use test::{Output, Test, bounded, root};

/// A playground served on 127.0.0.1:0 from its own thread and runtime; stops on drop.
pub struct Server {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How a test playground is served.
enum Mode {
    Plain(baton_playground::Knobs, Option<Duration>),
    Tls,
    Mtls,
}

impl Server {
    pub fn start() -> Server {
        Server::launch(Mode::Plain(Default::default(), None)).0
    }

    /// A playground with failure knobs set from the start.
    pub fn start_with(knobs: baton_playground::Knobs) -> Server {
        Server::launch(Mode::Plain(knobs, None)).0
    }

    /// A playground whose tokens live `lifetime` (sub-second lifetimes keep lifecycle
    /// tests from waiting whole seconds).
    pub fn with_token_lifetime(lifetime: Duration) -> Server {
        Server::launch(Mode::Plain(Default::default(), Some(lifetime))).0
    }

    /// A playground over HTTPS; also returns its CA certificate (PEM).
    pub fn start_tls() -> (Server, String) {
        let (server, pem) = Server::launch(Mode::Tls);
        (server, pem.expect("CA PEM"))
    }

    /// A playground that requires a client certificate; returns the client's PEM files' texts.
    pub fn start_mtls() -> (Server, baton_playground::ClientPki) {
        let (server, pki) = Server::launch_with(Mode::Mtls);
        (server, pki.expect("client PKI"))
    }

    fn launch(mode: Mode) -> (Server, Option<String>) {
        let (server, extra) = Server::launch_with(mode);
        (server, extra.map(|p| p.ca_pem))
    }

    fn launch_with(mode: Mode) -> (Server, Option<baton_playground::ClientPki>) {
        let (tx_url, rx_url) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let addr = "127.0.0.1:0".parse().expect("addr");
                let (pg, pem) = match mode {
                    Mode::Plain(knobs, lifetime) => {
                        let pg = baton_playground::Playground::start_with(addr, knobs).await.expect("start");
                        if lifetime.is_some() {
                            pg.set_token_lifetime(lifetime);
                        }
                        (pg, None)
                    }
                    Mode::Tls => {
                        let (pg, pem) =
                            baton_playground::Playground::start_tls(addr).await.expect("start tls");
                        let pki = baton_playground::ClientPki {
                            ca_pem: pem,
                            cert_pem: String::new(),
                            key_pem: String::new(),
                        };
                        (pg, Some(pki))
                    }
                    Mode::Mtls => {
                        let (pg, pki) =
                            baton_playground::Playground::start_mtls(addr).await.expect("start mtls");
                        (pg, Some(pki))
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

/// `t` with the client files of a mutual-TLS playground and the `BATON_MTLS_*` variables
/// pointing at them and at `server`, and the playground's JWT client key in
/// `BATON_JWT_CLIENT_KEY`, as `baton demo` sets them.
pub fn with_mtls(t: Test, server: &Server, pki: &baton_playground::ClientPki) -> Test {
    let t = t.file("pki/jwt-key-app.pem", baton_playground::assertion_client_key_pem());
    let jwt_key = t.path("pki/jwt-key-app.pem");
    let t = t
        .env("BATON_BROWSER", "fetch")
        .env("BATON_JWT_CLIENT_KEY", &jwt_key)
        .file("pki/ca.pem", &pki.ca_pem)
        .file("pki/client.pem", &pki.cert_pem)
        .file("pki/client.key", &pki.key_pem);
    let (ca, cert, key) = (t.path("pki/ca.pem"), t.path("pki/client.pem"), t.path("pki/client.key"));
    t.env("BATON_MTLS_URL", &server.url)
        .env("BATON_MTLS_CA", &ca)
        .env("BATON_MTLS_CERT", &cert)
        .env("BATON_MTLS_KEY", &key)
}

/// Collapses runs of spaces (column padding) so assertions need not know the layout.
pub fn squeeze(text: &str) -> String {
    let re = regex::Regex::new(" {2,}").expect("re");
    re.replace_all(text, " ").into_owned()
}

/// One HTTP/1.1 exchange with a loopback test server (`Connection: close`, 5 s per
/// read or write): the status and the body as JSON (`Null` when it is not JSON). For
/// asking the playground's counters and controls from a test.
pub fn http(base_url: &str, method: &str, path: &str, json_body: Option<&str>) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let authority = base_url.strip_prefix("http://").expect("a plain http:// test server");
    let mut stream = std::net::TcpStream::connect(authority).expect("connect to the test server");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
    stream.set_write_timeout(Some(Duration::from_secs(5))).expect("write timeout");
    let body = json_body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("send");
    let mut answer = Vec::new();
    stream.take(4 * 1024 * 1024).read_to_end(&mut answer).expect("read the answer");
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let json = text.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok());
    (status, json.unwrap_or(serde_json::Value::Null))
}

/// How many requests the playground at `server` received on `path` so far.
pub fn requests_to(server: &Server, path: &str) -> u64 {
    let (_, counts) = http(&server.url, "GET", "/_playground/requests", None);
    counts["paths"][path].as_u64().unwrap_or(0)
}
