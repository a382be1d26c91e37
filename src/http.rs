//! The one HTTP client: the only module that touches the network.
//!
//! One reqwest client per run (rustls with the ring provider, the OS trust store plus
//! `--cacert`, keep-alive, gzip/brotli/deflate). It sends a fully rendered
//! [`ResolvedRequest`] and returns an [`Exchange`] whose body is read once and whose
//! JSON is parsed at most once, on first use.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};

pub use crate::exchange::{Exchange, ResolvedBody, ResolvedPart, ResolvedRequest};

/// Client settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Default per-request timeout.
    pub timeout: Option<Duration>,
    /// Extra trusted roots (PEM).
    pub cacert: Option<Vec<u8>>,
    /// Skip certificate verification.
    pub insecure: bool,
}

/// Why a request could not complete.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not valid.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A header name or value is not valid.
    #[error("invalid header `{name}`: {reason}")]
    InvalidHeader {
        /// Header name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A multipart file could not be read.
    #[error("cannot read `{path}` for the multipart body: {reason}")]
    File {
        /// Path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Certificate verification failed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Connection refused, DNS failure, reset…
    #[error("connection failed: {0}")]
    Connect(String),
    /// Anything else reqwest reports.
    #[error("{0}")]
    Other(String),
    /// The client could not be built (bad `--cacert`…).
    #[error("{0}")]
    Setup(String),
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn classify(e: &reqwest::Error, timeout: Duration) -> HttpError {
    let text = chain(e);
    let lower = text.to_lowercase();
    if e.is_timeout() {
        HttpError::Timeout(timeout)
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("unknownissuer") {
        HttpError::Tls(text)
    } else if e.is_connect() {
        // The innermost cause says what happened ("Connection refused"); the URL says where.
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let host = e.url().and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)));
        let cause = cause.to_string();
        let cause = cause.split(" (os error").next().unwrap_or(&cause).to_string();
        HttpError::Connect(match host {
            Some(h) => format!("{h}: {cause}"),
            None => cause,
        })
    } else {
        HttpError::Other(text)
    }
}

/// The run's HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
}

/// Default request timeout when neither the step nor `--timeout` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl HttpClient {
    /// Builds the client.
    pub fn new(opts: &ClientOptions) -> Result<Self, HttpError> {
        // Several runs in one process (tests) may race to install; either way one provider wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(10));
        if let Some(pem) = &opts.cacert {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| HttpError::Setup(format!("--cacert: not a PEM certificate bundle: {e}")))?;
            if certs.is_empty() {
                return Err(HttpError::Setup("--cacert: the file holds no PEM certificate".into()));
            }
            b = b.tls_certs_merge(certs);
        }
        if opts.insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let client = b.build().map_err(|e| HttpError::Setup(chain(&e)))?;
        Ok(HttpClient { client, timeout })
    }

    /// The timeout `req` is sent with: its own (the step's), else the run's.
    pub fn timeout_for(&self, req: &ResolvedRequest) -> Duration {
        req.timeout.unwrap_or(self.timeout)
    }

    /// Sends one request and reads the whole response.
    pub async fn send(&self, req: &ResolvedRequest) -> Result<Exchange, HttpError> {
        let url = reqwest::Url::parse(&req.url)
            .map_err(|e| HttpError::InvalidUrl { url: req.url.clone(), reason: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::InvalidUrl {
                url: req.url.clone(),
                reason: format!("scheme `{}` is not http or https", url.scheme()),
            });
        }
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| HttpError::Other(e.to_string()))?;
        let timeout = req.timeout.unwrap_or(self.timeout);
        let mut rb = self.client.request(method, url).timeout(timeout);
        let mut has_content_type = false;
        for (name, value) in &req.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| HttpError::InvalidHeader { name: name.clone(), reason: e.to_string() })?;
            let v = HeaderValue::from_str(value)
                .map_err(|e| HttpError::InvalidHeader { name: name.clone(), reason: e.to_string() })?;
            has_content_type |= n == reqwest::header::CONTENT_TYPE;
            rb = rb.header(n, v);
        }
        rb = match &req.body {
            ResolvedBody::None => rb,
            ResolvedBody::Json(v) => {
                let bytes = serde_json::to_vec(v).map_err(|e| HttpError::Other(e.to_string()))?;
                if !has_content_type {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json");
                }
                rb.body(bytes)
            }
            ResolvedBody::Form(pairs) => rb.form(pairs),
            ResolvedBody::Raw { text, content_type } => {
                if let (Some(ct), false) = (content_type, has_content_type) {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, ct.as_str());
                }
                rb.body(text.clone())
            }
            ResolvedBody::Multipart(parts) => rb.multipart(multipart(parts).await?),
        };
        let started = Instant::now();
        let resp = rb.send().await.map_err(|e| classify(&e, timeout))?;
        let status = resp.status().as_u16();
        let version = format!("{:?}", resp.version());
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = resp.bytes().await.map_err(|e| classify(&e, timeout))?.to_vec();
        Ok(Exchange::received(status, version, headers, body, started.elapsed()))
    }
}

