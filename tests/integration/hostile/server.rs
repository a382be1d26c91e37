//! [`RawServer`]: a loopback HTTP/1.1 server on raw sockets, plain or TLS, that records
//! every request it receives and answers through a handler that writes raw bytes.
//!
//! One connection at a time, one request per connection (every answer says
//! `Connection: close`). Bounded: at most [`MAX_CONNECTIONS`] connections, [`LIFETIME`]
//! in all, 5 s per read or write, 64 KiB of request head and 1 MiB of request body; it
//! stops by itself, or when dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connections served before the server stops accepting.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a server lives, whatever happens.
pub const LIFETIME: Duration = Duration::from_secs(40);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`…
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Header lines as `name: value`, names lower-cased.
    pub headers: Vec<String>,
    /// The body as text (lossy).
    pub body: String,
    /// Everything received, head and body, as text: what "never receives X" searches.
    pub raw: String,
}

impl Request {
    /// The value of header `name` (lower-case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| h.strip_prefix(name)?.strip_prefix(": "))
    }
}

/// What a handler may use besides the request.
pub struct Ctx<'a> {
    /// Add body bytes written, for "stopped early" checks.
    pub sent: &'a AtomicU64,
    /// Set when the server is being dropped.
    pub stop: &'a AtomicBool,
}

type Handler = dyn Fn(&Request, &mut dyn Write, &Ctx<'_>) + Send + Sync;

/// A running server; stops when dropped.
pub struct RawServer {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    received: Arc<Mutex<Vec<Request>>>,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    /// A plain HTTP server.
    pub fn start(handler: impl Fn(&Request, &mut dyn Write, &Ctx<'_>) + Send + Sync + 'static) -> RawServer {
        RawServer::launch(None, Arc::new(handler))
    }

    /// An HTTPS server with a throwaway self-signed certificate (clients need `--insecure`).
    pub fn start_tls(
        handler: impl Fn(&Request, &mut dyn Write, &Ctx<'_>) + Send + Sync + 'static,
    ) -> RawServer {
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
        RawServer::start_tls_with(&certified.cert, &certified.signing_key, handler)
    }

    /// An HTTPS server presenting `cert` (signed with `key`).
    pub fn start_tls_with(
        cert: &rcgen::Certificate,
        key: &rcgen::KeyPair,
        handler: impl Fn(&Request, &mut dyn Write, &Ctx<'_>) + Send + Sync + 'static,
    ) -> RawServer {
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        RawServer::launch(Some(Arc::new(config)), Arc::new(handler))
    }

    /// An HTTPS server that requires a client certificate signed by `client_ca`.
    pub fn start_mtls(
        cert: &rcgen::Certificate,
        key: &rcgen::KeyPair,
        client_ca: &rcgen::Certificate,
        handler: impl Fn(&Request, &mut dyn Write, &Ctx<'_>) + Send + Sync + 'static,
    ) -> RawServer {
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(client_ca.der().clone()).expect("client CA");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&provider),
        )
        .build()
        .expect("client verifier");
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![cert.der().clone()], key)
            .expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        RawServer::launch(Some(Arc::new(config)), Arc::new(handler))
    }

    fn launch(tls: Option<Arc<rustls::ServerConfig>>, handler: Arc<Handler>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let received = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, st) = (Arc::clone(&received), Arc::clone(&sent), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut served = 0;
            while served < MAX_CONNECTIONS && started.elapsed() < LIFETIME && !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        served += 1;
                        let ctx = Ctx { sent: &s, stop: &st };
                        serve(tcp, tls.as_ref(), &*handler, &r, &ctx);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => break,
                }
            }
        });
        RawServer { port, received, sent, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT` (or `https://…`).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Request> {
        self.received.lock().expect("lock").clone()
    }

    /// Body bytes handlers reported as written.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    tcp: TcpStream,
    tls: Option<&Arc<rustls::ServerConfig>>,
    handler: &Handler,
    received: &Mutex<Vec<Request>>,
    ctx: &Ctx<'_>,
) {
    if tcp.set_nonblocking(false).is_err()
        || tcp.set_read_timeout(Some(IO_TIMEOUT)).is_err()
        || tcp.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return;
    }
    match tls {
        None => exchange(tcp, handler, received, ctx),
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(Arc::clone(config)) else { return };
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            exchange(&mut stream, handler, received, ctx);
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    }
}

/// Reads one request, records it, lets the handler answer.
fn exchange(mut stream: impl Read + Write, handler: &Handler, received: &Mutex<Vec<Request>>, ctx: &Ctx<'_>) {
    let Some(request) = read_request(&mut stream) else { return };
    received.lock().expect("lock").push(request.clone());
    handler(&request, &mut stream, ctx);
    let _ = stream.flush();
}

fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let (method, path) = (start.next()?.to_string(), start.next()?.to_string());
    let headers: Vec<String> = lines
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(':') {
            Some((n, v)) => format!("{}: {}", n.trim().to_ascii_lowercase(), v.trim()),
            None => l.to_string(),
        })
        .collect();
    let length = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length: "))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..(head_end + length).min(buf.len())]).into_owned();
    let raw = String::from_utf8_lossy(&buf).into_owned();
    Some(Request { method, path, headers, body, raw })
}

/// A complete answer: status line, headers, `Content-Length`, `Connection: close`, body.
pub fn answer(w: &mut dyn Write, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let _ = w.write_all(head.as_bytes()).and_then(|()| w.write_all(body));
}