async fn multipart(parts: &[ResolvedPart]) -> Result<reqwest::multipart::Form, HttpError> {
    let mut form = reqwest::multipart::Form::new();
    for p in parts {
        form = match p {
            ResolvedPart::Text { name, value } => form.text(name.clone(), value.clone()),
            ResolvedPart::File { name, path, filename, content_type } => {
                let bytes = tokio::fs::read(path).await.map_err(|e| HttpError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                let mut part = reqwest::multipart::Part::bytes(bytes).file_name(filename.clone());
                if let Some(ct) = content_type {
                    part = part
                        .mime_str(ct)
                        .map_err(|e| HttpError::Other(format!("multipart content type `{ct}`: {e}")))?;
                }
                form.part(name.clone(), part)
            }
        };
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    //! The parts that decide without a network: error chains, messages, client setup and
    //! requests refused before anything is sent.

    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    fn send(req: &ResolvedRequest) -> Result<Exchange, HttpError> {
        let client = HttpClient::new(&ClientOptions::default()).expect("client");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(client.send(req))
    }

    fn get(url: &str, headers: &[(&str, &str)]) -> ResolvedRequest {
        ResolvedRequest {
            method: "GET".into(),
            url: url.into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: ResolvedBody::None,
            timeout: Some(Duration::from_millis(200)),
        }
    }

    #[test]
    fn error_chains_join_causes_and_skip_ones_already_said() {
        let inner = Layer("connection refused", None);
        let middle = Layer("tcp connect error: connection refused", Some(Box::new(inner)));
        let outer = Layer("error sending request", Some(Box::new(middle)));
        assert_eq!(chain(&outer), "error sending request: tcp connect error: connection refused");
    }

    #[test]
    fn errors_read_as_one_line_each() {
        assert_eq!(HttpError::Timeout(Duration::from_millis(200)).to_string(), "timed out after 200ms");
        assert_eq!(
            HttpError::Connect("127.0.0.1:9: Connection refused".into()).to_string(),
            "connection failed: 127.0.0.1:9: Connection refused"
        );
        let e = HttpError::InvalidHeader { name: "x y".into(), reason: "invalid name".into() };
        assert_eq!(e.to_string(), "invalid header `x y`: invalid name");
    }

    #[test]
    fn a_cacert_without_certificates_is_a_setup_error() {
        for pem in [&b"not a certificate"[..], b""] {
            let opts = ClientOptions { cacert: Some(pem.to_vec()), ..ClientOptions::default() };
            let err = HttpClient::new(&opts).expect_err("no certificate");
            assert!(matches!(err, HttpError::Setup(ref m) if m.starts_with("--cacert")), "{err}");
        }
    }

    #[test]
    fn only_http_and_https_urls_are_sent() {
        let err = send(&get("ftp://127.0.0.1/file", &[])).expect_err("ftp");
        assert_eq!(err.to_string(), "invalid URL `ftp://127.0.0.1/file`: scheme `ftp` is not http or https");
        let err = send(&get("not a url", &[])).expect_err("garbage");
        assert!(matches!(err, HttpError::InvalidUrl { .. }), "{err}");
    }

    #[test]
    fn invalid_header_names_and_values_are_refused_before_sending() {
        // Port 9 (discard) on loopback: these must fail before any connection is tried.
        let err = send(&get("http://127.0.0.1:9/", &[("bad name", "x")])).expect_err("name");
        assert!(matches!(err, HttpError::InvalidHeader { ref name, .. } if name == "bad name"), "{err}");
        let err = send(&get("http://127.0.0.1:9/", &[("x-ok", "line\nbreak")])).expect_err("value");
        assert!(matches!(err, HttpError::InvalidHeader { ref name, .. } if name == "x-ok"), "{err}");
    }
}
